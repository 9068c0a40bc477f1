"""Figures of attention matrices (notebooks 01 and 02): scores, weights, outputs, drop masks, row sums, weight bars."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..checks import check_drop_ratio, check_positive_int
from ..mask_samples import row_sums_under_drops
from ._common import (
    MASK_CMAP,
    MASKED_ENTRY_COLOR,
    ArrayLike,
    _check_curves,
    _check_labels,
    _new_axes,
    _new_figure,
    _to_numpy,
)


def plot_matrix(
    matrix: ArrayLike,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    annotate: bool = True,
    fmt: str = "{:.2f}",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    drop_mask: ArrayLike | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """Draw a 2-D matrix (scores, attention weights, outputs) as a heat map, optionally with its numbers.

    drop_mask: optional bool matrix of the same shape (True = dropped). Dropped entries are greyed out and marked
    with a cross instead of their number, so a DropKey row shows only the keys that survive.
    Returns the Axes; the heat map is `ax.images[0]` and every annotation (number or cross) is one `ax.texts` entry.
    """
    values = _to_numpy(matrix, "matrix", ndim=2)
    rows, cols = values.shape
    row_labels = _check_labels(row_labels, rows, "row_labels")
    col_labels = _check_labels(col_labels, cols, "col_labels")
    dropped = None
    if drop_mask is not None:
        dropped = _to_numpy(drop_mask, "drop_mask", dtype=bool)
        if dropped.shape != values.shape:
            raise ValueError(f"drop_mask must have the shape of matrix {values.shape}, got {dropped.shape}")
    ax = _new_axes(ax, (0.55 * cols + 1.5, 0.45 * rows + 1.2))
    finite = values[np.isfinite(values)]
    lo = vmin if vmin is not None else (finite.min() if finite.size else 0.0)
    hi = vmax if vmax is not None else (finite.max() if finite.size else 1.0)
    image = ax.imshow(values, cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
    if dropped is not None and dropped.any():
        overlay = np.ma.masked_where(~dropped, np.ones_like(values))
        ax.imshow(overlay, cmap=ListedColormap([MASKED_ENTRY_COLOR]), vmin=0, vmax=1, aspect="auto")
    if annotate:
        for i in range(rows):
            for j in range(cols):
                if dropped is not None and dropped[i, j]:
                    ax.text(j, i, "×", ha="center", va="center", fontsize=9, color="#555555")
                    continue
                value = values[i, j]
                red, green, blue, _ = image.cmap(image.norm(value)) if np.isfinite(value) else (1, 1, 1, 1)
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
                ax.text(
                    j, i, fmt.format(value), ha="center", va="center", fontsize=8, color="white" if dark else "black"
                )
    ax.set_xticks(range(cols), col_labels if col_labels is not None else range(cols))
    ax.set_yticks(range(rows), row_labels if row_labels is not None else range(rows))
    ax.tick_params(length=0)
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    return ax


def plot_attention_steps(
    scores: ArrayLike,
    weights: ArrayLike,
    output: ArrayLike,
    *,
    token_labels: Sequence[str] | None = None,
    drop_mask: ArrayLike | None = None,
    titles: Sequence[str] = ("scores $QK^\\top/\\sqrt{d}$", "weights softmax(scores)", "output weights @ V"),
    annotate: bool = True,
    fig: Figure | None = None,
) -> Figure:
    """Three panels side by side: the logits (N_q, N_k), the attention weights (N_q, N_k), the output (N_q, D_v).

    token_labels name the N tokens (queries and keys); drop_mask (True = dropped) is drawn on the scores and the
    weights. Returns the Figure (3 Axes).
    """
    s = _to_numpy(scores, "scores", ndim=2)
    w = _to_numpy(weights, "weights", ndim=2)
    o = _to_numpy(output, "output", ndim=2)
    if w.shape != s.shape:
        raise ValueError(f"weights must have the shape of scores {s.shape}, got {w.shape}")
    if o.shape[0] != s.shape[0]:
        raise ValueError(f"output must have one row per query ({s.shape[0]}), got shape {o.shape}")
    if len(titles) != 3:
        raise ValueError(f"titles must have 3 entries, got {len(titles)}")
    rows, cols = s.shape
    labels = _check_labels(token_labels, max(rows, cols), "token_labels") if token_labels is not None else None
    row_labels = labels[:rows] if labels else None
    col_labels = labels[:cols] if labels else None
    width = 0.5 * (2 * cols + o.shape[1]) + 4
    fig = _new_figure(fig, (width, 0.45 * rows + 1.6))
    axes = fig.subplots(1, 3, width_ratios=[cols, cols, o.shape[1]])
    s_lim = float(np.abs(s[np.isfinite(s)]).max(initial=1e-9))  # diverging maps centred on 0
    o_lim = float(np.abs(o[np.isfinite(o)]).max(initial=1e-9))
    plot_matrix(
        s,
        ax=axes[0],
        title=titles[0],
        row_labels=row_labels,
        col_labels=col_labels,
        drop_mask=drop_mask,
        annotate=annotate,
        fmt="{:.1f}",
        cmap="coolwarm",
        vmin=-s_lim,
        vmax=s_lim,
        xlabel="key",
        ylabel="query",
    )
    plot_matrix(
        w,
        ax=axes[1],
        title=titles[1],
        row_labels=row_labels,
        col_labels=col_labels,
        drop_mask=drop_mask,
        annotate=annotate,
        vmin=0.0,
        vmax=1.0,
        xlabel="key",
    )
    plot_matrix(
        o,
        ax=axes[2],
        title=titles[2],
        row_labels=row_labels,
        annotate=annotate,
        cmap="PuOr",
        vmin=-o_lim,
        vmax=o_lim,
        xlabel="feature",
    )
    fig.tight_layout()
    return fig


def plot_drop_mask(
    drop_mask: ArrayLike,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    xlabel: str = "key",
    ylabel: str = "query",
) -> Axes:
    """Draw a bool (N_q, N_k) drop mask: kept entries yellow, dropped entries blue (True = dropped).

    Each row is what one query sees; under DropKey the rows differ because the mask is drawn per query.
    """
    dropped = _to_numpy(drop_mask, "drop_mask", ndim=2, dtype=bool)
    rows, cols = dropped.shape
    row_labels = _check_labels(row_labels, rows, "row_labels")
    col_labels = _check_labels(col_labels, cols, "col_labels")
    ax = _new_axes(ax, (0.35 * cols + 1.5, 0.35 * rows + 1.0))
    ax.imshow(dropped.astype(float), cmap=MASK_CMAP, vmin=0, vmax=1, aspect="equal")
    ax.set_xticks(range(cols), col_labels if col_labels is not None else range(cols))
    ax.set_yticks(range(rows), row_labels if row_labels is not None else range(rows))
    ax.set_xticks(np.arange(-0.5, cols), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="both", length=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def plot_row_sums(
    row_sums: Mapping[str, ArrayLike],
    *,
    ax: Axes | None = None,
    bins: int = 40,
    title: str | None = "row sums of the attention weights",
) -> Axes:
    """Histograms of attention-row sums, one per method, with a dashed line at 1 (a probability distribution).

    row_sums maps a label to the sums (any shape; flattened). A method whose rows always sum to one shows up as a
    single spike at 1. Returns the Axes (one histogram patch container per method).
    """
    curves = _check_curves(row_sums, "row_sums")
    check_positive_int(bins, "bins")
    ax = _new_axes(ax, (6.0, 3.5))
    everything = np.concatenate(list(curves.values()))
    lo, hi = min(everything.min(), 1.0) - 0.05, max(everything.max(), 1.0) + 0.05
    edges = np.linspace(lo, hi, bins + 1)
    for label, values in curves.items():
        ax.hist(values, bins=edges, alpha=0.6, label=label, density=True)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("sum of one row of weights")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_dropout_row_sums(
    weights: ArrayLike,
    drop_ratio: float,
    *,
    draws: int = 300,
    seed: int = 0,
    ax: Axes | None = None,
    bins: int = 40,
) -> Axes:
    """Histogram of the row sums of `weights` (n_q, n_k) after post-softmax dropout at `drop_ratio`, with DropKey's.

    The sums come from `mask_samples.row_sums_under_drops` (`draws` masks from a generator seeded with `seed`, each
    applied as dropout and as DropKey); both histograms are drawn with `plot_row_sums`. The title gives the spread
    of the dropout sums next to the prediction sqrt(r / (1 - r) * mean_i sum_j p_ij**2). Returns the Axes.
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    p = torch.as_tensor(_to_numpy(weights, "weights", ndim=2))
    dropout, dropkey, predicted = row_sums_under_drops(p, drop_ratio, draws=draws, seed=seed)
    ax = plot_row_sums({"post-softmax dropout": dropout, "DropKey": dropkey}, ax=ax, bins=bins, title=None)
    ax.set_title(
        f"drop_ratio {drop_ratio:.2f}, {p.shape[-1]} keys: dropout row sums std {float(dropout.std()):.3f} "
        f"(predicted {predicted:.3f}); DropKey exactly 1",
        fontsize=10,
    )
    return ax


def plot_weight_bars(
    rows: Mapping[str, ArrayLike],
    *,
    ax: Axes | None = None,
    key_labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Axes:
    """Grouped bars: one group per key, one bar per labelled row of weights (e.g. plain, E[dropout], E[DropKey]).

    Every row must have the same number of keys. Returns the Axes (one bar container per row).
    """
    curves = _check_curves(rows, "rows")
    lengths = {len(v) for v in curves.values()}
    if len(lengths) != 1:
        raise ValueError(f"rows must all have the same number of keys, got lengths {sorted(lengths)}")
    n_keys = lengths.pop()
    key_labels = _check_labels(key_labels, n_keys, "key_labels")
    ax = _new_axes(ax, (max(5.0, 0.9 * n_keys + 2), 3.5))
    width = 0.8 / len(curves)
    positions = np.arange(n_keys)
    for i, (label, values) in enumerate(curves.items()):
        ax.bar(positions + (i - (len(curves) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(positions, key_labels if key_labels is not None else [f"key {j}" for j in range(n_keys)])
    ax.set_ylabel("attention weight")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax
