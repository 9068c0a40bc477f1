"""What a trained TinyViT attends to: entropy, attention distance and attention rollout, per layer.

All functions take the per-layer attention maps of `TinyViT.attention_maps(images)` (an `attention.AttentionMaps`):
one (B, H, N, N) tensor per layer, rows summing to one, with the class token (if any) first and then the patch grid
in row-major order. The maps carry their token layout and the model's pooling, so nothing here assumes a class
token: a mean-pooled model has none.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .attention import AttentionMaps
from .vit import TinyViT


def row_entropy(weights: Tensor) -> Tensor:
    """Entropy (nats) of each row, with 0 log 0 = 0: weights (..., N_q, N_k) -> (..., N_q). log(N_k) is the maximum
    of a normalised row. The library's one definition of entropy (`smoothing.entropy` and the toy problem use it)."""
    return -(weights * weights.clamp_min(1e-12).log()).sum(-1)


def attention_entropy(maps: list[Tensor]) -> list[float]:
    """Mean entropy (nats) of the attention rows of each layer, over images, heads and queries.

    Higher entropy = flatter attention. log(N) is the maximum (uniform attention over all N keys).
    """
    return [float(row_entropy(m).mean()) for m in maps]


def patch_distances(grid_size: tuple[int, int], patch_size: int) -> Tensor:
    """Euclidean distance in pixels between the centres of every pair of patches of a (g_h, g_w) grid:
    (g_h * g_w, g_h * g_w)."""
    rows, cols = torch.meshgrid(torch.arange(grid_size[0]), torch.arange(grid_size[1]), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], dim=1).float() * patch_size
    return torch.cdist(centres, centres)


def mean_attention_distance(maps: AttentionMaps, patch_size: int) -> list[float]:
    """Mean attention distance (pixels) of each layer, as in the ViT paper: the distance between a patch query and
    each patch key, weighted by the attention weight, averaged over images, heads and patch queries.

    Only patch-to-patch attention has a distance; weights on prefix tokens (a class token) are left out and the
    rest renormalised, so the value says how far a patch looks *among the patches* it attends to.
    """
    distances = patch_distances(maps.layout.grid_size, patch_size)
    n_patches = maps.layout.num_patches
    results = []
    for m in maps:
        patch_weights = m[..., -n_patches:, -n_patches:]
        patch_weights = patch_weights / patch_weights.sum(-1, keepdim=True)
        results.append(float((patch_weights * distances).sum(-1).mean()))
    return results


def attention_rollout(maps: list[Tensor]) -> Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): how much each token of the input flows into each output token.

    Per layer: average the heads, add the identity for the residual connection, renormalise the rows; then
    multiply the layers together. Returns (B, N, N): row i is how much each input token flows into output token i
    (`rollout_map` reads the row, or rows, that the classifier sees).
    """
    rollout = None
    for m in maps:
        a = m.mean(dim=1)
        a = a + torch.eye(a.shape[-1])
        a = a / a.sum(-1, keepdim=True)
        rollout = a if rollout is None else a @ rollout
    return rollout


@torch.no_grad()
def attention_statistics(model: TinyViT, images: Tensor, batch_size: int = 100) -> dict[str, list[float]]:
    """Per-layer attention entropy and mean attention distance of `model` (eval mode) on float images (B, 3, 32, 32).

    The maps of `batch_size` images at a time: a layer's maps of 500 images are 34 MB in float32, and a whole
    model's, with their temporaries, would take hundreds of MB at once. Both statistics are means over images, so
    the batch means are combined weighted by batch size.
    """
    model.eval()
    config = model.config
    totals = {"attention_entropy": [0.0] * config.depth, "attention_distance": [0.0] * config.depth}
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        maps = model.attention_maps(batch)
        batch_means = {
            "attention_entropy": attention_entropy(maps),
            "attention_distance": mean_attention_distance(maps, config.patch_size),
        }
        for key, values in batch_means.items():
            totals[key] = [total + value * len(batch) for total, value in zip(totals[key], values)]
    return {key: [total / len(images) for total in values] for key, values in totals.items()}


def query_maps(maps: AttentionMaps, layer: int, *, image: int = 0, query: int = 0) -> np.ndarray:
    """The attention of token `query` of one image over the patch keys in `layer`, per head: (H, g_h, g_w).

    Token order is the model's (`maps.layout`): with a class token, query 0 is the class token and query 1 the first
    patch; without one (mean pooling), query 0 is the first patch. Weights on prefix keys (the class token) are left
    out, so a head's map sums to 1 minus its weight on the prefix tokens."""
    layout = maps.layout
    m = maps[layer][image, :, query, layout.num_prefix_tokens :]
    return m.reshape(m.shape[0], *layout.grid_size).cpu().numpy()


def rollout_map(maps: AttentionMaps, *, index: int = 0) -> np.ndarray:
    """Where the model's pooled representation of image `index` comes from, by attention rollout: (g_h, g_w) over the
    patches, renormalised to sum to 1 (uniform = 1 / (g_h * g_w) everywhere).

    The row of `attention_rollout` that the classifier reads: the class token's for pool="cls"; for pool="mean", the
    mean of the patch tokens' rows, since the classifier reads the mean of the patch tokens."""
    rollout = attention_rollout(maps)[index]
    prefix = maps.layout.num_prefix_tokens
    row = rollout[0] if maps.pool == "cls" else rollout[prefix:].mean(dim=0)
    heat = row[prefix:].reshape(maps.layout.grid_size).cpu().numpy()
    return heat / max(float(heat.sum()), 1e-12)


def head_entropy(maps: Sequence[Tensor], queries: slice | None = None) -> np.ndarray:
    """Mean entropy (nats) of each head's attention rows, per layer: (L, H), averaged over images and the queries
    in `queries` (default: all)."""
    rows = []
    for m in maps:
        m = m if queries is None else m[:, :, queries]
        rows.append(row_entropy(m).mean(dim=(0, 2)).cpu().numpy())
    return np.stack(rows)


@torch.no_grad()
def model_head_entropy(model: TinyViT, images: Tensor, batch_size: int = 100) -> np.ndarray:
    """`head_entropy` of `model` (eval mode) on float images (B, 3, 32, 32), `batch_size` images at a time: (L, H)."""
    model.eval()
    total = None
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        weighted = head_entropy(model.attention_maps(batch)) * len(batch)
        total = weighted if total is None else total + weighted
    return total / len(images)
