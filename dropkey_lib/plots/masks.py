"""Figures of drop masks on the patch grid (notebook 06): one query's keys like the paper's Figure 2, per-key
values on the grid, and the calibration of the samplers.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ..attention_config import check_grid_size
from ..checks import check_positive_int
from ..mask_samples import sample_mask_examples
from ._common import (
    DROPPED_COLOR,
    KEPT_COLOR,
    MASK_CMAP,
    QUERY_COLOR,
    SEED_COLOR,
    ArrayLike,
    _check_curves,
    _new_axes,
    _new_figure,
    _to_numpy,
)


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

    Draws one mask per variant with `mask_samples.sample_mask_examples` (`sample_key_drops` and
    `sample_structured_drops(..., return_seeds=True)` from a torch.Generator seeded with `seed`, so the figure is
    reproducible) and shows each with `plot_key_grid`. The block and cross windows are our reading of the paper's
    Figure 2 (see `sample_structured_drops`). query defaults to the central patch. Returns the Figure (3 Axes).
    """
    examples = sample_mask_examples(
        drop_ratio,
        grid_size,
        block_window=block_window,
        cross_window=cross_window,
        num_prefix_tokens=num_prefix_tokens,
        seed=seed,
    )
    grid_h, grid_w = grid_size
    if query is None:
        query = num_prefix_tokens + (grid_h // 2) * grid_w + grid_w // 2
    (plain, _), (block, block_seeds), (cross, cross_seeds) = examples.values()
    fig = _new_figure(fig, (10.5, 4.2))
    axes = fig.subplots(1, 3)
    panels = [
        (plain, None, "DropKey"),
        (block, block_seeds, f"DropKey-Block, window {block_window}"),
        (cross, cross_seeds, f"DropKey-Cross, window {cross_window}"),
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
