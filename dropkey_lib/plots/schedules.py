"""Figures of the drop ratio over depth (notebooks 05 and 11): per-layer values and the schedules of `schedules.py`."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from ..schedules import SCHEDULE_LABELS, SCHEDULES, drop_ratios
from ._common import ArrayLike, _check_curves, _new_axes


def plot_layer_ratios(
    curves: Mapping[str, ArrayLike],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "drop ratio",
    dashed: Sequence[str] = (),
    colors: Mapping[str, str] | None = None,
) -> Axes:
    """Per-layer values (first layer = layer 1) as lines with markers, one per label, with the legend to the right.
    Labels listed in `dashed` are drawn dashed, e.g. a curve of a different regulariser shown for contrast;
    `colors` optionally fixes the colour of some labels."""
    data = _check_curves(curves, "curves")
    unknown = [label for label in dashed if label not in data]
    if unknown:
        raise ValueError(f"dashed names labels that are not in curves: {unknown}")
    colors = dict(colors or {})
    ax = _new_axes(ax, (6.0, 3.6))
    for label, values in data.items():
        layers = np.arange(1, len(values) + 1)
        ax.plot(
            layers,
            values,
            marker="o",
            markersize=4,
            linestyle="--" if label in dashed else "-",
            label=label,
            **({"color": colors[label]} if label in colors else {}),
        )
    longest = max(len(v) for v in data.values())
    ax.set_xlabel("layer (1 = first, nearest the patches)")
    ax.set_ylabel(ylabel)
    ax.set_xticks(range(1, longest + 1) if longest <= 16 else np.linspace(1, longest, 9).round().astype(int))
    ax.set_ylim(bottom=0, top=max(max(v.max() for v in data.values()) * 1.1, 1e-3))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    if title:
        ax.set_title(title)
    return ax


def plot_schedules(
    drop_ratio: float,
    depth: int,
    *,
    schedules: Sequence[str] = SCHEDULES,
    extra: Mapping[str, ArrayLike] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """The per-layer DropKey ratios of `drop_ratios(drop_ratio, depth, schedule)` for each schedule (their mean is
    `drop_ratio`, our formula), plus optional `extra` curves drawn dashed for contrast (e.g. timm's
    stochastic-depth rates). Each schedule keeps its colour whichever subset is drawn. A dotted grey line marks the
    mean ratio."""
    unknown = [s for s in schedules if s not in SCHEDULES]
    if unknown or not schedules:
        raise ValueError(f"schedules must be a non-empty list drawn from {', '.join(SCHEDULES)}; got {list(schedules)}")
    curves: dict[str, Any] = {SCHEDULE_LABELS[s]: drop_ratios(drop_ratio, depth, s) for s in schedules}
    extra = dict(extra or {})
    clash = [label for label in extra if label in curves]
    if clash:
        raise ValueError(f"extra must not reuse the schedule labels: {clash}")
    curves.update(extra)
    colors = {SCHEDULE_LABELS[s]: f"C{SCHEDULES.index(s)}" for s in schedules}
    colors.update({label: f"C{len(SCHEDULES) + i}" for i, label in enumerate(extra)})
    ax = plot_layer_ratios(curves, ax=ax, dashed=list(extra), ylabel="drop ratio of the layer", colors=colors)
    ax.axhline(drop_ratio, color="grey", linewidth=0.8, linestyle=":")
    ax.set_title(title if title is not None else f"DropKey ratio per layer, mean ratio {drop_ratio:g}, depth {depth}")
    return ax
