"""apply_dropkey: DropKey in timm models built locally with random weights (nothing is downloaded).

The first part tests timm's `VisionTransformer` attention (`DropKeyTimmAttention`) on three architectures: a
narrow ViT-Tiny-like VisionTransformer at 32x32 (patch 4, 48 channels, 6 blocks, 3 heads); CSATv2, a hybrid of
convolution stages and timm `Attention` blocks whose heads are wider than its channels; and a VisionTransformer with
q/k norms, post-norm blocks, register tokens and no class token. tests/test_interop_families.py tests one small
model of every other attention family.
"""

import copy
import functools
import io
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dropkey_lib.attention import additive_mask, masked_logit
from dropkey_lib.interop import DropKeyTimmAttention, apply_dropkey, dropkey_layers, dropkey_report
from dropkey_lib.schedules import drop_ratios

ROOT = Path(__file__).resolve().parents[1]


def vit_tiny(**kwargs) -> nn.Module:
    timm = pytest.importorskip("timm")
    return timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=4, embed_dim=48, depth=6, num_classes=10,
        **kwargs,
    )  # fmt: skip


def csatv2() -> nn.Module:
    timm = pytest.importorskip("timm")
    if "csatv2" not in timm.list_models("csatv2"):
        pytest.skip(f"timm {timm.__version__} has no CSATv2")
    return timm.create_model(
        "csatv2", pretrained=False, num_classes=10, dims=(16, 32, 64, 128), depths=(1, 1, 2, 2),
        transformer_depths=(0, 0, 1, 1),
    )  # fmt: skip


def vit_qk_norm_post_norm() -> nn.Module:
    pytest.importorskip("timm")
    from timm.models.vision_transformer import ResPostBlock, VisionTransformer

    return VisionTransformer(
        img_size=32, patch_size=8, embed_dim=64, depth=3, num_heads=4, qk_norm=True, class_token=False,
        reg_tokens=2, global_pool="avg", block_fn=ResPostBlock, num_classes=10,
    )  # fmt: skip


# name: (builder, image side)
ARCHITECTURES = {
    "vit_tiny": (vit_tiny, 32),
    "csatv2": (csatv2, 128),
    "vit_qk_norm_post_norm": (vit_qk_norm_post_norm, 32),
}


@functools.cache
def built(name: str) -> nn.Module:
    builder, _ = ARCHITECTURES[name]
    torch.manual_seed(0)
    return builder()


def build(name: str) -> tuple[nn.Module, torch.Tensor]:
    """A fresh copy of a model with seeded random weights (built once), and a batch of 4 images for it."""
    side = ARCHITECTURES[name][1]
    return copy.deepcopy(built(name)), torch.randn(4, 3, side, side, generator=torch.Generator().manual_seed(1))


def convert(name: str, model: nn.Module, *args, **kwargs) -> nn.Module:
    """apply_dropkey, strict where the architecture allows it. CSATv2 also holds a one-channel spatial gate that
    apply_dropkey refuses (families.REFUSED says why), so it is converted with strict=False, and its report lists
    the gates it left."""
    if name != "csatv2":
        return apply_dropkey(model, *args, **kwargs)
    report = apply_dropkey(model, *args, strict=False, **kwargs)
    assert {left.timm_class for left in report.left} == {"timm.models.csatv2.SpatialTransformerBlock"}
    return report.model


def timm_attention_count(model: nn.Module) -> int:
    from timm.layers import Attention

    return sum(type(m) is Attention for m in model.modules())


@torch.no_grad()
def vary_weights(model: nn.Module) -> nn.Module:
    """Add noise to every parameter, so that a later load_state_dict has to change them all back."""
    for p in model.parameters():
        p.add_(torch.randn_like(p))
    return model


