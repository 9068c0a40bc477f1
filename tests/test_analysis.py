"""Attention statistics: entropy, attention distance and rollout."""

import math

import numpy as np
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
    query_maps,
    rollout_map,
)
from dropkey_lib.attention import AttentionMaps, TokenLayout
from dropkey_lib.config import ViTConfig
from dropkey_lib.vit import TinyViT

CLS_LAYOUT = TokenLayout((4, 4), 1)  # a class token and a 4 x 4 patch grid: 17 tokens


def uniform_maps(layers: int = 2, tokens: int = 17) -> list[torch.Tensor]:
    return [torch.full((2, 3, tokens, tokens), 1.0 / tokens) for _ in range(layers)]


def test_uniform_attention_has_maximal_entropy():
    assert attention_entropy(uniform_maps()) == pytest.approx([math.log(17)] * 2)


def test_one_hot_attention_has_zero_entropy():
    assert attention_entropy([torch.eye(5).expand(1, 1, 5, 5)]) == pytest.approx([0.0], abs=1e-6)


def test_patch_distances_are_in_pixels():
    distances = patch_distances(grid_size=(4, 4), patch_size=8)
    assert distances.shape == (16, 16)
    assert distances[0, 1] == pytest.approx(8.0) and distances[0, 5] == pytest.approx(8 * math.sqrt(2))


def test_attending_only_to_yourself_is_distance_zero():
    maps = AttentionMaps([torch.eye(17).expand(1, 1, 17, 17)], CLS_LAYOUT)
    assert mean_attention_distance(maps, patch_size=8) == pytest.approx([0.0])


def test_attention_to_the_class_token_is_left_out_of_the_distance():
    maps = torch.zeros(1, 1, 17, 17)
    maps[..., 0] = 0.9  # most weight on the class token ...
    maps[..., 1:] = 0.1 / 16  # ... the rest spread over the patches
    uniform = torch.full((1, 1, 17, 17), 1.0 / 17)
    with_class_token = mean_attention_distance(AttentionMaps([maps], CLS_LAYOUT), 8)
    assert with_class_token == pytest.approx(mean_attention_distance(AttentionMaps([uniform], CLS_LAYOUT), 8))


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


def mean_pooled_maps() -> AttentionMaps:
    """The maps of a mean-pooled model (no class token) on a 2 x 2 grid, where patch 0 attends only to patch 3 and
    every other patch only to itself."""
    weights = torch.eye(4).clone()
    weights[0] = torch.tensor([0.0, 0.0, 0.0, 1.0])
    return AttentionMaps([weights.expand(1, 1, 4, 4)], TokenLayout((2, 2), 0), pool="mean")


def test_the_maps_of_a_model_carry_its_token_layout_and_pooling():
    for pool, prefix in (("cls", 1), ("mean", 0)):
        maps = TinyViT(ViTConfig(dim=32, depth=2, num_heads=2, pool=pool)).attention_maps(torch.rand(1, 3, 32, 32))
        assert (maps.layout, maps.pool) == (TokenLayout((8, 8), prefix), pool)
        assert maps[0].shape == (1, 2, 64 + prefix, 64 + prefix)


def test_rollout_of_a_mean_pooled_model_reads_the_mean_of_the_patch_rows_not_row_0():
    # Residual half, attention half: rollout row i = 0.5 e_i + 0.5 (attended patch); the mean over the four rows is
    # [1/8, 1/4, 1/4, 3/8]. Row 0 alone, the class-token reading, would give [1/2, 0, 0, 1/2].
    heat = rollout_map(mean_pooled_maps())
    assert heat.flatten() == pytest.approx([1 / 8, 1 / 4, 1 / 4, 3 / 8])


def test_rollout_of_a_class_token_model_reads_the_class_token_row():
    maps = AttentionMaps([torch.full((1, 1, 17, 17), 1.0 / 17)], CLS_LAYOUT)
    rollout = attention_rollout(maps)[0, 0, 1:]
    assert rollout_map(maps).flatten() == pytest.approx((rollout / rollout.sum()).tolist())


def test_query_0_of_a_mean_pooled_model_is_the_first_patch():
    per_head = query_maps(mean_pooled_maps(), 0, query=0)
    assert per_head.shape == (1, 2, 2) and per_head[0].flatten().tolist() == [0.0, 0.0, 0.0, 1.0]


def test_maps_that_do_not_fit_their_layout_or_pooling_raise():
    with pytest.raises(ValueError, match="N_k=17"):
        AttentionMaps([torch.ones(1, 1, 17, 17)], TokenLayout((2, 2), 0), pool="mean")
    with pytest.raises(ValueError, match="class token"):
        AttentionMaps([torch.ones(1, 1, 4, 4)], TokenLayout((2, 2), 0), pool="cls")


def random_maps(batch: int = 2, heads: int = 3, depth: int = 2) -> AttentionMaps:
    """Softmax-normalised random maps of a class-token model on a 4 x 4 grid."""
    generator = torch.Generator().manual_seed(0)
    n = CLS_LAYOUT.num_tokens
    layers = [torch.softmax(torch.randn(batch, heads, n, n, generator=generator), dim=-1) for _ in range(depth)]
    return AttentionMaps(layers, CLS_LAYOUT)


def test_a_query_map_is_per_head_on_the_grid_and_leaves_out_the_class_token_key():
    maps = random_maps()
    per_head = query_maps(maps, -1, image=1)
    assert per_head.shape == (3, 4, 4)
    assert per_head[0].sum() == pytest.approx(1 - float(maps[-1][1, 0, 0, 0]), rel=1e-5)


def test_a_rollout_map_lies_on_the_grid_and_sums_to_one():
    heat = rollout_map(random_maps())
    assert heat.shape == (4, 4) and heat.sum() == pytest.approx(1.0)


def test_head_entropy_is_per_layer_and_head_and_uniform_is_log_n():
    maps = random_maps()
    assert head_entropy(maps).shape == (2, 3)
    uniform = [torch.full((1, 2, 5, 5), 0.2)]
    assert head_entropy(uniform) == pytest.approx(np.full((1, 2), math.log(5)), rel=1e-5)
    assert head_entropy(maps, queries=slice(0, 1)).shape == (2, 3)
