"""One small timm model per attention family, random weights, nothing downloaded: what tests/test_interop.py's
per-family test converts. Each is built a few layers deep and a few channels wide so that it runs in a fraction of a
second; stochastic depth and dropout are off, so that in training mode DropKey is the only thing that draws.

FAMILY_MODELS: name -> (builder, image side, strict), strict False where the model also holds attention that
apply_dropkey refuses (DaViT's channel attention, XCiT's cross-covariance attention).
"""

from __future__ import annotations

import dataclasses

import timm
from timm.models import (
    cait,
    efficientformer,
    efficientformer_v2,
    gcvit,
    hieradet_sam2,
    maxxvit,
    metaformer,
    mobilenetv3,
    mvitv2,
    nest,
    tiny_vit,
    tnt,
    volo,
)
from timm.models.vision_transformer import ParallelScalingBlock, VisionTransformer
from torch import nn

VIT = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10)  # a 4 x 4 patch grid


def create(name: str, **kwargs) -> nn.Module:
    return timm.create_model(name, pretrained=False, **{"num_classes": 10, **kwargs})


def maxxvit_cfg(block_type: tuple[str, ...], cfg: dict) -> maxxvit.MaxxVitCfg:
    transformer = dataclasses.replace(cfg["transformer_cfg"], dim_head=8)
    cfg = {**cfg, "transformer_cfg": transformer}
    return maxxvit.MaxxVitCfg(embed_dim=(16, 32), depths=(1, 1), block_type=block_type, stem_width=8, **cfg)


SWIN = dict(img_size=32, patch_size=2, window_size=4, embed_dim=16, depths=(2, 2), num_heads=(1, 2))
PYRAMID = dict(embed_dims=(8, 16, 16, 32), depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2))

