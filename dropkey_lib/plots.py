"""Figure helpers for the notebooks: attention matrices, DropKey masks on the patch grid, schedules over depth.

Every helper draws with matplotlib and returns what it drew on: an `Axes` when it fills one panel (pass `ax=` to
draw into a panel of your own figure, or leave it out to get a new figure), a `Figure` when it lays out several
panels. Nothing is shown or saved here; the notebook calls `plt.show()`.

Inputs may be torch tensors or anything NumPy can turn into an array. Bad input raises a ValueError that names the
offending argument.

Colours follow the paper's Figure 2: a key that the query still sees is yellow, a dropped key is blue, and a
seed of a structured window is a red mark.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from .attention import (
    check_grid_size,
    check_ratio,
    check_window_size,
    dropkey_weights,
    sample_key_drops,
    sample_structured_drops,
)
from .schedules import SCHEDULES, drop_ratios

KEPT_COLOR = "#f4c542"  # yellow: the key answers the query
DROPPED_COLOR = "#3b6fb6"  # blue: the key is hidden from the query
SEED_COLOR = "#d62728"  # red: a seed of a block / cross window
QUERY_COLOR = "black"
MASKED_ENTRY_COLOR = "#d9d9d9"  # light grey: a dropped entry of a scores / weights matrix
MASK_CMAP = ListedColormap([KEPT_COLOR, DROPPED_COLOR])

SCHEDULE_LABELS = {
    "constant": "constant",
    "linear_down": "decreasing (the paper's direction)",
    "linear_up": "increasing",
}

ArrayLike = Any  # torch.Tensor, np.ndarray, nested sequences of numbers


# --------------------------------------------------------------------------------------------------------------
# Input checks


def _to_numpy(value: ArrayLike, name: str, *, ndim: int | None = None, dtype: Any = float) -> np.ndarray:
    """`value` as a NumPy array of `dtype` (torch tensors are detached and moved to the CPU first)."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy() if dtype is float else value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    return array


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise ValueError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _check_labels(labels: Sequence[str] | None, length: int, name: str) -> list[str] | None:
    if labels is None:
        return None
    labels = [str(label) for label in labels]
    if len(labels) != length:
        raise ValueError(f"{name} must have {length} entries, got {len(labels)}")
    return labels


def _check_curves(curves: Mapping[str, ArrayLike], name: str) -> dict[str, np.ndarray]:
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"{name} must be a non-empty mapping from label to values")
    return {str(label): _to_numpy(values, f"{name}[{label!r}]").ravel() for label, values in curves.items()}


# --------------------------------------------------------------------------------------------------------------
# Attention matrices


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
                ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
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
    fig, axes = plt.subplots(1, 3, figsize=(width, 0.45 * rows + 1.6), width_ratios=[cols, cols, o.shape[1]])
    s_lim = float(np.abs(s[np.isfinite(s)]).max(initial=1e-9))  # diverging maps centred on 0
    o_lim = float(np.abs(o[np.isfinite(o)]).max(initial=1e-9))
    plot_matrix(s, ax=axes[0], title=titles[0], row_labels=row_labels, col_labels=col_labels, drop_mask=drop_mask,
                annotate=annotate, fmt="{:.1f}", cmap="coolwarm", vmin=-s_lim, vmax=s_lim, xlabel="key",
                ylabel="query")
    plot_matrix(w, ax=axes[1], title=titles[1], row_labels=row_labels, col_labels=col_labels, drop_mask=drop_mask,
                annotate=annotate, vmin=0.0, vmax=1.0, xlabel="key")
    plot_matrix(o, ax=axes[2], title=titles[2], row_labels=row_labels, annotate=annotate, cmap="PuOr",
                vmin=-o_lim, vmax=o_lim, xlabel="feature")
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
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
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
    ratio: float,
    *,
    draws: int = 300,
    seed: int = 0,
    ax: Axes | None = None,
    bins: int = 40,
) -> Axes:
    """Histogram of the row sums of `weights` (n_q, n_k) after post-softmax dropout at `ratio`, with DropKey's.

    Draws `draws` Bernoulli(ratio) masks (a generator seeded with `seed`) and applies each twice: dropout,
    m * p / (1 - ratio), and DropKey, `dropkey_weights(log p, ratio, drop_mask=m)`, then draws both histograms with
    `plot_row_sums`. The title gives the spread of the dropout sums next to the prediction
    sqrt(r / (1 - r) * mean_i sum_j p_ij**2). Returns the Axes.
    """
    ratio = check_ratio(ratio)
    p = torch.as_tensor(_to_numpy(weights, "weights", ndim=2))
    if (p <= 0).any() or not torch.allclose(p.sum(-1), torch.ones(p.shape[0], dtype=p.dtype), atol=1e-4):
        raise ValueError("weights must be positive with rows that sum to one (softmax weights)")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    drop = torch.rand((draws, *p.shape), generator=torch.Generator().manual_seed(seed), dtype=p.dtype) < ratio
    dropout = (p * ~drop / (1 - ratio)).sum(-1)
    dropkey = dropkey_weights(p.log().expand(draws, *p.shape), ratio, drop_mask=drop).sum(-1)
    ax = plot_row_sums({"post-softmax dropout": dropout, "DropKey": dropkey}, ax=ax, bins=bins, title=None)
    predicted = math.sqrt(ratio / (1 - ratio) * float((p**2).sum(-1).mean()))
    ax.set_title(f"ratio {ratio:.2f}, {p.shape[-1]} keys: dropout row sums std {float(dropout.std()):.3f} "
                 f"(predicted {predicted:.3f}); DropKey exactly 1", fontsize=10)
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


