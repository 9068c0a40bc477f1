"""Reading and comparing finished training runs.

A run folder, as `train.train(..., out_dir=...)` and `dropkey-train --out` write it, holds `config.json` (the
`TrainConfig` as a dict) and `history.json` (one record per epoch; see `train.train` for the keys). This module
reads those two files, and also wraps runs that only live in memory (`Run.from_result`), so that a run trained
in a notebook and a run loaded from disk are compared the same way:

    runs = load_runs("runs/comparison")          # every run folder inside, sorted by name
    summary_table(runs)                          # final metrics, one row per run (HTML in a notebook)
    plot_runs(runs)                              # test accuracy, clean train accuracy and their gap per epoch

The **gap** is the clean train accuracy minus the test accuracy, both measured in eval mode without augmentation
(`train_eval_accuracy` and `test_accuracy` in the history). It is the usual measure of overfitting; a regulariser
such as DropKey is meant to shrink it. The running `train_accuracy` is not used for the gap: it is averaged over
an epoch of augmented batches with drops on, so it mixes in the regulariser's own noise.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"

# Per-epoch curves `plot_runs` can draw, with their axis titles.
METRICS = {
    "test_accuracy": "test accuracy",
    "train_eval_accuracy": "train accuracy (clean, eval mode)",
    "gap": "gap = clean train acc. - test acc.",
    "train_accuracy": "train accuracy (augmented, drops on)",
    "train_loss": "train loss (augmented, drops on)",
    "test_loss": "test loss",
}

# Columns of `summary_table`: key, heading, format.
COLUMNS = (
    ("name", "run", "{}"),
    ("mode", "mode", "{}"),
    ("ratio", "ratio", "{}"),
    ("schedule", "schedule", "{}"),
    ("epochs", "epochs", "{}"),
    ("train_size", "train size", "{}"),
    ("train_accuracy", "train acc.", "{:.1%}"),
    ("test_accuracy", "test acc.", "{:.1%}"),
    ("gap", "gap", "{:+.1%}"),
    ("seconds", "time", "{:.0f} s"),
)


@dataclass
class Run:
    """One training run: a name, its config (a `TrainConfig` as a dict) and its history (one dict per epoch)."""

    name: str
    config: dict
    history: list[dict]
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def from_result(cls, name: str, config, result) -> "Run":
        """A run that lives in memory: `config` a `TrainConfig` (or dict), `result` a `TrainResult` (or a history)."""
        config_dict = config if isinstance(config, dict) else asdict(config)
        history = result if isinstance(result, list) else result.history
        return cls(name=name, config=dict(config_dict), history=[dict(record) for record in history])

    @property
    def complete(self) -> bool:
        """True when the history has as many epochs as the config asks for."""
        return len(self.history) >= int(self.config.get("epochs", 0))

    def curve(self, metric: str) -> list[float]:
        """The per-epoch values of `metric`: a history key, or "gap" (clean train accuracy - test accuracy)."""
        if metric == "gap":
            return [r["train_eval_accuracy"] - r["test_accuracy"] for r in self.history]
        missing = [r.get("epoch", i + 1) for i, r in enumerate(self.history) if metric not in r]
        if missing:
            raise KeyError(f"run {self.name!r} has no {metric!r} in the history of epoch(s) {missing}")
        return [r[metric] for r in self.history]

    def final(self) -> dict:
        """The final metrics of this run: one row of `summary_table`."""
        if not self.history:
            raise ValueError(f"run {self.name!r} has no finished epoch yet")
        last = self.history[-1]
        mode = self.config.get("mode", "?")
        return {
            "name": self.name,
            "mode": mode,
            "ratio": "-" if mode == "none" else self.config.get("ratio"),
            "schedule": "-" if mode == "none" else self.config.get("schedule"),
            "epochs": f"{len(self.history)}/{self.config.get('epochs', '?')}",
            "train_size": "all" if self.config.get("train_size") is None else self.config["train_size"],
            "train_accuracy": last["train_eval_accuracy"],
            "test_accuracy": last["test_accuracy"],
            "gap": last["train_eval_accuracy"] - last["test_accuracy"],
            "seconds": sum(r.get("seconds", 0.0) for r in self.history),
        }


def load_run(path: str | os.PathLike, name: str | None = None) -> Run:
    """Read a run folder's `config.json` and `history.json`. The name defaults to the folder's name.

    A run that is still going (or was interrupted) loads fine: its history just has fewer epochs (see
    `Run.complete`). A folder without those files raises FileNotFoundError saying which file is missing.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a run folder (it does not exist or is not a folder)")
    files = {}
    for filename in (CONFIG_FILE, HISTORY_FILE):
        file = folder / filename
        if not file.is_file():
            raise FileNotFoundError(
                f"{folder} has no {filename}: a run folder written by train(..., out_dir=...) holds "
                f"{CONFIG_FILE} and {HISTORY_FILE} (the history appears after the first epoch)"
            )
        try:
            files[filename] = json.loads(file.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{file} is not valid JSON: {error}") from None
    return Run(name=name or folder.name, config=files[CONFIG_FILE], history=files[HISTORY_FILE], path=folder)


def find_runs(parent: str | os.PathLike) -> list[Path]:
    """The run folders directly inside `parent` (those with a history.json), sorted by name."""
    parent = Path(parent)
    if not parent.is_dir():
        raise FileNotFoundError(f"{parent} is not a folder")
    return sorted(p for p in parent.iterdir() if (p / HISTORY_FILE).is_file())


def load_runs(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Run]:
    """Load several runs: a list of run folders (in that order), or one folder that contains run folders.

    A single path that is itself a run folder loads just that run.
    """
    if isinstance(paths, (str, os.PathLike)):
        single = Path(paths)
        if (single / HISTORY_FILE).is_file():
            return [load_run(single)]
        folders = find_runs(single)
        if not folders:
            raise FileNotFoundError(f"no run folders (folders with a {HISTORY_FILE}) inside {single}")
        return [load_run(folder) for folder in folders]
    return [load_run(path) for path in paths]


def ensure_run(config, out_dir: str | os.PathLike, *, name: str | None = None, **train_kwargs) -> Run:
    """Train `config` into `out_dir` unless that folder already holds it, and return the run.

    - no run there yet: train from scratch;
    - the same config, finished: just load it (nothing is trained again);
    - the same config, interrupted: resume from its last checkpoint (`train(..., resume=True)`);
    - a different config: ValueError, so that a run is never mixed up with another one.

    `train_kwargs` go to `train.train` (data=, progress=, callback=).
    """
    from .train import CHECKPOINT, train

    folder = Path(out_dir)
    wanted = asdict(config)
    checkpoint = folder / CHECKPOINT
    if checkpoint.is_file():
        saved = json.loads((folder / CONFIG_FILE).read_text())
        if saved != wanted:
            differences = [f"{k}: saved {saved.get(k)!r}, now {v!r}" for k, v in wanted.items() if saved.get(k) != v]
            raise ValueError(f"{folder} holds a run with a different config ({'; '.join(differences)})")
        if (folder / HISTORY_FILE).is_file() and load_run(folder, name).complete:
            return load_run(folder, name)
        train(config, out_dir=folder, resume=True, **train_kwargs)
    else:
        train(config, out_dir=folder, **train_kwargs)
    return load_run(folder, name)


class RunTable:
    """Final metrics of several runs, one row (a dict, see `Run.final`) per run.

    Shows as an HTML table in a notebook and as aligned text with `print`.
    """

    def __init__(self, rows: Sequence[dict]) -> None:
        self.rows = list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.rows[index]

    def cells(self) -> list[list[str]]:
        """The formatted cells, one list per row, in the order of `COLUMNS`."""
        return [[_format(fmt, row.get(key)) for key, _, fmt in COLUMNS] for row in self.rows]

    def to_text(self) -> str:
        headings = [heading for _, heading, _ in COLUMNS]
        table = [headings] + self.cells()
        widths = [max(len(line[i]) for line in table) for i in range(len(headings))]
        return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths)).rstrip() for line in table)

    def to_html(self) -> str:
        pad = 'style="padding: 2px 10px"'
        head = "".join(f"<th {pad}>{html.escape(heading)}</th>" for _, heading, _ in COLUMNS)
        if not self.rows:
            body = f'<tr><td colspan="{len(COLUMNS)}"><i>no runs yet</i></td></tr>'
        else:
            body = "".join(
                "<tr>" + "".join(f"<td {pad}>{html.escape(cell)}</td>" for cell in cells) + "</tr>" for cells in self.cells()
            )
        return (
            '<table class="dropkey-runs" style="border-collapse: collapse; text-align: right">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def __str__(self) -> str:
        return self.to_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.to_html()


def summary_table(runs: Iterable[Run]) -> RunTable:
    """Final metrics of each run: mode, ratio, schedule, epochs, train size, clean train accuracy, test accuracy,
    their gap and the total time."""
    return RunTable([run.final() for run in runs])


def plot_runs(
    runs: Sequence[Run],
    metrics: Sequence[str] = ("test_accuracy", "train_eval_accuracy", "gap"),
    *,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
):
    """Curves of two or more runs side by side: one panel per metric, one line per run, epochs on the x axis.

    metrics: keys of `METRICS` (history keys, or "gap"). Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    runs = list(runs)
    if not runs:
        raise ValueError("plot_runs needs at least one run")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=figsize or (4.0 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for run in runs:
            values = run.curve(metric)
            epochs = [r.get("epoch", i + 1) for i, r in enumerate(run.history)]
            ax.plot(epochs, values, marker="o", markersize=3, label=run.name)
        ax.set_title(METRICS[metric], fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if "accuracy" in metric or metric == "gap":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))  # picks decimals from the range: 2.5%, not "3%"
        if metric == "gap":
            ax.axhline(0.0, color="black", linewidth=0.8)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _format(fmt: str, value) -> str:
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)
