"""Figures of the toy gradient problem (notebook 04); the runs come from `gradient_toy.train_toy_attention`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from matplotlib.figure import Figure

from ._common import _new_figure

if TYPE_CHECKING:
    from ..gradient_toy import ToyTrainingHistory


def plot_toy_training(histories: Sequence[ToyTrainingHistory], *, fig: Figure | None = None) -> Figure:
    """Two panels over gradient steps of the toy problem: the seed-averaged normalised entropy and the largest
    weight of softmax(z), one line (with its standard error as a band) per history."""
    fig = _new_figure(fig, (10.0, 3.6))
    axes = fig.subplots(1, 2)
    for hist in histories:
        name = {"dropkey": "DropKey", "dropout": "post-softmax dropout"}.get(hist.mode, "vanilla")
        label = "vanilla" if hist.drop_ratio == 0 else f"{name} {hist.drop_ratio:g}"
        for ax, curve in zip(axes, ("entropy", "max_weight")):
            mean, err = hist.seed_mean_and_stderr(curve)
            ax.plot(hist.steps, mean, label=label)
            ax.fill_between(hist.steps, mean - err, mean + err, alpha=0.2)
    axes[0].set_ylabel("entropy of softmax(z) / log n")
    axes[1].set_ylabel("largest weight of softmax(z)")
    for ax in axes:
        ax.set_xlabel("gradient step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
