"""Faults survived, with clear errors: unreadable and foreign checkpoint files, runs killed with SIGKILL, two runs
started into one folder, and a grid whose worker dies."""

import os
import re
import signal
import subprocess
import sys
import traceback
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
import sigkill
import torch
from test_train import same_weights
from tiny import tiny_config, tiny_data

from dropkey_lib import experiments, rundir
from dropkey_lib.config import ViTConfig
from dropkey_lib.data import SAMPLE_PATH
from dropkey_lib.experiments import run_grid
from dropkey_lib.rundir import RunFolderInUse, load_model
from dropkey_lib.train import train
from dropkey_lib.vit import TinyViT


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory) -> bytes:
    """The checkpoint.pt of a finished one-epoch tiny run."""
    folder = tmp_path_factory.mktemp("run")
    train(tiny_config(epochs=1), data=tiny_data(), out_dir=folder, progress=False)
    return (folder / "checkpoint.pt").read_bytes()


def load_error(path: Path) -> str:
    """The whole report of the error `load_model(path)` raises, as a user would see it (chained errors included)."""
    with pytest.raises(ValueError) as caught:
        load_model(path)
    return "".join(traceback.format_exception(caught.value))


# --- unreadable and foreign files -----------------------------------------------------------------------------


def test_a_truncated_checkpoint_raises_an_error_naming_the_file_and_what_to_do(tmp_path, checkpoint_bytes):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(checkpoint_bytes[: len(checkpoint_bytes) // 2])
    report = load_error(path)
    assert f"{path} cannot be read" in report and "truncated or corrupt" in report
    assert "Delete it and make it again" in report and "--resume" in report


def test_a_file_of_random_bytes_raises_an_error_naming_the_file_and_what_to_do(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(os.urandom(4096))
    report = load_error(path)
    assert f"{path} cannot be read" in report and "git checkout -- " in report


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty"])
def test_no_error_about_a_damaged_file_suggests_loading_it_with_weights_only_false(tmp_path, checkpoint_bytes, damage):
    # PyTorch's own message for such a file says that weights_only=False "will likely succeed": that would run
    # whatever code the file holds.
    path = tmp_path / "checkpoint.pt"
    content = {"truncated": checkpoint_bytes[:1000], "random bytes": os.urandom(4096), "empty": b""}[damage]
    path.write_bytes(content)
    assert "weights_only" not in load_error(path)


@pytest.mark.parametrize(
    "content, described",
    [
        (TinyViT(ViTConfig(dim=16, depth=1, num_heads=2)).state_dict(), "a dict with keys 'pos_embed'"),
        (torch.ones(3), "a Tensor"),
    ],
    ids=["bare state_dict", "tensor"],
)
def test_a_foreign_torch_file_raises_an_error_saying_it_is_not_one_of_ours(tmp_path, content, described):
    path = tmp_path / "foreign.pt"
    torch.save(content, path)
    report = load_error(path)
    assert f"{path} is a PyTorch file but not a checkpoint or model file of dropkey_lib" in report
    assert described in report and "load_state_dict" in report


# --- two runs into one folder ---------------------------------------------------------------------------------


def test_a_second_run_into_a_folder_in_use_refuses_with_an_error_naming_the_folder(tmp_path):
    refusals = []

    def start_a_second_run(record: dict) -> None:  # while the first run is between its epochs
        with pytest.raises(RunFolderInUse) as refused:
            train(tiny_config(), data=tiny_data(), out_dir=tmp_path, resume=True, progress=False)
        refusals.append(str(refused.value))

    first = train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False, callback=start_a_second_run)
    assert len(first.history) == 2 and len(refusals) == 2
    assert refusals[0].startswith(f"{tmp_path} is in use: another run (process {os.getpid()}) is training in it")


def hold_the_folder(folder: Path, then: str) -> subprocess.Popen:
    """A process that locks `folder` as a run does, says "held", then runs the Python statement `then`."""
    code = (
        "import os, signal, sys\n"
        "from dropkey_lib.rundir import lock_run\n"
        f"with lock_run({str(folder)!r}):\n"
        "    print('held', flush=True)\n"
        f"    {then}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=sigkill.child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline() == "held\n"
    return process


def test_a_run_into_a_folder_another_process_trains_in_refuses_naming_that_process(tmp_path):
    holder = hold_the_folder(tmp_path, "sys.stdin.read()")  # holds it until its stdin closes
    try:
        with pytest.raises(RunFolderInUse, match=f"another run \\(process {holder.pid}\\)"):
            train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)
    finally:
        holder.communicate(timeout=30)


def test_a_folder_whose_run_was_killed_is_free_at_once(tmp_path):
    killed = hold_the_folder(tmp_path, "os.kill(os.getpid(), signal.SIGKILL)")
    assert killed.wait(timeout=30) == -signal.SIGKILL
    assert (tmp_path / "run.lock").read_text().strip() == str(killed.pid)  # it never released its lock itself
    assert len(train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False).history) == 2


# --- runs killed with SIGKILL ---------------------------------------------------------------------------------

# The keys of a history record that measure time: the only ones a resumed run may change.
TIMING = ("seconds", "images_per_second", "elapsed_seconds", "finished_at")

# Where the child is killed (`sigkill.py`): the tiny run has 2 epochs of 4 batches and writes checkpoint.pt, then
# history.json, after each epoch.
KILLS = {
    "in epoch 1, before any checkpoint": ["batch", "2"],
    "in epoch 2": ["batch", "6"],
    "writing the first checkpoint": ["write", "checkpoint.pt", "1"],
    "writing the last checkpoint": ["write", "checkpoint.pt", "2"],
    "between the last checkpoint and its history": ["write", "history.json", "2"],
}


def without_timing(history: list[dict]) -> list[dict]:
    return [{key: value for key, value in record.items() if key not in TIMING} for record in history]


def killed_run(folder: Path, kill: list[str]) -> None:
    """Train the tiny run into `folder` in a child process that SIGKILLs itself at `kill` (see `KILLS`)."""
    command = [sys.executable, "-m", "sigkill", str(folder), str(torch.get_num_threads()), *kill]
    child = subprocess.run(command, env=sigkill.child_env(), capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr


@pytest.fixture(scope="module")
def uninterrupted():
    return train(tiny_config(), data=tiny_data(), progress=False)


@pytest.mark.parametrize("kill", KILLS.values(), ids=KILLS)
def test_a_run_killed_with_sigkill_resumes_to_the_weights_and_history_of_an_uninterrupted_run(
    tmp_path, uninterrupted, kill
):
    killed_run(tmp_path, kill)
    resumed = train(tiny_config(), data=tiny_data(), out_dir=tmp_path, resume=True, progress=False)
    for (name, weights), expected in zip(resumed.model.state_dict().items(), uninterrupted.model.state_dict().values()):
        assert torch.equal(weights, expected), name
    assert without_timing(resumed.history) == without_timing(uninterrupted.history)
    assert without_timing(rundir.read_history(tmp_path)) == without_timing(uninterrupted.history)


def test_the_half_written_file_of_a_run_killed_in_mid_write_is_deleted_when_it_resumes(tmp_path):
    killed_run(tmp_path, KILLS["writing the last checkpoint"])
    assert [path.name.startswith(".checkpoint.pt.") for path in tmp_path.glob("*.tmp")] == [True]
    train(tiny_config(), data=tiny_data(), out_dir=tmp_path, resume=True, progress=False)
    assert not list(tmp_path.glob("*.tmp"))


def test_resuming_a_run_stopped_before_its_first_checkpoint_starts_it_from_the_beginning(tmp_path, uninterrupted):
    rundir.write_config(tmp_path, tiny_config())  # all that a run killed in its first epoch leaves
    resumed = train(tiny_config(), data=tiny_data(), out_dir=tmp_path, resume=True, progress=False)
    assert same_weights(resumed.model, uninterrupted.model) and len(resumed.history) == 2


def test_resuming_a_folder_without_a_run_raises_saying_there_is_nothing_to_resume(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"nothing to resume: {tmp_path} holds no run")):
        train(tiny_config(), data=tiny_data(), out_dir=tmp_path, resume=True, progress=False)


# --- a grid whose worker dies ---------------------------------------------------------------------------------


def attempts(grid_dir: Path) -> list[str]:
    """The log of `sigkill.run_one_killing_its_worker_once`: "start <run folder>" and "done <run folder>" lines."""
    return (grid_dir / "attempts.log").read_text().splitlines()


def test_a_grid_whose_worker_is_killed_finishes_with_every_run_done_exactly_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiments, "run_one", sigkill.run_one_killing_its_worker_once)  # the victim: dropkey-0.2
    results = run_grid("smoke", tmp_path, seeds=1, workers=2, data=str(SAMPLE_PATH))  # small data: a faster grid
    assert sorted((final["run"], final["seed"]) for final in results) == [("dropkey-0.2", 0), ("none", 0)]
    log = attempts(tmp_path / "smoke")
    assert log.count("start dropkey-0.2/seed0") == 2  # killed in its second batch, then started again
    assert sorted(line for line in log if line.startswith("done")) == ["done dropkey-0.2/seed0", "done none/seed0"]
    assert len(rundir.read_history(tmp_path / "smoke" / "dropkey-0.2" / "seed0")) == 1
    assert "a worker died: " in capsys.readouterr().out


class PoolWhoseWorkersAllDie:
    """Stands for `ProcessPoolExecutor` where every run kills its worker (say, each needs more memory than there
    is): every future fails as Python's pool fails it then."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __enter__(self) -> "PoolWhoseWorkersAllDie":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def submit(self, *args) -> Future:
        future = Future()
        future.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
        return future


def test_a_grid_whose_runs_keep_killing_their_workers_stops_naming_them(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "ProcessPoolExecutor", PoolWhoseWorkersAllDie)
    with pytest.raises(RuntimeError, match="lost a worker 4 times; unfinished: none seed 0, dropkey-0.2 seed 0"):
        run_grid("smoke", tmp_path, seeds=1, workers=2)


def test_a_grid_leaves_a_run_that_another_process_trains_to_it(tmp_path, capsys):
    folder = tmp_path / "smoke" / "none" / "seed0"
    with rundir.lock_run(folder):  # as a worker of the same grid, started twice, would
        results = run_grid("smoke", tmp_path, seeds=1, data=str(SAMPLE_PATH))
    assert [final["run"] for final in results] == ["dropkey-0.2"] and not rundir.has_checkpoint(folder)
    assert f"skipped none seed 0: {folder} is in use" in capsys.readouterr().out
