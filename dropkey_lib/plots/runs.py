"""Figures of training curves, of one run and of several (notebooks 07 to 10)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..metrics import label
from ._common import _new_axes, _new_figure

# Per-epoch curves `plot_runs` can draw (history keys of `metrics.METRICS`; "probe_gap" is computed).
CURVES = (
    "probe_test_accuracy",
    "probe_train_accuracy",
    "probe_gap",
    "running_train_accuracy",
    "running_train_loss",
    "probe_test_loss",
)


def plot_history(
    history: Sequence[dict],
    *,
    epochs: int | None = None,
    title: str = "",
    fig: Figure | None = None,
    figsize: tuple[float, float] = (9.0, 3.3),
) -> Figure:
    """Two panels of one run's history: loss and accuracy per epoch, train vs test.

    Loss: train (augmented batches, drops on) and test. Accuracy: train (augmented, drops on), clean train
    (`probe_train_accuracy`: eval mode, no augmentation) and test. The x axis spans `epochs` when given, so the
    plot does not rescale while a run is going. An empty history draws empty axes.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = _new_figure(fig, figsize)
    loss_ax, acc_ax = fig.subplots(1, 2)
    x = [r["epoch"] for r in history]
    style = dict(marker="o", markersize=3)
    for ax, key, color, alpha in (
        (loss_ax, "running_train_loss", "tab:blue", 1.0),
        (loss_ax, "probe_test_loss", "tab:orange", 1.0),
        (acc_ax, "running_train_accuracy", "tab:blue", 0.45),
        (acc_ax, "probe_train_accuracy", "tab:blue", 1.0),
        (acc_ax, "probe_test_accuracy", "tab:orange", 1.0),
    ):
        ax.plot(x, [r[key] for r in history], color=color, alpha=alpha, label=label(key), **style)
    loss_ax.set_title("loss", fontsize=10)
    acc_ax.set_title("accuracy", fontsize=10)
    acc_ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:.0%}"))
    last = max([epochs or 0] + x + [1])
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, last + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    if not history:
        acc_ax.set_ylim(0.0, 1.0)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_runs(
    runs: Sequence[Any],
    metrics: Sequence[str] = ("probe_test_accuracy", "probe_train_accuracy", "probe_gap"),
    *,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Curves of two or more runs (`rundir.Run`) side by side: one panel per metric, one line per run, epochs on
    the x axis. metrics: some of `CURVES`."""
    from matplotlib.ticker import PercentFormatter

    runs = list(runs)
    if not runs:
        raise ValueError("plot_runs needs at least one run")
    unknown = [m for m in metrics if m not in CURVES]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {', '.join(CURVES)}")
    fig = _new_figure(fig, figsize or (4.0 * len(metrics), 3.4))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for run in runs:
            values = run.curve(metric)
            epochs = [r.get("epoch", i + 1) for i, r in enumerate(run.history)]
            ax.plot(epochs, values, marker="o", markersize=3, label=run.name)
        ax.set_title(label(metric), fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if "accuracy" in metric or metric == "probe_gap":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))  # picks decimals from the range: 2.5%, not "3%"
        if metric == "probe_gap":
            ax.axhline(0.0, color="black", linewidth=0.8)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_time_to_accuracy(
    runs: Sequence[Any], *, targets: Sequence[float] = (0.6, 0.7), ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Test accuracy against wall time: one line per run (`rundir.Run`), a marker per epoch at the time the epoch
    ended (the cumulative `seconds` of its history, in minutes), and dotted lines at the `targets` accuracies."""
    from matplotlib.ticker import PercentFormatter

    runs = list(runs)
    if not runs:
        raise ValueError("plot_time_to_accuracy needs at least one run")
    ax = _new_axes(ax, (6.0, 3.8))
    for run in runs:
        minutes = np.cumsum([r["seconds"] for r in run.history]) / 60
        ax.plot(minutes, run.curve("probe_test_accuracy"), marker="o", markersize=4, label=run.name)
    for target in targets:
        ax.axhline(target, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("wall time, training and evaluation (minutes)")
    ax.set_ylabel(label("probe_test_accuracy"))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