# --------------------------------------------------------------------------------------------------------------
# Masks on the patch grid (the paper's Figure 2)


def plot_key_grid(
    drop_mask: ArrayLike,
    grid_size: tuple[int, int],
    *,
    query: int | None = None,
    seeds: ArrayLike | None = None,
    num_prefix_tokens: int = 0,
    ax: Axes | None = None,
    title: str | None = None,
    legend: bool = True,
) -> Axes:
    """One query's keys on the patch grid, like the paper's Figure 2: kept keys yellow, dropped keys blue.

    drop_mask: bool (num_prefix_tokens + g_h * g_w,), True = dropped, in token order (prefix tokens such as the class
    token first, then the patches row by row). query: the token index of the query, outlined in black (optional).
    seeds: bool (g_h, g_w) seeds of a block / cross window, drawn as red crosses (optional). Prefix tokens are drawn
    as separate cells above the grid, labelled "cls".
    """
    grid_h, grid_w = check_grid_size(grid_size)
    if isinstance(num_prefix_tokens, bool) or not isinstance(num_prefix_tokens, int) or num_prefix_tokens < 0:
        raise ValueError(f"num_prefix_tokens must be a non-negative integer, got {num_prefix_tokens!r}")
    dropped = _to_numpy(drop_mask, "drop_mask", ndim=1, dtype=bool)
    n_tokens = num_prefix_tokens + grid_h * grid_w
    if dropped.shape[0] != n_tokens:
        raise ValueError(
            f"drop_mask must have num_prefix_tokens + g_h * g_w = {n_tokens} entries, got {dropped.shape[0]}"
        )
    if query is not None and (isinstance(query, bool) or not isinstance(query, (int, np.integer))
                              or not 0 <= query < n_tokens):
        raise ValueError(f"query must be a token index in [0, {n_tokens}), got {query!r}")
    seed_map = None
    if seeds is not None:
        seed_map = _to_numpy(seeds, "seeds", ndim=2, dtype=bool)
        if seed_map.shape != (grid_h, grid_w):
            raise ValueError(f"seeds must have the grid's shape {(grid_h, grid_w)}, got {seed_map.shape}")

    ax = _new_axes(ax, (0.4 * grid_w + 1.0, 0.4 * grid_h + 1.4))
    grid = dropped[num_prefix_tokens:].reshape(grid_h, grid_w)
    ax.imshow(grid.astype(float), cmap=MASK_CMAP, vmin=0, vmax=1, extent=(-0.5, grid_w - 0.5, grid_h - 0.5, -0.5))
    for i in range(grid_h + 1):
        ax.plot([-0.5, grid_w - 0.5], [i - 0.5, i - 0.5], color="white", linewidth=1)
    for j in range(grid_w + 1):
        ax.plot([j - 0.5, j - 0.5], [-0.5, grid_h - 0.5], color="white", linewidth=1)
    top = -0.5
    for t in range(num_prefix_tokens):  # prefix (class) tokens: a row of separate cells above the grid
        colour = DROPPED_COLOR if dropped[t] else KEPT_COLOR
        ax.add_patch(Rectangle((t - 0.5, -2.0), 1, 1, facecolor=colour, edgecolor="white"))
        ax.text(t, -1.5, "cls" if num_prefix_tokens == 1 else f"p{t}", ha="center", va="center", fontsize=7,
                color="white" if dropped[t] else "black")
        top = -2.1
    if seed_map is not None and seed_map.any():
        rows, cols = np.nonzero(seed_map)
        ax.scatter(cols, rows, marker="x", s=60, color=SEED_COLOR, linewidths=2.2, zorder=3)
    if query is not None:
        if query < num_prefix_tokens:
            x, y = query, -1.5
        else:
            y, x = divmod(query - num_prefix_tokens, grid_w)
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor=QUERY_COLOR, linewidth=2.5, zorder=4))
        ax.text(x, y, "q", ha="center", va="center", fontsize=9, fontweight="bold", color=QUERY_COLOR, zorder=4)
    ax.set_xlim(-0.6, grid_w - 0.4)
    ax.set_ylim(grid_h - 0.4, top)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(handles=_mask_legend_handles(seeds=seed_map is not None, query=query is not None),
                  loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=8, frameon=False)
    return ax


