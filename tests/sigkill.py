"""Kill a training process with SIGKILL from inside, at a chosen point: in a given batch, or in the middle of an
atomic write, its temporary file half written. Run as a module, it trains the tiny run (`tiny.py`) into a folder
and dies there:

    python -m sigkill FOLDER THREADS batch 6                 # while batch 6 of the run is served
    python -m sigkill FOLDER THREADS write checkpoint.pt 2   # in the second write of checkpoint.pt

(with tests/ and the repository on PYTHONPATH: `child_env`). `run_one_killing_its_worker_once` kills a grid's
worker in the same way.
"""

import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

import dropkey_lib.experiments as experiments
import dropkey_lib.files as files_module
import dropkey_lib.train as train_module

TESTS = Path(__file__).resolve().parent


def child_env() -> dict[str, str]:
    """The environment of a child Python that imports this module, `tiny` and the library of this checkout."""
    paths = [str(TESTS), str(TESTS.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at_batch(batch: int) -> None:
    """Make this process die when batch number `batch` (counting from 1 over the whole run) is served."""
    real_iterate = train_module.iterate_batches
    served = 0

    def iterate(*args, **kwargs):
        nonlocal served
        for item in real_iterate(*args, **kwargs):
            served += 1
            if served == batch:
                die()
            yield item

    train_module.iterate_batches = iterate


def kill_during_write(name: str, occurrence: int) -> None:
    """Make this process die in its `occurrence`-th atomic write of a file called `name`: after half of the new file
    is on disk under its temporary name, before it replaces the old file."""
    real_atomic_path = files_module.atomic_path
    writes = 0

    @contextmanager
    def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
        nonlocal writes
        with real_atomic_path(path) as tmp:
            yield tmp
            if Path(path).name == name:
                writes += 1
                if writes == occurrence:
                    with open(tmp, "r+b") as file:
                        file.truncate(tmp.stat().st_size // 2)
                    die()

    files_module.atomic_path = atomic_path


# The grid run whose worker `run_one_killing_its_worker_once` kills, in the second batch of its first attempt.
VICTIM = "dropkey-0.2"


def run_one_killing_its_worker_once(
    run: experiments.GridRun, grid_dir: Path, data: str | None = None, threads: int | None = None
) -> dict:
    """`experiments.run_one`, logging each attempt's start and end in grid_dir/attempts.log; the first attempt of
    the run `VICTIM` kills its worker process instead of finishing."""
    log = Path(grid_dir) / "attempts.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    first_attempt = f"start {run.folder}\n" not in (log.read_text() if log.exists() else "")
    with open(log, "a") as file:
        file.write(f"start {run.folder}\n")
    if run.name == VICTIM and first_attempt:
        kill_at_batch(2)
    final = experiments.run_one(run, grid_dir, data, threads)
    with open(log, "a") as file:
        file.write(f"done {run.folder}\n")
    return final


if __name__ == "__main__":
    from tiny import tiny_config, tiny_data

    folder, threads, point, *where = sys.argv[1:]
    torch.set_num_threads(int(threads))  # as many as the parent: the same sums in the same order
    if point == "batch":
        kill_at_batch(int(where[0]))
    else:
        kill_during_write(where[0], int(where[1]))
    train_module.train(tiny_config(), data=tiny_data(), out_dir=folder, progress=False)
    sys.exit("the run ended without being killed")
