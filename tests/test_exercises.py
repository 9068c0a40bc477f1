"""The exercise checkers: each passes the reference solution and correct answers written in other styles (float32 and
float64, torch and NumPy, in place on a copy or not), and fails every listed wrong answer with a message that names
the mistake. The reference solutions here are the ones in notebooks/solutions.ipynb."""

import itertools
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


def dropkey_in_place_on_a_copy(scores, drop_ratio):
    logits = scores.clone()
    logits[torch.rand(scores.shape) < drop_ratio] = -1e12
    return logits.softmax(dim=-1)


def dropkey_float64(scores, drop_ratio):  # float64 keeps logits near -1e12 apart: an all-dropped row is plain
    mask = torch.bernoulli(torch.full_like(scores, drop_ratio)).double()
    return (scores.double() + mask * -1e12).softmax(dim=-1)


def dropkey_numpy_float32(scores, drop_ratio):
    logits = np.where(torch.rand(scores.shape).numpy() < drop_ratio, np.float32(-1e12), scores.numpy())
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def dropkey_numpy_float64(scores, drop_ratio):
    logits = scores.numpy().astype(np.float64) + (torch.rand(scores.shape).numpy() < drop_ratio) * -1e12
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


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


def returns_logits(scores, drop_ratio):  # Algorithm 1 without its softmax
    mask = torch.bernoulli(torch.full_like(scores, drop_ratio))
    return scores + mask * -1e12


def returns_masked_fill_logits(scores, drop_ratio):  # the library's masking, without its softmax
    return scores.masked_fill(torch.rand(scores.shape) < drop_ratio, torch.finfo(scores.dtype).min)


def returns_log_weights(scores, drop_ratio):  # log_softmax: log-probabilities, all negative
    return torch.log_softmax(scores.masked_fill(torch.rand(scores.shape) < drop_ratio, -1e12), dim=-1)


def negative_weights_summing_to_one(scores, drop_ratio):  # rows sum to 2 - 1 = 1, but dropped keys get -1 / N_k
    return 2 * dropkey(scores, drop_ratio) - 1 / scores.shape[-1]


def multiplies_the_mask(scores, drop_ratio):  # multiplies where Algorithm 1 adds
    mask = torch.bernoulli(torch.full_like(scores, drop_ratio))
    return (scores * (mask * -1e12)).softmax(dim=-1)


def exp_without_normalising(scores, drop_ratio):  # the softmax's numerator only
    return scores.masked_fill(torch.rand(scores.shape) < drop_ratio, -1e12).exp()


def not_attempted(scores, drop_ratio):
    raise NotImplementedError


@pytest.mark.parametrize(
    "solution",
    [
        dropkey,
        dropkey_masked_fill,
        dropkey_library,
        dropkey_in_place_on_a_copy,
        dropkey_float64,
        dropkey_numpy_float32,
        dropkey_numpy_float64,
    ],
)
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
        (returns_logits, "returned logits, not weights"),
        (returns_masked_fill_logits, "returned logits, not weights"),
        (returns_log_weights, "are negative"),
        (negative_weights_summing_to_one, "are negative"),
        (multiplies_the_mask, "multiplying the scores by the mask"),
        (exp_without_normalising, "above one"),
    ],
)
def test_check_dropkey_fails_each_bug_and_says_which(wrong, message):
    with pytest.raises(AssertionError) as error:
        exercises.check_dropkey(wrong)
    assert message in str(error.value).lower()


def test_check_dropkey_tells_returned_logits_to_apply_the_softmax_not_to_add_a_negative_logit():
    with pytest.raises(AssertionError) as error:
        exercises.check_dropkey(returns_logits)
    assert "softmax(dim=-1)" in str(error.value)
    assert "hugely negative value before the softmax" not in str(error.value)


def test_check_dropkey_tells_a_multiplied_mask_to_add_it_instead():
    with pytest.raises(AssertionError) as error:
        exercises.check_dropkey(multiplies_the_mask)
    assert "scores + mask * -1e12" in str(error.value)
    assert "neighbouring keys" not in str(error.value)


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


def attention_dropout_where(weights, drop_ratio):
    return torch.where(torch.rand(weights.shape) < drop_ratio, 0.0, weights / (1 - drop_ratio))


def attention_dropout_in_place_on_a_copy(weights, drop_ratio):
    out = weights.clone()
    out[torch.rand(weights.shape) < drop_ratio] = 0.0
    out /= 1 - drop_ratio
    return out