class MaskSpy:
    """Records, for every call of F.scaled_dot_product_attention, the fraction of dropped entries of its mask."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.dropped: list[float] = []
        self.sizes: list[int] = []
        original = F.scaled_dot_product_attention

        def spy(q, k, v, attn_mask=None, **kwargs):
            self.sizes.append(q.shape[:-1].numel() * k.shape[-2])
            dropped = 0.0 if attn_mask is None else (attn_mask == masked_logit(q.dtype)).float().mean().item()
            self.dropped.append(dropped)
            return original(q, k, v, attn_mask=attn_mask, **kwargs)

        monkeypatch.setattr(F, "scaled_dot_product_attention", spy)


# ----------------------------------------------------------------------------------------------------------------
# What changes and what does not


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_timm_attention_becomes_dropkey(name):
    model, _ = build(name)
    count = timm_attention_count(model)
    assert convert(name, model, 0.1) is model
    assert count > 0 and len(dropkey_layers(model)) == count and timm_attention_count(model) == 0


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_weight_and_state_dict_key_is_kept(name):
    model, _ = build(name)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    convert(name, model, 0.1)
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[key], value) for key, value in before.items())


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_eval_output_is_unchanged_with_fused_attention_on_and_off(name, fused):
    model, images = build(name)
    for module in model.modules():
        if hasattr(module, "fused_attn"):  # what timm.layers.set_fused_attn(fused) gives a model built after it
            module.fused_attn = fused
    original = copy.deepcopy(model).eval()
    convert(name, model, 0.2, schedule="constant").eval()
    torch.testing.assert_close(model(images), original(images), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_training_mode_drops_keys_at_each_layers_ratio(name, monkeypatch):
    model, images = build(name)
    convert(name, model, 0.2, schedule="linear_down").train()
    report = dropkey_report(model)  # each layer's ratio is the schedule's at its depth (csatv2: its gates count)
    expected = drop_ratios(0.2, report.depth, "linear_down")
    expected = [expected[layer.depth] for layer in report.converted]
    assert expected == [layer.drop_ratio for _, layer in dropkey_layers(model)]
    spy = MaskSpy(monkeypatch)
    torch.manual_seed(0)
    model(images)
    assert len(spy.dropped) == len(expected)
    for dropped, ratio, size in zip(spy.dropped, expected, spy.sizes):
        tolerance = 6 * (ratio * (1 - ratio) / size) ** 0.5  # six binomial standard deviations
        assert abs(dropped - ratio) <= tolerance, f"dropped {dropped:.4f} of {size} entries, ratio {ratio:.4f}"


def test_timm_attn_drop_is_inactive_so_nothing_drops_twice():
    model, images = build("vit_tiny")
    for module in model.modules():
        if hasattr(module, "attn_drop"):
            module.attn_drop.p = 0.5  # as timm's attn_drop_rate=0.5 would build it
    apply_dropkey(model, 0.0)  # no DropKey either: training mode must now be the eval-mode model
    assert all(isinstance(layer.attn_drop, nn.Identity) for _, layer in dropkey_layers(model))
    torch.testing.assert_close(model.train()(images), model.eval()(images))


def test_training_mode_changes_the_output_and_eval_mode_does_not_drop():
    model, images = build("vit_tiny")
    apply_dropkey(model, 0.1)
    torch.manual_seed(0)
    assert not torch.allclose(model.train()(images), model.eval()(images))
    assert torch.equal(model.eval()(images), model.eval()(images))


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_gradients_reach_every_parameter_in_training_mode(name):
    model, images = build(name)
    convert(name, model, 0.2).train()
    model(images).logsumexp(dim=1).mean().backward()
    missing = [key for key, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_state_dict_round_trips_between_timm_and_dropkey_models(name):
    model, images = build(name)
    convert(name, model, 0.1).eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    plain = vary_weights(build(name)[0])
    plain.load_state_dict(torch.load(buffer, weights_only=True))  # strict: the same keys
    converted = convert(name, vary_weights(build(name)[0]), 0.3)
    converted.load_state_dict(plain.state_dict())
    torch.testing.assert_close(plain.eval()(images), model(images))
    torch.testing.assert_close(converted.eval()(images), model(images))


def test_applying_again_sets_the_new_ratios_and_mode():
    model, _ = build("vit_qk_norm_post_norm")
    apply_dropkey(model, 0.1)
    apply_dropkey(model, 0.2, schedule="linear_up", mode="dropout")
    layers = [layer for _, layer in dropkey_layers(model)]
    assert [layer.drop_ratio for layer in layers] == pytest.approx([0.0, 0.2, 0.4])
    assert {layer.mode for layer in layers} == {"dropout"}


def test_structured_modes_take_the_patch_grid_from_the_vit():
    model, images = build("vit_tiny")
    apply_dropkey(model, 0.1, mode="dropkey_block").train()
    layer = dropkey_layers(model)[0][1]
    assert (layer.grid_size, layer.num_prefix_tokens) == ((8, 8), 1)
    assert model(images).shape == (4, 10)


def test_timm_attention_masks_pass_through_in_eval_mode():
    pytest.importorskip("timm")
    from timm.layers import Attention

    torch.manual_seed(0)
    timm_attention = Attention(32, num_heads=4).eval()
    ours = DropKeyTimmAttention(copy.deepcopy(timm_attention), drop_ratio=0.2).eval()
    x = torch.randn(2, 5, 32)
    mask = torch.rand(5, 5, generator=torch.Generator().manual_seed(0)) < 0.7
    mask.fill_diagonal_(True)
    torch.testing.assert_close(ours(x, attn_mask=mask), timm_attention(x, attn_mask=mask))
    torch.testing.assert_close(ours(x, is_causal=True), timm_attention(x, is_causal=True))


@pytest.mark.parametrize("kind", ["bool", "float", "causal"])
def test_training_drops_keys_on_top_of_timm_attention_masks(kind, monkeypatch):
    # The drop mask is fixed here (it drops key 1 for every query), so the result can be computed by hand: softmax of
    # the logits plus timm's mask plus the drops. A key timm's mask hides stays hidden.
    pytest.importorskip("timm")
    from timm.layers import Attention

    import dropkey_lib.interop.vit_attention as vit_attention

    torch.manual_seed(0)
    timm_attention = Attention(32, num_heads=4)
    ours = DropKeyTimmAttention(copy.deepcopy(timm_attention), drop_ratio=0.2).train()
    x = torch.randn(2, 5, 32)
    drops = torch.zeros(2, 4, 5, 5, dtype=torch.bool)
    drops[..., 1] = True
    monkeypatch.setattr(vit_attention, "drop_mask_for", lambda shape, *args: additive_mask(drops, torch.float32))
    keep = torch.rand(5, 5, generator=torch.Generator().manual_seed(0)) < 0.7
    keep.fill_diagonal_(True)
    masks = {"bool": keep, "float": torch.zeros(5, 5).masked_fill(~keep, float("-inf")), "causal": None}
    timm_mask = keep if kind != "causal" else torch.ones(5, 5, dtype=torch.bool).tril()
    out = ours(x, attn_mask=masks[kind], is_causal=kind == "causal")
    q, k, v = timm_attention.qkv(x).reshape(2, 5, 3, 4, 8).permute(2, 0, 3, 1, 4)
    logits = (q @ k.transpose(-2, -1)) * 8**-0.5
    logits = logits.masked_fill(~timm_mask, float("-inf")).masked_fill(drops, masked_logit(torch.float32))
    expected = timm_attention.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 32))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_naflex_patch_validity_masks_are_honoured_in_training():
    # NaFlexVit's padded patches are hidden by timm's attention mask: with DropKey on, in training, the output still
    # does not depend on them (the same drops: the same seed), and it does depend on the valid ones.
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model(
        "naflexvit_base_patch16_gap", pretrained=False, num_classes=10, embed_dim=32, depth=2, num_heads=2,
        patch_size=8,
    )  # fmt: skip
    with torch.no_grad():  # weights of unit scale: timm's small initial weights leave attention almost no effect
        for p in model.parameters():
            if p.dim() >= 2:
                p.normal_(0.0, p[0].numel() ** -0.5)
    apply_dropkey(model, 0.3, schedule="constant").train()
    grid = torch.stack(torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij"), -1).reshape(1, 16, 2)
    valid = torch.ones(2, 16, dtype=torch.bool)
    valid[0, 10:] = False
    patches = torch.randn(2, 16, 8 * 8 * 3, generator=torch.Generator().manual_seed(0))

    def run(patches: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(5)
        return model({"patches": patches, "patch_coord": grid.expand(2, -1, -1), "patch_valid": valid})

    padded, real = patches.clone(), patches.clone()
    padded[0, 10:] += 5.0
    real[0, :3] += 5.0
    torch.testing.assert_close(run(padded), run(patches))
    assert not torch.allclose(run(real), run(patches))
    assert not torch.allclose(run(patches), model.eval()({"patches": patches, "patch_coord": grid.expand(2, -1, -1),
                                                          "patch_valid": valid}))  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# Errors


def test_a_model_without_timm_attention_is_a_value_error():
    pytest.importorskip("timm")
    with pytest.raises(ValueError, match="no attention layer"):
        apply_dropkey(nn.Sequential(nn.Linear(4, 4)), 0.1)


def test_something_that_is_not_a_module_is_a_type_error():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        apply_dropkey("vit_tiny_patch16_224", 0.1)


@pytest.mark.parametrize("drop_ratio", [1.0, -0.1, float("nan"), "a lot"])
def test_a_bad_drop_ratio_is_a_value_error_naming_it(drop_ratio):
    model, _ = build("vit_qk_norm_post_norm")
    with pytest.raises(ValueError, match="drop_ratio"):
        apply_dropkey(model, drop_ratio)


def test_a_linear_schedule_needs_a_mean_ratio_below_one_half():
    model, _ = build("vit_qk_norm_post_norm")
    with pytest.raises(ValueError, match="below 0.5"):
        apply_dropkey(model, 0.6, schedule="linear_down")


@pytest.mark.parametrize(("argument", "value"), [("schedule", "cosine"), ("mode", "dropblock")])
def test_a_bad_schedule_or_mode_is_a_value_error_naming_it(argument, value):
    model, _ = build("vit_qk_norm_post_norm")
    with pytest.raises(ValueError, match=argument):
        apply_dropkey(model, 0.1, **{argument: value})


def test_a_bad_argument_leaves_the_model_untouched():
    model, _ = build("vit_qk_norm_post_norm")
    with pytest.raises(ValueError):
        apply_dropkey(model, 0.1, schedule="cosine")
    assert timm_attention_count(model) == 3 and not dropkey_layers(model)


def test_structured_modes_without_a_patch_grid_are_a_value_error():
    model, _ = build("csatv2")
    with pytest.raises(ValueError, match="grid_size"):
        apply_dropkey(model, 0.1, mode="dropkey_cross", strict=False)


# ----------------------------------------------------------------------------------------------------------------
# timm is optional


def run_without_timm(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python in which `import timm` fails, as if timm were not installed."""
    blocked = "import sys; sys.modules['timm'] = None\n"
    command = [sys.executable, "-c", blocked + code]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_the_library_imports_without_timm():
    names = ["attention", "interop", "runs", "schedules", "train", "vit", "widgets"]
    result = run_without_timm("".join(f"import dropkey_lib.{name}\n" for name in names))
    assert result.returncode == 0, result.stderr


def test_apply_dropkey_without_timm_says_how_to_install_it():
    code = (
        "from torch import nn\nfrom dropkey_lib.interop import apply_dropkey\n"
        "try:\n    apply_dropkey(nn.Linear(2, 2), 0.1)\nexcept ImportError as error:\n    print(error)\n"
    )
    result = run_without_timm(code)
    assert result.returncode == 0 and 'pip install -e ".[timm]"' in result.stdout, result.stderr
