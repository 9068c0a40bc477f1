"""apply_dropkey on every timm attention family: one small model of each (tests/timm_models.py), random weights,
nothing downloaded; strict mode and its report; the depth of each layer from the model's structure; the families
that are refused, and why.
"""

from __future__ import annotations

import copy
import functools
import importlib
import io
from collections import defaultdict
from pathlib import Path

import pytest
import torch
from torch import nn

import dropkey_lib.attention as attention_module
import dropkey_lib.interop.adapter as adapter_module
import dropkey_lib.interop.vit_attention as vit_attention_module
from dropkey_lib.interop import (
    FAMILIES,
    REFUSED,
    TESTED_TIMM,
    UNSUPPORTED,
    ConversionReport,
    DropKeyAdapter,
    UnconvertedAttentionError,
    apply_dropkey,
    dropkey_layers,
    dropkey_report,
)
from dropkey_lib.interop.families import class_name
from dropkey_lib.schedules import DEFAULT_SCHEDULE, drop_ratios

timm = pytest.importorskip("timm")
from timm_models import FAMILY_MODELS  # noqa: E402  (needs timm)

MEAN_RATIO = 0.15  # linear_down: 0.3 at the first depth, down to 0 at the last


@torch.no_grad()
def spread_weights(model: nn.Module) -> nn.Module:
    """Seeded weights of unit scale (matrices with std 1/sqrt(fan-in), vectors around 1): timm's initialisation
    (zero heads, tiny layer scales) would leave some models' attention without any effect on the output."""
    generator = torch.Generator().manual_seed(0)
    for p in model.parameters():
        noise = torch.randn(p.shape, generator=generator)
        p.copy_(noise * p[0].numel() ** -0.5 if p.dim() >= 2 else 1 + 0.2 * noise)
    return model


def without_other_randomness(model: nn.Module) -> nn.Module:
    """Dropout and stochastic depth off (timm's relative-position MLPs have their own dropout), so that in training
    mode DropKey is the only thing that draws."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if hasattr(module, "drop_prob"):
            module.drop_prob = 0.0
    return model


@functools.cache
def built(name: str) -> nn.Module:
    torch.manual_seed(0)
    return without_other_randomness(spread_weights(FAMILY_MODELS[name][0]())).eval()


def build(name: str) -> tuple[nn.Module, torch.Tensor]:
    side = FAMILY_MODELS[name][1]
    return copy.deepcopy(built(name)), torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(1))


class MaskRecorder:
    """Wraps `drop_mask_for` wherever the library calls it: records, per layer (its DropConfig), the masks drawn
    and how many of their entries drop; with `zero=True` it hands out masks that drop nothing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, zero: bool = False) -> None:
        self.masks: dict[int, list[tuple[int, int]]] = defaultdict(list)
        original = attention_module.drop_mask_for

        def record(shape, drop, layout, dtype, generator=None, device=None):
            mask = original(shape, drop, layout, dtype, generator, device)
            self.masks[id(drop)].append((mask.numel(), int((mask != 0).sum())))
            return torch.zeros_like(mask) if zero else mask

        for module in (attention_module, adapter_module, vit_attention_module):
            monkeypatch.setattr(module, "drop_mask_for", record)


def masks_per_call(layer: nn.Module) -> int:
    """How many masks a layer draws per forward pass: one, or one per head for cascaded group attention."""
    return len(layer.qkvs) if type(layer).__name__ == "DropKeyCascadedGroupAttention" else 1


def set_fused_attn(model: nn.Module, fused: bool) -> None:
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = fused


