"""Execute notebooks in place, like `jupyter nbconvert --to notebook --execute --inplace`, without nbclient's
output-widget stall.

    python scripts/run_notebooks.py notebooks/05_drop_ratio_schedules.ipynb [...] [--timeout 300]

Each notebook runs with nbclient (what nbconvert uses) in its own folder, and is written back, atomically, only when
every cell ran. Two things differ from nbconvert:

1. nbclient (0.11.0 and earlier) stands in for JupyterLab's Output widget: it captures what a cell prints into an
   Output widget and sends the widget's new state back to the kernel, a comm message on the shell channel, while
   it is waiting on that same channel for the cell's execute_reply. It sends through jupyter_client's
   `Session.send`, which writes to a blocking shadow of the asyncio socket. libzmq's send first processes the
   socket's pending commands, which clears the socket's notification file descriptor; when the execute_reply has
   just arrived, pyzmq's asyncio poller, which waits for that descriptor, is never told, and nbclient picks the
   reply up only when its wait times out: after the whole cell timeout, or never without one. Every
   `widgets.interact`/`widgets.interactive` cell runs its function inside an Output widget, so it is exposed
   (jupyter/nbconvert#1921, #2003, #2029, jupyter/nbclient#312). Here the Output widget stand-in sends through the
   asyncio socket itself, whose send re-checks the socket's events (pyzmq's own guard against this race).
   tests/repro/test_output_widget_stall.py shows the stall and that this avoids it.
2. A cell's execute_reply must reach this client within `--stall-limit` seconds of the kernel sending it;
   otherwise the run fails and names the cell, instead of silently waiting out the cell timeout.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import zmq.asyncio
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.jsonutil import json_clean
from nbclient.output_widget import OutputWidget as NbclientOutputWidget

TIMEOUT = 300  # seconds for one cell (quick-mode cells take at most about a minute here)
STALL_LIMIT = 20.0  # seconds between the kernel sending a cell's execute_reply and this client handling it


class OutputWidget(NbclientOutputWidget):
    """nbclient's Output widget stand-in, sending its state through the asyncio shell socket (see the module doc)."""

    def _publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[Any] | None = None,
        **keys: Any,
    ) -> None:
        session, socket = self.kernel_client.session, self.kernel_client.shell_channel.socket
        if not isinstance(socket, zmq.asyncio.Socket):
            raise TypeError(f"expected nbclient's asyncio shell socket, got {type(socket).__name__}")
        content = json_clean(dict(data={} if data is None else data, comm_id=self.comm_id, **keys))
        msg = session.msg(msg_type, content=content, parent=self.parent_header, metadata=metadata or {})
        socket.send_multipart(session.serialize(msg))  # never waits: a DEALER socket queues the message


class StallError(RuntimeError):
    """The kernel answered a cell, but the client noticed only much later."""


def make_client(notebook: nbformat.NotebookNode, folder: Path, timeout: float, stall_limit: float) -> NotebookClient:
    """An nbclient NotebookClient for `notebook`, run in `folder`, with the fixed Output widget and the stall check."""

    def check_reply(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict[str, Any]) -> None:
        sent = execute_reply["header"]["date"]
        lag = (datetime.datetime.now(datetime.timezone.utc) - sent).total_seconds()
        if lag > stall_limit:
            raise StallError(
                f"cell {cell_index}: the kernel sent its execute_reply at {sent.isoformat()}, the client got it "
                f"{lag:.0f} s later (limit {stall_limit:.0f} s); the cell:\n{cell.source[:500]}"
            )

    # coalesce_streams: one stdout output per cell, however the kernel happened to flush it, so outputs diff cleanly.
    client = NotebookClient(notebook, timeout=int(timeout), resources={"metadata": {"path": str(folder)}},
                            on_cell_executed=check_reply, coalesce_streams=True)  # fmt: skip
    client.widget_registry["@jupyter-widgets/output"]["OutputModel"] = OutputWidget
    return client


def run_notebook(path: Path, timeout: float = TIMEOUT, stall_limit: float = STALL_LIMIT) -> float:
    """Execute the notebook at `path` and write it back with its outputs; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    started = time.monotonic()
    make_client(notebook, path.parent, timeout, stall_limit).execute()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        nbformat.write(notebook, out)
    os.replace(temporary, path)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks to execute in place")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help=f"seconds per cell (default {TIMEOUT})")
    parser.add_argument("--stall-limit", type=float, default=STALL_LIMIT,
                        help=f"seconds a cell's reply may wait unnoticed (default {STALL_LIMIT:.0f})")  # fmt: skip
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.stall_limit <= 0:
        parser.error("--timeout and --stall-limit must be positive")
    for path in args.notebooks:
        try:
            seconds = run_notebook(path, args.timeout, args.stall_limit)
        except (CellExecutionError, CellTimeoutError, DeadKernelError, StallError) as error:
            print(f"{path}: FAILED ({type(error).__name__}); the notebook is unchanged\n{error}", file=sys.stderr)
            return 1
        print(f"{path}: executed in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
