"""TinyViT: shapes, parameter budget, where DropKey plugs in."""

import pytest
import torch

from dropkey_lib.vit import TinyViT, ViTConfig, count_parameters


def images(batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_default_model_is_well_under_a_million_parameters():
    assert 300_000 < count_parameters(TinyViT()) < 600_000


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_forward_gives_one_logit_per_class(pool):
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, pool=pool))
    assert model(images()).shape == (2, 10)


def test_tokens_are_a_class_token_plus_an_8x8_patch_grid():
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2))
    assert model.embed(images()).shape == (2, 65, 32)


def test_mean_pooling_has_no_class_token():
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, pool="mean"))
    assert model.embed(images()).shape == (2, 64, 32)


def test_layers_get_their_ratio_from_the_schedule():
    model = TinyViT(ViTConfig(depth=3, drop_ratio=0.1, schedule="linear_down"))
    assert [block.attn.drop_ratio for block in model.blocks] == pytest.approx([0.2, 0.1, 0.0])


@pytest.mark.parametrize("mode", ["none", "dropout", "dropkey", "dropkey_block", "dropkey_cross"])
def test_every_mode_trains_and_is_deterministic_in_eval(mode):
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, mode=mode, drop_ratio=0.2))
    model.train()
    model(images()).sum().backward()
    model.eval()
    assert torch.equal(model(images()), model(images()))


def test_dropkey_changes_training_outputs_but_not_eval_outputs():
    torch.manual_seed(0)
    plain = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, mode="none", drop_ratio=0.0))
    torch.manual_seed(0)
    dropkey = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, mode="dropkey", drop_ratio=0.2))
    assert torch.equal(plain.eval()(images()), dropkey.eval()(images()))
    assert not torch.allclose(plain.train()(images()), dropkey.train()(images()))


def test_the_model_normalises_its_own_input():
    model = TinyViT(ViTConfig(dim=32, depth=1, num_heads=2)).eval()
    assert model.normalize.mean.shape == (1, 3, 1, 1) and not any("mean" in key for key in model.state_dict())


def test_attention_maps_are_one_row_stochastic_map_per_layer():
    model = TinyViT(ViTConfig(dim=32, depth=3, num_heads=2)).eval()
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
        ({"mode": "x"}, "mode"),
        ({"drop_ratio": 1.0}, "ratio"),
        ({"schedule": "x"}, "schedule"),
        ({"window_size": 2}, "window_size"),
    ],
)
def test_invalid_config_raises_naming_the_field(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ViTConfig(**kwargs)
