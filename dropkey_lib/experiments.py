"""Grids of training runs that test the paper's three claims, and the statistics to read them.

    dropkey-experiments small-data --workers 2      # the grid behind notebooks/10_results.ipynb
    dropkey-experiments small-data --scheduler tcp://host:8786   # on a Dask cluster (pip install dropkey_lib[grid])
    dropkey-experiments small-data --list           # what it would run
    dropkey-experiments small-data --export none dropout-0.1 dropkey-0.1   # ship their seed-0 models
    python -m dropkey_lib.experiments smoke         # a tiny grid, seconds

Every run writes config, history, metrics and its checkpoint to `results/<grid>/<run>/seed<s>/`; git keeps all but
the checkpoints (`--export` ships a few chosen models in `results/checkpoints/`, listed in `results/checkpoints.json`).
Rerunning a grid skips finished runs (those with `metrics.json`) and resumes an unfinished one from its
checkpoint. A run that another process is training (a grid started twice) is skipped, not trained twice. A local
worker that dies (killed, say, by the out-of-memory killer) costs only the runs it and its pool had not finished:
they go to a fresh pool and resume from their checkpoints.

Runs are independent, so a grid runs on the local process pool (`--workers`, the default) or on an existing Dask
distributed cluster (`--scheduler ADDRESS`, the optional `grid` extra). On a cluster every worker must see the same
results folder (a shared file system) and the data (`--data` or its own DROPKEY_DATA). A worker lost mid-run costs
only that run: Dask hands it to another worker, which resumes it from its last checkpoint. Dask starts no cluster
here; for SLURM or PBS, start one with `dask-jobqueue` and pass its scheduler's address, e.g.

    from dask_jobqueue import SLURMCluster                       # or PBSCluster
    cluster = SLURMCluster(cores=1, processes=1, memory="4GB", walltime="02:00:00")
    cluster.scale(jobs=16)                                       # 16 batch jobs, one run at a time each
    print(cluster.scheduler_address)                             # -> dropkey-experiments ... --scheduler <address>

Seeds are paired: seed s gives the same initial weights, training subset and batch order in every
configuration, so differences between configurations can be compared seed by seed.

The paper's claims (see docs/paper-notes.md §2):
  Q1 dropping keys before the softmax beats classic attention dropout;
  Q2 a drop ratio that decreases with depth beats a constant one (and, by a secondary summary of its ablation,
     an increasing one is worst);
  Q3 structured (block / cross) drops are not needed for ViTs.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from tqdm.auto import tqdm

from . import metrics, rundir
from .analysis import attention_statistics
from .checks import check_positive_int
from .data import load_cifar10, subset, to_float
from .hardware import machine
from .settings import quick_mode
from .train import TrainConfig, evaluate, train


@dataclass(frozen=True)
class Grid:
    """A grid of paired runs, pinned: the base config every run starts from (its model included, so that a change
    of the library's defaults never changes a grid), each configuration's changes to it, and the number of seeds it
    is meant to run with (`dropkey-experiments GRID` runs that many unless --seeds says otherwise). A `blind` grid
    (the pre-registered confirmatory grid, run in parts and analysed once, when complete) never prints a run's outcome
    while it runs: its log says which runs finished, not how they did."""

    base: TrainConfig
    configs: tuple[tuple[str, dict], ...]  # (configuration name, changes by config field name)
    seeds: int
    blind: bool = False

    def run_config(self, name: str, seed: int) -> TrainConfig:
        """The config of configuration `name` with seed `seed`."""
        return self.base.replace(**dict(self.configs)[name], seed=seed)

    def finished_seeds(self, grid_dir: str | os.PathLike) -> list[int]:
        """The seeds (of 0 .. seeds - 1) that every configuration has finished under `grid_dir`: found from the runs'
        metrics files being there, without reading any (a blind grid's progress, before its analysis)."""
        folder = Path(grid_dir)
        return [
            seed
            for seed in range(self.seeds)
            if all(rundir.is_finished(folder / name / f"seed{seed}") for name, _ in self.configs)
        ]


# Every config field at the value it had when the grids were pinned (the defaults of commit 77f2d74), listed in full
# so that no later change of a default reaches a grid (tests/test_experiments.py checks that no field is missing).
PINNED_FIELDS = dict(
    image_size=32, patch_size=4, num_classes=10, dim=96, depth=2, num_heads=4, mlp_ratio=4.0, stem="conv",
    stem_width=32, pool="mean", mode="dropkey", drop_ratio=0.1, schedule="linear_down", window_size=3, epochs=6,
    batch_size=64, lr=2e-3, weight_decay=0.05, label_smoothing=0.1, augment="flip", warmup_epochs=0.5, seed=0,
    train_size=None, test_size=None, train_eval_size=2000,
)  # fmt: skip


def _pinned(**fields: Any) -> TrainConfig:
    """A grid's base config: `PINNED_FIELDS` with `fields` changed."""
    return TrainConfig().replace(**{**PINNED_FIELDS, **fields})


# The small-data regime: 5% of CIFAR-10 (2,500 images, 250 per class) without augmentation, where a ViT clearly
# overfits within a few epochs. A 0.2M-parameter TinyViT (dim 64, depth 4) trains for 20 epochs, about a minute per
# run on one quiet CPU core. The per-epoch curves use 1,000 test and 1,000 training images; the final metrics use
# the whole test set and the whole training subset. The model is the plain ViT the committed results were made with:
# a patch embedding, a class token and batches of 128.
SMALL_DATA = _pinned(
    train_size=2500,
    augment="none",
    test_size=1000,
    train_eval_size=1000,
    stem="patch",
    pool="cls",
    dim=64,
    depth=4,
    num_heads=4,
    epochs=20,
    batch_size=128,
)

# (run name, config changes) per configuration; each runs once per seed.
SMALL_DATA_CONFIGS = (
    ("none", dict(mode="none", drop_ratio=0.0)),
    *[(f"dropout-{r}", dict(mode="dropout", drop_ratio=r, schedule="constant")) for r in (0.1, 0.2, 0.3)],
    *[(f"dropkey-{r}", dict(mode="dropkey", drop_ratio=r, schedule="constant")) for r in (0.1, 0.2, 0.3)],
    ("dropkey-0.2-linear_down", dict(mode="dropkey", drop_ratio=0.2, schedule="linear_down")),
    ("dropkey-0.2-linear_up", dict(mode="dropkey", drop_ratio=0.2, schedule="linear_up")),
    ("dropkey_block-0.2", dict(mode="dropkey_block", drop_ratio=0.2, schedule="constant", window_size=3)),
    ("dropkey_cross-0.2", dict(mode="dropkey_cross", drop_ratio=0.2, schedule="constant", window_size=3)),
)

# The regime of the 10-seed grid for the paper's first question (DropKey against attention dropout, at the paper's
# ratio 0.1): the same 2,500 images, without augmentation, with the default model of the faster recipe (a
# convolutional stem, 2 blocks, mean pooling, batches of 64) at 64 channels. It learns more from the subset than
# the plain ViT (44% test accuracy after 20 epochs against 39%) and overfits more: in a pilot (seeds 0 and 1) the
# unregularised model ended with a clean-train minus test gap of 16 points. About 100 s per run on one core.
SMALL_DATA_CONV = SMALL_DATA.replace(stem="conv", pool="mean", depth=2, mlp_ratio=4.0, batch_size=64)
Q1_CONFIGS = tuple(c for c in SMALL_DATA_CONFIGS if c[0] in ("none", "dropout-0.1", "dropkey-0.1"))

# The declared pilot of the pre-registered study (results/preregistration.md): which regime lets an attention
# regulariser change test accuracy? The 10-seed grid's regime at depth 2 and 4, at ratio 0.3, 3 seeds. It only
# chooses the regime and sizes the confirmatory grid; no verdict is computed from it.
PILOT_CONFIGS = tuple(
    (f"depth{depth}-{name}", {**changes, "depth": depth})
    for depth in (2, 4)
    for name, changes in (
        ("none", dict(mode="none", drop_ratio=0.0)),
        ("dropout-0.3", dict(mode="dropout", drop_ratio=0.3, schedule="constant")),
        ("dropkey-0.3", dict(mode="dropkey", drop_ratio=0.3, schedule="constant")),
        ("dropkey-0.3-down_to_half", dict(mode="dropkey", drop_ratio=0.3, schedule="down_to_half")),
    )
)

# The confirmatory grid of the pre-registered study (results/preregistration.md, part 2), fixed from the pilot before
# its first run: the 10-seed grid's regime (depth 2, chosen by part 1's rule), DropKey against dropout at 0.1 and 0.3,
# the three schedules at mean ratio 0.3 with every layer dropping, and the structured variants; 68 seeds.
CONFIRMATORY_CONFIGS = (
    ("none", dict(mode="none", drop_ratio=0.0)),
    *[
        (f"{mode}-{r}", dict(mode=mode, drop_ratio=r, schedule="constant"))
        for r in (0.1, 0.3)
        for mode in ("dropout", "dropkey")
    ],
    *[(f"dropkey-0.3-{s}", dict(mode="dropkey", drop_ratio=0.3, schedule=s)) for s in ("down_to_half", "up_from_half")],
    *[
        (f"{mode}-0.3", dict(mode=mode, drop_ratio=0.3, schedule="constant", window_size=3))
        for mode in ("dropkey_block", "dropkey_cross")
    ],
)

GRIDS: dict[str, Grid] = {
    "small-data": Grid(SMALL_DATA, SMALL_DATA_CONFIGS, seeds=5),
    "small-data-conv-q1": Grid(SMALL_DATA_CONV, Q1_CONFIGS, seeds=10),
    "pilot-regime": Grid(SMALL_DATA_CONV, PILOT_CONFIGS, seeds=3),
    "confirmatory": Grid(SMALL_DATA_CONV, CONFIRMATORY_CONFIGS, seeds=68, blind=True),
    # All of CIFAR-10 with the default recipe's model, for 30 epochs: hours on a CPU, meant for a GPU.
    "full-data": Grid(_pinned(epochs=30), Q1_CONFIGS, seeds=5),
    # A few seconds: for tests and for trying the runner.
    "smoke": Grid(
        _pinned(
            train_size=200, test_size=100, train_eval_size=100, dim=16, depth=2, num_heads=2, epochs=1, batch_size=50
        ),
        (("none", dict(mode="none", drop_ratio=0.0)), ("dropkey-0.2", dict(mode="dropkey", drop_ratio=0.2))),
        seeds=2,
    ),  # fmt: skip
}

# The size of the CIFAR-10 test set: a shipped checkpoint is scored on all of it.
CIFAR10_TEST_SIZE = 10_000

# How many test images the attention statistics of a finished run are measured on.
STATISTICS_IMAGES = 500


@dataclass(frozen=True)
class GridRun:
    """One planned run of a grid: configuration `name` with seed `config.seed`, to be stored in `folder`.

    (A finished run, read back from its folder, is a `rundir.Run`; its final metrics are `rundir.read_metrics`.)"""

    name: str
    config: TrainConfig
    folder: str  # relative to the grid's folder, e.g. "dropkey-0.2/seed0"


def grid_runs(grid: str, seeds: int | None = None) -> list[GridRun]:
    """The runs of `grid`, configuration by configuration, seeds 0 .. seeds - 1 (default: the grid's own count)."""
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {', '.join(GRIDS)}; got {grid!r}")
    spec = GRIDS[grid]
    seeds = spec.seeds if seeds is None else check_positive_int(seeds, "seeds")
    # Seed-major order: an interrupted grid has every configuration for its first seeds.
    return [
        GridRun(name, spec.run_config(name, seed), f"{name}/seed{seed}")
        for seed in range(seeds)
        for name, _ in spec.configs
    ]


def run_one(run: GridRun, grid_dir: Path, data: str | None = None, threads: int | None = None) -> dict | None:
    """Train one run (resuming it if it has a checkpoint), then write and return its metrics.

    A run that another process is training now (its folder is locked: `rundir.lock_run`) is left to it: a
    message says so and the result is None.
    """
    if threads:
        torch.set_num_threads(threads)
    out = grid_dir / run.folder
    started = time.perf_counter()
    dataset = load_cifar10(data, sample_fallback=quick_mode())
    try:
        result = train(run.config, data=dataset, out_dir=out, resume=rundir.has_checkpoint(out), progress=False)
    except rundir.RunFolderInUse as busy:
        tqdm.write(f"skipped {run.name} seed {run.config.seed}: {busy}")
        return None
    train_images, train_labels = subset(
        dataset.train_images, dataset.train_labels, run.config.train_size, run.config.seed
    )
    test_loss, test_accuracy = evaluate(result.model, dataset.test_images, dataset.test_labels)
    _, clean_train_accuracy = evaluate(result.model, train_images, train_labels)
    probe = to_float(subset(dataset.test_images, dataset.test_labels, STATISTICS_IMAGES, seed=0)[0])
    final = {
        "run": run.name,
        "seed": run.config.seed,
        "config": run.config.to_dict(),
        "layer_drop_ratios": run.config.model.drop.layer_ratios(run.config.model.depth),  # first layer first
        "test_accuracy": test_accuracy,  # on every test image
        "test_loss": test_loss,
        "clean_train_accuracy": clean_train_accuracy,  # eval mode, unaugmented, every training image the run used
        "gap": metrics.gap(clean_train_accuracy, test_accuracy),
        **attention_statistics(result.model, probe),
        "train_seconds": sum(record["seconds"] for record in result.history),
        "wall_seconds_this_session": time.perf_counter() - started,
        "hardware": machine(),
        "data": dataset.source,
    }
    rundir.write_metrics(out, final)
    return final


def run_grid(
    grid: str,
    root: str | os.PathLike = "results",
    *,
    seeds: int | None = None,
    workers: int = 1,
    data: str | None = None,
    scheduler: str | None = None,
) -> list[dict]:
    """Run every unfinished run of `grid`: in this process (workers=1), on a local pool of `workers` processes
    (one torch thread each), or, with `scheduler` (a Dask scheduler's address such as 'tcp://host:8786'), on that
    Dask cluster, one torch thread per run. Returns the metrics of every finished run of the grid."""
    grid_dir = Path(root).resolve() / grid
    runs = grid_runs(grid, seeds)
    check_positive_int(workers, "workers")
    pending = [run for run in runs if not rundir.is_finished(grid_dir / run.folder)]
    print(f"{grid}: {len(runs)} runs, {len(runs) - len(pending)} already finished, {len(pending)} to go -> {grid_dir}")
    report = functools.partial(print_run_result, blind=GRIDS[grid].blind)
    if scheduler is not None:
        _run_on_dask(pending, grid_dir, data, scheduler, grid, report)
    elif workers > 1:
        _run_on_pool(pending, grid_dir, data, workers, grid, report)
    else:
        for run in tqdm(pending, desc=grid, unit="run"):
            report(run_one(run, grid_dir, data))
    return load_results(grid_dir)


# How many times the local pool may lose a worker before the grid stops; after each loss the unfinished runs go to
# a fresh pool. A run that kills every worker it gets (one that needs more memory than there is) stops the grid.
POOL_RESTARTS = 3


def _run_on_pool(
    pending: Sequence[GridRun],
    grid_dir: Path,
    data: str | None,
    workers: int,
    desc: str,
    report: Callable[[dict | None], None],
) -> None:
    """Run `pending` on a local pool of `workers` processes (one torch thread each), `report`ing each result.

    A worker that dies breaks Python's pool: it stops the other workers and fails every run not finished with
    BrokenProcessPool. Those runs go to a fresh pool, where each resumes from its last checkpoint; a finished run
    (it has metrics.json) never runs again. After `POOL_RESTARTS` fresh pools a RuntimeError names the runs left.
    """
    left = list(pending)
    with tqdm(total=len(pending), desc=desc, unit="run") as bar:
        for restart in range(POOL_RESTARTS + 1):
            if restart:
                tqdm.write(f"a worker died: {len(left)} unfinished run(s) go to a fresh pool, each from its checkpoint")
            broken = False
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(run_one, run, grid_dir, data, 1) for run in left]
                for future in as_completed(futures):
                    if isinstance(future.exception(), BrokenProcessPool):
                        broken = True
                    else:
                        report(future.result())
            # Leaving the `with` waits for the pool's processes to end: none of them still holds a run.
            left = [run for run in left if not rundir.is_finished(grid_dir / run.folder)]
            bar.update(len(pending) - len(left) - bar.n)
            if not broken or not left:
                return
    names = ", ".join(f"{run.name} seed {run.config.seed}" for run in left)
    raise RuntimeError(
        f"the pool lost a worker {POOL_RESTARTS + 1} times; unfinished: {names}. A run may need more memory than a "
        "worker has (try fewer --workers); rerun the same command to resume them from their checkpoints."
    )


# How often a run may fail with an error on a Dask worker before the grid stops (a lost worker is not an error:
# the scheduler reassigns its runs by itself, up to its `allowed-failures` setting).
DASK_RETRIES = 2


def _run_on_dask(
    pending: Sequence[GridRun],
    grid_dir: Path,
    data: str | None,
    scheduler: str,
    desc: str,
    report: Callable[[dict | None], None],
) -> None:
    """Submit the pending runs to the Dask cluster at `scheduler` and `report` each result as it arrives."""
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as error:
        raise ImportError(
            "scheduler= needs Dask distributed: pip install 'dropkey_lib[grid]' (or 'dask[distributed]')"
        ) from error
    if not isinstance(scheduler, str) or not scheduler:
        raise TypeError(f"scheduler must be the address of a Dask scheduler (a str), got {scheduler!r}")
    data = str(Path(data).resolve()) if data else None
    with Client(scheduler) as client:
        futures = [client.submit(run_one, run, grid_dir, data, 1, pure=False, retries=DASK_RETRIES) for run in pending]
        for future in tqdm(dask_completed(futures), total=len(futures), desc=desc, unit="run"):
            report(future.result())


def print_run_result(metrics: dict | None, blind: bool = False) -> None:
    """One line per finished run in the grid's log (nothing for a run another process trains: `run_one`); for a
    `blind` grid, only which run finished."""
    if metrics is None:
        return
    if blind:
        tqdm.write(f"{metrics['run']} seed {metrics['seed']}: finished (a blind grid: no outcome is shown)")
        return
    tqdm.write(
        f"{metrics['run']} seed {metrics['seed']}: test {metrics['test_accuracy']:.1%}, "
        f"gap {metrics['gap']:+.1%}, {metrics['train_seconds']:.0f} s"
    )


def load_results(grid_dir: str | os.PathLike) -> list[dict]:
    """The metrics of every finished run under `grid_dir`, sorted by run name and seed."""
    found = [rundir.read_metrics(path.parent) for path in Path(grid_dir).glob(f"*/seed*/{rundir.METRICS_FILE}")]
    return sorted(found, key=lambda m: (m["run"], m["seed"]))


# ------------------------------------------------------------------------------------------------------------------
# Shipping trained models


def export_checkpoint(run_dir: str | os.PathLike, destination: str | os.PathLike, data: str | None = None) -> dict:
    """Save the model of a finished run as a model file (config and weights only, loadable with
    `rundir.load_model`), evaluate it on the full CIFAR-10 test set, and return its `results/checkpoints.json`
    entry. The bundled sample (or any data without the 10,000 CIFAR-10 test images) is refused with a ValueError,
    even where DROPKEY_SAMPLE_FALLBACK=1 or quick mode would fall back to it: a shipped accuracy must come from the
    real test set. The entry records which copy of CIFAR-10 it was scored on (`data`, `test_set_sha256`)."""
    dataset = load_cifar10(data, sample_fallback=False)
    if dataset.is_sample or len(dataset.test_labels) != CIFAR10_TEST_SIZE:
        raise ValueError(
            f"data: {dataset.source} is not the full CIFAR-10 test set ({CIFAR10_TEST_SIZE:,} images); a shipped "
            "accuracy must come from it (pass --data or set DROPKEY_DATA to a copy of CIFAR-10)"
        )
    rundir.write_model(destination, rundir.load_model(run_dir))
    _, accuracy = evaluate(rundir.load_model(destination), dataset.test_images, dataset.test_labels)
    return {
        "path": str(destination),
        "test_accuracy": accuracy,
        "data": dataset.source,
        "test_set_sha256": fingerprint_test_set(dataset.test_images, dataset.test_labels),
    }


def fingerprint_test_set(images: torch.Tensor, labels: torch.Tensor) -> str:
    """The first 16 hex digits of the SHA-256 of a test set's pixels (uint8 (N, 3, 32, 32)) and labels. Copies of
    CIFAR-10 differ in their pixels (a JPEG copy is not the original), and so do the accuracies measured on them: a
    recorded accuracy is comparable only on the test set with the same fingerprint."""
    digest = hashlib.sha256(images.contiguous().numpy().tobytes())
    digest.update(labels.to(torch.int64).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def export_checkpoints(
    grid: str, runs: Sequence[str], root: str | os.PathLike = "results", *, seed: int = 0, data: str | None = None
) -> list[dict]:
    """Ship the models of finished runs of `grid`: `<root>/checkpoints/<run>.pt` for each run in `runs` (its seed
    `seed`), and the index `<root>/checkpoints.json`, whose paths are relative to the folder above `root` (the
    repository root for the default `results/`)."""
    root = Path(root)
    entries = []
    for name in runs:
        run_dir = root / grid / name / f"seed{seed}"
        if not rundir.is_finished(run_dir):
            raise ValueError(f"runs: {name!r} seed {seed} of grid {grid!r} has not finished (no metrics in {run_dir})")
        destination = root / "checkpoints" / f"{name}.pt"
        entry = export_checkpoint(run_dir, destination, data)
        path = destination.resolve().relative_to(root.resolve().parent).as_posix()
        entries.append({**entry, "path": path, "grid": grid, "run": name, "seed": seed})
    rundir.write_checkpoint_index(entries, root / rundir.CHECKPOINT_INDEX)
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dropkey-experiments", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("grid", choices=GRIDS)
    parser.add_argument("--seeds", type=int, help="seeds per configuration (default: the grid's own count)")
    parser.add_argument("--workers", type=int, default=1, help="parallel runs, one CPU thread each (default 1)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on this Dask scheduler (e.g. tcp://host:8786) instead of local processes; needs the grid extra",
    )
    parser.add_argument("--out", default="results", help="results folder (default results/)")
    parser.add_argument("--data", help="CIFAR-10 location (also env DROPKEY_DATA)")
    parser.add_argument("--list", action="store_true", help="print the runs and exit")
    parser.add_argument(
        "--export",
        nargs="+",
        metavar="RUN",
        help="instead of training, ship the seed-0 models of these finished runs (<out>/checkpoints/)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for run in grid_runs(args.grid, args.seeds):
            print(run.folder, json.dumps(run.config.to_dict()))
        return 0
    if args.export:
        for entry in export_checkpoints(args.grid, args.export, args.out, data=args.data):
            print(f"{entry['path']}: test accuracy {entry['test_accuracy']:.2%}")
        return 0
    print(f"hardware: {machine()}; python {platform.python_version()}")
    try:
        run_grid(args.grid, args.out, seeds=args.seeds, workers=args.workers, data=args.data, scheduler=args.scheduler)
    except KeyboardInterrupt:
        print("\ninterrupted: rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
