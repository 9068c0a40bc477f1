"""`DropKeyTimmAttention`: the adapter of `timm.layers.Attention`, the attention of timm's `VisionTransformer` (and of
DeiT, CSATv2, ... and of anything made of its `Block`s), written out by hand because it is the one most models use.

timm's `Attention`: qkv projection, optional q/k norms, softmax attention with `attn_drop` *after* the softmax,
output projection. `DropKeyTimmAttention` adopts the very same submodules (so every parameter is shared and the
state_dict keys do not change: pretrained weights load, checkpoints round-trip), computes q, k and v exactly like
timm, and runs `attention.attend`, the library's fast path: PyTorch's fused attention with DropKey's additive mask.
timm's `attn_drop` becomes an `nn.Identity`, so nothing drops twice; in eval mode nothing drops at all, whatever
timm's fused-attention setting. timm's own `attn_mask` (NaFlex's patch-validity mask) and `is_causal` are kept in
training too: the drop mask is added on top of them (`adapter.with_drops`).

Every other attention class goes through the generic `adapter.DropKeyAdapter`; `convert.apply_dropkey` chooses.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..attention import attend, drop_mask_for
from ..attention_config import STRUCTURED_MODES, DropConfig, TokenLayout
from .adapter import with_drops


class DropKeyTimmAttention(nn.Module):
    """timm's `Attention` with DropKey (or another of `attention_config.MODES`) in place of its `attn_drop`.

    x: (B, N, C) -> (B, N, C_out), like the timm module it replaces. Built from that module, whose submodules
    (qkv, q_norm, k_norm, norm, gate, proj, proj_drop) it adopts under the same names: the parameters are the same
    tensors and the state_dict keys are timm's. `attn_drop` is an `nn.Identity`: the regulariser is `mode` with
    `drop_ratio`, active only in training mode.
    """

    def __init__(
        self,
        attn: nn.Module,
        *,
        mode: str = "dropkey",
        drop_ratio: float = 0.0,
        grid_size: tuple[int, int] | None = None,
        window_size: int = 3,
        num_prefix_tokens: int = 0,
    ) -> None:
        super().__init__()
        self.num_heads = attn.num_heads
        self.head_dim = attn.head_dim
        self.attn_dim = getattr(attn, "attn_dim", attn.num_heads * attn.head_dim)
        self.scale = attn.scale  # head_dim ** -0.5, the default scale of the fused attention we call
        self.fused_attn = attn.fused_attn  # kept for code that reads it; the forward always takes the fused path
        self.set_drops(mode, drop_ratio, grid_size, window_size, num_prefix_tokens)
        # Registered in timm's order, so that even the order of the state_dict keys is unchanged.
        self.qkv = attn.qkv
        self.q_norm = attn.q_norm
        self.k_norm = attn.k_norm
        self.attn_drop = nn.Identity()
        self.norm = getattr(attn, "norm", nn.Identity())
        self.gate = getattr(attn, "gate", None)
        self.proj = attn.proj
        self.proj_drop = attn.proj_drop

    def set_drops(
        self,
        mode: str,
        drop_ratio: float,
        grid_size: tuple[int, int] | None = None,
        window_size: int = 3,
        num_prefix_tokens: int = 0,
    ) -> None:
        """Check and set the regulariser: `mode`, `drop_ratio` and, for the structured modes, the token layout."""
        self.drop = DropConfig(mode, drop_ratio, "constant", window_size)
        self.layout = TokenLayout(grid_size, num_prefix_tokens) if mode in STRUCTURED_MODES else None
        self.mode, self.drop_ratio = self.drop.mode, self.drop.drop_ratio
        self.grid_size, self.num_prefix_tokens = grid_size, num_prefix_tokens

    @property
    def dropkey(self) -> DropConfig:
        """This layer's regulariser (its `drop_ratio` is the layer's own), under the name every DropKey layer has."""
        return self.drop

    @property
    def drops(self) -> bool:
        """True when a forward pass would drop something (training mode, a regulariser and a ratio above 0)."""
        return self.training and self.drop.active

    def forward(self, x: Tensor, attn_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        batch, tokens, _ = x.shape
        gate = self.gate(x).sigmoid() if self.gate is not None else None
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, N, head_dim)
        q, k = self.q_norm(q), self.k_norm(k)
        if attn_mask is None and not is_causal:
            x = attend(q, k, v, self.drop, self.training, self.layout)
        elif not self.drops:  # nothing to drop: timm's own masked attention
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        elif self.drop.mode == "dropout":
            ratio = self.drop.drop_ratio
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=ratio, is_causal=is_causal)
        else:  # DropKey's mask on top of timm's mask
            drops = drop_mask_for((*q.shape[:-1], k.shape[-2]), self.drop, self.layout, q.dtype, None, q.device)
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=with_drops(drops, attn_mask, is_causal, q))
        x = self.norm(x.transpose(1, 2).reshape(batch, tokens, self.attn_dim))
        if gate is not None:
            x = x * gate
        return self.proj_drop(self.proj(x))

    def extra_repr(self) -> str:
        return f"heads={self.num_heads}, mode={self.mode!r}, drop_ratio={self.drop_ratio:.4g}"
