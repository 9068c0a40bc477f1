"""What a trained TinyViT attends to: entropy, attention distance and attention rollout, per layer.

All functions take the list of per-layer attention maps from `TinyViT.attention_maps(images)`: one
(B, H, N, N) tensor per layer, rows summing to one, with the class token (if any) first and then the
g x g patch grid in row-major order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .vit import TinyViT


def row_entropy(weights: Tensor) -> Tensor:
    """Entropy (nats) of each attention row: weights (..., N_q, N_k) -> (..., N_q). log(N_k) is the maximum."""
    return -(weights * weights.clamp_min(1e-12).log()).sum(-1)


def attention_entropy(maps: list[Tensor]) -> list[float]:
    """Mean entropy (nats) of the attention rows of each layer, over images, heads and queries.

    Higher entropy = flatter attention. log(N) is the maximum (uniform attention over all N keys).
    """
    return [float(row_entropy(m).mean()) for m in maps]


def patch_distances(grid_size: int, patch_size: int) -> Tensor:
    """Euclidean distance in pixels between the centres of every pair of patches: (g*g, g*g)."""
    rows, cols = torch.meshgrid(torch.arange(grid_size), torch.arange(grid_size), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], dim=1).float() * patch_size
    return torch.cdist(centres, centres)


def mean_attention_distance(maps: list[Tensor], grid_size: int, patch_size: int) -> list[float]:
    """Mean attention distance (pixels) of each layer, as in the ViT paper: the distance between a patch query and
    each patch key, weighted by the attention weight, averaged over images, heads and patch queries.

    Only patch-to-patch attention has a distance; weights on the class token are left out and the rest
    renormalised, so the value says how far a patch looks *among the patches* it attends to.
    """
    distances = patch_distances(grid_size, patch_size)
    n_patches = grid_size * grid_size
    results = []
    for m in maps:
        patch_weights = m[..., -n_patches:, -n_patches:]
        patch_weights = patch_weights / patch_weights.sum(-1, keepdim=True)
        results.append(float((patch_weights * distances).sum(-1).mean()))
    return results


def attention_rollout(maps: list[Tensor]) -> Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): how much each token of the input flows into each output token.

    Per layer: average the heads, add the identity for the residual connection, renormalise the rows; then
    multiply the layers together. Returns (B, N, N); row 0 is the class token's view of the input.
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
            "attention_distance": mean_attention_distance(maps, config.layout.grid_size[0], config.patch_size),
        }
        for key, values in batch_means.items():
            totals[key] = [total + value * len(batch) for total, value in zip(totals[key], values)]
    return {key: [total / len(images) for total in values] for key, values in totals.items()}


def query_maps(
    maps: Sequence[Tensor],
    layer: int,
    *,
    image: int = 0,
    query: int = 0,
    grid_size: tuple[int, int] = (8, 8),
    num_prefix_tokens: int = 1,
) -> np.ndarray:
    """The attention of token `query` (0 = the class token) of one image over the patch keys in `layer`, per head:
    (H, g_h, g_w). Weights on prefix keys (the class token) are left out, so a head's map sums to 1 minus its
    weight on the class token."""
    m = maps[layer][image, :, query, num_prefix_tokens:]
    return m.reshape(m.shape[0], *grid_size).cpu().numpy()


def rollout_map(
    rollout: Tensor, *, index: int = 0, grid_size: tuple[int, int] = (8, 8), num_prefix_tokens: int = 1
) -> np.ndarray:
    """The class token's row of `analysis.attention_rollout` for one image over the patches, (g_h, g_w),
    renormalised to sum to 1 over the patches (uniform = 1 / (g_h * g_w) everywhere)."""
    row = rollout[index, 0, num_prefix_tokens:].reshape(grid_size).cpu().numpy()
    return row / max(float(row.sum()), 1e-12)


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