def attention_dropout_float64(weights, drop_ratio):
    return weights.double() * (torch.rand(weights.shape) >= drop_ratio) / (1 - drop_ratio)


def attention_dropout_numpy_float32(weights, drop_ratio):
    keep = torch.rand(weights.shape).numpy() >= drop_ratio
    return weights.numpy() * keep / np.float32(1 - drop_ratio)


def attention_dropout_numpy_float64(weights, drop_ratio):
    keep = torch.rand(weights.shape).numpy() >= drop_ratio
    return weights.numpy().astype(np.float64) * keep / (1 - drop_ratio)


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


def dropout_negated(weights, drop_ratio):
    return -attention_dropout(weights, drop_ratio)


def dropout_in_place(weights, drop_ratio):
    return weights.mul_(torch.rand(weights.shape) >= drop_ratio).div_(1 - drop_ratio)


@pytest.mark.parametrize(
    "solution",
    [
        attention_dropout,
        attention_dropout_torch,
        attention_dropout_where,
        attention_dropout_in_place_on_a_copy,
        attention_dropout_float64,
        attention_dropout_numpy_float32,
        attention_dropout_numpy_float64,
    ],
)
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
        (dropout_negated, "are negative"),
        (dropout_in_place, "changed its input in place"),
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


def smoothing_coefficients_torch(p, drop_ratio, dtype=torch.float32):  # c_j = E[m_j / kept mass], all patterns at once
    p = torch.as_tensor(p, dtype=dtype)
    n = len(p)
    patterns = torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=dtype)  # (2**n, n), 1 = kept
    probability = (1 - drop_ratio) ** patterns.sum(-1) * drop_ratio ** (n - patterns.sum(-1))
    kept_mass = patterns @ p
    return torch.stack([(probability * patterns[:, j] / kept_mass.clamp_min(1e-30)).sum() for j in range(n)])


def smoothing_coefficients_float32(p, drop_ratio):  # NumPy float32, accumulated in place
    p = p.astype(np.float32)
    c = np.zeros(len(p), dtype=np.float32)
    for j in range(len(p)):
        others = np.delete(p, j)
        for pattern in itertools.product((False, True), repeat=len(p) - 1):
            kept = np.array(pattern, dtype=bool)
            probability = np.float32((1 - drop_ratio) ** kept.sum() * drop_ratio ** (~kept).sum())
            c[j] += probability / (p[j] + others[kept].sum())
    c *= np.float32(1 - drop_ratio)
    return c


@pytest.mark.parametrize(
    "solution",
    [
        smoothing_coefficients,
        lambda p, r: smoothing_coefficients(p, r).tolist(),
        smoothing_coefficients_float32,
        smoothing_coefficients_torch,
        lambda p, r: smoothing_coefficients_torch(p, r, torch.float64),
    ],
    ids=["numpy-float64", "list", "numpy-float32-in-place", "torch-float32", "torch-float64"],
)
def test_check_smoothing_coefficients_passes_correct_coefficients(solution, capsys):
    exercises.check_smoothing_coefficients(solution)
    assert capsys.readouterr().out.startswith("Correct: ")


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
def test_check_smoothing_coefficients_fails_each_mistake(wrong, message):
    with pytest.raises(AssertionError) as error:
        exercises.check_smoothing_coefficients(wrong)
    assert message in str(error.value).lower()


def test_check_smoothing_coefficients_says_when_a_wrong_answer_looks_like_float32():
    with pytest.raises(AssertionError, match="look like float32"):
        exercises.check_smoothing_coefficients(lambda p, r: ((1 - r) / (1 - r + r * p)).astype(np.float32))


def test_check_smoothing_coefficients_prints_digits_that_show_a_small_difference():
    with pytest.raises(AssertionError) as error:
        exercises.check_smoothing_coefficients(lambda p, r: smoothing_coefficients(p, r) * (1 + 1.5e-5))
    yours, exact = str(error.value).split("yours ")[1].split(" (largest")[0].split(", exact ")
    assert all(a != b for a, b in zip(yours.split(", "), exact.split(", "), strict=True))


# ----------------------------------------------------------------------------------------------------------------
# 04: the value gradients


def value_gradients(p, values, y):
    return p[:, None] * (p @ values - y)


