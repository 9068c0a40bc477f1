"""Figures for the notebooks: attention and masks, schedules, theory, training curves, results and attention maps.

This module holds every figure of the course, one section per topic. Every function draws with matplotlib and
returns what it drew on: an `Axes` when it fills one panel (pass `ax=` to draw into a panel of your own figure, or
leave it out to get a new figure), a `Figure` when it lays out several panels (pass `fig=` to draw into a figure of
your own). Nothing is shown or saved here; the notebook shows the figure. The numbers behind the figures are
computed in the concept's own module (`theory`, `analysis`, `verdicts`, ...).

Inputs may be torch tensors or anything NumPy can turn into an array. Bad input raises a ValueError that names the
offending argument.

Colours follow the paper's Figure 2: a key that the query still sees is yellow, a dropped key is blue, and a
seed of a structured window is a red mark.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from torch import Tensor

from .analysis import query_maps
from .attention import check_grid_size, check_window_size, dropkey_weights, sample_key_drops, sample_structured_drops
from .checks import check_drop_ratio, check_positive_int
from .schedules import SCHEDULE_LABELS, SCHEDULES, drop_ratios
from .stats import mean_ci
from .verdicts import DOES_NOT_HOLD, HOLDS, Verdict, by_run, layer_summary, metric_format, p_text

if TYPE_CHECKING:
    from .gradient_toy import ToyTrainingHistory

KEPT_COLOR = "#f4c542"  # yellow: the key answers the query
DROPPED_COLOR = "#3b6fb6"  # blue: the key is hidden from the query
SEED_COLOR = "#d62728"  # red: a seed of a block / cross window
QUERY_COLOR = "black"
MASKED_ENTRY_COLOR = "#d9d9d9"  # light grey: a dropped entry of a scores / weights matrix
MASK_CMAP = ListedColormap([KEPT_COLOR, DROPPED_COLOR])

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
    """`ax`, or the Axes of a new figure of `figsize` when `ax` is None."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise ValueError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _new_figure(fig: Figure | None, figsize: tuple[float, float]) -> Figure:
    """`fig` (cleared), or a new figure of `figsize` when `fig` is None."""
    if fig is None:
        return plt.figure(figsize=figsize)
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure or None, got {type(fig).__name__}")
    fig.clear()
    return fig


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

    Draws `draws` Bernoulli(drop_ratio) masks (a generator seeded with `seed`) and applies each twice: dropout,
    m * p / (1 - drop_ratio), and DropKey, `dropkey_weights(log p, drop_ratio, drop_mask=m)`, then draws both
    histograms with `plot_row_sums`. The title gives the spread of the dropout sums next to the prediction
    sqrt(r / (1 - r) * mean_i sum_j p_ij**2). Returns the Axes.
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    p = torch.as_tensor(_to_numpy(weights, "weights", ndim=2))
    if (p <= 0).any() or not torch.allclose(p.sum(-1), torch.ones(p.shape[0], dtype=p.dtype), atol=1e-4):
        raise ValueError("weights must be positive with rows that sum to one (softmax weights)")
    check_positive_int(draws, "draws")
    drop = torch.rand((draws, *p.shape), generator=torch.Generator().manual_seed(seed), dtype=p.dtype) < drop_ratio
    dropout = (p * ~drop / (1 - drop_ratio)).sum(-1)
    dropkey = dropkey_weights(p.log().expand(draws, *p.shape), drop_ratio, drop_mask=drop).sum(-1)
    ax = plot_row_sums({"post-softmax dropout": dropout, "DropKey": dropkey}, ax=ax, bins=bins, title=None)
    predicted = math.sqrt(drop_ratio / (1 - drop_ratio) * float((p**2).sum(-1).mean()))
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
    check_positive_int(num_prefix_tokens, "num_prefix_tokens", minimum=0)
    dropped = _to_numpy(drop_mask, "drop_mask", ndim=1, dtype=bool)
    n_tokens = num_prefix_tokens + grid_h * grid_w
    if dropped.shape[0] != n_tokens:
        raise ValueError(
            f"drop_mask must have num_prefix_tokens + g_h * g_w = {n_tokens} entries, got {dropped.shape[0]}"
        )
    if query is not None and (
        isinstance(query, bool) or not isinstance(query, (int, np.integer)) or not 0 <= query < n_tokens
    ):
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
        ax.text(
            t,
            -1.5,
            "cls" if num_prefix_tokens == 1 else f"p{t}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if dropped[t] else "black",
        )
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
        ax.legend(
            handles=_mask_legend_handles(seeds=seed_map is not None, query=query is not None),
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=2,
            fontsize=8,
            frameon=False,
        )
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
    drop_ratio: float,
    *,
    grid_size: tuple[int, int] = (8, 8),
    block_window: int = 3,
    cross_window: int = 3,
    query: int | None = None,
    num_prefix_tokens: int = 0,
    seed: int = 0,
    fig: Figure | None = None,
) -> Figure:
    """The paper's Figure 2 with our samplers: one query's keys under DropKey, DropKey-Block and DropKey-Cross.

    Draws one mask per variant with `sample_key_drops` and `sample_structured_drops(..., return_seeds=True)`
    (torch.Generator seeded with `seed`, so the figure is reproducible) and shows each with `plot_key_grid`.
    The block and cross windows are our reading of the paper's Figure 2 (see `sample_structured_drops`).
    query defaults to the central patch. Returns the Figure (3 Axes).
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    grid_h, grid_w = check_grid_size(grid_size)
    for name, value in (("block_window", block_window), ("cross_window", cross_window)):
        try:
            check_window_size(value)
        except ValueError:
            raise ValueError(f"{name} must be a positive odd integer, got {value!r}") from None
    check_positive_int(num_prefix_tokens, "num_prefix_tokens", minimum=0)
    n_tokens = num_prefix_tokens + grid_h * grid_w
    if query is None:
        query = num_prefix_tokens + (grid_h // 2) * grid_w + grid_w // 2
    generator = torch.Generator().manual_seed(int(seed))
    plain = sample_key_drops((n_tokens,), drop_ratio, generator=generator)
    block, block_seeds = sample_structured_drops(
        (1,),
        (grid_h, grid_w),
        drop_ratio,
        shape="block",
        window_size=block_window,
        num_prefix_tokens=num_prefix_tokens,
        generator=generator,
        return_seeds=True,
    )
    cross, cross_seeds = sample_structured_drops(
        (1,),
        (grid_h, grid_w),
        drop_ratio,
        shape="cross",
        window_size=cross_window,
        num_prefix_tokens=num_prefix_tokens,
        generator=generator,
        return_seeds=True,
    )
    fig = _new_figure(fig, (10.5, 4.2))
    axes = fig.subplots(1, 3)
    panels = [
        (plain, None, "DropKey"),
        (block[0], block_seeds[0], f"DropKey-Block, window {block_window}"),
        (cross[0], cross_seeds[0], f"DropKey-Cross, window {cross_window}"),
    ]
    for ax, (mask, seeds, name) in zip(axes, panels):
        fraction = mask.float().mean().item()
        plot_key_grid(
            mask,
            (grid_h, grid_w),
            query=query,
            seeds=seeds,
            num_prefix_tokens=num_prefix_tokens,
            ax=ax,
            title=f"{name}\n{fraction:.0%} of keys dropped",
            legend=False,
        )
    fig.legend(handles=_mask_legend_handles(), loc="lower center", ncol=4, frameon=False)
    fig.suptitle(f"keys seen by one query, drop ratio {drop_ratio:g}")
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


# --------------------------------------------------------------------------------------------------------------
# Theory: the smoothing coefficient and the gradient argument (notebooks 03 and 04)


def plot_coefficients(p: ArrayLike, drop_ratio: float, *, ax: Axes | None = None) -> Axes:
    """c_j against p_j for one attention row p (n,): exact, its large-n approximation, and the line c = 1."""
    from . import smoothing  # here, not at the top: smoothing imports SymPy (about 30 MB)

    arr = smoothing.check_probabilities(p)
    order = np.argsort(arr)
    ax = _new_axes(ax, (5.0, 3.5))
    ax.plot(arr[order], smoothing.smoothing_coefficients(arr, drop_ratio)[order], "o-", label="exact $c_j$")
    ax.plot(
        arr[order], smoothing.smoothing_coefficients_approx(arr, drop_ratio)[order], "--", label="large-n approximation"
    )
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("original weight $p_j$")
    ax.set_ylabel("smoothing coefficient $c_j$")
    ax.legend(fontsize=8)
    return ax


def plot_expected_attention_bars(p: ArrayLike, drop_ratio: float, *, ax: Axes | None = None) -> Axes:
    """Bars of one attention row p (n,) and of the expected DropKey attention given a non-empty row."""
    from . import smoothing  # here, not at the top: smoothing imports SymPy (about 30 MB)

    arr = smoothing.check_probabilities(p)
    expected = smoothing.conditional_expected_weights(arr, drop_ratio)
    keys = np.arange(1, arr.shape[-1] + 1)
    ax = _new_axes(ax, (5.0, 3.5))
    ax.bar(keys - 0.2, arr, width=0.4, label="original $p_j$")
    ax.bar(keys + 0.2, expected, width=0.4, label=r"expected, $c_jp_j/(1-r^n)$")
    ax.set_xlabel("key $j$")
    ax.set_ylabel("attention weight")
    ax.set_title(f"ratio {drop_ratio:.2f}: entropy {smoothing.entropy(arr):.3f} -> {smoothing.entropy(expected):.3f}")
    ax.legend(fontsize=8)
    return ax


def plot_flattening_map(p: ArrayLike, drop_ratios: Sequence[float], *, ax: Axes | None = None) -> Axes:
    """Expected attention E[p_hat_j | row not empty] against p_j for each drop ratio, log-log, with the identity."""
    from . import smoothing  # here, not at the top: smoothing imports SymPy (about 30 MB)

    arr = smoothing.check_probabilities(p)
    order = np.argsort(arr)
    ax = _new_axes(ax, (5.0, 3.5))
    for drop_ratio in drop_ratios:
        expected = smoothing.conditional_expected_weights(arr, drop_ratio)
        ax.plot(arr[order], expected[order], "o-", ms=3, label=f"ratio {drop_ratio:g}")
    lo, hi = arr.min() * 0.8, arr.max() * 1.25
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="no change")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("original weight $p_j$")
    ax.set_ylabel(r"expected weight $c_j p_j / (1 - r^n)$")
    ax.legend(fontsize=8)
    return ax


def plot_entropy_vs_ratio(
    rows: Mapping[str, ArrayLike], drop_ratios: Sequence[float], *, ax: Axes | None = None
) -> Axes:
    """Normalised entropy of the expected attention (given a non-empty row) against the drop ratio, one line per
    attention row ({label: p (n,)})."""
    from . import smoothing  # here, not at the top: smoothing imports SymPy (about 30 MB)

    ax = _new_axes(ax, (5.0, 3.5))
    for label, p in rows.items():
        arr = smoothing.check_probabilities(p)
        values = [
            smoothing.entropy(smoothing.conditional_expected_weights(arr, r)) / np.log(arr.shape[-1])
            for r in drop_ratios
        ]
        ax.plot(drop_ratios, values, label=label)
    ax.set_xlabel("drop ratio $r$")
    ax.set_ylabel("entropy / log n")
    ax.legend(fontsize=8)
    return ax


def plot_toy_training(histories: Sequence[ToyTrainingHistory], *, fig: Figure | None = None) -> Figure:
    """Two panels over gradient steps of the toy problem: the seed-averaged normalised entropy and the largest
    weight of softmax(z), one line (with its standard error as a band) per history."""
    fig = _new_figure(fig, (10.0, 3.6))
    axes = fig.subplots(1, 2)
    for hist in histories:
        name = {"dropkey": "DropKey", "dropout": "post-softmax dropout"}.get(hist.mode, "vanilla")
        label = "vanilla" if hist.drop_ratio == 0 else f"{name} {hist.drop_ratio:g}"
        for ax, curve in zip(axes, (hist.entropy, hist.max_weight)):
            mean = curve.mean(axis=0)
            err = curve.std(axis=0) / np.sqrt(curve.shape[0])
            ax.plot(hist.steps, mean, label=label)
            ax.fill_between(hist.steps, mean - err, mean + err, alpha=0.2)
    axes[0].set_ylabel("entropy of softmax(z) / log n")
    axes[1].set_ylabel("largest weight of softmax(z)")
    for ax in axes:
        ax.set_xlabel("gradient step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------------------------
# Training curves of one run and of several (notebooks 08 and 09)

# Per-epoch curves `plot_runs` can draw, with their panel titles.
CURVES = {
    "test_accuracy": "test accuracy",
    "train_eval_accuracy": "train accuracy (clean, eval mode)",
    "gap": "gap = clean train acc. - test acc.",
    "train_accuracy": "train accuracy (augmented, drops on)",
    "train_loss": "train loss (augmented, drops on)",
    "test_loss": "test loss",
}


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
    (`train_eval_accuracy`: eval mode, no augmentation) and test. The x axis spans `epochs` when given, so the
    plot does not rescale while a run is going. An empty history draws empty axes.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = _new_figure(fig, figsize)
    loss_ax, acc_ax = fig.subplots(1, 2)
    x = [r["epoch"] for r in history]
    style = dict(marker="o", markersize=3)
    augmented = "train (augmented, drops on)"
    loss_ax.plot(x, [r["train_loss"] for r in history], color="tab:blue", label=augmented, **style)
    loss_ax.plot(x, [r["test_loss"] for r in history], color="tab:orange", label="test", **style)
    acc_ax.plot(x, [r["train_accuracy"] for r in history], color="tab:blue", alpha=0.45, label=augmented, **style)
    acc_ax.plot(x, [r["train_eval_accuracy"] for r in history], color="tab:blue", label="train (clean)", **style)
    acc_ax.plot(x, [r["test_accuracy"] for r in history], color="tab:orange", label="test", **style)
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
    metrics: Sequence[str] = ("test_accuracy", "train_eval_accuracy", "gap"),
    *,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Curves of two or more runs (`rundir.Run`) side by side: one panel per metric, one line per run, epochs on
    the x axis. metrics: keys of `CURVES` (history keys, or "gap")."""
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
        ax.set_title(CURVES[metric], fontsize=10)
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
        ax.plot(minutes, run.curve("test_accuracy"), marker="o", markersize=4, label=run.name)
    for target in targets:
        ax.axhline(target, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("wall time, training and evaluation (minutes)")
    ax.set_ylabel("test accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


# --------------------------------------------------------------------------------------------------------------
# Results of a grid of runs (notebook 10)


def _seed_stats(results: Sequence[dict], metric: str, name: str) -> tuple[float, float, list[float]]:
    """Mean over seeds, its 95% CI half-width, and the per-seed values of `metric` for configuration `name`."""
    values = by_run(results, metric)
    if name not in values:
        raise ValueError(f"no finished runs for configuration {name!r}; found {sorted(values)}")
    seeds = [values[name][s] for s in sorted(values[name])]
    mean, ci = mean_ci(seeds)
    return mean, ci, seeds


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
        mean, ci, _ = _seed_stats(results, metric, baseline)
        ax.axhspan((mean - ci) * scale, (mean + ci) * scale, color="grey", alpha=0.2, linewidth=0)
        ax.axhline(mean * scale, color="grey", linestyle="--", linewidth=1, label=f"{baseline} (mean, 95% CI)")
    for i, (family, runs) in enumerate(sweep.items()):
        ratios = np.array(list(runs), dtype=float) + offsets[i]
        stats = [_seed_stats(results, metric, name) for name in runs.values()]
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
        mean, ci, seeds = _seed_stats(results, metric, name)
        color = "lightgrey" if name == baseline else f"C{i % 10}"
        ax.bar(i, mean * scale, yerr=ci * scale, capsize=4, color=color, alpha=0.8, edgecolor="black", linewidth=0.5)
        ax.scatter(i + np.linspace(-0.15, 0.15, len(seeds)), np.array(seeds) * scale, s=12, color="black", zorder=3)
    if baseline is not None:
        ax.axhline(_seed_stats(results, metric, baseline)[0] * scale, color="grey", linestyle="--", linewidth=1)
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
    colors = {HOLDS: "tab:green", DOES_NOT_HOLD: "tab:red"}
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
        [f"{v.run} − {v.baseline}\n(claim: {'> 0' if v.expect == 'higher' else '< 0'})" for v in verdicts],
        fontsize=8,
    )
    ax.invert_yaxis()
    units = {metric_format(v.metric)[3] for v in verdicts}
    ax.set_xlabel("paired difference" + (f" ({units.pop()})" if len(units) == 1 and "" not in units else ""))
    ax.grid(alpha=0.3, axis="x")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


LAYER_LABELS = {
    "attention_entropy": "attention entropy (nats)",
    "attention_distance": "mean attention distance (pixels)",
}


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
    ax.set_ylabel(LAYER_LABELS.get(metric, metric))
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


# --------------------------------------------------------------------------------------------------------------
# Attention maps of trained models (notebook 11)


def image_hwc(image: Tensor | np.ndarray) -> np.ndarray:
    """One image (3, H, W), uint8 or float in [0, 1], as a float (H, W, 3) array for `imshow`."""
    array = image.detach().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    if array.ndim != 3 or array.shape[0] != 3:
        raise ValueError(f"image must have shape (3, H, W), got {array.shape}")
    array = array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)
    return np.clip(array.transpose(1, 2, 0), 0.0, 1.0)


