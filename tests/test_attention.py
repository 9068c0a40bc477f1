"""DropKey semantics: what the attention op and its masks must do."""

import math

import pytest
import torch

from dropkey_lib.attention import (
    Attention,
    DropConfig,
    TokenLayout,
    additive_mask,
    attention,
    bernoulli_indices,
    drop_mask_for,
    dropkey_attention_reference,
    dropkey_weights,
    sample_drop_mask,
    sample_key_drops,
    sample_structured_drops,
    seed_probability,
)
from dropkey_lib.attention_config import MODES


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def qkv(*shape: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.randn(3, *shape, generator=generator(seed)).unbind(0)


def binomial_bound(n: int, p: float, sigmas: float = 5.0) -> float:
    """A 5-sigma bound on |empirical fraction - p| for n Bernoulli(p) draws."""
    return sigmas * math.sqrt(p * (1 - p) / n)


# --- the mask -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("drop_ratio", [0.05, 0.1, 0.3, 0.5, 0.7, 0.95])
def test_drop_rate_matches_ratio_within_sampling_error(drop_ratio):
    drops = sample_key_drops((64, 4, 65, 65), drop_ratio, generator=generator())
    assert abs(drops.float().mean().item() - drop_ratio) < binomial_bound(drops.numel(), drop_ratio)


def test_every_entry_is_dropped_with_the_same_probability():
    # The geometric-gap sampler must not favour the start or the end of the tensor.
    counts = torch.zeros(200)
    trials = 4000
    g = generator(1)
    for _ in range(trials):
        counts += sample_key_drops((200,), 0.2, generator=g).float()
    frequencies = counts / trials
    assert (frequencies - 0.2).abs().max() < binomial_bound(trials, 0.2, sigmas=5.0)


def test_drops_are_independent_across_queries():
    drops = sample_key_drops((256, 32, 32), 0.3, generator=generator()).float()
    first, second = drops[:, 0, :].flatten(), drops[:, 1, :].flatten()
    both = (first * second).mean().item()
    assert abs(both - 0.3 * 0.3) < binomial_bound(first.numel(), 0.09)
    assert not torch.equal(drops[:, 0, :], drops[:, 1, :])


def test_gaps_between_drops_are_geometric():
    indices = bernoulli_indices(1_000_000, 0.25, generator=generator())
    gaps = torch.diff(indices).float()
    assert abs(gaps.mean().item() - 4.0) < 0.05  # E[Geometric(0.25)] = 1 / 0.25
    assert abs((gaps == 1).float().mean().item() - 0.25) < 0.005


@pytest.mark.parametrize("probability", [1e-7, 1e-300])
def test_tiny_probabilities_give_valid_indices(probability):
    # Below 1e-6 the sampler switches to float64; in float32 a gap of 1 / probability would not be exact.
    numel = 10**9
    counts = [bernoulli_indices(numel, probability, generator=generator(seed)) for seed in range(20)]
    for indices in counts:
        assert ((indices >= 0) & (indices < numel)).all() and (torch.diff(indices) > 0).all()
    expected = 20 * numel * probability
    assert abs(sum(len(indices) for indices in counts) - expected) < 5 * math.sqrt(expected) + 1


def test_ratio_zero_drops_nothing():
    assert not sample_key_drops((8, 16, 16), 0.0, generator=generator()).any()


def test_the_same_generator_state_gives_the_same_mask():
    assert torch.equal(
        sample_key_drops((4, 9, 9), 0.3, generator=generator(7)),
        sample_key_drops((4, 9, 9), 0.3, generator=generator(7)),
    )


def test_the_fast_path_mask_is_the_bool_mask_as_an_additive_mask():
    drops = sample_key_drops((4, 3, 9, 9), 0.3, generator=generator(3))
    additive = drop_mask_for((4, 3, 9, 9), DropConfig("dropkey", 0.3), None, torch.float32, generator(3))
    assert torch.equal(additive, additive_mask(drops, torch.float32))


# --- the weights ----------------------------------------------------------------------------------------------


def test_dropped_keys_get_exactly_zero_weight():
    scores = torch.randn(8, 12, 12, generator=generator())
    drops = sample_key_drops(scores.shape, 0.4, generator=generator(1))
    weights = dropkey_weights(scores, 0.4, drop_mask=drops)
    assert (weights[drops & ~drops.all(-1, keepdim=True)] == 0).all()


def test_rows_sum_to_one_without_rescaling():
    scores = torch.randn(8, 12, 12, generator=generator())
    weights = dropkey_weights(scores, 0.4, generator=generator(1))
    torch.testing.assert_close(weights.sum(-1), torch.ones(8, 12))


def test_kept_weights_are_the_softmax_renormalised_over_kept_keys():
    scores = torch.randn(6, 10, 10, generator=generator(), dtype=torch.float64)
    drops = sample_key_drops(scores.shape, 0.3, generator=generator(1))
    keep = (~drops).double()
    plain = scores.softmax(-1)
    expected = plain * keep / (plain * keep).sum(-1, keepdim=True)  # normalised DropAttention, paper notes (N9)
    rows = ~drops.all(-1)
    torch.testing.assert_close(dropkey_weights(scores, 0.3, drop_mask=drops)[rows], expected[rows])


def test_all_dropped_row_becomes_uniform():
    scores = torch.randn(3, 5, generator=generator())
    weights = dropkey_weights(scores, 0.5, drop_mask=torch.ones(3, 5, dtype=torch.bool))
    torch.testing.assert_close(weights, torch.full((3, 5), 0.2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_all_dropped_row_never_gives_nan(dtype):
    scores = (torch.randn(4, 7, generator=generator()) * 30).to(dtype)
    drops = torch.zeros(4, 7, dtype=torch.bool)
    drops[0] = True
    weights = dropkey_weights(scores, 0.5, drop_mask=drops)
    assert torch.isfinite(weights).all()
    q, k, v = (t.to(dtype) for t in qkv(2, 7, 8))
    out = attention(
        q, k, v, mode="dropkey", drop_ratio=0.5, training=True, drop_mask=torch.ones(2, 7, 7, dtype=torch.bool)
    )
    assert torch.isfinite(out).all()


def test_dropped_logits_get_zero_gradient():
    scores = torch.randn(5, 9, 9, generator=generator(), requires_grad=True)
    drops = sample_key_drops(scores.shape, 0.3, generator=generator(1))
    weights = dropkey_weights(scores, 0.3, drop_mask=drops)
    (weights * torch.randn(5, 9, 9, generator=generator(2))).sum().backward()
    assert (scores.grad[drops & ~drops.all(-1, keepdim=True)] == 0).all()
    assert (scores.grad[~drops] != 0).any()


def test_expected_weights_are_not_rescaled_by_one_over_keep_probability():
    # DropKey has no 1/(1 - r) factor: the Monte-Carlo mean of a row still sums to about one, not 1/(1 - r).
    scores = torch.randn(1, 6, generator=generator()).expand(20000, 6)
    weights = dropkey_weights(scores, 0.5, generator=generator(1))
    assert abs(weights.mean(0).sum().item() - 1.0) < 1e-5


# --- the Algorithm 1 oracle -----------------------------------------------------------------------------------


def test_fast_path_equals_algorithm_1_under_the_same_mask():
    q, k, v = qkv(2, 4, 17, 8)
    drops = sample_key_drops((2, 4, 17, 17), 0.3, generator=generator(1))
    fast = attention(q, k, v, mode="dropkey", drop_ratio=0.3, training=True, drop_mask=drops)
    torch.testing.assert_close(fast, dropkey_attention_reference(q, k, v, 0.3, drop_mask=drops))


def test_fast_path_samples_the_same_mask_as_sample_key_drops():
    q, k, v = qkv(2, 4, 17, 8)
    fast = attention(q, k, v, mode="dropkey", drop_ratio=0.3, training=True, generator=generator(5))
    drops = sample_key_drops((2, 4, 17, 17), 0.3, generator=generator(5))
    torch.testing.assert_close(fast, dropkey_attention_reference(q, k, v, 0.3, drop_mask=drops))


def test_fast_path_equals_the_oracle_on_all_dropped_rows():
    q, k, v = qkv(1, 6, 4)
    drops = torch.zeros(1, 6, 6, dtype=torch.bool)
    drops[0, 2] = True
    fast = attention(q, k, v, mode="dropkey", drop_ratio=0.3, training=True, drop_mask=drops)
    torch.testing.assert_close(fast, dropkey_attention_reference(q, k, v, 0.3, drop_mask=drops))


def gradients(op, q, k, v, upstream):
    """(dq, dk, dv) of sum(op(q, k, v) * upstream)."""
    q, k, v = (t.clone().requires_grad_() for t in (q, k, v))
    (op(q, k, v) * upstream).sum().backward()
    return q.grad, k.grad, v.grad


def dropkey_ops(drops, d):
    """The fast path, the Algorithm 1 oracle and the exact form (dropkey_weights), all under the mask `drops`."""
    return {
        "fast": lambda q, k, v: attention(q, k, v, mode="dropkey", drop_ratio=0.5, training=True, drop_mask=drops),
        "oracle": lambda q, k, v: dropkey_attention_reference(q, k, v, 0.5, drop_mask=drops),
        "exact": lambda q, k, v: dropkey_weights(q @ k.transpose(-2, -1) / math.sqrt(d), 0.5, drop_mask=drops) @ v,
    }


def test_fast_path_gradient_equals_the_exact_one_on_rows_with_a_kept_key():
    q, k, v = qkv(2, 9, 8)
    drops = sample_key_drops((2, 9, 9), 0.3, generator=generator(1))
    assert not drops.all(-1).any()
    upstream = torch.randn(2, 9, 8, generator=generator(2))
    ops = dropkey_ops(drops, 8)
    for fast, exact in zip(gradients(ops["fast"], q, k, v, upstream), gradients(ops["exact"], q, k, v, upstream)):
        torch.testing.assert_close(fast, exact)


def test_fast_path_gradient_of_an_all_dropped_row_is_not_that_of_its_forward_pass():
    # The difference that attention()'s docstring states. Row 2 drops every key: its output is the mean of v in all
    # three forms, which depends on neither q nor k. Only the exact form's gradient says so.
    n, d = 5, 4
    q, k, v = qkv(1, n, d)
    drops = torch.zeros(1, n, n, dtype=torch.bool)
    drops[0, 2] = True
    upstream = torch.zeros(1, n, d)
    upstream[0, 2] = torch.randn(d, generator=generator(2))  # the gradient enters through the all-dropped row only
    ops = dropkey_ops(drops, d)
    for op in ops.values():
        torch.testing.assert_close(op(q, k, v)[0, 2], v[0].mean(0))
    dq, dk, dv = gradients(ops["exact"], q, k, v, upstream)
    assert not dq.any() and not dk.any()
    torch.testing.assert_close(dv, (upstream[0, 2] / n).expand(1, n, d))
    fast_dq, fast_dk, fast_dv = gradients(ops["fast"], q, k, v, upstream)
    assert fast_dq[0, 2].abs().sum() > 0.1 and fast_dk.abs().sum() > 0.1  # a gradient the forward pass does not have
    torch.testing.assert_close(fast_dv, n * dv)  # the fused CPU kernel: weights 1 instead of 1/N_k in the backward
    oracle_dq, _, oracle_dv = gradients(ops["oracle"], q, k, v, upstream)
    assert oracle_dq[0, 2].abs().sum() > 0.1
    torch.testing.assert_close(oracle_dv, dv)


def test_weights_equal_algorithm_1_weights():
    q, k, v = qkv(3, 11, 8)
    drops = sample_key_drops((3, 11, 11), 0.4, generator=generator(1))
    eye = torch.eye(11).expand(3, 11, 11)  # with V = I the output of Algorithm 1 is its weight matrix
    weights = dropkey_weights((q @ k.transpose(-2, -1)) / math.sqrt(8), 0.4, drop_mask=drops)
    torch.testing.assert_close(weights, dropkey_attention_reference(q, k, eye, 0.4, drop_mask=drops))


def test_reference_really_masks_dropped_keys():
    # Regression for a public copy of Algorithm 1 that adds mask * -1e-12: DropKey silently becomes plain
    # attention. The oracle must give the renormalised weights, which differ from plain attention.
    q, k, v = qkv(2, 9, 8)
    drops = sample_key_drops((2, 9, 9), 0.5, generator=generator(1))
    scores = q @ k.transpose(-2, -1) / math.sqrt(8)
    expected = dropkey_weights(scores, 0.5, drop_mask=drops) @ v
    reference = dropkey_attention_reference(q, k, v, 0.5, drop_mask=drops)
    torch.testing.assert_close(reference, expected)
    assert not torch.allclose(reference, scores.softmax(-1) @ v, atol=1e-3)


def test_reference_scales_by_the_head_dimension_on_4d_inputs():
    # The paper's `Q.shape[1] ** -0.5` would scale by the number of heads here.
    q, k, v = qkv(2, 3, 5, 16)
    torch.testing.assert_close(
        dropkey_attention_reference(q, k, v, 0.0, use_dropkey=False),
        ((q @ k.transpose(-2, -1)) / 4.0).softmax(-1) @ v,
    )


# --- modes ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_eval_is_exactly_plain_attention(mode):
    q, k, v = qkv(2, 2, 17, 8)
    plain = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    out = attention(q, k, v, mode=mode, drop_ratio=0.5, training=False, grid_size=(4, 4), num_prefix_tokens=1)
    assert torch.equal(out, plain)


@pytest.mark.parametrize("mode", ["dropout", "dropkey", "dropkey_block", "dropkey_cross"])
def test_training_with_a_positive_ratio_changes_the_output(mode):
    q, k, v = qkv(2, 2, 17, 8)
    plain = attention(q, k, v)
    out = attention(q, k, v, mode=mode, drop_ratio=0.3, training=True, grid_size=(4, 4), num_prefix_tokens=1)
    assert not torch.allclose(out, plain)


def test_dropout_mode_rescales_kept_weights():
    # Classic attention dropout: E[output] = plain output, because kept weights are scaled by 1/(1 - r).
    torch.manual_seed(0)
    q, k, v = qkv(1, 8, 4)
    q, k, v = (t.expand(20000, 8, 4) for t in (q, k, v))
    out = attention(q, k, v, mode="dropout", drop_ratio=0.5, training=True).mean(0)
    torch.testing.assert_close(out, attention(q[:1], k[:1], v[:1])[0], atol=0.03, rtol=0)


def test_attention_module_shapes_and_modes():
    x = torch.randn(2, 17, 32)
    for mode in MODES:
        module = Attention(32, 4, DropConfig(mode, 0.2), TokenLayout((4, 4), 1)).train()
        assert module(x).shape == (2, 17, 32)
        weights = module.attention_weights(x)
        assert weights.shape == (2, 4, 17, 17)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 17))


# --- structured masks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["block", "cross"])
@pytest.mark.parametrize("window_size", [1, 3, 5])
@pytest.mark.parametrize("drop_ratio", [0.1, 0.3])
def test_structured_dropped_fraction_matches_ratio(shape, window_size, drop_ratio):
    drops = sample_structured_drops(
        (4000,), (8, 8), drop_ratio, shape=shape, window_size=window_size, num_prefix_tokens=1, generator=generator()
    )
    assert drops.shape == (4000, 65)
    # Drops inside one window are correlated, so allow a wider margin than for independent draws.
    assert abs(drops.float().mean().item() - drop_ratio) < 0.01


@pytest.mark.parametrize("shape", ["block", "cross"])
def test_structured_border_keys_are_dropped_as_often_as_central_ones(shape):
    drops = sample_structured_drops((40000,), (8, 8), 0.3, shape=shape, window_size=3, generator=generator())
    per_key = drops.float().mean(0).view(8, 8)
    assert abs(per_key[0, 0].item() - 0.3) < 0.02 and abs(per_key[4, 4].item() - 0.3) < 0.02


def test_block_window_drops_a_square_around_each_seed():
    drops, seeds = sample_structured_drops(
        (500,), (8, 8), 0.05, shape="block", window_size=3, generator=generator(), return_seeds=True
    )
    expected = torch.nn.functional.max_pool2d(seeds.float().unsqueeze(1), 3, stride=1, padding=1).squeeze(1).bool()
    # Seeds outside the grid can drop border keys too, so in-grid seeds explain a subset of the drops.
    assert (drops.view(500, 8, 8) | ~expected).all()
    assert seeds.any()


def test_cross_window_drops_a_plus_around_each_seed():
    drops, seeds = sample_structured_drops(
        (500,), (8, 8), 0.05, shape="cross", window_size=3, generator=generator(), return_seeds=True
    )
    s = seeds.float().unsqueeze(1)
    row = torch.nn.functional.max_pool2d(s, (1, 3), stride=1, padding=(0, 1))
    col = torch.nn.functional.max_pool2d(s, (3, 1), stride=1, padding=(1, 0))
    expected = torch.maximum(row, col).squeeze(1).bool()
    assert (drops.view(500, 8, 8) | ~expected).all()
    diagonal_neighbours = torch.nn.functional.max_pool2d(s, 3, stride=1, padding=1).squeeze(1).bool() & ~expected
    assert (diagonal_neighbours & ~drops.view(500, 8, 8)).any()  # corners of the square are not part of a cross


def test_window_size_one_is_plain_dropkey_rate():
    assert seed_probability(0.3, 1, "block") == pytest.approx(0.3)
    assert seed_probability(0.3, 1, "cross") == pytest.approx(0.3)


def test_structured_mask_has_scores_shape():
    drops = sample_drop_mask((2, 4, 17, 17), "dropkey_cross", 0.2, grid_size=(4, 4), num_prefix_tokens=1)
    assert drops.shape == (2, 4, 17, 17) and drops.dtype == torch.bool


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("drop_ratio", [-0.1, 1.0, 1.5, float("nan"), "0.1x"])
def test_invalid_ratio_raises_naming_ratio(drop_ratio):
    q, k, v = qkv(2, 5, 4)
    with pytest.raises(ValueError, match="ratio"):
        attention(q, k, v, mode="dropkey", drop_ratio=drop_ratio, training=True)
    with pytest.raises(ValueError, match="ratio"):
        dropkey_weights(torch.zeros(3, 3), drop_ratio)


def test_unknown_mode_raises_naming_mode():
    q, k, v = qkv(2, 5, 4)
    with pytest.raises(ValueError, match="mode"):
        attention(q, k, v, mode="drop_key", drop_ratio=0.1, training=True)


@pytest.mark.parametrize(
    "shapes, name",
    [
        (((2, 5, 4), (2, 6, 4), (2, 5, 4)), "k and v"),
        (((2, 5, 4), (2, 5, 3), (2, 5, 4)), "q and k"),
        (((2, 5, 4), (3, 5, 4), (3, 5, 4)), "q, k and v"),
    ],
)
def test_mismatched_qkv_raises(shapes, name):
    q, k, v = (torch.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=name):
        attention(q, k, v)


@pytest.mark.parametrize("mode", ["dropkey_block", "dropkey_cross"])
def test_structured_modes_without_a_grid_raise_naming_grid_size(mode):
    q, k, v = qkv(2, 17, 4)
    with pytest.raises(ValueError, match="grid_size"):
        attention(q, k, v, mode=mode, drop_ratio=0.1, training=True)
    with pytest.raises(ValueError, match="layout"):
        Attention(16, 2, DropConfig(mode, 0.1))


def test_grid_that_does_not_match_the_keys_raises():
    with pytest.raises(ValueError, match="grid_size"):
        sample_drop_mask((2, 17, 17), "dropkey_block", 0.1, grid_size=(4, 4), num_prefix_tokens=0)


def test_even_window_size_raises_naming_window_size():
    with pytest.raises(ValueError, match="window_size"):
        sample_structured_drops((2,), (4, 4), 0.1, shape="block", window_size=2)


def test_drop_mask_of_the_wrong_shape_raises():
    with pytest.raises(ValueError, match="drop_mask"):
        dropkey_weights(torch.zeros(3, 4), 0.1, drop_mask=torch.zeros(4, 3, dtype=torch.bool))