def value_gradients_in_place(p, values, y):
    out = torch.empty_like(values)
    out[:] = p @ values - y
    out *= p[:, None]
    return out


def value_gradients_numpy(p, values, y, dtype=np.float64):
    p, values, y = p.numpy().astype(dtype), values.numpy().astype(dtype), y.numpy().astype(dtype)
    return np.outer(p, p @ values - y)


@pytest.mark.parametrize(
    "solution",
    [
        value_gradients,
        value_gradients_in_place,
        lambda p, v, y: value_gradients(p.float(), v.float(), y.float()),
        lambda p, v, y: torch.outer(p, p @ v - y).tolist(),
        value_gradients_numpy,
        lambda p, v, y: value_gradients_numpy(p, v, y, np.float32),
    ],
    ids=["torch-float64", "in-place", "torch-float32", "nested-lists", "numpy-float64", "numpy-float32"],
)
def test_check_value_gradients_passes_correct_gradients(solution, capsys):
    exercises.check_value_gradients(solution)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda p, v, y: p[:, None] * (y - p @ v), "wrong sign"),
        (lambda p, v, y: (p @ v - y).expand_as(v), "missing the factor p_s"),
        (lambda p, v, y: p @ v - y, "returned shape"),
        (lambda p, v, y: p[:, None] * (v - y), "differs from autograd"),
        (lambda p, v, y: value_gradients(p.float(), v.float(), y.float()) * (1 + 1e-4), "look like float32"),
    ],
)
def test_check_value_gradients_fails_each_mistake(wrong, message):
    with pytest.raises(AssertionError) as error:
        exercises.check_value_gradients(wrong)
    assert message in str(error.value).lower()


def test_check_value_gradients_does_not_call_a_float64_answer_float32():
    with pytest.raises(AssertionError) as error:
        exercises.check_value_gradients(lambda p, v, y: value_gradients(p, v, y) * (1 + 1e-4))
    assert "float32" not in str(error.value)


def objective(p, values, y):
    return 0.5 * (p @ values - y).pow(2).sum()


def gradients_by_backward(p, values, y):  # the forbidden shortcut: right numbers, no derivation
    values = values.clone().requires_grad_()
    objective(p, values, y).backward()
    return values.grad


def gradients_by_backward_on_a_parameter(p, values, y):
    values = torch.nn.Parameter(values.clone())
    objective(p, values, y).backward()
    return values.grad


def gradients_by_autograd_grad(p, values, y):
    values = torch.tensor(values.tolist(), dtype=values.dtype, requires_grad=True)
    return torch.autograd.grad(objective(p, values, y), values)[0]


def gradients_under_enable_grad(p, values, y):  # autograd switched on by hand, as if the checker had switched it off
    with torch.enable_grad():
        return gradients_by_backward(p, values, y)


@pytest.mark.parametrize(
    "shortcut",
    [
        gradients_by_backward,
        gradients_by_backward_on_a_parameter,
        gradients_by_autograd_grad,
        gradients_under_enable_grad,
        lambda p, v, y: torch.func.grad(lambda v: objective(p, v, y))(v),
        lambda p, v, y: torch.func.jacrev(lambda v: objective(p, v, y))(v),
        lambda p, v, y: torch.func.jacfwd(lambda v: objective(p, v, y))(v),
        lambda p, v, y: torch.autograd.functional.jacobian(lambda v: objective(p, v, y), v),
    ],
    ids=["backward", "parameter", "autograd.grad", "enable_grad", "func.grad", "jacrev", "jacfwd", "jacobian"],
)
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")  # torch.func.jacfwd's own
def test_check_value_gradients_fails_an_answer_that_calls_autograd(shortcut):
    with pytest.raises(AssertionError, match="uses autograd .*: the exercise asks for the gradient derived by hand"):
        exercises.check_value_gradients(shortcut)


def test_check_value_gradients_leaves_autograd_working_after_an_answer_that_called_it():
    with pytest.raises(AssertionError):
        exercises.check_value_gradients(gradients_by_backward)
    x = torch.ones(2, requires_grad=True)
    (3 * x).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


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


def linear_down_torch(drop_ratio, depth):  # float32, as notebook 05 draws its schedules
    return torch.linspace(2 * drop_ratio, 0, depth) if depth > 1 else torch.tensor([drop_ratio])