def plot_head_maps(
    model_maps: Mapping[str, Sequence[Tensor]],
    image: Tensor,
    *,
    layer: int = -1,
    index: int = 0,
    query: int = 0,
    grid_size: tuple[int, int] = (8, 8),
    num_prefix_tokens: int = 1,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """One row per model: the image, then each head's attention of `query` over the g x g patch grid in `layer`.

    model_maps: {model name: attention maps from `TinyViT.attention_maps`}; `index` picks the image in the batch
    and `image` is that image (3, H, W) for the first column. All heads of all models share one colour scale, so a
    bright patch means the same weight everywhere; each head's title gives its largest weight on a patch."""
    rows = {
        name: query_maps(
            maps, layer, image=index, query=query, grid_size=grid_size, num_prefix_tokens=num_prefix_tokens
        )
        for name, maps in model_maps.items()
    }
    heads = max(m.shape[0] for m in rows.values())
    vmax = max(float(m.max()) for m in rows.values())
    fig = _new_figure(fig, (1.7 * (heads + 1), 1.8 * len(rows) + 0.6))
    axes = fig.subplots(len(rows), heads + 1, squeeze=False)
    for r, (name, m) in enumerate(rows.items()):
        axes[r][0].imshow(image_hwc(image))
        axes[r][0].set_ylabel(name, fontsize=10)
        for h in range(heads):
            ax = axes[r][h + 1]
            if h < m.shape[0]:
                ax.imshow(m[h], cmap="inferno", vmin=0.0, vmax=vmax)
                ax.set_title(f"head {h + 1}, max {m[h].max():.2f}", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    depth = len(next(iter(model_maps.values())))
    shown = layer % depth + 1
    who = "the class token" if query < num_prefix_tokens else f"token {query}"
    fig.suptitle(title or f"layer {shown} of {depth}: attention of {who} over the patches", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig


def plot_query_map(
    maps: Sequence[Tensor],
    image: Tensor,
    *,
    layer: int = -1,
    head: int | None = None,
    query: int = 0,
    index: int = 0,
    grid_size: tuple[int, int] = (8, 8),
    num_prefix_tokens: int = 1,
    vmax: float | None = None,
    alpha: float = 0.6,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """One head's attention of token `query` (0 = the class token) over the patches, laid over the image.

    maps: one model's attention maps from `TinyViT.attention_maps`; `index` picks the image in the batch and `image`
    (3, H, W) is that image. `head` is 0-based; None averages the heads. A patch query is outlined. The colour
    scale runs from 0 to `vmax` (default: this map's largest weight), so pass a common `vmax` to compare models.
    Returns the Axes.
    """
    depth = len(maps)
    if isinstance(layer, bool) or not isinstance(layer, int) or not -depth <= layer < depth:
        raise ValueError(f"layer must be an int in [{-depth}, {depth}), got {layer!r}")
    tokens = maps[layer].shape[-1]
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < tokens:
        raise ValueError(f"query must be a token index in [0, {tokens}), got {query!r}")
    per_head = query_maps(
        maps, layer, image=index, query=query, grid_size=grid_size, num_prefix_tokens=num_prefix_tokens
    )
    if head is not None and (isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < len(per_head)):
        raise ValueError(f"head must be None or an int in [0, {len(per_head)}), got {head!r}")
    grid = per_head.mean(axis=0) if head is None else per_head[head]
    ax = _new_axes(ax, (3.4, 3.4))
    picture = image_hwc(image)
    height, width = picture.shape[:2]
    ax.imshow(picture)
    ax.imshow(
        grid,
        cmap="inferno",
        alpha=alpha,
        vmin=0.0,
        vmax=float(grid.max()) if vmax is None else vmax,
        extent=(-0.5, width - 0.5, height - 0.5, -0.5),
        interpolation="nearest",
    )
    if query >= num_prefix_tokens:
        row, col = divmod(query - num_prefix_tokens, grid_size[1])
        cell_h, cell_w = height / grid_size[0], width / grid_size[1]
        ax.add_patch(
            Rectangle(
                (col * cell_w - 0.5, row * cell_h - 0.5), cell_w, cell_h, fill=False, edgecolor="cyan", linewidth=2
            )
        )
    ax.set_xticks([])
    ax.set_yticks([])
    who = "mean of the heads" if head is None else f"head {head + 1}"
    ax.set_title(f"{title + ': ' if title else ''}{who}, max {grid.max():.2f}", fontsize=9)
    return ax


def plot_rollout(
    image: Tensor,
    rollouts: Mapping[str, np.ndarray],
    *,
    alpha: float = 0.55,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """The image, then for each model its rollout map (from `rollout_map`) laid over the image as a heat map.

    Each map is stretched to its own range (blue = its smallest value, red = its largest), so the colours show
    *where* a model looks; how strongly it prefers those patches is the panel's 'max/min' ratio (1 = uniform)."""
    picture = image_hwc(image)
    height, width = picture.shape[:2]
    fig = _new_figure(fig, (2.3 * (len(rollouts) + 1), 2.8))
    axes = fig.subplots(1, len(rollouts) + 1, squeeze=False)
    axes = axes[0]
    axes[0].imshow(picture)
    axes[0].set_title("image", fontsize=9)
    for ax, (name, heat) in zip(axes[1:], rollouts.items()):
        low, high = float(heat.min()), float(heat.max())
        ax.imshow(picture)
        ax.imshow(
            heat,
            cmap="jet",
            alpha=alpha,
            extent=(-0.5, width - 0.5, height - 0.5, -0.5),
            interpolation="bilinear",
            vmin=low,
            vmax=max(high, low + 1e-12),
        )
        ratio = high / low if low > 0 else float("inf")
        ax.set_title(f"{name}\nmax/min {ratio:.1f}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9) if title else None)
    return fig


def plot_head_entropy(
    entropies: Mapping[str, np.ndarray],
    *,
    reference: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Per-head entropies ({model: (L, H) from `head_entropy`}) against depth: each model's heads as dots around its
    layer position, its per-layer mean as a line."""
    ax = _new_axes(ax, (5.5, 3.6))
    n = len(entropies)
    for i, (name, values) in enumerate(entropies.items()):
        layers = np.arange(1, values.shape[0] + 1)
        x = layers + (i - (n - 1) / 2) * 0.12
        (line,) = ax.plot(x, values.mean(axis=1), marker="_", markersize=12, label=name)
        for h in range(values.shape[1]):
            ax.scatter(x, values[:, h], s=12, color=line.get_color(), alpha=0.6)
        ax.set_xticks(layers)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle=":", linewidth=1, label="uniform attention, log N")
    ax.set_xlabel("layer (1 = nearest the patches)")
    ax.set_ylabel("entropy per head (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
