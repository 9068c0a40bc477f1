"""Self-attention with DropKey and the regularisers the paper compares it with.

DropKey (Li et al., CVPR 2023) moves dropout *before* the softmax and uses the key as the drop unit:
for every (sample, head, query, key) entry an independent Bernoulli(drop_ratio) draw decides whether that key is
hidden from that query. Hidden keys get a huge negative logit, so the softmax renormalises over the keys that
survive. There is no 1/(1 - drop_ratio) rescaling: the weights of every row still sum to one.

Shapes used throughout:
    q: (..., N_q, D)    k: (..., N_k, D)    v: (..., N_k, D_v)
    scores, weights and masks: (..., N_q, N_k)      output: (..., N_q, D_v)
In the model the leading dimensions are (B, H): batch and heads.

Masks are boolean with **True = dropped** (the key is hidden from the query). Note that PyTorch's
`scaled_dot_product_attention` takes the opposite convention for a boolean mask (True = attend).

All-dropped rows. With probability drop_ratio**N_k every key of a row is dropped. This library then gives that row
*uniform* attention over all its keys, which is exactly what the paper's Algorithm 1 does in float32 (every
logit becomes the same -1e12 after rounding). It never produces NaN, in any floating dtype (see `masked_logit`
for the one float16 exception to "uniform"). Only `dropkey_weights` also gives such a row the gradient of a uniform
row; the fast path `attention` and the Algorithm 1 oracle do not (see `attention`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention_config import (
    STRUCTURED_MODES,
    DropConfig,
    TokenLayout,
    check_grid_size,
    check_head_split,
    check_window_size,
)
from .checks import check_drop_ratio

# --------------------------------------------------------------------------------------------------------------
# Argument checks


def check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Check that q (..., N_q, D), k (..., N_k, D) and v (..., N_k, D_v) fit together."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., N, D), got {tuple(t.shape)}")
    if q.shape[:-2] != k.shape[:-2] or k.shape[:-2] != v.shape[:-2]:
        raise ValueError(
            "q, k and v must share their leading (batch, head) dimensions, got "
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same last dimension D, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of keys N_k, got k {tuple(k.shape)} and v {tuple(v.shape)}"
        )


# --------------------------------------------------------------------------------------------------------------
# Masks


def bernoulli_indices(
    numel: int,
    probability: float,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Flat indices (increasing, int64) of the successes of `numel` independent Bernoulli(probability) trials.

    The gaps between successive successes of a Bernoulli process are independent Geometric(probability)
    variables, so we draw about probability * numel gaps by inversion, floor(log U / log(1 - probability)) + 1,
    instead of numel uniforms. For DropKey's usual ratios (0.05 to 0.3) this is several times cheaper than
    `torch.rand(shape) < drop_ratio`. The uniforms are float32, like `torch.rand`'s, so the law is that of a Bernoulli
    process up to float32 resolution (gaps longer than about 16.6 / probability, a chance of e^-16.6 = 6e-8, are
    cut short); below probability 1e-6 the gaps could outgrow float32's exact integers, so we use float64 there.
    """
    if probability == 0.0 or numel == 0:
        return torch.empty(0, dtype=torch.int64, device=device)
    log_fail = math.log1p(-probability)
    expected = numel * probability
    batch = int(expected + 6.0 * math.sqrt(expected * (1.0 - probability))) + 16  # almost always enough
    # float32 uniforms halve the cost of the serial RNG against float64: one 32-bit draw each instead of two.
    dtype = torch.float32 if probability >= 1e-6 else torch.float64
    chunks, last = [], -1
    while last < numel - 1:
        # log(1 - U) with U uniform in [0, 1) is finite and <= 0; the gaps are >= 0, so int64 truncation floors.
        gaps = torch.rand(batch, dtype=dtype, generator=generator, device=device)
        gaps.neg_().log1p_().div_(log_fail).clamp_(max=numel)
        indices = gaps.to(torch.int64).add_(1).cumsum_(0).add_(last)
        chunks.append(indices)
        last = int(indices[-1])
        batch = batch // 8 + 16
    indices = torch.cat(chunks) if len(chunks) > 1 else chunks[0]
    # The indices increase, so the ones past the end form a tail: cut it off with a binary search.
    return indices[: int(torch.searchsorted(indices, numel))]


