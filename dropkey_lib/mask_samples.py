"""Samples for the figures of notebooks 01-03: one drop mask of each kind, and row sums under dropout and DropKey.

They are computed here, not in `plots`, so that a test can check what the figures show.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .attention import dropkey_weights, sample_key_drops, sample_structured_drops
from .attention_config import check_grid_size, check_window_size
from .checks import check_drop_ratio, check_positive_int


def sample_mask_examples(
    drop_ratio: float,
    grid_size: tuple[int, int] = (8, 8),
    *,
    block_window: int = 3,
    cross_window: int = 3,
    num_prefix_tokens: int = 0,
    seed: int = 0,
) -> dict[str, tuple[Tensor, Tensor | None]]:
    """One query's drop mask under DropKey, DropKey-Block and DropKey-Cross (the paper's Figure 2, our samplers).

    Returns {"dropkey": (mask, None), "block": (mask, seeds), "cross": (mask, seeds)}, drawn in that order from one
    torch.Generator seeded with `seed`: masks: bool (num_prefix_tokens + g_h * g_w,), True = dropped; seeds (g_h, g_w).
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    grid_h, grid_w = check_grid_size(grid_size)
    for name, value in (("block_window", block_window), ("cross_window", cross_window)):
        try:
            check_window_size(value)
        except ValueError:
            raise ValueError(f"{name} must be a positive odd integer, got {value!r}") from None
    check_positive_int(num_prefix_tokens, "num_prefix_tokens", minimum=0)
    generator = torch.Generator().manual_seed(int(seed))
    examples: dict[str, tuple[Tensor, Tensor | None]] = {
        "dropkey": (sample_key_drops((num_prefix_tokens + grid_h * grid_w,), drop_ratio, generator=generator), None)
    }
    for shape, window in (("block", block_window), ("cross", cross_window)):
        mask, seeds = sample_structured_drops(
            (1,),
            (grid_h, grid_w),
            drop_ratio,
            shape=shape,
            window_size=window,
            num_prefix_tokens=num_prefix_tokens,
            generator=generator,
            return_seeds=True,
        )
        examples[shape] = (mask[0], seeds[0])
    return examples


def row_sums_under_drops(
    weights: Tensor, drop_ratio: float, *, draws: int = 300, seed: int = 0
) -> tuple[Tensor, Tensor, float]:
    """Row sums of softmax `weights` p (n_q, n_k) under post-softmax dropout and DropKey, with the same masks.

    Draws `draws` Bernoulli(drop_ratio) masks m (a generator seeded with `seed`) and applies each twice: dropout,
    m * p / (1 - r), and DropKey, `dropkey_weights(log p, r, drop_mask=m)`. Returns (dropout sums (draws, n_q),
    DropKey sums (draws, n_q), sqrt(r / (1 - r) * mean_i sum_j p_ij**2): the predicted std of the dropout sums).
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    p = weights
    if (p <= 0).any() or not torch.allclose(p.sum(-1), torch.ones(p.shape[0], dtype=p.dtype), atol=1e-4):
        raise ValueError("weights must be positive with rows that sum to one (softmax weights)")
    check_positive_int(draws, "draws")
    drop = torch.rand((draws, *p.shape), generator=torch.Generator().manual_seed(seed), dtype=p.dtype) < drop_ratio
    dropout = (p * ~drop / (1 - drop_ratio)).sum(-1)
    dropkey = dropkey_weights(p.log().expand(draws, *p.shape), drop_ratio, drop_mask=drop).sum(-1)
    predicted = math.sqrt(drop_ratio / (1 - drop_ratio) * float((p**2).sum(-1).mean()))
    return dropout, dropkey, predicted
