"""`apply_dropkey`: find every attention layer of a timm model, convert those the registry knows, and say what is left.

Strict by default: a model with an attention-like layer that cannot be converted (a class in `families.REFUSED` or
`families.UNSUPPORTED`, or one that has an `attn_drop` but is not in the registry) raises
`UnconvertedAttentionError`, listing each such layer, its class and the reason, before anything is changed.
`strict=False` converts what it can and returns a `ConversionReport` of what it converted and what it left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from ..attention_config import STRUCTURED_MODES, DropConfig
from ..schedules import DEFAULT_SCHEDULE
from .adapter import DropKeyAdapter, adapt
from .depth import depth_levels
from .families import FAMILIES, TIMM_ATTENTION, Family, class_name, family_of, refusal_of
from .vit_attention import DropKeyTimmAttention

DropKeyLayer = (DropKeyTimmAttention, DropKeyAdapter)  # the two kinds of converted layer


def require_timm() -> None:
    """Import timm, or raise an ImportError that says how to install it."""
    try:
        import timm  # noqa: F401
    except ImportError as error:
        raise ImportError('apply_dropkey needs timm: pip install -e ".[timm]" (or pip install timm)') from error


@dataclass(frozen=True)
class ConvertedLayer:
    name: str  # the module's path in the model
    timm_class: str  # e.g. timm.models.beit.Attention
    family: str
    depth: int  # its block's depth (depth.depth_levels), 0 = first
    drop_ratio: float  # this layer's ratio


@dataclass(frozen=True)
class LeftLayer:
    name: str
    timm_class: str
    reason: str


@dataclass
class ConversionReport:
    """What `apply_dropkey(model, ..., strict=False)` converted and what it left, and the model itself."""

    model: nn.Module
    converted: list[ConvertedLayer] = field(default_factory=list)
    left: list[LeftLayer] = field(default_factory=list)
    depth: int = 0  # the number of depths the schedule spread the ratio over

    def __str__(self) -> str:
        lines = [f"DropKey in {len(self.converted)} attention layers over {self.depth} depths"]
        lines += [f"  {c.name}: {c.timm_class}, depth {c.depth}, drop ratio {c.drop_ratio:.4g}" for c in self.converted]
        lines.append(f"left as they are: {len(self.left)}")
        lines += [f"  {left.name}: {left.timm_class}: {left.reason}" for left in self.left]
        return "\n".join(lines)


class UnconvertedAttentionError(ValueError):
    """A model has attention layers that apply_dropkey cannot convert (strict mode). `left` lists them."""

    def __init__(self, model: nn.Module, left: list[LeftLayer]) -> None:
        self.left = left
        lines = [f"  {layer.name} ({layer.timm_class}): {layer.reason}" for layer in left]
        super().__init__(
            f"{type(model).__name__} has {len(left)} attention layer(s) that apply_dropkey cannot convert:\n"
            + "\n".join(lines)
            + "\nPass strict=False to convert the others and get a report of what was left."
        )


def unknown_reason(module: nn.Module) -> str:
    """Why an attention-like module that is not in the registry is left."""
    return (
        f"{type(module).__name__} has an attn_drop but is not in dropkey_lib.interop.families.FAMILIES: check in "
        "its forward that it takes a softmax over keys, then add it there (a subclass of a registered class may "
        "have its own forward, so it is not converted as its parent)"
    )


def find_attention(model: nn.Module) -> list[tuple[str, nn.Module, str | None]]:
    """Every attention layer of `model`, in the order of `named_modules()`, as (name, module, reason): reason None
    for those apply_dropkey converts (or has converted), else why it cannot."""
    found = []
    for name, module in model.named_modules():
        cls = type(module)
        if isinstance(module, DropKeyLayer) or is_timm_attention(module) or family_of(cls) is not None:
            found.append((name, module, None))
        elif refusal_of(cls) is not None:
            found.append((name, module, refusal_of(cls)))
        elif hasattr(module, "attn_drop"):
            found.append((name, module, unknown_reason(module)))
    return found


def depths_of(model: nn.Module, found: list[tuple[str, nn.Module, str | None]]) -> dict[str, int]:
    """The depth of every layer `find_attention` found, converted or not (`depth.depth_levels`)."""
    names = [name for name, _, _ in found]
    return dict(zip(names, depth_levels(model, names)))


def is_timm_attention(module: nn.Module) -> bool:
    """timm.layers.Attention itself, or its hand-written adapter."""
    return isinstance(module, DropKeyTimmAttention) or class_name(type(module)) == TIMM_ATTENTION


def spec_of(module: nn.Module) -> Family:
    """The registry's `Family` of a convertible or converted layer."""
    if isinstance(module, DropKeyAdapter):
        return module.dropkey_spec
    return FAMILIES[TIMM_ATTENTION] if is_timm_attention(module) else family_of(type(module))


def timm_class_of(module: nn.Module) -> str:
    """The timm class of a layer, converted or not."""
    if isinstance(module, DropKeyTimmAttention):
        return TIMM_ATTENTION
    cls = type(module)
    return class_name(cls.__bases__[1] if isinstance(module, DropKeyAdapter) else cls)


def check_structured(mode: str, convertible: list[tuple[str, nn.Module]], grid_size) -> None:
    """The structured modes need keys on a grid: refuse a family whose keys are not (Hiera's unrolled tokens), and
    timm's `Attention` without a patch grid."""
    if mode not in STRUCTURED_MODES:
        return
    for name, module in convertible:
        if is_timm_attention(module):
            if grid_size is None:
                raise ValueError(
                    f"mode={mode!r} needs grid_size (no model.patch_embed.grid_size): pass grid_size=(h, w)"
                )
        elif not spec_of(module).grid:
            raise ValueError(
                f"mode={mode!r} needs keys on the patch grid, but {name} ({timm_class_of(module)}) has none: "
                f"{spec_of(module).note}"
            )