def sample_key_drops(
    shape: Sequence[int],
    drop_ratio: float,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """DropKey's mask: an independent Bernoulli(drop_ratio) per entry. Returns a bool tensor, True = dropped.

    `shape` is the shape of the attention logits, (..., N_q, N_k), so the draw is independent per query as
    well as per key (Algorithm 1 samples the mask with the shape of the N x N logit matrix).
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    return _bernoulli_mask(shape, drop_ratio, False, True, torch.bool, generator, device)


def _bernoulli_mask(
    shape: Sequence[int],
    drop_ratio: float,
    kept_value: float | bool,
    dropped_value: float | bool,
    dtype: torch.dtype,
    generator: torch.Generator | None,
    device: torch.device | str | None,
) -> Tensor:
    """A tensor of `shape` holding `dropped_value` with probability `drop_ratio` per entry, else `kept_value`.

    Above one half we sample the kept entries instead, so the cost scales with min(drop_ratio, 1 - drop_ratio).
    `drop_ratio` must already be checked.
    """
    shape = tuple(shape)
    numel = math.prod(shape)
    if drop_ratio <= 0.5:
        mask = torch.full((numel,), kept_value, dtype=dtype, device=device)
        mask.index_fill_(0, bernoulli_indices(numel, drop_ratio, generator=generator, device=device), dropped_value)
    else:
        mask = torch.full((numel,), dropped_value, dtype=dtype, device=device)
        mask.index_fill_(0, bernoulli_indices(numel, 1.0 - drop_ratio, generator=generator, device=device), kept_value)
    return mask.view(shape)


def structured_cover_size(window_size: int, shape: str) -> int:
    """How many seed positions can drop a given key: w*w for a block, 2w - 1 for a plus-shaped cross."""
    check_window_size(window_size)
    if shape == "block":
        return window_size * window_size
    if shape == "cross":
        return 2 * window_size - 1
    raise ValueError(f"shape must be 'block' or 'cross', got {shape!r}")


def seed_probability(drop_ratio: float, window_size: int, shape: str) -> float:
    """Seed probability gamma that makes the expected dropped fraction of keys exactly `drop_ratio`.

    A key is dropped when at least one of the `structured_cover_size` seed positions around it fires, so
    P(kept) = (1 - gamma) ** cover. Setting that to 1 - drop_ratio gives gamma = 1 - (1 - drop_ratio) ** (1 / cover).
    Seeds are sampled on a padded grid (see `sample_structured_drops`), so the formula holds at the border too.
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    return _seed_probability(drop_ratio, structured_cover_size(window_size, shape))


def _seed_probability(drop_ratio: float, cover: int) -> float:
    """`seed_probability` on checked arguments (the forward pass calls this one)."""
    return 1.0 - (1.0 - drop_ratio) ** (1.0 / cover)


def sample_structured_drops(
    batch_shape: Sequence[int],
    grid_size: tuple[int, int],
    drop_ratio: float,
    *,
    shape: str,
    window_size: int = 3,
    num_prefix_tokens: int = 0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    return_seeds: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """DropKey-Block / DropKey-Cross masks (our reading of the paper's Figure 2).

    For every entry of `batch_shape` (typically (B, H, N_q): one mask per sample, head and query) seeds are
    drawn on the (g_h, g_w) patch grid and a w x w square (`shape="block"`) or a plus of arm length w // 2
    (`shape="cross"`) around each seed is dropped. Seeds are drawn on the grid padded by w // 2 on every side,
    so a window may hang over the border and every key is dropped with probability exactly `drop_ratio`.
    The `num_prefix_tokens` keys in front of the grid (the class token) are not on the grid: each is dropped
    independently with probability `drop_ratio`, as in plain DropKey.

    Returns a bool mask of shape (*batch_shape, num_prefix_tokens + g_h * g_w), True = dropped, and with
    `return_seeds=True` also the in-grid seeds as a bool tensor (*batch_shape, g_h, g_w).
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    check_window_size(window_size)
    structured_cover_size(window_size, shape)  # checks shape
    return _structured_drops(
        tuple(batch_shape),
        check_grid_size(grid_size),
        drop_ratio,
        shape,
        window_size,
        num_prefix_tokens,
        generator,
        device,
        return_seeds,
    )


def _structured_drops(
    batch_shape: tuple[int, ...],
    grid_size: tuple[int, int],
    drop_ratio: float,
    shape: str,
    window_size: int,
    num_prefix_tokens: int,
    generator: torch.Generator | None,
    device: torch.device | str | None,
    return_seeds: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """`sample_structured_drops` on already checked arguments."""
    grid_h, grid_w = grid_size
    cover = window_size * window_size if shape == "block" else 2 * window_size - 1  # structured_cover_size
    gamma = _seed_probability(drop_ratio, cover)
    pad = window_size // 2
    seeds = torch.rand((*batch_shape, grid_h + 2 * pad, grid_w + 2 * pad), generator=generator, device=device) < gamma
    # max_pool2d over the 0/1 seed map marks every key that some seed's window covers.
    z = seeds.reshape(-1, 1, grid_h + 2 * pad, grid_w + 2 * pad).float()
    if shape == "block":
        covered = F.max_pool2d(z, window_size, stride=1)
    else:
        row_arm = F.max_pool2d(z[:, :, pad : pad + grid_h, :], (1, window_size), stride=1)
        col_arm = F.max_pool2d(z[:, :, :, pad : pad + grid_w], (window_size, 1), stride=1)
        covered = torch.maximum(row_arm, col_arm)
    grid_drops = covered.bool().reshape(*batch_shape, grid_h * grid_w)
    prefix_drops = torch.rand((*batch_shape, num_prefix_tokens), generator=generator, device=device) < drop_ratio
    drops = torch.cat([prefix_drops, grid_drops], dim=-1)
    if return_seeds:
        return drops, seeds[..., pad : pad + grid_h, pad : pad + grid_w]
    return drops


def sample_drop_mask(
    scores_shape: Sequence[int],
    mode: str,
    drop_ratio: float,
    *,
    grid_size: tuple[int, int] | None = None,
    window_size: int = 3,
    num_prefix_tokens: int = 0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """The (..., N_q, N_k) bool mask (True = dropped) of a DropKey mode: dropkey, dropkey_block or dropkey_cross."""
    if mode not in ("dropkey", *STRUCTURED_MODES):
        raise ValueError(f"mode must be one of dropkey, {', '.join(STRUCTURED_MODES)} to sample a mask, got {mode!r}")
    drop = DropConfig(mode, drop_ratio, "constant", window_size)
    layout = _checked_layout(drop, grid_size, num_prefix_tokens, scores_shape[-1])
    return drop_mask_for(tuple(scores_shape), drop, layout, torch.bool, generator, device)


def _checked_layout(
    drop: DropConfig, grid_size: tuple[int, int] | None, num_prefix_tokens: int, num_keys: int
) -> TokenLayout | None:
    """The token layout of flat arguments, checked against the number of keys; None where the mode needs none."""
    if drop.mode not in STRUCTURED_MODES:
        return None
    layout = TokenLayout(check_grid_size(grid_size), num_prefix_tokens)
    layout.check_keys(num_keys)
    return layout


def drop_mask_for(
    scores_shape: tuple[int, ...],
    drop: DropConfig,
    layout: TokenLayout | None,
    dtype: torch.dtype,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """The drop mask of a DropKey mode on checked settings: the one place that maps a mode to its sampler.

    dtype torch.bool gives True = dropped; a floating dtype gives the additive mask of the fast path (0 = kept,
    `masked_logit(dtype)` = dropped), drawn in one pass for plain DropKey, the cost that matters most.
    """
    if drop.mode == "dropkey":
        if dtype == torch.bool:
            return _bernoulli_mask(scores_shape, drop.drop_ratio, False, True, dtype, generator, device)
        return _bernoulli_mask(scores_shape, drop.drop_ratio, 0.0, masked_logit(dtype), dtype, generator, device)
    shape = "block" if drop.mode == "dropkey_block" else "cross"
    drops = _structured_drops(
        scores_shape[:-1],
        layout.grid_size,
        drop.drop_ratio,
        shape,
        drop.window_size,
        layout.num_prefix_tokens,
        generator,
        device,
    )
    return drops if dtype == torch.bool else additive_mask(drops, dtype)


# --------------------------------------------------------------------------------------------------------------
# Weights: the explicit form, easy to read and inspect


def dropkey_weights(
    scores: Tensor,
    drop_ratio: float,
    *,
    generator: torch.Generator | None = None,
    drop_mask: Tensor | None = None,
) -> Tensor:
    """Post-softmax attention weights under DropKey.

    scores: pre-softmax logits (..., N_q, N_k). A fresh Bernoulli(drop_ratio) mask is drawn per entry unless
    `drop_mask` (bool, same shape, True = dropped) is given. Dropped entries get weight exactly 0; kept ones are
    the softmax renormalised over the kept keys of their row; no 1/(1 - drop_ratio) rescaling. A row whose keys are all
    dropped gets uniform weights 1/N_k (the float32 behaviour of Algorithm 1), never NaN.
    Returns weights of the same shape and dtype as `scores`.
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    if drop_mask is None:
        drop_mask = sample_key_drops(scores.shape, drop_ratio, generator=generator, device=scores.device)
    elif drop_mask.shape != scores.shape:
        raise ValueError(f"drop_mask must have the shape of scores {tuple(scores.shape)}, got {tuple(drop_mask.shape)}")
    # masked_fill *replaces* the logit (an addition could overflow to -inf in float16). With every logit of a row
    # equal to the same finite minimum, the softmax of that row is uniform instead of NaN.
    masked = scores.masked_fill(drop_mask, torch.finfo(scores.dtype).min)
    return masked.softmax(dim=-1)


def dropkey_attention_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    drop_ratio: float,
    *,
    use_dropkey: bool = True,
    drop_mask: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The paper's two-line Algorithm 1, as written, for teaching and as the test oracle.

    q, k: (..., N, D), v: (..., N, D_v) -> (..., N, D_v). The mask is added as a finite -1e12 (not -inf, not
    masked_fill) and there is no rescaling. One deliberate change: the scale is D ** -0.5 with D = q.shape[-1];
    the paper's `Q.shape[1]` is the same thing only for a 2-D Q of one sample and one head.
    `drop_mask` (bool, True = dropped) replaces the Bernoulli draw so that other implementations can be
    compared with this one under the same mask.
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    check_qkv(q, k, v)
    attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if use_dropkey:
        if drop_mask is None:
            m_r = torch.ones_like(attn) * drop_ratio
            drop_mask = torch.bernoulli(m_r, generator=generator)
        attn = attn + drop_mask.to(attn.dtype) * -1e12
    attn = attn.softmax(dim=-1)
    return attn @ v


# --------------------------------------------------------------------------------------------------------------
# The op the model uses


def masked_logit(dtype: torch.dtype) -> float:
    """The additive logit of a dropped key in the fast path: half the dtype's most negative finite value.

    Small enough that exp() underflows to exactly 0, and far enough from the limit that adding any finite logit
    cannot overflow to -inf (which would make an all-dropped row NaN). In float32 and bfloat16 an all-dropped
    row then becomes exactly uniform, as in `dropkey_weights`. In float16, PyTorch's CPU kernel adds the mask in
    float32, where the same shift of every logit cancels in the softmax: an all-dropped row gets the plain,
    undropped weights instead. Never NaN either way.
    """
    return torch.finfo(dtype).min / 2


def additive_mask(drop_mask: Tensor, dtype: torch.dtype) -> Tensor:
    """Bool drop mask (True = dropped) -> the additive float mask that `scaled_dot_product_attention` adds."""
    return torch.zeros(drop_mask.shape, dtype=dtype, device=drop_mask.device).masked_fill_(
        drop_mask, masked_logit(dtype)
    )


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    mode: str = "none",
    drop_ratio: float = 0.0,
    training: bool = False,
    grid_size: tuple[int, int] | None = None,
    window_size: int = 3,
    num_prefix_tokens: int = 0,
    generator: torch.Generator | None = None,
    drop_mask: Tensor | None = None,
) -> Tensor:
    """Scaled dot-product attention with one of the regularisers in `MODES`.

    q: (..., N_q, D), k: (..., N_k, D), v: (..., N_k, D_v) -> (..., N_q, D_v).

    - "none": plain attention.
    - "dropout": classic attention dropout after the softmax, with 1/(1 - drop_ratio) rescaling (timm's `attn_drop`).
    - "dropkey": DropKey, an independent Bernoulli(drop_ratio) drop per (..., query, key) logit before the softmax.
    - "dropkey_block" / "dropkey_cross": DropKey with block or cross windows on the patch grid
      (`grid_size`, `window_size`, `num_prefix_tokens`; see `sample_structured_drops`).

    Drops happen only when `training` is True; otherwise every mode is exactly plain attention.
    The DropKey modes run PyTorch's fused `scaled_dot_product_attention` with an additive mask, which gives the
    same result as `dropkey_attention_reference` for the same `drop_mask` (bool, True = dropped).

    The gradient of an all-dropped row (every key dropped, probability drop_ratio**N_k per row: 0.3**65 ~ 1e-34 in
    the course's model) is not the gradient of its forward pass. The forward pass gives the row uniform weights,
    which depend on neither q nor k, so q and k should get no gradient from it and v the upstream gradient / N_k
    (what `dropkey_weights` gives: its masked_fill cuts the dropped logits from the graph). Here autograd
    differentiates the addition of the masked logit as if the logits kept their values, so q and k get a nonzero
    gradient; and PyTorch's fused CPU kernel recomputes the weights from the row's log-sum-exp, in which log N_k is
    lost next to the huge masked logit, so it also sends v N_k times the upstream gradient (on a CPU in float32;
    other kernels may differ). `dropkey_attention_reference` has the first difference, not the second.
    Rows with at least one kept key get the same gradient as `dropkey_weights`. Fixing the rare row would cost a
    reduction over the mask at every call, so it is stated here and tested instead
    (tests/test_attention.py, `test_fast_path_gradient_of_an_all_dropped_row_is_not_that_of_its_forward_pass`).
    """
    check_qkv(q, k, v)
    drop = DropConfig(mode, drop_ratio, "constant", window_size)
    layout = _checked_layout(drop, grid_size, num_prefix_tokens, k.shape[-2])
    if mode == "dropout" and (generator is not None or drop_mask is not None):
        raise ValueError("mode='dropout' draws from the global RNG; generator and drop_mask are for DropKey modes")
    scores_shape = (*q.shape[:-1], k.shape[-2])
    if drop_mask is not None and drop_mask.shape != scores_shape:
        raise ValueError(f"drop_mask must have shape {scores_shape}, got {tuple(drop_mask.shape)}")
    return attend(q, k, v, drop, training, layout, generator, drop_mask)


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    drop: DropConfig,
    training: bool,
    layout: TokenLayout | None = None,
    generator: torch.Generator | None = None,
    drop_mask: Tensor | None = None,
) -> Tensor:
    """`attention` on settings that were checked once, where they entered: a `DropConfig` (one layer's: its
    `drop_ratio` is the layer's own) and, for the structured modes, the `TokenLayout` of the keys. `attention`
    itself and the attention modules (`Attention`, `interop`'s timm adapter) call this, so a forward pass does not
    check the same settings again at every step."""
    if not training or not drop.active:
        return F.scaled_dot_product_attention(q, k, v)
    if drop.mode == "dropout":
        return F.scaled_dot_product_attention(q, k, v, dropout_p=drop.drop_ratio)
    if drop_mask is not None:
        mask = additive_mask(drop_mask, q.dtype)
    else:
        mask = drop_mask_for((*q.shape[:-1], k.shape[-2]), drop, layout, q.dtype, generator, q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


class Attention(nn.Module):
    """Multi-head self-attention whose regulariser is one of `MODES`.

    x: (B, N, C) -> (B, N, C), with C = dim split into `num_heads` heads. `drop` is this layer's regulariser (its
    `drop_ratio` is the layer's own); `layout` describes the N tokens (a class token, then a g_h x g_w patch grid)
    and is required by the structured modes.
    """

    def __init__(
        self, dim: int, num_heads: int, drop: DropConfig | None = None, layout: TokenLayout | None = None
    ) -> None:
        super().__init__()
        check_head_split(dim, num_heads)
        self.num_heads = num_heads
        self.drop = drop if drop is not None else DropConfig(mode="none")
        if self.drop.mode in STRUCTURED_MODES and layout is None:
            raise ValueError(f"layout is required for mode {self.drop.mode!r}: the TokenLayout of the patch grid")
        self.layout = layout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, N, C) -> q, k, v, each (B, H, N, C // H)."""
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, channels // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        return q, k, v

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self._heads(x)
        out = attend(q, k, v, self.drop, self.training, self.layout)
        return self.proj(out.transpose(1, 2).flatten(2))

    @torch.no_grad()
    def attention_weights(self, x: Tensor) -> Tensor:
        """The plain (eval-mode, nothing dropped) attention weights for x (B, N, C): (B, H, N, N)."""
        q, k, _ = self._heads(x)
        return ((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)

    def extra_repr(self) -> str:
        return f"heads={self.num_heads}, mode={self.drop.mode!r}, drop_ratio={self.drop.drop_ratio:.4g}"


@dataclass
class AttentionMaps:
    """The plain attention weights of every layer of a model, with the layout of their tokens and the pooling.

    `layers[i]` is layer i's (B, H, N, N) weights (rows sum to one); `layout` says which of the N tokens are prefix
    tokens (a class token) and how the rest lie on the patch grid; `pool` says what the classifier reads: "cls"
    the first prefix token, "mean" the mean of the patch tokens. So the analysis code never has to guess.
    It behaves as the list of layers: `len(maps)`, `maps[-1]`, `for m in maps`.
    """

    layers: list[Tensor]
    layout: TokenLayout
    pool: str = "cls"

    def __post_init__(self) -> None:
        if self.pool not in ("cls", "mean"):
            raise ValueError(f"pool must be one of cls, mean; got {self.pool!r}")
        if self.pool == "cls" and self.layout.num_prefix_tokens == 0:
            raise ValueError("pool='cls' needs a class token, but the layout has num_prefix_tokens=0")
        for i, m in enumerate(self.layers):
            if m.dim() != 4 or m.shape[-1] != m.shape[-2]:
                raise ValueError(f"layers[{i}] must have shape (B, H, N, N), got {tuple(m.shape)}")
            self.layout.check_keys(m.shape[-1])

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Tensor:
        return self.layers[index]

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self.layers)