def _mask_legend_handles(*, seeds: bool = True, query: bool = True) -> list[Any]:
    handles: list[Any] = [
        Patch(facecolor=KEPT_COLOR, label="kept key"),
        Patch(facecolor=DROPPED_COLOR, label="dropped key"),
    ]
    if seeds:
        handles.append(
            Line2D([], [], marker="x", linestyle="none", color=SEED_COLOR, markeredgewidth=2.2, label="seed")
        )
    if query:
        handles.append(Patch(facecolor="none", edgecolor=QUERY_COLOR, linewidth=2, label="query"))
    return handles


def plot_structured_masks(
    ratio: float,
    *,
    grid_size: tuple[int, int] = (8, 8),
    block_window: int = 3,
    cross_window: int = 3,
    query: int | None = None,
    num_prefix_tokens: int = 0,
    seed: int = 0,
) -> Figure:
    """The paper's Figure 2 with our samplers: one query's keys under DropKey, DropKey-Block and DropKey-Cross.

    Draws one mask per variant with `sample_key_drops` and `sample_structured_drops(..., return_seeds=True)`
    (torch.Generator seeded with `seed`, so the figure is reproducible) and shows each with `plot_key_grid`.
    The block and cross windows are our reading of the paper's Figure 2 (see `sample_structured_drops`).
    query defaults to the central patch. Returns the Figure (3 Axes).
    """
    ratio = check_ratio(ratio)
    grid_h, grid_w = check_grid_size(grid_size)
    for name, value in (("block_window", block_window), ("cross_window", cross_window)):
        try:
            check_window_size(value)
        except ValueError:
            raise ValueError(f"{name} must be a positive odd integer, got {value!r}") from None
    if isinstance(num_prefix_tokens, bool) or not isinstance(num_prefix_tokens, int) or num_prefix_tokens < 0:
        raise ValueError(f"num_prefix_tokens must be a non-negative integer, got {num_prefix_tokens!r}")
    n_tokens = num_prefix_tokens + grid_h * grid_w
    if query is None:
        query = num_prefix_tokens + (grid_h // 2) * grid_w + grid_w // 2
    generator = torch.Generator().manual_seed(int(seed))
    plain = sample_key_drops((n_tokens,), ratio, generator=generator)
    block, block_seeds = sample_structured_drops(
        (1,), (grid_h, grid_w), ratio, shape="block", window_size=block_window,
        num_prefix_tokens=num_prefix_tokens, generator=generator, return_seeds=True,
    )
    cross, cross_seeds = sample_structured_drops(
        (1,), (grid_h, grid_w), ratio, shape="cross", window_size=cross_window,
        num_prefix_tokens=num_prefix_tokens, generator=generator, return_seeds=True,
    )
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 4.2))
    panels = [
        (plain, None, "DropKey"),
        (block[0], block_seeds[0], f"DropKey-Block, window {block_window}"),
        (cross[0], cross_seeds[0], f"DropKey-Cross, window {cross_window}"),
    ]
    for ax, (mask, seeds, name) in zip(axes, panels):
        fraction = mask.float().mean().item()
        plot_key_grid(mask, (grid_h, grid_w), query=query, seeds=seeds, num_prefix_tokens=num_prefix_tokens,
                      ax=ax, title=f"{name}\n{fraction:.0%} of keys dropped", legend=False)
    fig.legend(handles=_mask_legend_handles(), loc="lower center", ncol=4, frameon=False)
    fig.suptitle(f"keys seen by one query, drop ratio {ratio:g}")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_grid_values(
    values: ArrayLike,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    annotate: bool = False,
    fmt: str = "{:.2f}",
    mark: tuple[int, int] | None = None,
    colorbar: bool = True,
) -> Axes:
    """A per-key quantity on the (g_h, g_w) patch grid as a heat map: e.g. each key's drop frequency, or the
    correlation of each key's drop with the drop of a reference key (`mark`, outlined in black)."""
    grid = _to_numpy(values, "values", ndim=2)
    grid_h, grid_w = grid.shape
    if mark is not None:
        if len(mark) != 2 or not (0 <= mark[0] < grid_h and 0 <= mark[1] < grid_w):
            raise ValueError(f"mark must be a (row, column) inside the {grid_h}x{grid_w} grid, got {mark!r}")
    ax = _new_axes(ax, (0.45 * grid_w + 1.8, 0.45 * grid_h + 1.0))
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax)
    if annotate:
        for i in range(grid_h):
            for j in range(grid_w):
                ax.text(j, i, fmt.format(grid[i, j]), ha="center", va="center", fontsize=6.5)
    if mark is not None:
        ax.add_patch(Rectangle((mark[1] - 0.5, mark[0] - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
    ax.set_xticks([])
    ax.set_yticks([])
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_dropped_fraction(
    ratios: ArrayLike,
    fractions: Mapping[str, ArrayLike],
    *,
    ax: Axes | None = None,
    title: str | None = "dropped fraction against the target ratio",
) -> Axes:
    """Calibration plot: measured dropped fraction (y) against the target ratio (x), one line per label, and the
    diagonal y = x that an exact sampler must sit on."""
    x = _to_numpy(ratios, "ratios", ndim=1)
    curves = _check_curves(fractions, "fractions")
    for label, values in curves.items():
        if len(values) != len(x):
            raise ValueError(f"fractions[{label!r}] must have one value per ratio ({len(x)}), got {len(values)}")
    ax = _new_axes(ax, (4.8, 4.2))
    top = max(x.max(), max(v.max() for v in curves.values())) * 1.05
    ax.plot([0, top], [0, top], color="black", linestyle="--", linewidth=1, label="target (y = x)")
    for label, values in curves.items():
        ax.plot(x, values, marker="o", markersize=3.5, label=label)
    ax.set_xlabel("target drop ratio $r$")
    ax.set_ylabel("fraction of keys dropped")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.legend(fontsize=7.5)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


# --------------------------------------------------------------------------------------------------------------
# Ratios over depth


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
        ax.plot(layers, values, marker="o", markersize=4, linestyle="--" if label in dashed else "-", label=label,
                **({"color": colors[label]} if label in colors else {}))
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
    ratio: float,
    depth: int,
    *,
    schedules: Sequence[str] = SCHEDULES,
    extra: Mapping[str, ArrayLike] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """The per-layer DropKey ratios of `drop_ratios(ratio, depth, schedule)` for each schedule (mean = `ratio`,
    our formula), plus optional `extra` curves drawn dashed for contrast (e.g. timm's stochastic-depth rates).
    Each schedule keeps its colour whichever subset is drawn. A dotted grey line marks the mean ratio."""
    unknown = [s for s in schedules if s not in SCHEDULES]
    if unknown or not schedules:
        raise ValueError(f"schedules must be a non-empty list drawn from {', '.join(SCHEDULES)}; got {list(schedules)}")
    curves: dict[str, Any] = {SCHEDULE_LABELS[s]: drop_ratios(ratio, depth, s) for s in schedules}
    extra = dict(extra or {})
    clash = [label for label in extra if label in curves]
    if clash:
        raise ValueError(f"extra must not reuse the schedule labels: {clash}")
    curves.update(extra)
    colors = {SCHEDULE_LABELS[s]: f"C{SCHEDULES.index(s)}" for s in schedules}
    colors.update({label: f"C{len(SCHEDULES) + i}" for i, label in enumerate(extra)})
    ax = plot_layer_ratios(curves, ax=ax, dashed=list(extra), ylabel="drop ratio of the layer", colors=colors)
    ax.axhline(ratio, color="grey", linewidth=0.8, linestyle=":")
    ax.set_title(title if title is not None else f"DropKey ratio per layer, mean ratio {ratio:g}, depth {depth}")
    return ax