def apply_dropkey(
    model: nn.Module,
    drop_ratio: float,
    schedule: str = DEFAULT_SCHEDULE,
    mode: str = "dropkey",
    *,
    grid_size: tuple[int, int] | None = None,
    window_size: int = 3,
    num_prefix_tokens: int | None = None,
    strict: bool = True,
) -> nn.Module | ConversionReport:
    """Turn every attention layer of a timm `model` into DropKey, in place: returns `model` (with `strict=False`, a
    `ConversionReport` whose `.model` is `model`).

    drop_ratio: the mean drop ratio over the model's depths. A layer's depth is that of its block (stages in order,
        blocks in order within a stage; parallel branches at the same depth share it: see `depth`), counted over
        every attention-like layer of the model, converted or not; depth d of D gets
        `schedules.drop_ratios(drop_ratio, D, schedule)[d]`; the default schedule, `down_to_half`, decreases with
        depth and keeps every layer dropping (`schedules.DEFAULT_SCHEDULE`).
    mode: one of `attention_config.MODES`. The structured modes (dropkey_block, dropkey_cross) need each layer's
        keys on the patch grid: windows and pooled grids are found from the number of keys; timm's
        `VisionTransformer` attention takes `grid_size` (default `model.patch_embed.grid_size`) and
        `num_prefix_tokens` (default `model.num_prefix_tokens`). Families whose keys are not a grid refuse them.
    strict: when True (the default), an attention-like layer that cannot be converted (`families.REFUSED` and
        `families.UNSUPPORTED`, or an unknown class with an `attn_drop`) raises `UnconvertedAttentionError`, which
        lists each with its class and reason, and nothing is changed. When False, the others are converted and the
        report lists what was left (those layers keep their own regulariser, timm's `attn_drop` included).

    Every converted layer keeps its parameters, buffers and state_dict keys; in eval mode it computes what it did
    before; in training mode it adds DropKey's mask to the logits before the softmax, on top of the layer's own
    masks (shifted windows, timm's `attn_mask`, causal masks), and timm's `attn_drop` is switched off. Applying
    it again sets the new ratios and mode. Raises TypeError when `model` is not an `nn.Module`, ValueError when it
    has no attention layer or an argument is invalid, ImportError when timm is not installed.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    require_timm()
    drop = DropConfig(mode, drop_ratio, schedule, window_size)
    found = find_attention(model)
    if not found:
        raise ValueError(
            f"model ({type(model).__name__}) has no attention layer that apply_dropkey knows "
            "(timm's attention classes: dropkey_lib.interop.families.FAMILIES)"
        )
    if found[0][0] == "":
        raise ValueError("model is itself an attention layer: pass the model that contains it, so it can be replaced")
    convertible = [(name, module) for name, module, reason in found if reason is None]
    left = [LeftLayer(name, timm_class_of(module), reason) for name, module, reason in found if reason is not None]
    if strict and left:
        raise UnconvertedAttentionError(model, left)
    if mode in STRUCTURED_MODES and grid_size is None:
        grid_size = getattr(getattr(model, "patch_embed", None), "grid_size", None)
    if num_prefix_tokens is None:
        num_prefix_tokens = getattr(model, "num_prefix_tokens", 0)
    check_structured(mode, convertible, grid_size)

    depths = depths_of(model, found)
    ratios = drop.layer_ratios(len(set(depths.values())))
    for name, module in convertible:
        layer_drop = DropConfig(mode, ratios[depths[name]], "constant", window_size)
        convert(model, name, module, layer_drop, grid_size, num_prefix_tokens)
    return model if strict else dropkey_report(model)


def convert(
    model: nn.Module,
    name: str,
    module: nn.Module,
    drop: DropConfig,
    grid_size: tuple[int, int] | None,
    num_prefix_tokens: int,
) -> nn.Module:
    """Make the module `name` of `model` a DropKey layer with the settings `drop` (or set them, if it is one)."""
    if isinstance(module, DropKeyTimmAttention):
        module.set_drops(drop.mode, drop.drop_ratio, grid_size, drop.window_size, num_prefix_tokens)
        return module
    if is_timm_attention(module):
        layer = DropKeyTimmAttention(
            module,
            mode=drop.mode,
            drop_ratio=drop.drop_ratio,
            grid_size=grid_size,
            window_size=drop.window_size,
            num_prefix_tokens=num_prefix_tokens,
        ).train(module.training)  # a model converted in eval mode stays in eval mode
        model.set_submodule(name, layer)
        return layer
    spec = spec_of(module)
    adapt(module).set_drops(drop, spec, num_prefix_tokens, grid_size)
    return module


def dropkey_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The (name, module) of every DropKey layer in `model`, in the order of `model.named_modules()`. Each has
    `.dropkey`, its `DropConfig` (mode, and its own `drop_ratio`); `DropKeyTimmAttention`s also have `.mode` and
    `.drop_ratio`."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, DropKeyLayer)]


def dropkey_report(model: nn.Module) -> ConversionReport:
    """What a model holds now: its DropKey layers with their depths and ratios, and the attention-like layers
    apply_dropkey leaves (or would leave). Changes nothing."""
    found = find_attention(model)
    depths = depths_of(model, found)
    report = ConversionReport(model, depth=len(set(depths.values())))
    for name, module, reason in found:
        if reason is not None:
            report.left.append(LeftLayer(name, timm_class_of(module), reason))
        elif isinstance(module, DropKeyLayer):
            family, ratio = spec_of(module).family, module.dropkey.drop_ratio
            report.converted.append(ConvertedLayer(name, timm_class_of(module), family, depths[name], ratio))
    return report
