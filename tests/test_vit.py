"""TinyViT: shapes, parameter budget, where DropKey plugs in."""

import subprocess
import sys

import pytest
import torch

from dropkey_lib.attention import DropConfig
from dropkey_lib.config import ViTConfig
from dropkey_lib.vit import ConvStem, TinyViT, count_parameters


def images(batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("stem", ["conv", "patch"])
def test_default_model_is_well_under_a_million_parameters(stem):
    assert 200_000 < count_parameters(TinyViT(ViTConfig(stem=stem))) < 1_000_000


def test_the_default_stem_is_convolutional_and_the_patch_embedding_stays_available():
    assert isinstance(TinyViT().patch_embed, ConvStem)
    patch = TinyViT(ViTConfig(stem="patch")).patch_embed
    assert isinstance(patch, torch.nn.Conv2d) and patch.kernel_size == patch.stride == (4, 4)


@pytest.mark.parametrize("patch_size, side", [(2, 16), (4, 8), (8, 4)])
@pytest.mark.parametrize("stem", ["conv", "patch"])
def test_both_stems_give_the_same_token_grid(stem, patch_size, side):
    model = TinyViT(ViTConfig(dim=32, depth=1, num_heads=2, pool="mean", stem=stem, patch_size=patch_size))
    assert model.config.layout.grid_size == (side, side)
    assert model.embed(images()).shape == (2, side * side, 32)


@pytest.mark.parametrize(
    "patch_size, plan",
    [
        (2, [(3, 32, 2), (32, 96, 1)]),
        (4, [(3, 32, 2), (32, 32, 1), (32, 96, 2)]),
        (8, [(3, 32, 2), (32, 32, 1), (32, 64, 2), (64, 96, 2)]),
    ],
)
def test_conv_stem_halves_the_resolution_per_stride_2_conv_and_ends_at_dim(patch_size, plan):
    convs = [m for m in ConvStem(96, patch_size, width=32).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == plan


def test_stem_width_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="stem_width"):
        ViTConfig(stem_width=0)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_forward_gives_one_logit_per_class(pool):
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, pool=pool))
    assert model(images()).shape == (2, 10)


def test_tokens_are_a_class_token_plus_an_8x8_patch_grid():
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, pool="cls"))
    assert model.embed(images()).shape == (2, 65, 32)


def test_mean_pooling_has_no_class_token():
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, pool="mean"))
    assert model.embed(images()).shape == (2, 64, 32)


def test_layers_get_their_ratio_from_the_schedule():
    model = TinyViT(ViTConfig(depth=3, drop=DropConfig(drop_ratio=0.1, schedule="linear_down")))
    assert [block.attn.drop.drop_ratio for block in model.blocks] == pytest.approx([0.2, 0.1, 0.0])


@pytest.mark.parametrize("mode", ["none", "dropout", "dropkey", "dropkey_block", "dropkey_cross"])
def test_every_mode_trains_and_is_deterministic_in_eval(mode):
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, drop=DropConfig(mode, 0.2)))
    model.train()
    model(images()).sum().backward()
    model.eval()
    assert torch.equal(model(images()), model(images()))


def test_dropkey_changes_training_outputs_but_not_eval_outputs():
    torch.manual_seed(0)
    plain = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, drop=DropConfig("none")))
    torch.manual_seed(0)
    dropkey = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, drop=DropConfig("dropkey", 0.2)))
    assert torch.equal(plain.eval()(images()), dropkey.eval()(images()))
    assert not torch.allclose(plain.train()(images()), dropkey.train()(images()))


def test_the_model_normalises_its_own_input():
    model = TinyViT(ViTConfig(dim=32, depth=1, num_heads=2)).eval()
    assert model.normalize.mean.shape == (1, 3, 1, 1)
    assert not any(key.startswith("normalize.") for key in model.state_dict())


def test_attention_maps_are_one_row_stochastic_map_per_layer():
    model = TinyViT(ViTConfig(dim=32, depth=3, num_heads=2, pool="cls")).eval()
    maps = model.attention_maps(images())
    assert len(maps) == 3 and maps[0].shape == (2, 2, 65, 65)
    torch.testing.assert_close(maps[1].sum(-1), torch.ones(2, 2, 65))


def test_wrong_image_shape_raises_naming_images():
    with pytest.raises(ValueError, match="images"):
        TinyViT(ViTConfig(dim=32, depth=1, num_heads=2))(torch.rand(2, 32, 32, 3))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"patch_size": 5}, "patch_size"),
        ({"pool": "max"}, "pool"),
        ({"stem": "x"}, "stem"),
        ({"stem": "conv", "image_size": 24, "patch_size": 3}, "power of two"),
    ],
)
def test_invalid_config_raises_naming_the_field(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ViTConfig(**kwargs)


@pytest.mark.parametrize("field, value", [("stem", "conv2"), ("pool", "max")])
def test_an_unknown_stem_or_pool_is_a_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"{field} must be one of"):
        ViTConfig(**{field: value})


def test_building_a_model_imports_neither_pil_nor_the_data_code():
    code = (
        "import sys; from dropkey_lib.vit import TinyViT, ViTConfig; TinyViT(ViTConfig()); "
        "print(sorted(m for m in ('PIL', 'dropkey_lib.data', 'dropkey_lib.batches') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