def loss_of(output: torch.Tensor) -> torch.Tensor:
    return output.logsumexp(dim=1).mean()


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_family_converts_keeps_its_weights_and_eval_output_and_drops_at_each_layers_ratio(name, monkeypatch):
    model, images = build(name)
    strict = FAMILY_MODELS[name][2]
    original = copy.deepcopy(model)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    with torch.no_grad():
        expected = original(images)

    result = apply_dropkey(model, MEAN_RATIO, strict=strict)
    assert result is model if strict else isinstance(result, ConversionReport) and result.left
    report = dropkey_report(model)
    layers = dict(dropkey_layers(model))
    assert layers and [c.name for c in report.converted] == list(layers)

    # The state_dict: the same keys in the same order, the same values.
    after = model.state_dict()
    assert list(after) == list(before) and all(torch.equal(after[key], value) for key, value in before.items())

    # Eval mode: the original output; the layers run in the order of their depths.
    calls = []
    for layer_name, layer in layers.items():
        layer.register_forward_pre_hook(lambda module, args, n=layer_name: calls.append(n))
    with torch.no_grad():
        torch.testing.assert_close(model(images), expected, rtol=1e-5, atol=1e-5)
    depth = {c.name: c.depth for c in report.converted}
    assert [depth[n] for n in calls] == sorted(depth[n] for n in calls)

    # Each layer's ratio is the default schedule's at its depth, and every layer drops keys.
    ratios = drop_ratios(MEAN_RATIO, report.depth, DEFAULT_SCHEDULE)
    assert min(ratios) > 0
    assert all(layers[c.name].dropkey.drop_ratio == pytest.approx(ratios[c.depth]) for c in report.converted)

    # Training with masks that drop nothing, through timm's explicit softmax: the original model in training mode.
    original.train()
    set_fused_attn(original, False)
    reference = original(images)
    loss_of(reference).backward()
    with_grad = {key for key, p in original.named_parameters() if p.grad is not None}
    set_fused_attn(model, False)
    recorder = MaskRecorder(monkeypatch, zero=True)
    with torch.no_grad():
        torch.testing.assert_close(model.train()(images), reference, rtol=1e-4, atol=1e-5)
    for layer in layers.values():
        expected_masks = masks_per_call(layer) if layer.dropkey.drop_ratio > 0 else 0
        assert len(recorder.masks[id(layer.dropkey)]) == expected_masks, type(layer).__name__

    # Training with DropKey (fused attention where timm has it): each layer drops at its ratio, the output changes,
    # and every parameter the original trains gets a finite gradient.
    monkeypatch.undo()
    set_fused_attn(model, True)
    recorder = MaskRecorder(monkeypatch)
    output = model(images)
    loss_of(output).backward()
    for layer in layers.values():
        ratio, masks = layer.dropkey.drop_ratio, recorder.masks[id(layer.dropkey)]
        assert len(masks) == (masks_per_call(layer) if ratio > 0 else 0)
        if masks:
            size, dropped = sum(n for n, _ in masks), sum(d for _, d in masks)
            tolerance = 6 * (ratio * (1 - ratio) / size) ** 0.5  # six binomial standard deviations
            assert abs(dropped / size - ratio) <= tolerance, f"dropped {dropped} of {size}, ratio {ratio:.3f}"
    assert not torch.allclose(output, reference, rtol=1e-4, atol=1e-5)  # beyond the tolerance above
    grads = {key: p.grad for key, p in model.named_parameters() if p.grad is not None}
    assert set(grads) == with_grad and all(torch.isfinite(g).all() for g in grads.values())


def test_at_least_thirty_families_are_tested_and_every_registered_class_is_met():
    met = set()
    for name in FAMILY_MODELS:
        for module in built(name).modules():
            met.add(class_name(type(module)))
    assert len(FAMILY_MODELS) >= 30
    assert set(FAMILIES) <= met, f"registered but never tested: {sorted(set(FAMILIES) - met)}"


def test_the_readme_table_lists_every_registered_and_refused_class_and_the_timm_version_tested():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"timm {TESTED_TIMM}" in readme and f"DropKey in {len(FAMILIES)} timm attention classes" in readme
    for timm_class in [*FAMILIES, *REFUSED, *UNSUPPORTED]:
        assert f"`{timm_class.split('.', 2)[-1]}`" in readme, timm_class


# ----------------------------------------------------------------------------------------------------------------
# Depth: from the model's structure


def test_crossvit_parallel_branches_at_the_same_depth_share_their_ratio():
    model, _ = build("crossvit")  # 2 multi-scale blocks; branch 0 has 1 block, branch 1 has 2, then the fusion
    apply_dropkey(model, MEAN_RATIO)
    depth = {c.name: c.depth for c in dropkey_report(model).converted}
    ratio = {name: layer.dropkey.drop_ratio for name, layer in dropkey_layers(model)}
    assert depth["blocks.0.blocks.0.0.attn"] == depth["blocks.0.blocks.1.0.attn"] == 0
    assert ratio["blocks.0.blocks.0.0.attn"] == ratio["blocks.0.blocks.1.0.attn"]
    assert depth["blocks.0.blocks.1.1.attn"] == 1
    assert depth["blocks.0.fusion.0.0.attn"] == depth["blocks.0.fusion.1.0.attn"] == 2
    assert ratio["blocks.0.fusion.0.0.attn"] == ratio["blocks.0.fusion.1.0.attn"]
    assert depth["blocks.1.blocks.0.0.attn"] == 3 and dropkey_report(model).depth == 6
    assert ratio["blocks.0.blocks.0.0.attn"] > ratio["blocks.0.fusion.0.0.attn"] > ratio["blocks.1.blocks.0.0.attn"]


