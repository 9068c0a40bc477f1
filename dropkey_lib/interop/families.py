"""Which timm attention classes `apply_dropkey` converts, and which it refuses and why: the registry, as data.

A class is named by its module and qualified name (`timm.models.beit.Attention`), so the registry needs no timm to
import and a class that an older timm lacks is simply never met. Each converted class was read in timm's source
(tested with the timm version in `TESTED_TIMM`): its forward computes a softmax over keys, once per call (or as
`Family.note` says), either as `logits.softmax(dim=-1)` or through `F.scaled_dot_product_attention`, and nothing
else in it is a softmax over its last dimension. `adapter.DropKeyAdapter` adds DropKey's mask at exactly that
point; `timm.layers.Attention` keeps its own hand-written adapter, `vit_attention.DropKeyTimmAttention`.

To add a class: read its forward, check the two conditions above, add a `Family` here, and add one small model of
it to `tests/timm_models.py` (the per-family test then checks eval output, state_dict, drop ratio and gradients).
A class whose weights are not a softmax over keys goes into `REFUSED`, with the reason; a softmax attention not yet
checked goes into `UNSUPPORTED`. Strict mode refuses both kinds by name.
"""

from __future__ import annotations

from dataclasses import dataclass

TESTED_TIMM = "1.0.31"  # the timm version the registry was read against and tests/test_interop.py ran with

TIMM_ATTENTION = "timm.layers.attention.Attention"  # converted by vit_attention.DropKeyTimmAttention


@dataclass(frozen=True)
class Family:
    """How DropKey goes into one timm attention class.

    family: the timm model family (or families) that use the class, for reports and the README's table.
    grid: whether its keys lie on the 2-D patch grid (prefix tokens first), so the structured modes
        (dropkey_block, dropkey_cross) can drop windows of them; False refuses those modes for it.
    prefix: how many prefix tokens (a class token) come before the grid among its keys; None: the model's
        `num_prefix_tokens` when the rest is a square grid, else 0 (windows, pooled keys).
    shared_mask: the forward takes more than one softmax over the same keys (ConViT's content and position maps):
        all of them get the same mask in one call.
    note: what is particular about where the mask goes.
    """

    family: str
    grid: bool = True
    prefix: int | None = None
    shared_mask: bool = False
    note: str = ""


FAMILIES: dict[str, Family] = {
    TIMM_ATTENTION: Family(
        "vit, deit, deit3, flexivit, naflexvit, vitamin, pit, mobilevit, csatv2, eva01, crossvit blocks"
    ),
    "timm.layers.attention.AttentionRope": Family("vit rope (vit_*_rope_*)", note="after the rope"),
    "timm.layers.attention_pool.AttentionPoolLatent": Family(
        "attention-pool head (global_pool='map', SigLIP)", note="a learned latent query over the tokens"
    ),
    "timm.models.vision_transformer.ParallelScalingBlock": Family(
        "vit with ParallelScalingBlock", note="attention and MLP in one module, one softmax in it"
    ),
    "timm.models.beit.Attention": Family("beit, beitv2", note="after the relative position bias"),
    "timm.models.eva.EvaAttention": Family("eva02 (eva.py)", note="after the rope"),
    "timm.models.vision_transformer_relpos.RelPosAttention": Family("vit_relpos", note="after the relative bias"),
    "timm.models.vision_transformer_sam.Attention": Family("sam (samvit)", note="windowed and global, rel. pos."),
    "timm.models.swin_transformer.WindowAttention": Family(
        "swin", prefix=0, note="per window, after the relative bias and the shifted-window mask"
    ),
    "timm.models.swin_transformer_v2.WindowAttention": Family(
        "swinv2", prefix=0, note="cosine attention; after the log-CPB bias and the shifted-window mask"
    ),
    "timm.models.swin_transformer_v2_cr.WindowMultiHeadAttention": Family(
        "swinv2_cr", prefix=0, note="cosine attention; after the bias and the shifted-window mask"
    ),
    "timm.models.cait.TalkingHeadAttn": Family(
        "cait", prefix=0, note="between the two talking-heads projections: proj_w then mixes the heads' weights"
    ),
    "timm.models.cait.ClassAttn": Family("cait, xcit (class attention)", prefix=1, note="class token query"),
    "timm.models.crossvit.CrossAttention": Family("crossvit (cross-attention)", prefix=1, note="class token query"),
    "timm.models.pvt_v2.Attention": Family("pvt_v2", prefix=0, note="keys spatially reduced (sr or pooled)"),
    "timm.models.twins.LocallyGroupedAttn": Family("twins (svt local)", prefix=0, note="per window"),
    "timm.models.twins.GlobalSubSampleAttn": Family("twins (pcpvt, svt global)", prefix=0, note="sub-sampled keys"),
    "timm.models.nest.Attention": Family("nest", prefix=0, note="within each nested block"),
    "timm.models.tnt.Attention": Family("tnt", note="inner (pixel) and outer (patch) attention"),
    "timm.models.volo.OutlookAttention": Family(
        "volo (outlook)",
        prefix=0,
        note="weights over each k x k neighbourhood come from a linear map, not q.k: DropKey drops neighbours",
    ),
    "timm.models.volo.Attention": Family("volo", prefix=0),
    "timm.models.volo.ClassAttention": Family("volo (class attention)", prefix=1, note="class token query"),
    "timm.models.levit.Attention": Family("levit", prefix=0, note="after the attention biases"),
    "timm.models.levit.AttentionDownsample": Family("levit (downsampling)", prefix=0, note="sub-sampled queries"),
    "timm.models.mvitv2.MultiScaleAttention": Family("mvitv2", note="pooled keys; after the rel. pos. terms"),
    "timm.models.maxxvit.AttentionCl": Family("maxvit, maxxvit, coatnet", prefix=0, note="window and grid"),
    "timm.models.maxxvit.Attention2d": Family("maxvit, coatnet (NCHW)", prefix=0),
    "timm.models.davit.WindowAttention": Family("davit (window attention)", prefix=0),
    "timm.models.gcvit.WindowAttentionGlobal": Family("gcvit", prefix=0, note="local and global-query windows"),
    "timm.models.hiera.MaskUnitAttention": Family(
        "hiera", grid=False, note="keys are in Hiera's unrolled order, not a grid: plain DropKey only"
    ),
    "timm.models.hieradet_sam2.MultiScaleAttention": Family("sam2_hiera (hieradet)", prefix=0),
    "timm.models.convit.GPSA": Family(
        "convit (gated positional)", prefix=0, shared_mask=True, note="the same mask on the content and position maps"
    ),
    "timm.models.convit.MHSA": Family("convit"),
    "timm.models.tiny_vit.Attention": Family("tiny_vit", prefix=0, note="per window, after the attention biases"),
    "timm.models.metaformer.Attention": Family("metaformer (caformer)", prefix=0),
    "timm.models.efficientformer.Attention": Family("efficientformer", prefix=0, note="after the attention biases"),
    "timm.models.efficientformer_v2.Attention2d": Family("efficientformerv2", prefix=0, note="talking heads"),
    "timm.models.efficientformer_v2.Attention2dDownsample": Family("efficientformerv2 (downsampling)", prefix=0),
    "timm.models.visformer.Attention": Family("visformer", prefix=0),
    "timm.models.fastvit.Attention": Family("fastvit", prefix=0),
    "timm.layers.attention2d.MultiQueryAttention2d": Family(
        "mobilenetv4 hybrid", prefix=0, note="one key and value head shared by every query head; strided keys"
    ),
    "timm.models.efficientvit_msra.CascadedGroupAttention": Family(
        "efficientvit_msra", prefix=0, note="one softmax per head (cascaded groups), each with its own mask"
    ),
}

