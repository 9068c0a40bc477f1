"""DropKey in your own timm model: turn the attention of a timm `VisionTransformer` into DropKey, keeping its weights.

    import timm
    from dropkey_lib.interop import apply_dropkey

    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=4, num_classes=10)
    apply_dropkey(model, 0.1)          # mean drop ratio 0.1 over the layers, decreasing with depth
    model.train()                      # now drops keys, each layer with its own ratio
    model.eval()                       # exactly the original model

How it works. timm builds the attention of `VisionTransformer` (and of DeiT, CSATv2, ... and of anything made of
its `Block`s) from one class, `timm.layers.Attention`: qkv projection, optional q/k norms, softmax attention with
`attn_drop` *after* the softmax, output projection. `apply_dropkey` replaces every such module by a
`DropKeyTimmAttention` that adopts the very same submodules (so every parameter is shared and the state_dict keys
do not change: pretrained weights load, checkpoints round-trip) and computes q, k and v exactly like timm, but runs
`attention.attention`, the library's fast path: PyTorch's fused attention with DropKey's additive mask. timm's
`attn_drop` becomes an `nn.Identity`, so nothing drops twice; in eval mode nothing drops at all, whatever timm's
fused-attention setting.

timm is an optional dependency (`pip install -e ".[timm]"`): this module imports without it, and only
`apply_dropkey` needs it.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .attention import attend
from .attention_config import STRUCTURED_MODES, DropConfig, TokenLayout


def timm_attention_class() -> type[nn.Module]:
    """`timm.layers.Attention`, imported on demand; an ImportError that says how to install timm when it is absent."""
    try:
        from timm.layers import Attention
    except ImportError as error:
        raise ImportError('apply_dropkey needs timm: pip install -e ".[timm]" (or pip install timm)') from error
    return Attention


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
        elif self.drops:
            raise NotImplementedError("DropKeyTimmAttention drops keys only without timm's attn_mask and is_causal")
        else:  # nothing to drop: timm's own masked attention
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        x = self.norm(x.transpose(1, 2).reshape(batch, tokens, self.attn_dim))
        if gate is not None:
            x = x * gate
        return self.proj_drop(self.proj(x))

    def extra_repr(self) -> str:
        return f"heads={self.num_heads}, mode={self.mode!r}, drop_ratio={self.drop_ratio:.4g}"


def dropkey_layers(model: nn.Module) -> list[tuple[str, DropKeyTimmAttention]]:
    """The (name, module) of every `DropKeyTimmAttention` in `model`, in the order of `model.named_modules()`."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, DropKeyTimmAttention)]


def apply_dropkey(
    model: nn.Module,
    drop_ratio: float,
    schedule: str = "linear_down",
    mode: str = "dropkey",
    *,
    grid_size: tuple[int, int] | None = None,
    window_size: int = 3,
    num_prefix_tokens: int | None = None,
) -> nn.Module:
    """Turn every timm `Attention` of `model` into DropKey, in place, and return `model`.

    drop_ratio: the mean drop ratio over the attention layers; layer i (in the order of `model.named_modules()`,
        which is depth order for timm's models) gets `schedules.drop_ratios(drop_ratio, depth, schedule)[i]`.
    mode: one of `attention_config.MODES`. The structured modes (dropkey_block, dropkey_cross) need the patch grid: by
        default `model.patch_embed.grid_size` and `model.num_prefix_tokens`, as a timm `VisionTransformer` has them.

    Only `timm.layers.Attention` modules (exactly that class, not subclasses with their own forward) are replaced;
    every other module, and every weight, stays as it is. Applying it again to a converted model sets the new
    ratios and mode. Raises TypeError when `model` is not an `nn.Module`, ValueError when it has no timm attention
    or the ratio, schedule or mode is invalid, ImportError when timm is not installed.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    timm_attention = timm_attention_class()
    drop = DropConfig(mode, drop_ratio, schedule, window_size)
    layers = [
        (name, module)
        for name, module in model.named_modules()
        if type(module) is timm_attention or isinstance(module, DropKeyTimmAttention)
    ]
    if not layers:
        raise ValueError(
            f"model ({type(model).__name__}) has no timm attention (timm.layers.Attention) to turn into DropKey"
        )
    if layers[0][0] == "":
        raise ValueError("model is itself a timm Attention: pass the model that contains it, so it can be replaced")
    layer_drops = drop.layer_drops(len(layers))
    if mode in STRUCTURED_MODES and grid_size is None:
        grid_size = getattr(getattr(model, "patch_embed", None), "grid_size", None)
        if grid_size is None:
            raise ValueError(f"mode={mode!r} needs grid_size (no model.patch_embed.grid_size): pass grid_size=(h, w)")
    if num_prefix_tokens is None:
        num_prefix_tokens = getattr(model, "num_prefix_tokens", 0)
    layout = {"grid_size": grid_size, "window_size": window_size, "num_prefix_tokens": num_prefix_tokens}
    for (name, module), layer_drop in zip(layers, layer_drops):
        if isinstance(module, DropKeyTimmAttention):
            module.set_drops(mode, layer_drop.drop_ratio, **layout)
        else:
            model.set_submodule(
                name, DropKeyTimmAttention(module, mode=mode, drop_ratio=layer_drop.drop_ratio, **layout)
            )
    return model
