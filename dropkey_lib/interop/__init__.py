"""DropKey in your own timm model: turn the attention of a timm model into DropKey, keeping its weights.

    import timm
    from dropkey_lib.interop import apply_dropkey

    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=4, num_classes=10)
    apply_dropkey(model, 0.1)          # mean drop ratio 0.1 over the depths, decreasing with depth
    model.train()                      # now drops keys, each layer with its own ratio
    model.eval()                       # exactly the original model

It works on every timm attention family whose attention is a softmax over keys (`families.FAMILIES`: ViTs, BEiT,
EVA-02, Swin, CaiT, CrossViT, PVT v2, LeViT, MaxViT, Hiera, ...), and refuses, with the reason, the ones whose
attention is not (`families.REFUSED`: XCiT's cross-covariance attention, MobileViT v2's linear attention, ...);
softmax attentions not checked yet (`families.UNSUPPORTED`: BoTNet, HaloNet, CLIP ResNet heads, ...) are named too.

The modules: `convert` (apply_dropkey, strict mode and the report), `families` (the registry of timm classes),
`depth` (each layer's depth from the model's structure), `adapter` (DropKey on the logits of any registered
class, without copying its forward), `vit_attention` (the hand-written adapter of `timm.layers.Attention`).

timm is an optional dependency (`pip install -e ".[timm]"`): this package imports without it, and only
`apply_dropkey` needs it.
"""

from .adapter import AttnDropOff, DropKeyAdapter
from .convert import (
    ConversionReport,
    ConvertedLayer,
    LeftLayer,
    UnconvertedAttentionError,
    apply_dropkey,
    dropkey_layers,
    dropkey_report,
)
from .families import FAMILIES, REFUSED, TESTED_TIMM, UNSUPPORTED, Family
from .vit_attention import DropKeyTimmAttention

__all__ = [
    "FAMILIES",
    "REFUSED",
    "TESTED_TIMM",
    "UNSUPPORTED",
    "AttnDropOff",
    "ConversionReport",
    "ConvertedLayer",
    "DropKeyAdapter",
    "DropKeyTimmAttention",
    "Family",
    "LeftLayer",
    "UnconvertedAttentionError",
    "apply_dropkey",
    "dropkey_layers",
    "dropkey_report",
]