def geometric_down_torch(drop_ratio, depth):  # float32, normalised in place
    shape = 0.5 ** (torch.arange(depth) / max(depth - 1, 1))
    shape *= drop_ratio * depth / shape.sum()
    return shape


def linear_down_numpy(drop_ratio, depth, dtype=np.float64):
    ratios = np.full(depth, drop_ratio, dtype=dtype)
    if depth > 1:
        ratios[:] = np.linspace(2 * drop_ratio, 0, depth)
    return ratios


@pytest.mark.parametrize(
    ("solution", "kind"),
    [
        (linear_down, "linear_down"),
        (linear_down_torch, "linear_down"),
        (lambda r, d: linear_down_torch(r, d).tolist(), "linear_down"),
        (linear_down_numpy, "linear_down"),
        (lambda r, d: linear_down_numpy(r, d, np.float32), "linear_down"),
        (geometric_down, "your own"),
        (geometric_down_torch, "your own"),
    ],
    ids=["python", "torch-float32", "torch-float32-list", "numpy-float64", "numpy-float32", "geometric", "geo-torch"],
)
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
        (lambda r, d: torch.linspace(2 * r, 0, d), "depth 1 gets [drop_ratio] itself"),
        (lambda r, d: [] if d == 1 else linear_down(r, d), "a single layer (depth 1) gets the mean ratio itself"),
        (lambda r, d: torch.tensor(linear_down(r, d)) * 1.0001, "look like float32"),
    ],
)
def test_check_schedule_fails_each_mistake(wrong, message):
    with pytest.raises(AssertionError) as error:
        exercises.check_schedule(wrong)
    assert message in str(error.value).lower()


def test_check_schedule_prints_a_mean_that_differs_from_the_ratio():
    with pytest.raises(AssertionError, match=r"has mean 0\.05000075, not 0\.05\."):
        exercises.check_schedule(lambda r, d: [x * (1 + 1.5e-5) for x in linear_down(r, d)])


# ----------------------------------------------------------------------------------------------------------------
# 06: the seed probability


def seed_probability(drop_ratio, window_size, shape):
    cover = window_size**2 if shape == "block" else 2 * window_size - 1
    return 1 - (1 - drop_ratio) ** (1 / cover)


def cover(window_size, shape):
    return window_size**2 if shape == "block" else 2 * window_size - 1


def seed_probability_torch(drop_ratio, window_size, shape):  # a float32 tensor
    return 1 - (1 - torch.tensor(drop_ratio)) ** (1 / cover(window_size, shape))


def seed_probability_numpy_float32(drop_ratio, window_size, shape):
    return 1 - (1 - np.float32(drop_ratio)) ** np.float32(1 / cover(window_size, shape))


def seed_probability_numpy(drop_ratio, window_size, shape):  # log1p and expm1: no cancellation
    return -np.expm1(np.log1p(-drop_ratio) / cover(window_size, shape))


@pytest.mark.parametrize(
    "solution",
    [seed_probability, seed_probability_torch, seed_probability_numpy_float32, seed_probability_numpy],
    ids=["python", "torch-float32", "numpy-float32", "numpy-float64"],
)
def test_check_seed_probability_passes_correct_gammas(solution, capsys):
    exercises.check_seed_probability(solution)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda r, w, s: r / (w * w if s == "block" else 2 * w - 1), "small-ratio approximation"),
        (lambda r, w, s: r, "each seed drops a whole window"),
        (lambda r, w, s: 1 - (1 - r) ** (1 / (w * w)), "the other shape"),
        (lambda r, w, s: seed_probability_torch(r, w, s) * 1.0001, "look like float32"),
        (lambda r, w, s: "gamma", "not a number"),
    ],
)
def test_check_seed_probability_fails_each_mistake(wrong, message):
    with pytest.raises(AssertionError) as error:
        exercises.check_seed_probability(wrong)
    assert message in str(error.value).lower()


