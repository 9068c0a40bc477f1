"""Comparing finished training runs (notebooks 08 and 09).

Runs are read from run folders with `rundir.load_runs`, or wrapped from memory with `rundir.Run.from_result`, so
that a run trained in a notebook and a run loaded from disk are compared the same way:

    runs = load_runs("runs/comparison")          # every run folder inside, sorted by name
    summary_table(runs)                          # final metrics, one row per run (HTML in a notebook)
    plots.plot_runs(runs)                        # test accuracy, clean train accuracy and their gap per epoch

The **gap** is the clean train accuracy minus the test accuracy, both measured in eval mode without augmentation
(`probe_train_accuracy` and `probe_test_accuracy` in the history; `metrics.gap`). It is the usual measure of
overfitting; a regulariser such as DropKey is meant to shrink it. The `running_train_accuracy` is not used for the
gap: it is averaged over an epoch of augmented batches with drops on, so it mixes in the regulariser's own noise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from . import metrics, rundir
from .config import TrainConfig
from .rundir import Run
from .tables import Table

# Columns of `summary_table`: key of `final_metrics`, heading, format. Measured columns take their heading from
# the metrics registry (`metrics.short_label`).
COLUMNS = (
    ("name", "run", "{}"),
    ("mode", "mode", "{}"),
    ("drop_ratio", "drop ratio", "{}"),
    ("schedule", "schedule", "{}"),
    ("epochs", "epochs", "{}"),
    ("train_size", "train size", "{}"),
    ("seed", "seed", "{}"),
    *[
        (key, metrics.short_label(key), fmt)
        for key, fmt in (
            ("probe_train_accuracy", "{:.1%}"),
            ("probe_test_accuracy", "{:.1%}"),
            ("probe_gap", "{:+.1%}"),
            ("elapsed_seconds", "{:.0f} s"),
        )
    ],
)


def final_metrics(run: Run) -> dict:
    """The final metrics of a run: one row of `summary_table`."""
    if not run.history:
        raise ValueError(f"run {run.name!r} has no finished epoch yet")
    last, drop, config = run.history[-1], run.config.drop, run.config
    return {
        "name": run.name,
        "mode": drop.mode,
        "drop_ratio": "-" if drop.mode == "none" else drop.drop_ratio,
        "schedule": "-" if drop.mode == "none" else drop.schedule,
        "epochs": f"{len(run.history)}/{config.epochs}",
        "train_size": "all" if config.train_size is None else config.train_size,
        "seed": config.seed,
        "probe_train_accuracy": last["probe_train_accuracy"],
        "probe_test_accuracy": last["probe_test_accuracy"],
        "probe_gap": metrics.gap(last["probe_train_accuracy"], last["probe_test_accuracy"]),
        "elapsed_seconds": sum(r.get("seconds", 0.0) for r in run.history),
    }


def summary_table(runs: Iterable[Run]) -> Table:
    """Final metrics of each run: mode, drop ratio, schedule, epochs, train size, seed, clean train accuracy, test
    accuracy, their gap and the total time. `table.rows` holds the unformatted values."""
    rows = [final_metrics(run) for run in runs]
    cells = [[_format(fmt, row.get(key)) for key, _, fmt in COLUMNS] for row in rows]
    return Table([heading for _, heading, _ in COLUMNS], cells, align="r" * len(COLUMNS), rows=rows)


def ensure_run(config: TrainConfig, out_dir: str | os.PathLike, *, name: str | None = None, **train_kwargs: Any) -> Run:
    """Train `config` into `out_dir` unless that folder already holds it, and return the run.

    - no run there yet: train from scratch;
    - the same config, finished: just load it (nothing is trained again);
    - the same config, interrupted: resume from its last checkpoint (`train(..., resume=True)`);
    - a different config: ValueError, so that a run is never mixed up with another one.

    `train_kwargs` go to `train.train` (data=, progress=, callback=).
    """
    from .train import train

    folder = Path(out_dir)
    if rundir.has_checkpoint(folder):
        rundir.check_same_config(rundir.read_config(folder).to_dict(), config.to_dict(), folder)
        if (folder / rundir.HISTORY_FILE).is_file() and rundir.load_run(folder, name).complete:
            return rundir.load_run(folder, name)
        train(config, out_dir=folder, resume=True, **train_kwargs)
    else:
        train(config, out_dir=folder, **train_kwargs)
    return rundir.load_run(folder, name)


def _format(fmt: str, value: Any) -> str:
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)
