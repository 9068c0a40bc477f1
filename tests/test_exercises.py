"""The exercise checkers: each passes the reference solution, and fails every listed wrong answer with a message that
names the mistake. The reference solutions here are the ones in notebooks/solutions.ipynb."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dropkey_lib import exercises
from dropkey_lib.attention import dropkey_weights

# ----------------------------------------------------------------------------------------------------------------
# 02: DropKey. The solution is Algorithm 1's two lines on the scores; each wrong answer is one listed bug.


def dropkey(scores, drop_ratio):
    mask = torch.bernoulli(torch.full_like(scores, drop_ratio))  # 1 = dropped, per (..., query, key)
    return (scores + mask * -1e12).softmax(dim=-1)


def dropkey_masked_fill(scores, drop_ratio):
    drop = torch.rand(scores.shape) < drop_ratio
    return scores.masked_fill(drop, torch.finfo(scores.dtype).min).softmax(dim=-1)


def dropkey_library(scores, drop_ratio):
    return dropkey_weights(scores, drop_ratio)


def tiny_constant(scores, drop_ratio):  # the -1e-12 typo
    mask = torch.bernoulli(torch.full_like(scores, drop_ratio))
    return (scores + mask * -1e-12).softmax(dim=-1)


def dropout_after_softmax(scores, drop_ratio):  # timm's attn_drop: after the softmax, with the 1/(1 - ratio) rescale
    return F.dropout(scores.softmax(dim=-1), p=drop_ratio, training=True)


def mask_after_softmax(scores, drop_ratio):  # bug 3 of notebook 02: zero weights after the softmax, no rescale
    return scores.softmax(dim=-1).masked_fill(torch.rand(scores.shape) < drop_ratio, 0.0)


def rescaled(scores, drop_ratio):  # DropKey, then a 1/(1 - ratio) rescale that it does not need
    return dropkey(scores, drop_ratio) / (1 - drop_ratio)


def shared_across_queries(scores, drop_ratio):  # one mask per key, broadcast over the queries
    mask = torch.bernoulli(torch.full((*scores.shape[:-2], 1, scores.shape[-1]), drop_ratio))
    return (scores + mask * -1e12).softmax(dim=-1)


def shared_across_heads(scores, drop_ratio):  # one (N_q, N_k) mask for every sample and head
    mask = torch.bernoulli(torch.full(scores.shape[-2:], drop_ratio))
    return (scores + mask * -1e12).softmax(dim=-1)


def keeps_with_ratio(scores, drop_ratio):  # ratio used as the keep probability
    mask = torch.bernoulli(torch.full_like(scores, 1 - drop_ratio))
    return (scores + mask * -1e12).softmax(dim=-1)


def fixed_ratio(scores, drop_ratio):  # ignores its argument
    return dropkey(scores, 0.1)


def same_mask_every_call(scores, drop_ratio):  # seeds inside the function
    generator = torch.Generator().manual_seed(0)
    mask = torch.bernoulli(torch.full_like(scores, drop_ratio), generator=generator)
    return (scores + mask * -1e12).softmax(dim=-1)


def errors(scores, drop_ratio):
    return (scores + torch.bernoulli(torch.full(scores.shape[:-1], drop_ratio)) * -1e12).softmax(dim=-1)


def times_minus_inf(scores, drop_ratio):  # 0 * -inf = NaN on every kept entry
    mask = torch.bernoulli(torch.full_like(scores, drop_ratio))
    return (scores + mask * float("-inf")).softmax(dim=-1)


def masked_fill_minus_inf(scores, drop_ratio):  # NaN only in rows whose keys are all dropped
    return scores.masked_fill(torch.rand(scores.shape) < drop_ratio, float("-inf")).softmax(dim=-1)


def logit_zero(scores, drop_ratio):  # "drops" a key by setting its logit to 0, as zeroing the key vector does
    return scores.masked_fill(torch.rand(scores.shape) < drop_ratio, 0.0).softmax(dim=-1)


def in_place(scores, drop_ratio):
    return scores.masked_fill_(torch.rand(scores.shape) < drop_ratio, -1e12).softmax(dim=-1)


def wrong_dimension(scores, drop_ratio):
    mask = torch.bernoulli(torch.full_like(scores, drop_ratio))
    return (scores + mask * -1e12).softmax(dim=-2)


def rescaled_scores(scores, drop_ratio):  # scales the (already scaled) logits again
    return dropkey(scores / math.sqrt(scores.shape[-1]), drop_ratio)


def exactly_ratio_per_row(scores, drop_ratio):  # drops round(ratio * N_k) random keys in every row
    count = round(drop_ratio * scores.shape[-1])
    ranks = torch.rand(scores.shape).argsort(-1).argsort(-1)
    return scores.masked_fill(ranks < count, -1e12).softmax(dim=-1)


def whole_queries(scores, drop_ratio):  # one coin per query: the whole row is dropped
    mask = torch.bernoulli(torch.full((*scores.shape[:-1], 1), drop_ratio))
    return (scores + mask * -1e12).softmax(dim=-1)


def not_attempted(scores, drop_ratio):
    raise NotImplementedError


@pytest.mark.parametrize("solution", [dropkey, dropkey_masked_fill, dropkey_library])
def test_check_dropkey_passes_correct_dropkey(solution, capsys):
    exercises.check_dropkey(solution)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (tiny_constant, "did you write -1e-12"),
        (dropout_after_softmax, "dropout after the softmax, with the 1/(1 - ratio) rescale"),
        (mask_after_softmax, "you zero weights after the softmax"),
        (rescaled, "you rescale by 1/(1 - ratio)"),
        (shared_across_queries, "shared across the query dimension"),
        (shared_across_heads, "shared across the batch dimension"),
        (keeps_with_ratio, "that is 1 - ratio"),
        (fixed_ratio, "but the ratio is 0.3"),
        (same_mask_every_call, "every call of same_mask_every_call drops (nearly) the same entries"),
        (errors, "raised runtimeerror"),
        (times_minus_inf, "returned nan"),
        (masked_fill_minus_inf, "returned nan"),
        (logit_zero, "no weight is exactly 0"),
        (in_place, "changed its input in place"),
        (wrong_dimension, "your columns sum to one"),
        (rescaled_scores, "not the softmax renormalised over the kept keys"),
        (exactly_ratio_per_row, "number of dropped keys per row has variance"),
        (whole_queries, "whole queries are dropped"),
    ],
)
def test_check_dropkey_fails_each_bug_and_says_which(wrong, message):
    with pytest.raises(AssertionError) as error:
        exercises.check_dropkey(wrong)
    assert message in str(error.value).lower()


def test_check_dropkey_reports_an_error_with_its_cause():
    with pytest.raises(AssertionError) as error:
        exercises.check_dropkey(errors)
    assert isinstance(error.value.__cause__, RuntimeError)


def test_a_stub_is_not_attempted_and_does_not_fail(capsys):
    exercises.check_dropkey(not_attempted)
    assert capsys.readouterr().out.startswith("check_dropkey: not attempted yet. Replace `raise NotImplementedError`")


def test_checkers_leave_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    exercises.check_dropkey(dropkey)
    assert torch.equal(torch.rand(3), expected)


def test_checker_rejects_an_answer_that_is_not_a_function():
    with pytest.raises(TypeError, match="takes your function"):
        exercises.check_dropkey(0.3)


# ----------------------------------------------------------------------------------------------------------------
# 01: post-softmax attention dropout


def attention_dropout(weights, drop_ratio):
    keep = torch.rand(weights.shape) >= drop_ratio
    return weights * keep / (1 - drop_ratio)


def attention_dropout_torch(weights, drop_ratio):
    return F.dropout(weights, p=drop_ratio, training=True)


def dropout_without_rescale(weights, drop_ratio):
    return weights * (torch.rand(weights.shape) >= drop_ratio)


def dropout_times_keep(weights, drop_ratio):
    return weights * (torch.rand(weights.shape) >= drop_ratio) * (1 - drop_ratio)


def dropout_renormalised(weights, drop_ratio):
    kept = weights * (torch.rand(weights.shape) >= drop_ratio)
    return kept / kept.sum(-1, keepdim=True).clamp_min(1e-30)


def dropout_eval_mode(weights, drop_ratio):
    return F.dropout(weights, p=drop_ratio, training=False)


def dropout_keeps_with_ratio(weights, drop_ratio):
    return weights * (torch.rand(weights.shape) < drop_ratio) / (1 - drop_ratio)


def dropout_shared_over_queries(weights, drop_ratio):
    keep = torch.rand((*weights.shape[:-2], 1, weights.shape[-1])) >= drop_ratio
    return weights * keep / (1 - drop_ratio)


@pytest.mark.parametrize("solution", [attention_dropout, attention_dropout_torch])
def test_check_attention_dropout_passes_dropout(solution, capsys):
    exercises.check_attention_dropout(solution)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (dropout_without_rescale, "not rescaled"),
        (dropout_times_keep, "multiply the survivors by (1 - ratio)"),
        (dropout_renormalised, "you renormalise the rows"),
        (dropout_eval_mode, "drops nothing"),
        (dropout_keeps_with_ratio, "that is 1 - ratio"),
        (dropout_shared_over_queries, "shared across the query dimension"),
    ],
)
def test_check_attention_dropout_fails_each_mistake(wrong, message):
    with pytest.raises(AssertionError, match=None) as error:
        exercises.check_attention_dropout(wrong)
    assert message in str(error.value).lower()


# ----------------------------------------------------------------------------------------------------------------
# 03: smoothing coefficients by enumeration


def smoothing_coefficients(p, drop_ratio):
    n = len(p)
    c = np.zeros(n)
    for j in range(n):
        others = [i for i in range(n) if i != j]
        for pattern in range(2 ** (n - 1)):
            kept = [i for bit, i in enumerate(others) if pattern >> bit & 1]
            probability = (1 - drop_ratio) ** len(kept) * drop_ratio ** (n - 1 - len(kept))
            c[j] += probability / (p[j] + sum(p[i] for i in kept))
    return (1 - drop_ratio) * c


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda p, r: smoothing_coefficients(p, r) / (1 - r), "c_j / (1 - r)"),
        (lambda p, r: smoothing_coefficients(p, r) * p, "you return e[p_hat_j]"),
        (lambda p, r: smoothing_coefficients(p, r) + r ** len(p) / (len(p) * p), "all-dropped row as uniform"),
        (lambda p, r: np.ones(len(p)), "c_j = 1 for every key"),
        (lambda p, r: smoothing_coefficients(p, r)[:-1], "numbers for a row of"),
        (lambda p, r: (1 - r) / (1 - r + r * p), "your coefficients differ"),  # the large-n approximation
    ],
)
def test_check_smoothing_coefficients(wrong, message, capsys):
    exercises.check_smoothing_coefficients(smoothing_coefficients)
    assert capsys.readouterr().out.startswith("Correct: ")
    with pytest.raises(AssertionError) as error:
        exercises.check_smoothing_coefficients(wrong)
    assert message in str(error.value).lower()


# ----------------------------------------------------------------------------------------------------------------
# 04: the value gradients


def value_gradients(p, values, y):
    return p[:, None] * (p @ values - y)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda p, v, y: p[:, None] * (y - p @ v), "wrong sign"),
        (lambda p, v, y: (p @ v - y).expand_as(v), "missing the factor p_s"),
        (lambda p, v, y: p @ v - y, "returned shape"),
        (lambda p, v, y: p[:, None] * (v - y), "differs from autograd"),
    ],
)
def test_check_value_gradients(wrong, message, capsys):
    exercises.check_value_gradients(value_gradients)
    assert capsys.readouterr().out.startswith("Correct: ")
    with pytest.raises(AssertionError) as error:
        exercises.check_value_gradients(wrong)
    assert message in str(error.value).lower()


# ----------------------------------------------------------------------------------------------------------------
# 05: a decreasing schedule


def linear_down(drop_ratio, depth):
    if depth == 1:
        return [drop_ratio]
    return [2 * drop_ratio * (depth - 1 - layer) / (depth - 1) for layer in range(depth)]


def geometric_down(drop_ratio, depth):
    q = 0.5 ** (1 / max(depth - 1, 1))  # the last layer drops half as much as the first
    shape = [q**layer for layer in range(depth)]
    return [drop_ratio * depth * s / sum(shape) for s in shape]


@pytest.mark.parametrize(("solution", "kind"), [(linear_down, "linear_down"), (geometric_down, "your own")])
def test_check_schedule_passes_decreasing_schedules_with_the_mean(solution, kind, capsys):
    exercises.check_schedule(solution)
    out = capsys.readouterr().out
    assert out.startswith("Correct: ") and kind in out


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda r, d: linear_down(r, d)[::-1], "increases somewhere"),
        (lambda r, d: [r] * d, "is constant"),
        (lambda r, d: np.linspace(r, 0, d).tolist(), "half the ratio"),
        (lambda r, d: linear_down(r, d)[:-1] or [r], "entries"),
        (lambda r, d: [r * 0.8**layer for layer in range(d)], "has mean"),
        (lambda r, d: [r * d * 0.2 * 0.8**layer / (1 - 0.8**d) for layer in range(d)], "outside [0, 1)"),
        (lambda r, d: None, "not a list of numbers"),
    ],
)
def test_check_schedule_fails_each_mistake(wrong, message):
    with pytest.raises(AssertionError) as error:
        exercises.check_schedule(wrong)
    assert message in str(error.value).lower()


# ----------------------------------------------------------------------------------------------------------------
# 06: the seed probability


def seed_probability(drop_ratio, window_size, shape):
    cover = window_size**2 if shape == "block" else 2 * window_size - 1
    return 1 - (1 - drop_ratio) ** (1 / cover)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda r, w, s: r / (w * w if s == "block" else 2 * w - 1), "small-ratio approximation"),
        (lambda r, w, s: r, "each seed drops a whole window"),
        (lambda r, w, s: 1 - (1 - r) ** (1 / (w * w)), "the other shape"),
    ],
)
def test_check_seed_probability(wrong, message, capsys):
    exercises.check_seed_probability(seed_probability)
    assert capsys.readouterr().out.startswith("Correct: ")
    with pytest.raises(AssertionError) as error:
        exercises.check_seed_probability(wrong)
    assert message in str(error.value).lower()


# ----------------------------------------------------------------------------------------------------------------
# 07: the parameter count


def parameter_count(config):
    c, hidden = config.dim, int(config.dim * config.mlp_ratio)
    tokens = (config.image_size // config.patch_size) ** 2 + (1 if config.pool == "cls" else 0)
    patch_embed = 3 * config.patch_size**2 * c + c
    prefix = c if config.pool == "cls" else 0
    block = 2 * 2 * c + (c * 3 * c + 3 * c) + (c * c + c) + (c * hidden + hidden) + (hidden * c + c)
    return (
        patch_embed + prefix + tokens * c + config.depth * block + 2 * c + c * config.num_classes + config.num_classes
    )


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda config: parameter_count(config) - config.dim, "one `dim` short"),
        (lambda config: parameter_count(config) - 4 * config.dim * config.depth - 2 * config.dim, "layernorms"),
        (lambda config: parameter_count(config) * config.num_heads // 4, "off by"),
        (lambda config: float(parameter_count(config)) + 0.5, "whole number"),
    ],
)
def test_check_parameter_count(wrong, message, capsys):
    exercises.check_parameter_count(parameter_count)
    assert capsys.readouterr().out.startswith("Correct: ")
    with pytest.raises(AssertionError) as error:
        exercises.check_parameter_count(wrong)
    assert message in str(error.value).lower()


# ----------------------------------------------------------------------------------------------------------------
# 08: the learning-rate schedule


def warmup_cosine(step, total_steps, warmup_steps, base_lr):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * 0.5 * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda s, t, w, b: b * s / w if s < w else warmup_cosine(s, t, w, b), "learning rate 0"),
        (lambda s, t, w, b: warmup_cosine(s, t, w, b) if s < w else b * (1 - (s - w) / (t - w)), "linear decay"),
        (lambda s, t, w, b: b * 0.5 * (1 + math.cos(math.pi * s / t)), "during the warm-up"),
        (
            lambda s, t, w, b: warmup_cosine(s, t, w, b) if s < w else b * 0.5 * (1 + math.cos(math.pi * s / t)),
            "after the warm-up",
        ),
    ],
)
def test_check_learning_rate(wrong, message, capsys):
    exercises.check_learning_rate(warmup_cosine)
    assert capsys.readouterr().out.startswith("Correct: ")
    with pytest.raises(AssertionError) as error:
        exercises.check_learning_rate(wrong)
    assert message in str(error.value).lower()
