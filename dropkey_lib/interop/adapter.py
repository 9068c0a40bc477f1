"""DropKey in any timm attention class, without rewriting its forward: add the drop mask to the logits where timm
takes their softmax.

Every softmax attention in timm ends in one of two calls: `attn.softmax(dim=-1)` on explicit logits (B, H, N_q, N_k)
(after its own scale, relative-position bias and window mask), or PyTorch's fused
`F.scaled_dot_product_attention(q, k, v, attn_mask=...)`. DropKey is one change at exactly that point: a mask of
`masked_logit` entries (one Bernoulli(drop_ratio) draw per query-key logit) added to the logits before the softmax.

`DropKeyAdapter` does that for a whole module without copying its code. `adapt(module)` swaps the module's class for a
subclass made once per timm class (`DropKeyAdapter` first, then the timm class): the object, its parameters, buffers
and state_dict keys stay exactly what they were, and `isinstance(module, TimmClass)` still holds. Its forward runs
timm's own forward; in training mode, while it runs, a `LogitDrops` torch-function mode sees every softmax over the
last dimension and every fused attention call, and adds the drop mask there (or, for mode "dropout", drops after the
softmax). In eval mode, or with nothing to drop, the forward is timm's own, untouched: the same numbers, bit for bit.

The mode only sees what runs inside that one module's forward, so a softmax elsewhere in the model is never touched;
`families.FAMILIES` lists the classes checked to call softmax only on attention logits (and how often).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..attention import drop_mask_for
from ..attention_config import STRUCTURED_MODES, DropConfig, TokenLayout

SOFTMAXES = frozenset({torch.Tensor.softmax, torch._C.TensorBase.softmax, torch.softmax, F.softmax})
SDPA_ARGUMENTS = ("attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")


class AttnDropOff(nn.Identity):
    """What replaces timm's `attn_drop` (post-softmax dropout) in a converted layer: nothing drops twice. It has the
    `p = 0.0` of an inactive `nn.Dropout`, for the timm forwards that pass `self.attn_drop.p` to the fused kernel."""

    p = 0.0
    inplace = False


def additive_attn_mask(attn_mask: Tensor | None, is_causal: bool, n_q: int, n_k: int, like: Tensor) -> Tensor | None:
    """timm's (or SDPA's) `attn_mask` / `is_causal` as one additive float mask: a boolean mask (True = attend) and
    the causal triangle become 0 / -inf, a float mask stays as it is. None when there is no mask."""
    if is_causal:
        return like.new_full((n_q, n_k), float("-inf")).triu_(1)  # SDPA's is_causal: the top-left triangle
    if attn_mask is None or attn_mask.is_floating_point():
        return attn_mask
    return torch.zeros(attn_mask.shape, dtype=like.dtype, device=like.device).masked_fill_(~attn_mask, float("-inf"))


def with_drops(drops: Tensor, attn_mask: Tensor | None, is_causal: bool, like: Tensor) -> Tensor:
    """The additive mask `drops` (0 = kept, `masked_logit` = dropped) on top of timm's own mask, if any. A key that
    timm's mask hides stays hidden (-inf); a query whose every visible key is dropped attends uniformly to its
    visible keys, as `attention` does for an all-dropped row, and never to a masked one."""
    extra = additive_attn_mask(attn_mask, is_causal, drops.shape[-2], drops.shape[-1], like)
    return drops if extra is None else drops + extra


class LogitDrops(TorchFunctionMode):
    """While active: DropKey's mask on the logits of every softmax over the last dimension and of every fused
    attention call, with one layer's settings (`layer.dropkey`, and its key layout for the structured modes).

    A layer whose spec says `shared_mask` (ConViT's gated attention: a content and a position softmax over the same
    keys) gets one mask per shape for the whole call: the same keys are hidden from each query in both maps. Any
    other layer draws a fresh mask at each softmax (EfficientViT's cascaded heads take one softmax per head).
    """

    def __init__(self, layer: DropKeyAdapter) -> None:
        super().__init__()
        self.layer, self.drop = layer, layer.dropkey
        self.shared: dict[tuple, Tensor] | None = {} if layer.dropkey_spec.shared_mask else None

    def drops(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        if self.shared is not None and shape in self.shared:
            return self.shared[shape]
        layout = self.layer.dropkey_layout(shape[-1]) if self.drop.mode in STRUCTURED_MODES else None
        mask = drop_mask_for(shape, self.drop, layout, like.dtype, None, like.device)
        if self.shared is not None:
            self.shared[shape] = mask
        return mask

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in SOFTMAXES:
            return self.softmax(func, args, kwargs)
        if func is F.scaled_dot_product_attention:
            return self.fused(func, args, kwargs)
        return func(*args, **kwargs)

    def softmax(self, func, args: tuple, kwargs: dict) -> Tensor:
        logits, rest = (args[0], args[1:]) if args else (kwargs.pop("input"), ())
        dim = rest[0] if rest else kwargs.get("dim")
        if dim is None or dim not in (-1, logits.dim() - 1):  # not a softmax over keys: leave it alone
            return func(logits, *rest, **kwargs)
        if self.drop.mode == "dropout":  # post-softmax attention dropout, the regulariser timm's attn_drop was
            return F.dropout(func(logits, *rest, **kwargs), self.drop.drop_ratio, training=True)
        return func(logits + self.drops(tuple(logits.shape), logits), *rest, **kwargs)

    def fused(self, func, args: tuple, kwargs: dict) -> Tensor:
        q, k, v = args[:3]
        kwargs.update(zip(SDPA_ARGUMENTS, args[3:]))
        if self.drop.mode == "dropout":
            return func(q, k, v, **{**kwargs, "dropout_p": self.drop.drop_ratio})
        drops = self.drops((*q.shape[:-1], k.shape[-2]), q)
        attn_mask = with_drops(drops, kwargs.get("attn_mask"), kwargs.get("is_causal", False), q)
        return func(q, k, v, **{**kwargs, "attn_mask": attn_mask, "dropout_p": 0.0, "is_causal": False})


class DropKeyAdapter:
    """Mixed in front of a timm attention class by `adapt`: timm's forward, with DropKey on its logits in training.

    Its state lives in attributes named `dropkey*`, which no timm class uses: `dropkey` (this layer's `DropConfig`,
    its ratio the layer's own), `dropkey_spec` (the family's `families.Family`), `dropkey_prefix` and
    `dropkey_grid` (how the keys lie, for the structured modes). None of it is in the state_dict.
    """

    def set_drops(
        self, drop: DropConfig, spec, num_prefix_tokens: int = 0, grid_size: tuple[int, int] | None = None
    ) -> None:
        """This layer's regulariser `drop` (its own ratio), its family's `spec`, and for the structured modes the
        model's `num_prefix_tokens` and patch `grid_size` (used where the layer's keys are the model's tokens)."""
        self.dropkey, self.dropkey_spec = drop, spec
        self.dropkey_prefix, self.dropkey_grid = num_prefix_tokens, grid_size

    @property
    def drops(self) -> bool:
        """True when a forward pass would drop something (training mode, a regulariser and a ratio above 0)."""
        return self.training and self.dropkey.active

    def dropkey_layout(self, num_keys: int) -> TokenLayout:
        """How `num_keys` keys lie, for the structured modes: the family's prefix tokens (or, if it does not fix
        them, the model's when the rest is a square grid, else none), then the model's patch grid when it has
        exactly the remaining keys, else their square grid (a window, a pooled grid)."""
        spec_prefix = self.dropkey_spec.prefix
        for prefix in (spec_prefix,) if spec_prefix is not None else (self.dropkey_prefix, 0):
            patches = num_keys - prefix
            if self.dropkey_grid is not None and self.dropkey_grid[0] * self.dropkey_grid[1] == patches:
                return TokenLayout(self.dropkey_grid, prefix)
            side = math.isqrt(max(patches, 0))
            if side > 0 and side * side == patches:
                return TokenLayout((side, side), prefix)
        raise ValueError(
            f"{type(self).__name__}: mode {self.dropkey.mode!r} needs the keys on a grid, but its {num_keys} keys "
            "are not prefix tokens and a square grid: pass grid_size=(h, w) to apply_dropkey, or use mode='dropkey'"
        )

    def forward(self, *args, **kwargs):
        if not self.drops:
            return super().forward(*args, **kwargs)
        with LogitDrops(self):
            return super().forward(*args, **kwargs)

    def __reduce_ex__(self, protocol):
        # Pickled (torch.save(model), deepcopy) as its timm class, which pickle can find by name, plus the state;
        # the DropKey subclass, made at run time, is made again on loading.
        return (restore_adapter, (type(self).__bases__[1],), self.__getstate__())

    def extra_repr(self) -> str:
        timm_repr = super().extra_repr()
        ours = f"dropkey: mode={self.dropkey.mode!r}, drop_ratio={self.dropkey.drop_ratio:.4g}"
        return f"{timm_repr}, {ours}" if timm_repr else ours


_ADAPTER_CLASSES: dict[type, type] = {}


def adapter_class(timm_class: type[nn.Module]) -> type[nn.Module]:
    """The DropKey subclass of `timm_class` (made once, then reused): `DropKeyAdapter` first in its MRO."""
    if timm_class not in _ADAPTER_CLASSES:
        name = f"DropKey{timm_class.__name__}"
        _ADAPTER_CLASSES[timm_class] = type(name, (DropKeyAdapter, timm_class), {"__module__": __name__})
    return _ADAPTER_CLASSES[timm_class]


def restore_adapter(timm_class: type[nn.Module]) -> nn.Module:
    """An empty instance of the DropKey subclass of `timm_class`, for unpickling (its state is set next)."""
    cls = adapter_class(timm_class)
    return cls.__new__(cls)


def adapt(module: nn.Module) -> nn.Module:
    """Turn `module` (a timm attention, in place) into its `DropKeyAdapter` subclass, timm's `attn_drop` (if any)
    into `AttnDropOff`. Call `set_drops` next. Returns `module`."""
    if not isinstance(module, DropKeyAdapter):
        module.__class__ = adapter_class(type(module))
    if isinstance(getattr(module, "attn_drop", None), nn.Module):
        module.attn_drop = AttnDropOff()
    return module
