"""Checkers for the exercises of notebooks 01-08: they grade your answer and say what is wrong.

Every `check_*` takes your answer, a function, runs it on inputs of its own and then

- prints one line starting with "Correct" when the answer is right;
- raises `AssertionError` with a message that says what is wrong and how to think about it when it is not;
- prints a "not attempted yet" line, and raises nothing, when your function raises `NotImplementedError`. The
  notebooks ship in that state, so they run from top to bottom before you have written anything.

Checkers that draw random numbers seed torch's global random number generator inside `torch.random.fork_rng`:
a check gives the same verdict every time you run it, and your own random state is left as it was. Statistical
tolerances are set so that a correct answer fails with probability below 1e-6 over the draws (each docstring says
why); the wrong answers the checkers are built to catch miss by hundreds of standard errors.

The solutions are in `notebooks/solutions.ipynb`; `tests/test_exercises.py` runs every checker on its solution and
on the wrong answers each checker must catch.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .attention import dropkey_weights, seed_probability
from .smoothing import smoothing_coefficients
from .train import learning_rate
from .vit import TinyViT, ViTConfig, count_parameters

DROPPED = 1e-20  # a weight below this counts as dropped (softmax weights of the checkers' scores are above 1e-9)
Z_LIMIT = 6.0  # a statistic this many standard errors from its expectation fails: P(|Z| > 6) = 2e-9
CORRELATION_LIMIT = 0.1  # drop patterns that should be independent: |corr| is ~0.003 here, shared masks give 1


class _NotAttempted(Exception):
    """The answer raised NotImplementedError: the exercise is not attempted yet."""


def _name(answer: Any) -> str:
    return getattr(answer, "__name__", type(answer).__name__)


def _checker(check: Callable[..., str]) -> Callable[..., None]:
    """Turn `check(answer) -> success line` into a notebook checker: prints the success line, or prints "not
    attempted yet" when the answer raises NotImplementedError; an AssertionError from `check` passes through."""

    @functools.wraps(check)
    def run(answer: Any) -> None:
        if not callable(answer):
            raise TypeError(f"{check.__name__} takes your function, got {type(answer).__name__}: {answer!r}")
        try:
            message = check(answer)
        except _NotAttempted:
            print(
                f"{check.__name__}: not attempted yet. Replace `raise NotImplementedError` in "
                f"{_name(answer)} with your code and rerun this cell."
            )
            return
        print(message)

    return run


def _call(answer: Callable, *args: Any) -> Any:
    """Call the answer; NotImplementedError means "not attempted", any other error fails the check with its text."""
    try:
        return answer(*args)
    except NotImplementedError:
        raise _NotAttempted from None
    except Exception as error:
        shown = ", ".join(_describe(a) for a in args)
        raise AssertionError(
            f"{_name(answer)}({shown}) raised {type(error).__name__}: {error}\n"
            "Your function must run without an error on these inputs (the traceback above shows where it failed)."
        ) from error


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    return repr(value)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's global RNG for the duration of a check and restore the caller's state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _fail(title: str, explanation: str) -> None:
    raise AssertionError(f"{title}\n{explanation}") from None


# --------------------------------------------------------------------------------------------------------------
# Shared checks for functions that return attention weights


def _as_weights(out: Any, like: Tensor, answer: Callable, drop_ratio: float) -> Tensor:
    """Check that the answer returned a finite floating tensor with the shape of its input."""
    name = _name(answer)
    if not isinstance(out, Tensor):
        _fail(
            f"{name} returned a {type(out).__name__}, not a torch.Tensor.",
            "Return the weights as a tensor with the shape of the input.",
        )
    if out.shape != like.shape:
        _fail(
            f"{name} returned shape {tuple(out.shape)} for an input of shape {tuple(like.shape)}.",
            "The weights have one entry per (..., query, key): the shape of the input.",
        )
    if not out.is_floating_point():
        _fail(f"{name} returned a {out.dtype} tensor.", "Weights are floating-point numbers.")
    if out.isnan().any():
        _fail(
            f"{name} returned NaN in {int(out.isnan().sum())} of {out.numel()} entries (ratio {drop_ratio}).",
            "NaN comes from -inf: 0 * -inf is NaN (a mask multiplied by -inf), and a softmax over a row whose "
            "logits are all -inf is 0/0. Use a large finite negative logit for dropped keys instead: Algorithm 1's "
            "-1e12, or masked_fill with torch.finfo(scores.dtype).min (notebook 02, section 2).",
        )
    if not out.isfinite().all():
        _fail(f"{name} returned inf in {int((~out.isfinite()).sum())} entries.", "Weights must be finite numbers.")
    return out


