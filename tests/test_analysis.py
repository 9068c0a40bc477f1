"""Attention statistics: entropy, attention distance and rollout."""

import math

import pytest
import torch

from dropkey_lib.analysis import (
    attention_entropy,
    attention_rollout,
    attention_statistics,
    head_entropy,
    mean_attention_distance,
    model_head_entropy,
    patch_distances,
)
from dropkey_lib.vit import TinyViT, ViTConfig


def uniform_maps(layers: int = 2, tokens: int = 17) -> list[torch.Tensor]:
    return [torch.full((2, 3, tokens, tokens), 1.0 / tokens) for _ in range(layers)]


def test_uniform_attention_has_maximal_entropy():
    assert attention_entropy(uniform_maps()) == pytest.approx([math.log(17)] * 2)


def test_one_hot_attention_has_zero_entropy():
    assert attention_entropy([torch.eye(5).expand(1, 1, 5, 5)]) == pytest.approx([0.0], abs=1e-6)


def test_patch_distances_are_in_pixels():
    distances = patch_distances(grid_size=4, patch_size=8)
    assert distances.shape == (16, 16)
    assert distances[0, 1] == pytest.approx(8.0) and distances[0, 5] == pytest.approx(8 * math.sqrt(2))


def test_attending_only_to_yourself_is_distance_zero():
    maps = [torch.eye(17).expand(1, 1, 17, 17)]
    assert mean_attention_distance(maps, grid_size=4, patch_size=8) == pytest.approx([0.0])


def test_attention_to_the_class_token_is_left_out_of_the_distance():
    maps = torch.zeros(1, 1, 17, 17)
    maps[..., 0] = 0.9  # most weight on the class token ...
    maps[..., 1:] = 0.1 / 16  # ... the rest spread over the patches
    uniform = torch.full((1, 1, 17, 17), 1.0 / 17)
    assert mean_attention_distance([maps], 4, 8) == pytest.approx(mean_attention_distance([uniform], 4, 8))


def test_rollout_rows_sum_to_one():
    rollout = attention_rollout(uniform_maps(layers=3))
    assert rollout.shape == (2, 17, 17)
    torch.testing.assert_close(rollout.sum(-1), torch.ones(2, 17))


def test_statistics_have_one_value_per_layer():
    model = TinyViT(ViTConfig(dim=32, depth=3, num_heads=2))
    statistics = attention_statistics(model, torch.rand(4, 3, 32, 32))
    assert len(statistics["attention_entropy"]) == 3 and len(statistics["attention_distance"]) == 3


def test_statistics_in_batches_equal_the_statistics_of_all_images_at_once():
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2)).eval()
    images = torch.rand(10, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    whole = attention_statistics(model, images, batch_size=10)
    batched = attention_statistics(model, images, batch_size=3)
    for key in whole:
        assert batched[key] == pytest.approx(whole[key], rel=1e-5)


def test_model_head_entropy_in_batches_equals_head_entropy_of_all_maps():
    model = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2)).eval()
    images = torch.rand(10, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    expected = head_entropy(model.attention_maps(images))
    assert model_head_entropy(model, images, batch_size=4) == pytest.approx(expected, rel=1e-5)