# Attention-like classes apply_dropkey refuses, and why (the reason is part of its error): mostly those whose weights
# are not a softmax over keys, so that DropKey (drop keys before that softmax) has no place in them.
REFUSED: dict[str, str] = {
    "timm.models.xcit.XCA": (
        "cross-covariance attention: the softmax runs over channels (a d x d map per head), not over keys"
    ),
    "timm.models.edgenext.CrossCovarianceAttn": (
        "cross-covariance attention: the softmax runs over channels (a d x d map per head), not over keys"
    ),
    "timm.models.davit.ChannelAttention": "channel attention: the softmax runs over channels, not over keys",
    "timm.models.davit.ChannelAttentionV2": "channel attention: the softmax runs over channels, not over keys",
    "timm.models.mobilevit.LinearSelfAttention": (
        "linear attention (mobilevitv2): one context score per token, no query-key logits to drop keys from"
    ),
    "timm.models.coat.FactorAttnConvRelPosEnc": (
        "factorized attention: a softmax of the keys over tokens per channel, then q @ (k^T v), no query-key logits"
    ),
    "timm.models.efficientvit_mit.LiteMLA": "ReLU linear attention: no softmax",
    "timm.layers.lambda_layer.LambdaLayer": "lambda layer: a softmax of the keys alone, no query-key logits",
    "timm.models.csatv2.SpatialTransformerBlock": (
        "CSATv2's one-channel spatial gate: q, k and v are one number per position, and its logits q @ k^T are "
        "(B, B) in timm 1.0.31, a softmax over the batch, not over keys"
    ),
}


# Softmax attentions apply_dropkey does not convert yet: their forward was not read and tested. Strict mode names
# them, so that a model holding one is never converted in part without a word.
NOT_YET = "softmax attention that apply_dropkey does not convert yet (not checked in timm's source and tested)"
UNSUPPORTED: dict[str, str] = {
    name: NOT_YET
    for name in (
        "timm.layers.attention2d.Attention2d",
        "timm.layers.attention2d.MultiQueryAttentionV2",
        "timm.layers.attention_pool.AttentionPoolPrr",
        "timm.layers.attention_pool2d.AttentionPool2d",
        "timm.layers.attention_pool2d.RotAttentionPool2d",
        "timm.layers.bottleneck_attn.BottleneckAttn",
        "timm.layers.diff_attention.DiffAttention",
        "timm.layers.halo_attn.HaloAttn",
        "timm.layers.non_local_attn.NonLocalAttn",
        "timm.layers.other_pool.SimPool1d",
        "timm.layers.other_pool.SimPool2d",
        "timm.models.cpubone.ConvAttention",
        "timm.models.gemma4_vit.Gemma4Attention",
        "timm.models.iformer.SHMA",
        "timm.models.lowformer.ConvAttention",
        "timm.models.mvitv2.MultiScaleAttentionPoolFirst",
        "timm.models.nextvit.EfficientAttention",
        "timm.models.shvit.SHSA",
        "timm.models.vision_transformer.DiffParallelScalingBlock",
    )
}


def class_name(cls: type) -> str:
    """The registry's name of a class: its module and qualified name."""
    return f"{cls.__module__}.{cls.__qualname__}"


def family_of(cls: type) -> Family | None:
    """The registry's `Family` of exactly this class (not of a subclass, which may have its own forward)."""
    return FAMILIES.get(class_name(cls))


def refusal_of(cls: type) -> str | None:
    """Why this class is refused (`REFUSED`) or not converted yet (`UNSUPPORTED`), or None."""
    return REFUSED.get(class_name(cls)) or UNSUPPORTED.get(class_name(cls))
