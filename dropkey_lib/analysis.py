"""What a trained TinyViT attends to: entropy, attention distance and attention rollout, per layer.

All functions take the list of per-layer attention maps from `TinyViT.attention_maps(images)`: one
(B, H, N, N) tensor per layer, rows summing to one, with the class token (if any) first and then the
g x g patch grid in row-major order.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .vit import TinyViT


def attention_entropy(maps: list[Tensor]) -> list[float]:
    """Mean entropy (nats) of the attention rows of each layer, over images, heads and queries.

    Higher entropy = flatter attention. log(N) is the maximum (uniform attention over all N keys).
    """
    return [float(-(m * m.clamp_min(1e-12).log()).sum(-1).mean()) for m in maps]


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
def attention_statistics(model: TinyViT, images: Tensor) -> dict[str, list[float]]:
    """Per-layer attention entropy and mean attention distance of `model` (eval mode) on float images (B, 3, 32, 32)."""
    model.eval()
    maps = model.attention_maps(images)
    config = model.config
    return {
        "attention_entropy": attention_entropy(maps),
        "attention_distance": mean_attention_distance(maps, config.grid_size[0], config.patch_size),
    }
