"""Reproduction: nbclient waits out a cell's whole timeout when the cell prints into an Output widget, and the fix
that scripts/run_notebooks.py applies (its docstring explains the cause).

Every `widgets.interact`/`widgets.interactive` cell runs its function inside an Output widget. nbclient, standing in
for JupyterLab, sends the widget's new state back to the kernel on the shell channel; if the cell's execute_reply
arrives just before that send, nbclient notices the reply only when its wait for it times out. On a busy machine this
happens by chance: on the shared 2-core machine, under load (load average about 7), 2 of 163 nbclient runs of a small
`widgets.interactive` notebook waited out the full 30 s cell timeout although the kernel had replied within 0.3 s;
0 of 71 runs with scripts/run_notebooks.py, interleaved with 71 of those, did.

Here the window is made wide on purpose, so that the stall happens every time: the kernel waits WAIT s after the
print before it replies, and the client's event loop is blocked for 2 * WAIT s (as a busy machine blocks it) just
before it sends the widget's state, so the reply always lands in between. About 30 s; run with

    DROPKEY_BINDER_CHECK=1 pytest -m binder tests/repro
"""

from __future__ import annotations

import importlib.util
import os
import time
from datetime import datetime
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
output_widget = pytest.importorskip("nbclient.output_widget")

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_notebooks)

pytestmark = [
    pytest.mark.binder,
    pytest.mark.skipif(not os.environ.get("DROPKEY_BINDER_CHECK"), reason="slow: set DROPKEY_BINDER_CHECK=1"),
]

TIMEOUT = 10  # seconds: nbclient's cell timeout
WAIT = 1.0  # seconds the kernel waits between the print into the widget and its reply
CELL = f"""\
import time
import ipywidgets as widgets
from IPython.display import display

out = widgets.Output()
display(out)
with out:
    print("inside the Output widget")
time.sleep({WAIT})
"""


def slowed(widget_class: type) -> type:
    """`widget_class`, blocking the client's event loop for 2 * WAIT s before it sends the widget's state."""

    class Slowed(widget_class):
        def _publish_msg(self, *args, **kwargs):
            time.sleep(2 * WAIT)
            super()._publish_msg(*args, **kwargs)

    return Slowed


def run_cell(widget_class: type, tmp_path: Path, stall_limit: float = 1e9) -> tuple[float, float, list]:
    """Run CELL with `widget_class` as the Output widget stand-in: (cell seconds, kernel's seconds, widget outputs)."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    client = run_notebooks.make_client(notebook, tmp_path, timeout=TIMEOUT, stall_limit=stall_limit)
    client.widget_registry["@jupyter-widgets/output"]["OutputModel"] = slowed(widget_class)
    marks = {}
    client.on_cell_start = lambda cell, cell_index: marks.setdefault("start", time.monotonic())
    client.execute()
    timing = notebook.cells[0].metadata["execution"]  # nbclient's record_timing: the kernel's own timestamps
    busy, reply = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                   for key in ("iopub.status.busy", "shell.execute_reply"))  # fmt: skip
    outputs = [state["outputs"] for state in client.widget_state.values() if state.get("_model_name") == "OutputModel"]
    return time.monotonic() - marks["start"], (reply - busy).total_seconds(), outputs


def test_nbclient_waits_out_the_cell_timeout_when_the_reply_lands_before_its_widget_send(tmp_path):
    seconds, kernel_seconds, _ = run_cell(output_widget.OutputWidget, tmp_path)
    assert kernel_seconds < TIMEOUT / 2, f"the kernel itself took {kernel_seconds:.1f} s"
    assert seconds >= TIMEOUT, (
        f"nbclient got the reply after {seconds:.1f} s, before its {TIMEOUT} s timeout: nbclient's Output widget "
        "no longer stalls; scripts/run_notebooks.py's OutputWidget may no longer be needed"
    )


def test_run_notebooks_output_widget_gets_the_reply_at_once(tmp_path):
    seconds, kernel_seconds, outputs = run_cell(run_notebooks.OutputWidget, tmp_path)
    # A stalled cell takes the whole TIMEOUT. One whose reply is noticed at once takes the kernel's WAIT plus the
    # client's 2 * WAIT block, about 3 s, which a loaded machine stretches (5.3 s seen in CI beside a training grid):
    # the bound sits between the two.
    assert seconds < TIMEOUT - 2 * WAIT, (
        f"the cell took {seconds:.1f} s (the kernel {kernel_seconds:.1f} s): the stall is back"
    )
    assert outputs == [[{"output_type": "stream", "name": "stdout", "text": "inside the Output widget\n"}]]


def test_run_notebooks_fails_a_run_whose_cell_reply_was_noticed_late(tmp_path):
    with pytest.raises(run_notebooks.StallError, match=r"cell 0: the kernel sent its execute_reply .* later"):
        run_cell(output_widget.OutputWidget, tmp_path, stall_limit=TIMEOUT / 2)


def test_run_notebooks_leaves_a_failing_notebook_unchanged_and_exits_1(tmp_path, capsys):
    path = tmp_path / "failing.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('on purpose')")]), path)
    before = path.read_bytes()
    assert run_notebooks.main([str(path), "--timeout=60"]) == 1
    assert path.read_bytes() == before
    assert "FAILED (CellExecutionError)" in capsys.readouterr().err