def test_check_seed_probability_prints_digits_that_show_a_small_difference():
    with pytest.raises(AssertionError, match=r"= 0\.050005, but gamma = 0\.05"):
        exercises.check_seed_probability(lambda r, w, s: seed_probability(r, w, s) * 1.0001)


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
    "solution",
    [
        parameter_count,
        lambda config: float(parameter_count(config)),
        lambda config: np.int64(parameter_count(config)),
        lambda config: np.float32(parameter_count(config)),
        lambda config: torch.tensor(parameter_count(config)),
        lambda config: torch.tensor(float(parameter_count(config))),  # float32: exact below 2**24
    ],
    ids=["int", "float", "numpy-int64", "numpy-float32", "torch-int64", "torch-float32"],
)
def test_check_parameter_count_passes_a_correct_count_of_any_number_type(solution, capsys):
    exercises.check_parameter_count(solution)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda config: parameter_count(config) - config.dim, "one `dim` short"),
        (lambda config: parameter_count(config) - 4 * config.dim * config.depth - 2 * config.dim, "layernorms"),
        (lambda config: parameter_count(config) * config.num_heads // 4, "off by"),
        (lambda config: float(parameter_count(config)) + 0.5, "whole number"),
        (lambda config: True, "whole number"),
    ],
)
def test_check_parameter_count_fails_each_mistake(wrong, message):
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


def warmup_cosine_torch(step, total_steps, warmup_steps, base_lr):  # torch.cos in float32, a 0-d tensor
    if step < warmup_steps:
        return torch.tensor(base_lr) * (step + 1) / warmup_steps
    progress = torch.tensor((step - warmup_steps) / max(1, total_steps - warmup_steps))
    return base_lr * (1 + torch.cos(torch.pi * progress)) / 2


def warmup_cosine_numpy(step, total_steps, warmup_steps, base_lr, dtype=np.float64):
    warmup = dtype(base_lr) * (step + 1) / max(1, warmup_steps)
    progress = dtype((step - warmup_steps) / max(1, total_steps - warmup_steps))
    return np.where(step < warmup_steps, warmup, dtype(base_lr) * (1 + np.cos(dtype(np.pi) * progress)) / 2)


@pytest.mark.parametrize(
    "solution",
    [
        warmup_cosine,
        warmup_cosine_torch,
        lambda *args: float(warmup_cosine_torch(*args)),
        warmup_cosine_numpy,
        lambda *args: warmup_cosine_numpy(*args, dtype=np.float32),
    ],
    ids=["math", "torch-float32", "torch-float32-float", "numpy-float64", "numpy-float32"],
)
def test_check_learning_rate_passes_a_correct_schedule(solution, capsys):
    exercises.check_learning_rate(solution)
    assert capsys.readouterr().out.startswith("Correct: ")


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
        (lambda s, t, w, b: warmup_cosine(s, t, w - 1, b), "during the warm-up"),  # the warm-up ends a step early
        (lambda s, t, w, b: warmup_cosine_torch(s, t, w, b) * 1.0001, "look like float32"),
    ],
)
def test_check_learning_rate_fails_each_mistake(wrong, message):
    with pytest.raises(AssertionError) as error:
        exercises.check_learning_rate(wrong)
    assert message in str(error.value).lower()


def test_check_learning_rate_prints_digits_that_show_a_small_difference():
    with pytest.raises(AssertionError, match=r"= 0\.000200003, expected 0\.0002 "):
        exercises.check_learning_rate(lambda *args: warmup_cosine(*args) * (1 + 1.5e-5))


# ----------------------------------------------------------------------------------------------------------------
# Marking: a checker as a graded test (the nbgrader version, scripts/build_marked_exercises.py)


def test_grade_prints_the_checkers_verdict_on_a_correct_answer(capsys):
    exercises.grade(exercises.check_learning_rate, warmup_cosine)
    assert capsys.readouterr().out.startswith("Correct: ")


def test_grade_fails_an_answer_not_attempted_yet():
    with pytest.raises(AssertionError, match="Not attempted: not_attempted still raises NotImplementedError"):
        exercises.grade(exercises.check_dropkey, not_attempted)


def test_grade_fails_a_wrong_answer_with_the_checkers_diagnosis():
    with pytest.raises(AssertionError, match="linear decay"):
        exercises.grade(
            exercises.check_learning_rate,
            lambda s, t, w, b: warmup_cosine(s, t, w, b) if s < w else b * (1 - (s - w) / (t - w)),
        )


def test_grade_passes_other_cases_to_the_checker():
    seen = set()

    def recording(step, total_steps, warmup_steps, base_lr):
        seen.add((total_steps, warmup_steps, base_lr))
        return warmup_cosine(step, total_steps, warmup_steps, base_lr)

    exercises.grade(exercises.check_learning_rate, recording, cases=[(9, 2, 0.25)])
    assert seen == {(9, 2, 0.25)}
