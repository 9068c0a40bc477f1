"""Figures of a grid of runs (notebook 10); the statistics come from `verdicts.py`."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..metrics import label as metric_label
from ..verdicts import DOES_NOT_HOLD, EQUIVALENT, HOLDS, Verdict, layer_summary, metric_format, p_text, seed_stats
from ._common import _new_axes, _new_figure

# What each kind of claim predicts for the paired difference, as the y labels of `plot_verdicts` say it.
CLAIM_SIGNS = {"higher": "> 0", "lower": "< 0", "not_higher": "no gain beyond the margin"}


def plot_ratio_sweep(
    results: Sequence[dict],
    sweep: Mapping[str, Mapping[float, str]],
    *,
    metric: str = "test_accuracy",
    baseline: str | None = "none",
    ax: Axes | None = None,
    labels: Mapping[str, str] | None = None,
    show_seeds: bool = True,
) -> Axes:
    """`metric` against the drop ratio, one line per family of `sweep` ({family: {ratio: configuration}}, e.g. from
    `ratio_sweep`): mean over seeds with 95% CI error bars, single seeds as faint dots, and the `baseline`
    configuration as a horizontal line with its CI as a grey band."""
    label, scale, unit, _ = metric_format(metric)
    ax = _new_axes(ax, (5.5, 3.8))
    labels = dict(labels or {})
    all_ratios = sorted({r for family in sweep.values() for r in family})
    step = min(np.diff(all_ratios)) if len(all_ratios) > 1 else 0.1
    offsets = np.linspace(-0.08, 0.08, len(sweep)) * step if len(sweep) > 1 else [0.0]
    if baseline is not None:
        mean, ci, _ = seed_stats(results, metric, baseline)
        ax.axhspan((mean - ci) * scale, (mean + ci) * scale, color="grey", alpha=0.2, linewidth=0)
        ax.axhline(mean * scale, color="grey", linestyle="--", linewidth=1, label=f"{baseline} (mean, 95% CI)")
    for i, (family, runs) in enumerate(sweep.items()):
        ratios = np.array(list(runs), dtype=float) + offsets[i]
        stats = [seed_stats(results, metric, name) for name in runs.values()]
        means = np.array([s[0] for s in stats]) * scale
        cis = np.array([s[1] for s in stats]) * scale
        bars = ax.errorbar(ratios, means, yerr=cis, marker="o", capsize=4, label=labels.get(family, family))
        if show_seeds:
            for x, (_, _, seeds) in zip(ratios, stats):
                ax.scatter(
                    [x] * len(seeds),
                    np.array(seeds) * scale,
                    s=10,
                    alpha=0.35,
                    color=bars.lines[0].get_color(),
                    zorder=1,
                )
    ax.set_xticks(all_ratios)
    ax.set_xlabel("drop ratio (constant over depth)")
    ax.set_ylabel(label + (f" ({unit})" if unit else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_metric_bars(
    results: Sequence[dict],
    metric: str,
    runs: Sequence[str],
    *,
    baseline: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """One bar per configuration: mean of `metric` over seeds with its 95% CI, each seed as a dot; a dashed line at
    the `baseline` configuration's mean."""
    label, scale, unit, _ = metric_format(metric)
    ax = _new_axes(ax, (0.7 * len(runs) + 2.5, 3.6))
    for i, name in enumerate(runs):
        mean, ci, seeds = seed_stats(results, metric, name)
        color = "lightgrey" if name == baseline else f"C{i % 10}"
        ax.bar(i, mean * scale, yerr=ci * scale, capsize=4, color=color, alpha=0.8, edgecolor="black", linewidth=0.5)
        ax.scatter(i + np.linspace(-0.15, 0.15, len(seeds)), np.array(seeds) * scale, s=12, color="black", zorder=3)
    if baseline is not None:
        ax.axhline(seed_stats(results, metric, baseline)[0] * scale, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(runs)), runs, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(label + (f" ({unit})" if unit else ""))
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_differences(verdicts: Sequence[Verdict], *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """A forest plot: one row per verdict, its paired difference with the 95% CI as a horizontal error bar and a
    vertical line at 0, and its Holm-adjusted p-value at the right. The colour is the verdict, which is decided on
    the adjusted p-value (`verdicts.outcome`): green holds, red does not hold, grey inconclusive, so an interval
    that excludes 0 can still be grey."""
    colors = {HOLDS: "tab:green", DOES_NOT_HOLD: "tab:red", EQUIVALENT: "tab:blue"}
    ax = _new_axes(ax, (6.0, 0.6 * len(verdicts) + 1.2))
    for i, v in enumerate(verdicts):
        scale = metric_format(v.metric)[1]
        ax.errorbar(
            v.diff * scale,
            i,
            xerr=0 if not math.isfinite(v.ci95) else v.ci95 * scale,
            marker="o",
            capsize=4,
            color=colors.get(v.outcome, "grey"),
        )
        label = p_text(v.p_value) if v.family_size == 1 else p_text(v.p_adjusted, "Holm p")
        ax.annotate(label, (1.01, i), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(
        range(len(verdicts)),
        [f"{v.run} − {v.baseline}\n(claim: {CLAIM_SIGNS[v.expect]})" for v in verdicts],
        fontsize=8,
    )
    ax.invert_yaxis()
    units = {metric_format(v.metric)[3] for v in verdicts}
    ax.set_xlabel("paired difference" + (f" ({units.pop()})" if len(units) == 1 and "" not in units else ""))
    ax.grid(alpha=0.3, axis="x")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_layer_metric(
    results: Sequence[dict],
    metric: str,
    runs: Sequence[str],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    reference: float | None = None,
    reference_label: str = "",
) -> Axes:
    """A per-layer metric against depth, one line per configuration (mean over seeds) with its 95% CI as a band;
    an optional dotted `reference` line (e.g. log N, the entropy of uniform attention)."""
    ax = _new_axes(ax, (5.0, 3.5))
    for name, (mean, ci) in layer_summary(results, metric, runs).items():
        layers = np.arange(1, len(mean) + 1)
        (line,) = ax.plot(layers, mean, marker="o", markersize=4, label=name)
        ax.fill_between(layers, mean - ci, mean + ci, color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_xticks(layers)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle=":", linewidth=1, label=reference_label or None)
    ax.set_xlabel("layer (1 = nearest the patches)")
    ax.set_ylabel(metric_label(metric))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_layer_panels(
    results: Sequence[dict],
    metric: str,
    groups: Mapping[str, Sequence[str]],
    *,
    reference: float | None = None,
    reference_label: str = "",
    fig: Figure | None = None,
) -> Figure:
    """`plot_layer_metric` once per group ({panel title: configurations}), side by side with a shared y axis."""
    fig = _new_figure(fig, (4.3 * len(groups), 3.6))
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)
    for ax, (title, runs) in zip(axes[0], groups.items()):
        plot_layer_metric(
            results, metric, runs, ax=ax, title=title, reference=reference, reference_label=reference_label
        )
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    fig.tight_layout()
    return fig
