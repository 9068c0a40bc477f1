"""Figures of the attention maps of trained models (notebook 11); the maps come from `analysis.py`."""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor

from ..analysis import query_maps
from ..attention import AttentionMaps
from ._common import _new_axes, _new_figure


def image_hwc(image: Tensor | np.ndarray) -> np.ndarray:
    """One image (3, H, W), uint8 or float in [0, 1], as a float (H, W, 3) array for `imshow`."""
    array = image.detach().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    if array.ndim != 3 or array.shape[0] != 3:
        raise ValueError(f"image must have shape (3, H, W), got {array.shape}")
    array = array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)
    return np.clip(array.transpose(1, 2, 0), 0.0, 1.0)


def plot_head_maps(
    model_maps: Mapping[str, AttentionMaps],
    image: Tensor,
    *,
    layer: int = -1,
    index: int = 0,
    query: int = 0,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """One row per model: the image, then each head's attention of `query` over the g x g patch grid in `layer`.

    model_maps: {model name: attention maps from `TinyViT.attention_maps`}; `index` picks the image in the batch
    and `image` is that image (3, H, W) for the first column. All heads of all models share one colour scale, so a
    bright patch means the same weight everywhere; each head's title gives its largest weight on a patch."""
    rows = {name: query_maps(maps, layer, image=index, query=query) for name, maps in model_maps.items()}
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
    first = next(iter(model_maps.values()))
    depth, shown = len(first), layer % len(first) + 1
    who = "the class token" if query < first.layout.num_prefix_tokens else f"token {query}"
    fig.suptitle(title or f"layer {shown} of {depth}: attention of {who} over the patches", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig


def plot_query_map(
    maps: AttentionMaps,
    image: Tensor,
    *,
    layer: int = -1,
    head: int | None = None,
    query: int = 0,
    index: int = 0,
    vmax: float | None = None,
    alpha: float = 0.6,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """One head's attention of token `query` (in the model's token order, `maps.layout`) over the patches, laid over
    the image.

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
    per_head = query_maps(maps, layer, image=index, query=query)
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
    (grid_h, grid_w), prefix = maps.layout.grid_size, maps.layout.num_prefix_tokens
    if query >= prefix:
        row, col = divmod(query - prefix, grid_w)
        cell_h, cell_w = height / grid_h, width / grid_w
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