def _calls(answer: Callable, inputs: Tensor, drop_ratio: float, draws: int) -> Tensor:
    """`draws` calls of answer(inputs, ratio), stacked: (draws, *inputs.shape). Also checks that the input is left
    as it was (an in-place change would corrupt the caller's scores)."""
    original = inputs.clone()
    outputs = []
    for _ in range(draws):
        out = _as_weights(_call(answer, inputs, drop_ratio), inputs, answer, drop_ratio)
        if not torch.equal(inputs, original):
            _fail(
                f"{_name(answer)} changed its input in place.",
                "Functions like masked_fill_, add_ or `x += ...` modify the tensor you were given. Build a new "
                "tensor instead (masked_fill, `x = x + ...`).",
            )
        outputs.append(out.detach().float())
    return torch.stack(outputs)


def _correlation(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two equally shaped 0/1 tensors (0 when either is constant)."""
    a, b = a.double().flatten(), b.double().flatten()
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0


def _check_independent(drops: Tensor, name: str, kind: str) -> None:
    """drops: (draws, *batch, N_q, N_k) bool. Fail when neighbouring calls, batch entries, queries or keys share
    their drop pattern.

    For independent Bernoulli entries the correlation of two neighbouring slices has standard error
    1 / sqrt(number of pairs), below 0.005 for the checkers' shapes (>= 40,000 pairs), so a limit of 0.1 is more
    than 20 standard errors away; a shared mask has correlation 1.
    """
    leading = {0: [], 1: ["batch"], 2: ["batch", "head"]}.get(drops.dim() - 3)
    leading = leading if leading is not None else [f"leading dimension {d}" for d in range(1, drops.dim() - 2)]
    dims = ["call", *leading, "query", "key"]
    for dim, label in enumerate(dims):
        if drops.shape[dim] < 2:
            continue
        corr = _correlation(drops.narrow(dim, 0, drops.shape[dim] - 1), drops.narrow(dim, 1, drops.shape[dim] - 1))
        if abs(corr) < CORRELATION_LIMIT:
            continue
        if label == "call":
            _fail(
                f"Every call of {name} drops (nearly) the same entries: correlation {corr:.2f} between the "
                "patterns of two calls.",
                "A fresh mask must be drawn at every call, from torch's global random number generator "
                "(torch.rand or torch.bernoulli without a generator). Do not call torch.manual_seed inside "
                "your function.",
            )
        if label == "key":
            _fail(
                f"{name} drops whole rows: neighbouring keys of a query are dropped together (correlation {corr:.2f}).",
                f"{kind} flips an independent coin for every (query, key) entry.",
            )
        _fail(
            f"One mask is shared across the {label} dimension: neighbouring {label} entries have the same "
            f"zero pattern (correlation {corr:.2f}).",
            f"{kind} draws its mask with the full shape of the weights (..., N_q, N_k): every sample, head and "
            "query gets its own random keys (notebook 02, Line 2a). A mask of shape (..., 1, N_k) or (N_q, N_k) "
            "broadcast over the other dimensions is a different regulariser (the 'column-wise' variant).",
        )


def _check_drop_fraction(drops: Tensor, drop_ratio: float, kind: str) -> None:
    """drops: bool entries of rows with at least one kept key. Fail unless the number dropped per row varies like a
    binomial and about `drop_ratio` of the entries are dropped.

    The per-row count of independent drops at the observed rate f is Binomial(N_k, f); its sample variance over
    the checkers' R >= 7,000 rows has a relative standard error below 2.5%, and we allow 25% (10 standard errors).
    The fraction of n independent Bernoulli(ratio) entries has standard error sqrt(ratio (1 - ratio) / n); we allow
    Z_LIMIT = 6 of them (false failure 2e-9).
    """
    n = drops.numel()
    fraction = float(drops.float().mean())
    counts = drops.float().sum(-1).flatten()
    expected = drops.shape[-1] * fraction * (1 - fraction)
    variance = float(counts.var())
    if expected > 0 and not 0.75 * expected <= variance <= 1.25 * expected:
        _fail(
            f"The number of dropped keys per row has variance {variance:.2f}; independent drops at this rate give "
            f"N_k f (1 - f) = {expected:.2f}.",
            f"{kind} flips an independent coin for every (query, key) entry, so the count per row is "
            "Binomial(N_k, ratio). Dropping exactly round(ratio * N_k) keys per row, say, is not the same.",
        )
    tolerance = Z_LIMIT * math.sqrt(drop_ratio * (1 - drop_ratio) / n) + 1e-12
    if abs(fraction - drop_ratio) > tolerance:
        if abs(fraction - (1 - drop_ratio)) <= tolerance:
            _fail(
                f"You drop {fraction:.3f} of the entries with ratio {drop_ratio}: that is 1 - ratio.",
                "`drop_ratio` is the probability to DROP an entry. `torch.rand(shape) < ratio` (or "
                "torch.bernoulli(torch.full(shape, ratio))) is True for the dropped entries.",
            )
        _fail(
            f"You drop {fraction:.4f} of the entries, but the ratio is {drop_ratio} (allowed: {drop_ratio} ± "
            f"{tolerance:.4f}, {Z_LIMIT:g} standard errors over {n:,} entries).",
            f"{kind} drops every entry independently with probability exactly `drop_ratio`.",
        )


# --------------------------------------------------------------------------------------------------------------
# 01: post-softmax attention dropout


@_checker
def check_attention_dropout(fn: Callable[[Tensor, float], Tensor]) -> str:
    """Grade `fn(weights, ratio) -> weights after dropout`: classic post-softmax attention dropout (timm's
    `attn_drop`), with torch's global RNG.

    Right means: every entry is zeroed independently with probability `drop_ratio` (per sample, head, query and key, a
    fresh draw at every call), and every surviving entry is the input times exactly 1 / (1 - ratio); with ratio 0
    the weights come back unchanged. Checked on softmax weights of shape (8, 4, 16, 16) at ratio 0.3 and
    (40, 12, 7) at ratio 0.1, 16 calls each; the statistical limits are those of `_check_drop_fraction` and
    `_check_independent` (false failure below 1e-6).
    """
    name = _name(fn)
    with _seeded(1):
        for shape, drop_ratio in (((8, 4, 16, 16), 0.3), ((40, 12, 7), 0.1)):
            weights = torch.randn(shape).softmax(-1)
            out = _calls(fn, weights, drop_ratio, 16)
            drops = out == 0
            if not drops.any():
                if torch.allclose(out, weights.expand_as(out)):
                    _fail(
                        f"{name} drops nothing: it returns the weights unchanged.",
                        "Zero each weight with probability `drop_ratio`. (F.dropout(x, p) with training=False, or an "
                        "nn.Dropout in eval mode, does nothing.)",
                    )
                _fail(f"{name} never returns an exact zero.", "Dropout sets a dropped weight to exactly 0.")
            scale = out[~drops] / weights.expand_as(out)[~drops]
            target = 1 / (1 - drop_ratio)
            if not torch.allclose(scale, torch.full_like(scale, target), rtol=1e-4):
                row_sums = out.sum(-1)
                kept_rows = (~drops).any(-1)
                if torch.allclose(row_sums[kept_rows], torch.ones_like(row_sums[kept_rows]), atol=1e-4):
                    _fail(
                        "Every row of your weights sums to one: you renormalise the rows.",
                        "Renormalising over the kept keys is what DropKey's softmax does. Dropout multiplies the "
                        f"survivors by the constant 1/(1 - ratio) = {target:.4f} instead, and its rows do not "
                        "sum to one.",
                    )
                if torch.allclose(scale, torch.ones_like(scale), rtol=1e-4):
                    _fail(
                        "The surviving weights are not rescaled.",
                        f"Multiply them by 1/(1 - ratio) = {target:.4f}: then E[w] = p, dropout is unbiased.",
                    )
                if torch.allclose(scale, torch.full_like(scale, 1 - drop_ratio), rtol=1e-4):
                    _fail(
                        "You multiply the survivors by (1 - ratio); divide by it instead.",
                        f"The survivors must grow by 1/(1 - ratio) = {target:.4f} so that E[w] = p.",
                    )
                _fail(
                    f"The survivors are scaled by factors from {float(scale.min()):.4f} to {float(scale.max()):.4f}.",
                    f"Every survivor must be the input times 1/(1 - ratio) = {target:.4f}.",
                )
            _check_independent(drops, name, "Attention dropout")
            _check_drop_fraction(drops, drop_ratio, "Attention dropout")
        weights = torch.randn(4, 6, 6).softmax(-1)
        unchanged = _calls(fn, weights, 0.0, 1)[0]
        if not torch.allclose(unchanged, weights):
            _fail("With ratio 0 your function changes the weights.", "Ratio 0 drops nothing and rescales by 1.")
        sums = _calls(fn, weights.repeat(500, 1, 1), 0.3, 1)[0].sum(-1)
    return (
        f"Correct: {name} is post-softmax dropout. Its row sums have mean {float(sums.mean()):.3f} but range "
        f"from {float(sums.min()):.2f} to {float(sums.max()):.2f} (ratio 0.3, six keys): unbiased, but a single "
        "draw is no longer a distribution."
    )


# --------------------------------------------------------------------------------------------------------------
# 02: DropKey


@_checker
def check_dropkey(fn: Callable[[Tensor, float], Tensor]) -> str:
    """Grade `fn(scores, ratio) -> weights`: DropKey on pre-softmax scores (..., N_q, N_k), with torch's global RNG.

    Right means, as the library's `attention.dropkey_weights`: the weights have the shape of the scores; every
    (..., query, key) entry is dropped independently with probability `drop_ratio`, afresh at every call; a dropped
    entry has weight exactly 0; the kept entries are the softmax of the scores renormalised over the kept keys, so
    every row sums to one, with no 1/(1 - ratio) rescaling. A row whose keys are all dropped must not be NaN;
    any finite weights pass there (the library, like Algorithm 1 in float32, gives it uniform weights).

    How: 16 calls on scores (8, 4, 16, 16) at ratio 0.3 and 24 calls on (40, 12, 7) at ratio 0.1. The zero pattern
    of each call is the mask; the weights are compared with `dropkey_weights(scores, ratio, drop_mask=mask)` to
    1e-5, the mask's statistics with `_check_independent` and `_check_drop_fraction` (false failure below 1e-6 in
    all). All-dropped rows (probability ratio**N_k: 4e-9 and 1e-7 per row here) are left out of the comparison.
    Then ratio 0 must give the plain softmax, and scores (4096, 1, 2) at ratio 0.5 (one row in four all dropped)
    must give no NaN.
    """
    name = _name(fn)
    with _seeded(2):
        for shape, drop_ratio, draws in (((8, 4, 16, 16), 0.3, 16), ((40, 12, 7), 0.1, 24)):
            _check_dropkey_pass(fn, torch.randn(shape), drop_ratio, draws)
        scores = torch.randn(4, 6, 6)
        plain = _calls(fn, scores, 0.0, 1)[0]
        if not torch.allclose(plain, scores.softmax(-1), atol=1e-6):
            _fail(
                "With ratio 0 your weights differ from the plain softmax of the scores.",
                "Ratio 0 drops nothing: DropKey is then exactly the softmax.",
            )
        _calls(fn, torch.randn(4096, 1, 2), 0.5, 1)  # all-dropped rows must not be NaN (checked in _as_weights)
    return (
        f"Correct: {name} is DropKey. Dropped keys get weight exactly 0, each (query, key) entry independently "
        "with probability ratio, and every row is the softmax renormalised over the kept keys."
    )


def _check_dropkey_pass(fn: Callable, scores: Tensor, drop_ratio: float, draws: int) -> None:
    name = _name(fn)
    weights = _calls(fn, scores, drop_ratio, draws)
    n_keys = scores.shape[-1]
    plain = scores.softmax(-1).expand_as(weights)
    drops = weights.abs() < DROPPED
    uniform_rows = (weights - 1 / n_keys).abs().amax(-1) < 1e-6
    empty_rows = drops.all(-1)
    all_dropped = uniform_rows | empty_rows  # probability ratio**N_k per row: almost never
    if all_dropped.float().mean() > 0.01:
        _fail(
            f"{float(all_dropped.float().mean()):.0%} of your rows are uniform or all zero, as if every key of "
            "the row were dropped.",
            "That happens when whole queries are dropped (a mask of shape (..., N_q, 1)). DropKey drops single "
            "(query, key) entries; a row loses all its keys only with probability ratio**N_k.",
        )
    if not drops.any():
        if torch.allclose(weights, plain, atol=1e-6):
            _fail(
                f"Nothing is dropped: in {draws} calls, {name} returned the plain softmax of the scores.",
                "Did you write -1e-12 instead of -1e12? Adding mask * -1e-12 moves a logit by 10^-12, which "
                "changes nothing (notebook 02, bug 1). A dropped key needs a hugely negative logit, -1e12.",
            )
        _fail(
            "No weight is exactly 0, but the weights differ from the plain softmax.",
            "A dropped key must get weight exactly 0: give its logit a hugely negative value before the softmax "
            "(-1e12, or masked_fill with torch.finfo(scores.dtype).min). A logit of 0 (or a zeroed key "
            "vector) still gets weight (notebook 02, bug 4).",
        )
    rows = ~all_dropped
    sums = weights.sum(-1)
    if not torch.allclose(sums[rows], torch.ones_like(sums[rows]), atol=1e-4):
        _diagnose_row_sums(weights, plain, drops, rows, scores, drop_ratio)
    _check_independent(drops, name, "DropKey")
    _check_drop_fraction(drops[rows], drop_ratio, "DropKey")
    expected = dropkey_weights(scores.expand_as(weights), drop_ratio, drop_mask=drops)
    gap = float((weights - expected)[rows].abs().max())
    if gap > 1e-5:
        _fail(
            f"Your kept weights are not the softmax renormalised over the kept keys (largest difference {gap:.2g}).",
            "Keep the scores as they are (they are already the scaled logits: do not scale them again), give the "
            "dropped entries a hugely negative logit, and take the softmax over the last dimension.",
        )


def _diagnose_row_sums(
    weights: Tensor, plain: Tensor, drops: Tensor, rows: Tensor, scores: Tensor, drop_ratio: float
) -> None:
    """The rows do not sum to one: say why, for the usual mistakes."""
    sums = weights.sum(-1)[rows]
    span = f"between {float(sums.min()):.3f} and {float(sums.max()):.3f}"
    kept = ~drops & rows.unsqueeze(-1)
    if torch.allclose(weights.sum(-2), torch.ones_like(weights.sum(-2)), atol=1e-4):
        _fail(
            f"Your rows sum to values {span}, but your columns sum to one.",
            "Take the softmax over the keys, the last dimension: softmax(dim=-1).",
        )
    after_softmax = weights[kept] / plain[kept]
    rescaled = 1 / (1 - drop_ratio)
    if torch.allclose(after_softmax, torch.full_like(after_softmax, rescaled), rtol=1e-4):
        _fail(
            f"This is dropout after the softmax, with the 1/(1 - ratio) rescale (timm's attn_drop): your rows sum "
            f"to values {span}.",
            "Each survivor is its plain softmax weight times 1/(1 - ratio), so the rows are no longer "
            "distributions. DropKey masks the logits BEFORE the softmax; the softmax then renormalises over the "
            "kept keys, and every row sums to one.",
        )
    if torch.allclose(after_softmax, torch.ones_like(after_softmax), rtol=1e-4):
        _fail(
            f"You zero weights after the softmax: your rows sum to values {span}.",
            "The survivors keep their plain softmax weights, so a row sums to less than one (notebook 02, bug 3). "
            "Mask the logits BEFORE the softmax, so that it renormalises over the kept keys.",
        )
    renormalised = dropkey_weights(scores.expand_as(weights), drop_ratio, drop_mask=drops)
    factor = weights[kept] / renormalised[kept]
    if torch.allclose(factor, torch.full_like(factor, float(factor.mean())), rtol=1e-4):
        c = float(factor.mean())
        if abs(c - rescaled) < 1e-3:
            _fail(
                f"Every row sums to {c:.4f} = 1/(1 - ratio): you rescale by 1/(1 - ratio).",
                "DropKey has no rescaling: the softmax already renormalises over the kept keys, so the weights "
                "of each row sum to one. Remove the factor.",
            )
        _fail(f"Every row sums to {c:.4f} instead of 1.", "Return the softmax itself, without a factor.")
    _fail(
        f"The rows of your weights sum to values {span}.",
        "DropKey's weights are a softmax over the keys (the last dimension), taken after dropping: every row "
        "sums to one.",
    )


# --------------------------------------------------------------------------------------------------------------
# 03: the smoothing coefficient


@_checker
def check_smoothing_coefficients(fn: Callable[[np.ndarray, float], Sequence[float]]) -> str:
    """Grade `fn(p, ratio) -> c`: the exact smoothing coefficients c_j = (1 - r) E[1 / (p_j + sum_{i != j} m_i p_i)]
    of one attention row p (n,), for n <= 8, as an array (n,).

    Compared with `smoothing.smoothing_coefficients(p, ratio)` to a relative 1e-6 on 45 rows (n from 1 to 8, ratios
    0.1 to 0.9); there is no randomness.
    """
    name = _name(fn)
    rng = np.random.default_rng(3)
    for n in (2, 3, 5, 8, 1):
        for drop_ratio in (0.1, 0.5, 0.9):
            for concentration in (0.3, 1.0, 5.0):
                p = rng.dirichlet(np.full(n, concentration))
                p = np.maximum(p, 1e-3)
                p /= p.sum()
                answer = _call(fn, p.copy(), drop_ratio)
                try:
                    c = np.asarray(answer, dtype=np.float64).reshape(-1)
                except (TypeError, ValueError):
                    _fail(f"{name} returned {type(answer).__name__}, not numbers.", "Return one c_j per key.")
                if c.shape != p.shape:
                    _fail(f"{name} returned {c.size} numbers for a row of {n} keys.", "Return one c_j per key.")
                exact = smoothing_coefficients(p, drop_ratio)
                if np.allclose(c, exact, rtol=1e-6, atol=0):
                    continue
                _diagnose_coefficients(c, exact, p, drop_ratio, n)
    return (
        f"Correct: {name} gives the exact smoothing coefficients. Note how the largest weight always gets the "
        "smallest c_j."
    )


def _diagnose_coefficients(c: np.ndarray, exact: np.ndarray, p: np.ndarray, drop_ratio: float, n: int) -> None:
    where = (
        f"for p = {np.round(p, 3).tolist()} and ratio {drop_ratio}: yours {np.round(c, 4).tolist()}, "
        f"exact {np.round(exact, 4).tolist()}"
    )
    close = functools.partial(np.allclose, c, rtol=1e-6, atol=0)
    if close(exact / (1 - drop_ratio)):
        _fail(
            f"Your coefficients are c_j / (1 - r) {where}.",
            "Key j must itself survive, which happens with probability 1 - r: c_j = (1 - r) E[...].",
        )
    if close(exact * p):
        _fail(f"You return E[p_hat_j] = c_j p_j {where}.", "The coefficient is that expectation divided by p_j.")
    if close(exact + drop_ratio**n / (n * p)):
        _fail(
            f"You count the all-dropped row as uniform {where}.",
            "c_j is defined with weight 0 for a row without kept keys (all_dropped='zero'); the library's uniform "
            "fallback adds r**n / (n p_j).",
        )
    if close(np.ones_like(c)):
        _fail(
            f"c_j = 1 for every key {where}.",
            "That is post-softmax dropout; DropKey renormalises over the kept "
            "keys, which gives small keys a larger share.",
        )
    _fail(
        f"Your coefficients differ {where}.",
        "Enumerate the 2**(n-1) keep patterns m of the other keys (each with probability (1-r)**kept * r**dropped), "
        "average 1 / (p_j + sum of the kept p_i), and multiply by 1 - r.",
    )


# --------------------------------------------------------------------------------------------------------------
# 04: the gradient of the toy objective


@_checker
def check_value_gradients(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> str:
    """Grade `fn(p, values, y) -> gradient`: the gradient of f = 1/2 ||sum_j p_j v_j - y||^2 with respect to every
    value v_j, as an (n, d) tensor, for weights p (n,), values (n, d) and a target y (d,).

    Compared with torch.autograd to 1e-9 (float64) for (n, d) = (3, 2), (5, 4) and (16, 8); there is no randomness
    beyond the fixed inputs.
    """
    name = _name(fn)
    generator = torch.Generator().manual_seed(4)
    for n, d in ((3, 2), (5, 4), (16, 8)):
        p = torch.randn(n, generator=generator, dtype=torch.float64).softmax(-1)
        values = torch.randn(n, d, generator=generator, dtype=torch.float64) * 0.1
        y = torch.zeros(d, dtype=torch.float64)
        y[0] = 3.0
        leaf = values.clone().requires_grad_()
        (0.5 * ((p @ leaf) - y).pow(2).sum()).backward()
        exact = leaf.grad
        answer = _call(fn, p.clone(), values.clone(), y.clone())
        if not isinstance(answer, Tensor):
            answer = torch.as_tensor(np.asarray(answer, dtype=np.float64))
        answer = answer.detach().to(torch.float64)
        if answer.shape != exact.shape:
            _fail(
                f"{name} returned shape {tuple(answer.shape)}; expected {tuple(exact.shape)}, one gradient "
                "(a d-vector) per value.",
                "df/dv_s has the shape of v_s, and there are n values.",
            )
        if torch.allclose(answer, exact, rtol=1e-9, atol=1e-12):
            continue
        where = f"(n = {n}, d = {d})"
        if torch.allclose(answer, -exact, rtol=1e-9, atol=1e-12):
            _fail(
                f"Your gradient has the wrong sign {where}.",
                "The residual is (output - y) = sum_j p_j v_j - y; gradient descent subtracts the gradient and "
                "moves the output towards y.",
            )
        if torch.allclose(answer, exact / p.unsqueeze(-1), rtol=1e-9, atol=1e-12):
            _fail(
                f"Your gradient is missing the factor p_s {where}.",
                "v_s enters the output as p_s v_s, so the chain rule gives p_s (output - y): every value is "
                "pushed in proportion to its attention, the start of the rich-get-richer loop.",
            )
        _fail(
            f"Your gradient differs from autograd's {where}: largest difference "
            f"{float((answer - exact).abs().max()):.3g}.",
            "df/dv_s = p_s (sum_j p_j v_j - y): one row per value.",
        )
    return (
        f"Correct: {name} is df/dv_s = p_s (sum_j p_j v_j - y). Every value moves in the same direction, in "
        "proportion to its attention weight."
    )


# --------------------------------------------------------------------------------------------------------------
# 05: a decreasing drop-ratio schedule


SCHEDULE_RATIOS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.45)
SCHEDULE_DEPTHS = (1, 2, 3, 4, 6, 12, 24)


@_checker
def check_schedule(fn: Callable[[float, int], Sequence[float]]) -> str:
    """Grade `fn(drop_ratio, depth) -> per-layer ratios`, first layer first: a schedule like the library's
    `linear_down`, of any shape.

    Right means, for every mean ratio in SCHEDULE_RATIOS (all below 0.5) and depth in SCHEDULE_DEPTHS: `depth`
    numbers in [0, 1), whose mean is `drop_ratio` (to 1e-9), that never increase from one layer to the next, and
    whose first layer drops more than its last when depth > 1 and drop_ratio > 0. No randomness.
    """
    name = _name(fn)
    for drop_ratio in SCHEDULE_RATIOS:
        for depth in SCHEDULE_DEPTHS:
            answer = _call(fn, drop_ratio, depth)
            try:
                ratios = [float(r) for r in answer]
            except (TypeError, ValueError):
                _fail(
                    f"{name}({drop_ratio}, {depth}) returned {answer!r}, not a list of numbers.",
                    "Return one drop ratio per layer.",
                )
            where = f"{name}({drop_ratio}, {depth}) = {[round(r, 4) for r in ratios]}"
            if len(ratios) != depth:
                _fail(f"{where} has {len(ratios)} entries.", "Return one ratio per layer: `depth` numbers.")
            if not all(0.0 <= r < 1.0 for r in ratios):
                _fail(
                    f"{where} has a ratio outside [0, 1).",
                    "Every layer's ratio is a probability below 1. Your schedule must work for every mean ratio "
                    "below 0.5 and every depth up to 24 (the library's goes from 2 * ratio down to 0).",
                )
            mean = sum(ratios) / depth
            if abs(mean - drop_ratio) > 1e-9:
                hint = (
                    " That is half the ratio: `linspace(ratio, 0, depth)` is the alternative reading that notebook "
                    "05 warns about."
                    if abs(mean - drop_ratio / 2) < 1e-9
                    else ""
                )
                _fail(
                    f"{where} has mean {mean:.6f}, not {drop_ratio}.",
                    "The schedule must keep the MEAN ratio, so that every schedule drops the same number of keys "
                    "in total and the comparison is fair." + hint,
                )
            if any(b > a + 1e-12 for a, b in itertools.pairwise(ratios)):
                _fail(
                    f"{where} increases somewhere.",
                    "The paper's schedule decreases with depth: the first layer (next to the patches) drops most.",
                )
            if depth > 1 and drop_ratio > 0 and not ratios[0] > ratios[-1]:
                _fail(f"{where} is constant.", "A decreasing schedule drops more in the first layer than in the last.")
    linear = all(
        np.allclose(_call(fn, drop_ratio, depth), np.linspace(2 * drop_ratio, 0, depth), atol=1e-9)
        for drop_ratio in SCHEDULE_RATIOS[1:]
        for depth in SCHEDULE_DEPTHS[1:]
    )
    kind = "the library's linear_down" if linear else "a decreasing schedule of your own"
    return f"Correct: {name} is {kind}: the mean ratio is kept and the ratio never increases with depth."


# --------------------------------------------------------------------------------------------------------------
# 06: the seed probability of structured DropKey


@_checker
def check_seed_probability(fn: Callable[[float, int, str], float]) -> str:
    """Grade `fn(ratio, window_size, shape) -> gamma`: the probability that a grid position is a seed, such that
    every key is dropped with probability `drop_ratio` by block (`shape="block"`, w x w) or cross (`"cross"`, 2w - 1
    cells) windows. Compared with `attention.seed_probability` to a relative 1e-9; no randomness.
    """
    name = _name(fn)
    for shape in ("block", "cross"):
        for window_size in (1, 3, 5, 7):
            cover = window_size**2 if shape == "block" else 2 * window_size - 1
            for drop_ratio in (0.05, 0.1, 0.3, 0.6):
                answer = _call(fn, drop_ratio, window_size, shape)
                try:
                    gamma = float(answer)
                except (TypeError, ValueError):
                    _fail(f"{name} returned {answer!r}, not a number.", "Return gamma, a probability.")
                exact = seed_probability(drop_ratio, window_size, shape)
                if math.isclose(gamma, exact, rel_tol=1e-9):
                    continue
                where = f"{name}({drop_ratio}, {window_size}, {shape!r}) = {gamma:.6f}, but gamma = {exact:.6f}"
                other = (2 * window_size - 1) if shape == "block" else window_size**2
                if math.isclose(gamma, 1 - (1 - drop_ratio) ** (1 / other), rel_tol=1e-9):
                    _fail(
                        f"{where}: you count the cells of the other shape.",
                        "A key is covered by w * w seed positions for a block, and 2w - 1 for a cross (a plus with "
                        "arms of w // 2).",
                    )
                if math.isclose(gamma, drop_ratio / cover, rel_tol=1e-9):
                    _fail(
                        f"{where}: ratio / |S| is only the small-ratio approximation.",
                        "Windows overlap: a key is kept only if NONE of its |S| seed positions fires, so "
                        "P(kept) = (1 - gamma)**|S| = 1 - ratio. Solve that for gamma.",
                    )
                if math.isclose(gamma, drop_ratio, rel_tol=1e-9) and cover > 1:
                    _fail(
                        f"{where}: each seed drops a whole window.",
                        "With gamma = ratio far more than `drop_ratio` of the keys would be dropped. "
                        "A key is kept only if none of its |S| seed positions fires: (1 - gamma)**|S| = 1 - ratio.",
                    )
                _fail(
                    f"{where}.",
                    "Set P(key kept) = (1 - gamma)**|S| equal to 1 - ratio, with |S| = w * w for a "
                    "block and 2w - 1 for a cross, and solve for gamma.",
                )
    return f"Correct: {name} gives gamma = 1 - (1 - ratio)**(1/|S|), so every key is dropped with probability ratio."


# --------------------------------------------------------------------------------------------------------------
# 07: the parameter count of the tiny ViT


# Notebook 07 builds the plain ViT: a patch embedding, a class token and an MLP ratio of 4. Today's default TinyViT
# (a convolutional stem, mean pooling, two blocks) is not what it teaches, so every configuration starts from this.
PARAMETER_BASE = {"stem": "patch", "pool": "cls", "mlp_ratio": 4.0}
PARAMETER_CONFIGS = (
    {},
    {"dim": 64, "depth": 3},
    {"patch_size": 8},
    {"patch_size": 2, "dim": 32, "depth": 1},
    {"pool": "mean"},
    {"mlp_ratio": 2.0, "num_classes": 100},
    {"num_heads": 2},
    {"num_heads": 8, "depth": 6},
)


@_checker
def check_parameter_count(fn: Callable[[ViTConfig], int]) -> str:
    """Grade `fn(config) -> int`: the number of trainable parameters of `TinyViT(config)`, from the config alone.

    Compared exactly with `count_parameters(TinyViT(config))` for the configurations in PARAMETER_CONFIGS, each on
    top of PARAMETER_BASE, the patch-embedding ViT of notebook 07 (patch sizes 2 to 8, widths, depths, heads,
    pooling, MLP ratio and classes all vary).
    """
    name = _name(fn)
    for changes in PARAMETER_CONFIGS:
        overrides = {**PARAMETER_BASE, **changes}
        config = ViTConfig(**overrides)
        exact = count_parameters(TinyViT(config))
        answer = _call(fn, config)
        try:
            whole = not isinstance(answer, bool) and bool(int(answer) == answer)
        except (TypeError, ValueError):
            whole = False
        if not whole:
            _fail(f"{name} returned {answer!r}; a parameter count is a whole number.", "Return an int.")
        if int(answer) == exact:
            continue
        _diagnose_parameter_count(int(answer), exact, config, overrides)
    return (
        f"Correct: {name} counts every parameter. The number of heads changes nothing: heads only split the channels."
    )


def _diagnose_parameter_count(answer: int, exact: int, config: ViTConfig, overrides: dict) -> None:
    c, hidden = config.dim, int(config.dim * config.mlp_ratio)
    tokens = config.grid_size[0] * config.grid_size[1] + config.num_prefix_tokens
    layer_norms = 2 * c * (2 * config.depth + 1)
    biases = c + config.depth * (3 * c + c + hidden + c) + config.num_classes
    mistakes = {
        exact - c: "You are one `dim` short: the class token (1 x dim), or its slot in the position embedding "
        "((N + 1) x dim: the class token has a position too).",
        exact + c: "You count a class token that is not there: with pool='mean' there is no class token and the "
        "position embedding has N slots.",
        exact - tokens * c: "You forgot the position embedding: one learned dim-vector per token.",
        exact - layer_norms: "You forgot the LayerNorms: 2 per block and a final one, each with a weight and a bias "
        "of size dim.",
        exact - biases: "You forgot the biases: the patch embedding, qkv, proj, fc1, fc2 and the head all have one.",
        exact - c * c * config.depth: "An attention layer has qkv (dim -> 3 dim) and proj (dim -> dim): you left out "
        "a dim x dim matrix per block.",
    }
    where = f"{answer:,} for ViTConfig({', '.join(f'{k}={v!r}' for k, v in overrides.items())}), but it has {exact:,}"
    if answer in mistakes:
        _fail(f"Your count is {where}.", mistakes[answer])
    _fail(
        f"Your count is {where} (off by {answer - exact:+,}).",
        "Count part by part as in section 4: patch embedding (a conv with 3 * patch_size**2 * dim weights + dim "
        "biases), class token, position embedding, per block two LayerNorms, qkv, proj, fc1, fc2, then the final "
        "LayerNorm and the head. The number of heads adds nothing.",
    )


# --------------------------------------------------------------------------------------------------------------
# 08: the learning-rate schedule


LR_CASES = ((100, 10, 1e-3), (504, 32, 2e-3), (20, 0, 1.0), (7, 3, 0.5))


@_checker
def check_learning_rate(fn: Callable[[int, int, int, float], float]) -> str:
    """Grade `fn(step, total_steps, warmup_steps, base_lr) -> lr`: linear warm-up, then cosine decay to 0, as the
    library's `train.learning_rate`. Compared at every step of each case in LR_CASES to a relative 1e-9."""
    name = _name(fn)
    for total, warmup, base in LR_CASES:
        answers = []
        for step in range(total):
            answer = _call(fn, step, total, warmup, base)
            try:
                answers.append(float(answer))
            except (TypeError, ValueError):
                _fail(f"{name} returned {answer!r}, not a number.", "Return the learning rate of that step.")
        exact = [learning_rate(step, total, warmup, base) for step in range(total)]
        wrong = [s for s in range(total) if not math.isclose(answers[s], exact[s], rel_tol=1e-9, abs_tol=1e-15)]
        if not wrong:
            continue
        step = wrong[0]
        where = (
            f"{name}({step}, total_steps={total}, warmup_steps={warmup}, base_lr={base}) = {answers[step]:.6g}, "
            f"expected {exact[step]:.6g}"
        )
        if step < warmup:
            if answers[0] == 0:
                _fail(
                    f"{where}: the first step has learning rate 0, a wasted step.",
                    "Warm up as base_lr * (step + 1) / warmup_steps: the last warm-up step reaches base_lr.",
                )
            _fail(
                f"{where} (during the warm-up).",
                "During the first warmup_steps steps the rate grows linearly: base_lr * (step + 1) / warmup_steps.",
            )
        progress = (step - warmup) / max(1, total - warmup)
        if math.isclose(answers[step], base * (1 - progress), rel_tol=1e-9):
            _fail(
                f"{where}: that is a linear decay.",
                "After the warm-up the rate follows a cosine: "
                "base_lr * (1 + cos(pi * progress)) / 2, with progress going from 0 to 1.",
            )
        _fail(
            f"{where} (after the warm-up).",
            "After the warm-up: progress = (step - warmup_steps) / (total_steps - warmup_steps), and the rate is "
            "base_lr * (1 + cos(pi * progress)) / 2, which falls from base_lr to 0.",
        )
    return f"Correct: {name} warms up linearly to base_lr, then decays along a cosine to 0."