def test_the_attentions_of_one_block_share_its_depth():
    model, _ = build("maxvit")  # each MaxViT block: window attention, then grid attention
    report = apply_dropkey(model, MEAN_RATIO, strict=False)
    depth = {c.name: c.depth for c in report.converted}
    assert depth["stages.0.blocks.0.attn_block.attn"] == depth["stages.0.blocks.0.attn_grid.attn"] == 0
    assert depth["stages.1.blocks.0.attn_block.attn"] == 1 and report.depth == 2


def test_unconverted_layers_keep_their_depth():
    model, _ = build("davit")  # spatial (converted) and channel (refused) blocks alternate
    report = apply_dropkey(model, MEAN_RATIO, strict=False)
    assert report.depth == 8 and [c.depth for c in report.converted] == [0, 2, 4, 6]


# ----------------------------------------------------------------------------------------------------------------
# Strict mode, the report, the refused families


class HomeMadeAttention(nn.Module):
    """An attention-like module apply_dropkey does not know: it has an attn_drop."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv, self.attn_drop = nn.Linear(8, 24), nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.attn_drop((q @ k.transpose(-2, -1)).softmax(-1)) @ v


def test_strict_mode_raises_listing_every_layer_it_cannot_convert_and_changes_nothing():
    model, _ = build("vit")
    model.blocks[1].attn = HomeMadeAttention()
    with pytest.raises(UnconvertedAttentionError, match=r"blocks\.1\.attn \(tests?\.?.*HomeMadeAttention\)") as error:
        apply_dropkey(model, 0.1)
    assert "attn_drop" in str(error.value) and "strict=False" in str(error.value)
    assert [left.name for left in error.value.left] == ["blocks.1.attn"]
    assert not dropkey_layers(model)


def test_strict_false_converts_the_rest_and_reports_what_it_left():
    model, _ = build("vit")
    model.blocks[1].attn = HomeMadeAttention()
    report = apply_dropkey(model, 0.1, strict=False)
    assert report.model is model
    assert [c.name for c in report.converted] == ["blocks.0.attn"]
    assert [(left.name, left.timm_class.rsplit(".", 1)[-1]) for left in report.left] == [
        ("blocks.1.attn", "HomeMadeAttention")
    ]
    assert report.depth == 2 and "left as they are: 1" in str(report)


def test_strict_mode_names_the_class_and_reason_of_a_refused_family():
    model, _ = build("xcit")
    with pytest.raises(UnconvertedAttentionError, match=r"blocks\.0\.attn \(timm\.models\.xcit\.XCA\): cross-cov"):
        apply_dropkey(model, 0.1)


def refused_modules() -> dict[str, nn.Module]:
    from timm.layers.lambda_layer import LambdaLayer
    from timm.models import coat, davit, edgenext, efficientvit_mit, mobilevit, xcit

    csatv2 = importlib.import_module("timm.models.csatv2")  # timm.models.csatv2 is also a model's function

    return {
        "timm.models.xcit.XCA": xcit.XCA(16, num_heads=2),
        "timm.models.edgenext.CrossCovarianceAttn": edgenext.CrossCovarianceAttn(16, num_heads=2),
        "timm.models.davit.ChannelAttention": davit.ChannelAttention(16, num_heads=2),
        "timm.models.davit.ChannelAttentionV2": davit.ChannelAttentionV2(16, num_heads=2),
        "timm.models.mobilevit.LinearSelfAttention": mobilevit.LinearSelfAttention(16),
        "timm.models.coat.FactorAttnConvRelPosEnc": coat.FactorAttnConvRelPosEnc(16, num_heads=2),
        "timm.models.efficientvit_mit.LiteMLA": efficientvit_mit.LiteMLA(16, 16),
        "timm.layers.lambda_layer.LambdaLayer": LambdaLayer(16, dim_head=4, r=3),
        "timm.models.csatv2.SpatialTransformerBlock": csatv2.SpatialTransformerBlock(),
    }


@pytest.mark.parametrize("timm_class", sorted(REFUSED))
def test_every_refused_class_is_an_error_naming_it_and_why(timm_class):
    module = refused_modules()[timm_class]
    assert class_name(type(module)) == timm_class
    with pytest.raises(UnconvertedAttentionError) as error:
        apply_dropkey(nn.Sequential(module), 0.1)
    assert f"0 ({timm_class}): {REFUSED[timm_class]}" in str(error.value)
    report = apply_dropkey(nn.Sequential(module), 0.1, strict=False)
    assert not report.converted and report.left[0].reason == REFUSED[timm_class]


@pytest.mark.parametrize("timm_class", sorted(UNSUPPORTED))
def test_every_not_yet_supported_class_exists_in_timm(timm_class):
    module_name, _, qualname = timm_class.rpartition(".")
    assert class_name(getattr(importlib.import_module(module_name), qualname)) == timm_class


def test_a_not_yet_supported_attention_is_named_in_strict_mode():
    from timm.layers.bottleneck_attn import BottleneckAttn

    with pytest.raises(
        UnconvertedAttentionError, match=r"0 \(timm\.layers\.bottleneck_attn\.BottleneckAttn\): softmax"
    ):
        apply_dropkey(nn.Sequential(BottleneckAttn(16, feat_size=(4, 4), num_heads=2)), 0.1)


# ----------------------------------------------------------------------------------------------------------------
# Modes, re-application


def test_structured_modes_drop_windows_of_a_swin_window_and_are_refused_for_hiera():
    model, images = build("swin")
    apply_dropkey(model, MEAN_RATIO, mode="dropkey_block").train()
    layer = model.layers[0].blocks[0].attn
    assert layer.dropkey_layout(16).grid_size == (4, 4) and layer.dropkey_layout(16).num_prefix_tokens == 0
    assert model(images).shape == (2, 10)
    hiera, _ = build("hiera")
    with pytest.raises(ValueError, match=r"MaskUnitAttention.*unrolled order"):
        apply_dropkey(hiera, 0.1, mode="dropkey_cross")


def test_structured_modes_put_the_class_token_before_the_grid():
    model, images = build("cait")
    apply_dropkey(model, MEAN_RATIO, mode="dropkey_cross").train()
    class_attention = model.blocks_token_only[0].attn
    assert class_attention.dropkey_layout(17).num_prefix_tokens == 1
    assert class_attention.dropkey_layout(17).grid_size == (4, 4)
    assert model(images).shape == (2, 10)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "explicit softmax"])
def test_adapters_keep_timms_attention_mask_in_training(fused):
    # timm's attention pool hides keys 4 and 5 by its attn_mask: with DropKey on top, in training, they still have
    # no effect (the same drops: the same seed), and the visible keys do.
    from timm.layers import AttentionPoolLatent

    torch.manual_seed(0)
    model = spread_weights(nn.Sequential(AttentionPoolLatent(16, num_heads=2, mlp_ratio=1.0)))
    apply_dropkey(model, 0.3, schedule="constant").train()
    model[0].fused_attn = fused
    mask = torch.zeros(2, 1, 1, 6).masked_fill(torch.arange(6) >= 4, float("-inf"))
    x = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(0))

    def run(x: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(5)
        return model[0](x, attn_mask=mask)

    hidden, visible = x.clone(), x.clone()
    hidden[:, 4:] += 5.0
    visible[:, :2] += 5.0
    torch.testing.assert_close(run(hidden), run(x))
    assert not torch.allclose(run(visible), run(x))
    assert not torch.allclose(run(x), model.eval()[0](x, attn_mask=mask))


def test_applying_again_sets_the_new_ratios_and_mode_and_dropout_drops_after_the_softmax():
    model, images = build("swin")
    apply_dropkey(model, 0.1)
    apply_dropkey(model, 0.2, schedule="constant", mode="dropout")
    layers = [layer for _, layer in dropkey_layers(model)]
    assert all(isinstance(layer, DropKeyAdapter) for layer in layers)
    assert {(layer.dropkey.mode, layer.dropkey.drop_ratio) for layer in layers} == {("dropout", 0.2)}
    assert not torch.allclose(model.train()(images), model.eval()(images))
    assert "dropkey: mode='dropout', drop_ratio=0.2" in repr(layers[0])


def test_a_converted_model_pickles_whole_and_deep_copies():
    model, images = build("swinv2")
    apply_dropkey(model, 0.2, schedule="constant").eval()
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    for copied in (loaded, copy.deepcopy(model)):
        layers = dropkey_layers(copied)
        assert [type(layer).__name__ for _, layer in layers] == [
            type(layer).__name__ for _, layer in dropkey_layers(model)
        ]
        assert all(layer.dropkey.drop_ratio == 0.2 for _, layer in layers)
        torch.testing.assert_close(copied(images), model(images))
        assert not torch.allclose(copied.train()(images), model(images))