FAMILY_MODELS = {
    "vit": (lambda: create("vit_tiny_patch16_224", **VIT), 32, True),
    "beit": (lambda: create("beit_base_patch16_224", **VIT), 32, True),
    "eva02": (lambda: create("eva02_tiny_patch14_224", **VIT), 32, True),
    "vit_rope": (lambda: create("vit_base_patch16_rope_224", **VIT), 32, True),
    "vit_relpos": (lambda: create("vit_relpos_base_patch16_224", **VIT), 32, True),
    "vit_map_head": (lambda: create("vit_tiny_patch16_224", **VIT, global_pool="map", class_token=False), 32, True),
    "vit_parallel": (lambda: VisionTransformer(**VIT, block_fn=ParallelScalingBlock), 32, True),
    "samvit": (
        lambda: create(
            "samvit_base_patch16", **VIT, global_attn_indexes=(1,), window_size=2, neck_chans=16, use_rel_pos=True
        ),
        32,
        True,
    ),
    "swin": (lambda: create("swin_tiny_patch4_window7_224", **SWIN), 32, True),
    "swinv2": (lambda: create("swinv2_tiny_window8_256", **SWIN), 32, True),
    "swinv2_cr": (lambda: create("swinv2_cr_tiny_224", **SWIN), 32, True),
    "cait": (lambda: cait.Cait(**VIT, depth_token_only=1, init_values=1e-5), 32, True),
    "crossvit": (
        lambda: create(
            "crossvit_tiny_240",
            img_size=(32, 48),
            patch_size=(8, 16),
            embed_dim=(16, 32),
            depth=((1, 2, 1),) * 2,
            num_heads=(2, 2),
            mlp_ratio=(1, 1, 1),
        ),  # fmt: skip
        48,
        True,
    ),
    "pvt_v2": (lambda: create("pvt_v2_b0", **PYRAMID), 64, True),
    "twins_pcpvt": (lambda: create("twins_pcpvt_small", img_size=64, **PYRAMID), 64, True),
    "twins_svt": (lambda: create("twins_svt_small", img_size=64, **PYRAMID, wss=(2, 2, 2, 2)), 64, True),
    "nest": (
        lambda: nest.Nest(
            img_size=32,
            patch_size=4,
            num_levels=2,
            embed_dims=(16, 32),
            num_heads=(1, 2),
            depths=(1, 1),
            num_classes=10,
            drop_path_rate=0.0,
        ),  # fmt: skip
        32,
        True,
    ),
    "tnt": (
        lambda: tnt.TNT(
            img_size=32,
            patch_size=8,
            embed_dim=32,
            inner_dim=8,
            depth=2,
            num_heads_inner=1,
            num_heads_outer=2,
            num_classes=10,
        ),  # fmt: skip
        32,
        True,
    ),
    "volo": (
        lambda: volo.VOLO(
            layers=(1, 1, 1, 1),
            img_size=32,
            embed_dims=(16, 32, 32, 32),
            num_heads=(1, 2, 2, 2),
            stem_hidden_dim=8,
            num_classes=10,
        ),  # fmt: skip
        32,
        True,
    ),
    "levit": (
        lambda: create(
            "levit_128s", img_size=64, embed_dim=(16, 32, 48), key_dim=8, num_heads=(1, 2, 3), depth=(1, 1, 1)
        ),
        64,
        True,
    ),
    "mvitv2": (
        lambda: mvitv2.MultiScaleVit(
            mvitv2.MultiScaleVitCfg(depths=(1, 1, 1), embed_dim=16, num_heads=1, stride_q=((1, 1), (2, 2), (2, 2))),
            img_size=(64, 64),
            num_classes=10,
        ),  # fmt: skip
        64,
        True,
    ),
    "maxvit": (
        lambda: maxxvit.MaxxVit(maxxvit_cfg(("M", "M"), maxxvit._tf_cfg()), img_size=64, num_classes=10),
        64,
        True,
    ),
    "coatnet": (
        lambda: maxxvit.MaxxVit(maxxvit_cfg(("C", "T"), maxxvit._rw_coat_cfg()), img_size=64, num_classes=10),
        64,
        True,
    ),
    "davit": (lambda: create("davit_tiny", **PYRAMID, window_size=2), 64, False),
    "gcvit": (
        lambda: gcvit.GlobalContextVit(
            img_size=64,
            embed_dim=16,
            depths=(1, 1, 1, 1),
            num_heads=(1, 1, 2, 2),
            window_ratio=(16, 16, 16, 32),
            num_classes=10,
        ),  # fmt: skip
        64,
        True,
    ),
    "hiera": (lambda: create("hiera_tiny_224", img_size=64, embed_dim=16, num_heads=1, stages=(1, 1, 1, 1)), 64, True),
    "sam2_hiera": (
        lambda: hieradet_sam2.HieraDet(
            embed_dim=16,
            num_heads=1,
            stages=(1, 1, 1, 1),
            q_pool=2,
            global_att_blocks=(3,),
            window_spec=(4, 4, 2, 2),
            global_pos_size=(4, 4),
            num_classes=10,
        ),  # fmt: skip
        64,
        True,
    ),
    "convit": (lambda: create("convit_tiny", **VIT, local_up_to_layer=1), 32, True),
    "tiny_vit": (
        lambda: tiny_vit.TinyVit(
            embed_dims=(16, 16, 32, 32),
            depths=(1, 1, 1, 1),
            num_heads=(1, 1, 2, 2),
            window_sizes=(2, 2, 2, 2),
            num_classes=10,
            drop_path_rate=0.0,
        ),  # fmt: skip
        64,
        True,
    ),
    "caformer": (
        lambda: metaformer.MetaFormer(
            depths=(1, 1, 1, 1),
            dims=(8, 16, 32, 32),
            num_classes=10,
            token_mixers=[metaformer.SepConv, metaformer.SepConv, metaformer.Attention, metaformer.Attention],
            norm_layers=[metaformer.LayerNorm2dNoBias] * 2 + [metaformer.LayerNormNoBias] * 2,
        ),  # fmt: skip
        64,
        True,
    ),
    "efficientformer": (
        lambda: efficientformer.EfficientFormer(
            depths=(1, 1, 1, 2), embed_dims=(8, 16, 32, 32), num_vit=1, num_classes=10
        ),
        224,  # its attention biases are for the 7 x 7 grid of the last stage
        True,
    ),
    "efficientformerv2": (
        lambda: efficientformer_v2.EfficientFormerV2(
            depths=(1, 1, 1, 2), embed_dims=(8, 16, 32, 32), num_vit=1, num_classes=10, img_size=64
        ),
        64,
        True,
    ),
    "visformer": (lambda: create("visformer_tiny", img_size=64, embed_dim=48, depth=(1, 1, 1), num_heads=2), 64, True),
    "fastvit": (lambda: create("fastvit_sa12", layers=(1, 1, 1, 1), embed_dims=(8, 16, 32, 32)), 64, True),
    "efficientvit_msra": (
        lambda: create("efficientvit_m0", img_size=64, embed_dim=(16, 32, 48), depth=(1, 1, 1), num_heads=(1, 1, 1)),
        64,
        True,
    ),
    "mobilenetv4_hybrid": (
        lambda: mobilenetv3._gen_mobilenet_v4("mobilenetv4_hybrid_medium", 0.25, pretrained=False, num_classes=10),
        64,
        True,
    ),
    "xcit": (lambda: create("xcit_nano_12_p16_224", img_size=32, embed_dim=32, depth=1, num_heads=2), 32, False),
}
