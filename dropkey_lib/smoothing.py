"""The smoothing coefficient of DropKey (notebook 03), in SymPy and in exact numbers.

DropKey hides each key from each query with probability `drop_ratio` before the softmax (see `attention.py`). For one
query with attention p = softmax(s) over n keys and keep indicators m_j ~ Bernoulli(1 - ratio), the weights are

    p_hat_j = m_j p_j / sum_i m_i p_i          (rows with at least one kept key)

and the paper's first claim is that, in expectation, every weight is rescaled by a *smoothing coefficient*:

    E[p_hat_j] = c_j p_j,     c_j = (1 - r) E[ 1 / (p_j + sum_{i != j} m_i p_i) ],     p_s > p_t  =>  c_s < c_t.

This module has two parts; the gradient argument built on it (notebook 04) is in `gradient_toy.py`.

1. Symbolic builders (SymPy): the expectation over all 2**n keep patterns, c_j, the coupling identity behind
   c_s < c_t, the expected output, and post-softmax dropout for contrast.
2. Exact numbers for any n: `smoothing_coefficients` enumerates the keep patterns for small n and otherwise uses
   1/x = int_0^inf exp(-t x) dt, which turns the expectation into a one-dimensional integral of a product
   (see `_smoothing_coefficients_integral`). A Monte Carlo estimator built on the library's own `dropkey_weights`
   cross-checks both.

Conventions. p is a probability vector along the last axis (..., n) with strictly positive entries. "All dropped"
rows (probability ratio**n) have no kept key: mathematically (logits of -inf) they have no weights at all, which we
count as weight 0 (`all_dropped="zero"`, the definition of c_j above); the library's `dropkey_weights` gives them
uniform attention 1/n instead (`all_dropped="uniform"`), which adds ratio**n / (n p_j) to c_j.

Which parts are the paper's and which are ours is set out in `docs/paper-notes.md` §6 and §7: the formula for c_j,
its proof by coupling and the large-n approximation are our derivation from the mechanism the paper defines.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from typing import NamedTuple, Sequence

import numpy as np
import sympy as sp
import torch

from .analysis import row_entropy
from .attention import dropkey_weights
from .checks import check_drop_ratio, check_positive_int

ALL_DROPPED = ("zero", "uniform")
METHODS = ("auto", "enumerate", "integral")
ENUMERATION_MAX_KEYS = 12  # 2**12 keep patterns: enumeration is exact and still fast up to here

# Integral quadrature: trapezoid rule in s = log t, which converges geometrically for these integrands (their
# terms t * exp(-t x) are analytic in the strip |Im s| < pi/2, so the error is about exp(-pi**2 / h)).
_QUAD_STEP = 0.2
_QUAD_T_MIN = 1e-16
_QUAD_TAIL = 40.0


# --------------------------------------------------------------------------------------------------------------
# Argument checks


def check_all_dropped(all_dropped: str) -> str:
    """Raise a ValueError unless `all_dropped` is one of `ALL_DROPPED`."""
    if all_dropped not in ALL_DROPPED:
        raise ValueError(f"all_dropped must be one of {', '.join(ALL_DROPPED)}; got {all_dropped!r}")
    return all_dropped


def check_probabilities(p, *, atol: float = 1e-6) -> np.ndarray:
    """Return p as a float64 array (..., n) after checking that every row is a probability vector.

    Entries must be strictly positive (a softmax never gives 0; c_j is infinite for p_j = 0 when ratio > 0) and
    each row must sum to 1 within `atol`. Rows are then divided by their sum to remove rounding.
    """
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"p must have shape (..., n) with n >= 1, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError("p must have finite, strictly positive entries")
    sums = arr.sum(axis=-1, keepdims=True)
    if np.any(np.abs(sums - 1.0) > atol):
        raise ValueError(
            f"every row of p must sum to 1 (within {atol:g}); got sums as far off as {np.abs(sums - 1.0).max():.3g}"
        )
    return arr / sums


# --------------------------------------------------------------------------------------------------------------
# 1. Symbolic: the expectation over keep patterns


def probability_symbols(n: int, name: str = "p") -> tuple[sp.Symbol, ...]:
    """The symbols p_1 ... p_n (positive) for the attention weights of one query over n keys."""
    check_positive_int(n, "n")
    return tuple(sp.Symbol(f"{name}_{j}", positive=True) for j in range(1, n + 1))


def ratio_symbol(name: str = "r") -> sp.Symbol:
    """The drop ratio r as a positive symbol (SymPy cannot also assume r < 1; 1 - r > 0 is used by hand)."""
    return sp.Symbol(name, positive=True)


def keep_patterns(n: int) -> list[tuple[int, ...]]:
    """All 2**n keep patterns m in {0, 1}**n (1 = kept), the all-dropped pattern first."""
    return list(itertools.product((0, 1), repeat=n))


def pattern_probability(pattern: Sequence[int], drop_ratio, keep=None):
    """P(m) = (1 - r)**(#kept) r**(#dropped) for i.i.d. Bernoulli(1 - r) keep indicators.

    `keep` is the keep probability (default 1 - ratio); passing an independent positive symbol for it lets SymPy's
    assumptions see that it is positive.
    """
    keep = 1 - drop_ratio if keep is None else keep
    kept = sum(pattern)
    return keep**kept * drop_ratio ** (len(pattern) - kept)


def _kept_sum(p: Sequence, pattern: Sequence[int], normalized: bool):
    """sum_i m_i p_i; when every key is kept and `normalized`, that is sum_i p_i = 1."""
    if normalized and all(pattern):
        return sp.Integer(1)
    return sp.Add(*[pi for pi, mi in zip(p, pattern) if mi])


def dropkey_weights_symbolic(
    p: Sequence, pattern: Sequence[int], *, all_dropped: str = "zero", normalized: bool = True
) -> list:
    """The DropKey weights p_hat_j = m_j p_j / sum_i m_i p_i of one keep pattern, as SymPy expressions.

    For the all-dropped pattern: zeros (`all_dropped="zero"`) or 1/n each (`"uniform"`, the library's fallback).
    `normalized=True` uses sum_j p_j = 1.
    """
    check_all_dropped(all_dropped)
    n = len(p)
    if not any(pattern):
        return [sp.Integer(0) if all_dropped == "zero" else sp.Rational(1, n)] * n
    denominator = _kept_sum(p, pattern, normalized)
    return [pj / denominator if mj else sp.Integer(0) for pj, mj in zip(p, pattern)]


def expected_dropkey_weights_symbolic(
    p: Sequence, drop_ratio, *, all_dropped: str = "zero", normalized: bool = True, keep=None
) -> list:
    """E[p_hat_j] for j = 1..n: the sum over all 2**n keep patterns of P(m) p_hat_j(m). Unsimplified."""
    n = len(p)
    total = [sp.Integer(0)] * n
    for pattern in keep_patterns(n):
        weight = pattern_probability(pattern, drop_ratio, keep)
        for j, w in enumerate(dropkey_weights_symbolic(p, pattern, all_dropped=all_dropped, normalized=normalized)):
            total[j] += weight * w
    return total


def smoothing_coefficient_symbolic(p: Sequence, drop_ratio, j: int, *, normalized: bool = True, keep=None):
    """c_j = (1 - r) E[1 / (p_j + sum_{i != j} m_i p_i)], summed over the 2**(n-1) patterns of the other keys.

    This is E[p_hat_j] / p_j written as "key j is kept (probability 1 - r), then average over the others".
    `j` is 0-based.
    """
    n = len(p)
    keep_prob = 1 - drop_ratio if keep is None else keep
    others = [i for i in range(n) if i != j]
    total = sp.Integer(0)
    for sub in keep_patterns(n - 1):
        pattern = [0] * n
        pattern[j] = 1
        for i, mi in zip(others, sub):
            pattern[i] = mi
        total += pattern_probability(sub, drop_ratio, keep) / _kept_sum(p, pattern, normalized)
    return keep_prob * total


def smoothing_coefficients_closed_form(n: int) -> tuple[tuple[sp.Symbol, ...], sp.Symbol, list]:
    """Closed forms of c_1 .. c_n for n = 2 or 3, on the simplex (sum_j p_j = 1).

    Returns (p, r, [c_1, ..., c_n]), each c_j written as (1 - r) times one term per keep pattern of the other keys:
    n = 2:  c_1 = (1 - r) (1 - r + r / p_1);
    n = 3:  c_1 = (1 - r) ((1 - r)**2 + r (1 - r) / (p_1 + p_2) + r (1 - r) / (p_1 + p_3) + r**2 / p_1).
    `sp.factor` turns them into a single fraction.
    """
    if n not in (2, 3):
        raise ValueError(f"closed forms are built for n = 2 and n = 3 only, got {n!r}")
    p, r = probability_symbols(n), ratio_symbol()
    return p, r, [smoothing_coefficient_symbolic(p, r, j) for j in range(n)]


def on_simplex(expr, p: Sequence):
    """Impose sum_j p_j = 1 by substituting p_n = 1 - (p_1 + ... + p_{n-1})."""
    return sp.sympify(expr).subs(p[-1], 1 - sp.Add(*p[:-1]))


def is_zero_on_simplex(expr, p: Sequence) -> bool:
    """True when `expr` simplifies to 0 once sum_j p_j = 1 is imposed (use it to assert derivations)."""
    return sp.simplify(on_simplex(expr, p)) == 0


def coupling_gap_symbolic(p: Sequence, drop_ratio, s: int, t: int, *, normalized: bool = True, keep=None):
    """The coupling identity for c_t - c_s (0-based s, t), summed over the keep patterns of the other keys:

        c_t - c_s = r (1 - r) (p_s - p_t) E_R[ 1 / ((p_s + R) (p_t + R)) ],    R = sum_{i != s, t} m_i p_i.

    Every factor after (p_s - p_t) is positive, so p_s > p_t gives c_s < c_t. (If every other key is kept and
    `normalized`, p_s + p_t + R = 1 and so p_s + R = 1 - p_t and p_t + R = 1 - p_s.)
    """
    n = len(p)
    if s == t:
        raise ValueError("s and t must differ")
    keep_prob = 1 - drop_ratio if keep is None else keep
    others = [i for i in range(n) if i not in (s, t)]
    total = sp.Integer(0)
    for sub in keep_patterns(n - 2):
        rest = sp.Add(*[p[i] for i, mi in zip(others, sub) if mi])
        if normalized and all(sub):
            den_s, den_t = 1 - p[t], 1 - p[s]
        else:
            den_s, den_t = p[s] + rest, p[t] + rest
        total += pattern_probability(sub, drop_ratio, keep) / (den_s * den_t)
    return drop_ratio * keep_prob * (p[s] - p[t]) * total


def sign_certificate(difference, p: Sequence, drop_ratio, s: int, t: int) -> dict:
    """Certify that `difference` = c_t - c_s has the sign of p_s - p_t for 0 < r < 1 and p > 0.

    Factors it as  r (1 - r) (p_s - p_t) N / D  and checks that the polynomials N and D (in p and r) have only
    positive coefficients. Returns {"factored", "numerator", "denominator", "positive"}; `positive` is True when
    the certificate holds.
    """
    factored = sp.factor(difference)
    numerator, denominator = sp.fraction(sp.cancel(sp.together(difference)))
    cofactor = sp.cancel(numerator / (drop_ratio * (1 - drop_ratio) * (p[s] - p[t])))
    gens = (*p, drop_ratio)
    positive = False
    if cofactor.is_polynomial(*gens) and denominator.is_polynomial(*gens):
        num_coeffs = sp.Poly(cofactor, *gens).coeffs()
        den_coeffs = sp.Poly(denominator, *gens).coeffs()
        # An overall sign may sit on either polynomial; what matters is that each has a single sign, the same one.
        positive = (all(c > 0 for c in num_coeffs) and all(c > 0 for c in den_coeffs)) or (
            all(c < 0 for c in num_coeffs) and all(c < 0 for c in den_coeffs)
        )
    return {"factored": factored, "numerator": cofactor, "denominator": denominator, "positive": positive}


def expected_output_symbolic(
    p: Sequence, values: Sequence, drop_ratio, *, all_dropped: str = "zero", normalized: bool = True
):
    """E[o] = sum over patterns of P(m) sum_j p_hat_j(m) v_j, expanded. `values` are symbols standing for v_j."""
    n = len(p)
    total = sp.Integer(0)
    for pattern in keep_patterns(n):
        weights = dropkey_weights_symbolic(p, pattern, all_dropped=all_dropped, normalized=normalized)
        total += pattern_probability(pattern, drop_ratio) * sp.Add(*[w * v for w, v in zip(weights, values)])
    return sp.expand(total)


def dropout_weights_symbolic(p: Sequence, pattern: Sequence[int], drop_ratio) -> list:
    """Classic post-softmax attention dropout (timm's `attn_drop`): m_j p_j / (1 - r), no renormalisation."""
    return [mj * pj / (1 - drop_ratio) for pj, mj in zip(p, pattern)]


def expected_dropout_weights_symbolic(p: Sequence, drop_ratio) -> list:
    """E[m_j p_j / (1 - r)] over all keep patterns, simplified: it is p_j, i.e. unbiased and with no smoothing."""
    n = len(p)
    total = [sp.Integer(0)] * n
    for pattern in keep_patterns(n):
        weight = pattern_probability(pattern, drop_ratio)
        for j, w in enumerate(dropout_weights_symbolic(p, pattern, drop_ratio)):
            total[j] += weight * w
    return [sp.factor(x) for x in total]


def dropout_row_sum_symbolic(p: Sequence, drop_ratio) -> tuple:
    """Mean and variance of the row sum S = sum_j m_j p_j / (1 - r) under post-softmax dropout (sum_j p_j = 1).

    Returns (E[S], Var[S]) simplified: E[S] = 1 but Var[S] = r / (1 - r) * sum_j p_j**2 > 0, so single rows do not
    sum to one.
    """
    n = len(p)
    mean = sp.Integer(0)
    second = sp.Integer(0)
    for pattern in keep_patterns(n):
        row_sum = sp.Add(*dropout_weights_symbolic(p, pattern, drop_ratio))
        weight = pattern_probability(pattern, drop_ratio)
        mean += weight * row_sum
        second += weight * row_sum**2
    mean = sp.simplify(on_simplex(mean, p))
    variance = sp.factor(sp.expand(second - sp.Add(*p) ** 2))
    return mean, variance


# --------------------------------------------------------------------------------------------------------------
# 2. Exact numbers


def expected_weights_enumerate(p, drop_ratio: float, *, all_dropped: str = "zero") -> np.ndarray:
    """E[p_hat] (..., n) by brute force over all 2**n keep patterns. Exact up to float64 rounding; n <= 20."""
    drop_ratio = check_drop_ratio(drop_ratio)
    check_all_dropped(all_dropped)
    arr = check_probabilities(p)
    n = arr.shape[-1]
    if n > 20:
        raise ValueError(f"enumeration visits 2**n patterns; n = {n} is too large (use the integral method)")
    masks = np.array(keep_patterns(n), dtype=np.float64)  # (2**n, n)
    kept = masks.sum(axis=1)
    probs = (1.0 - drop_ratio) ** kept * drop_ratio ** (n - kept)  # (2**n,); 0.0 ** 0 = 1 handles ratio = 0
    nonempty = kept > 0
    masks, probs = masks[nonempty], probs[nonempty]
    denominators = arr @ masks.T  # (..., P)
    expected = arr * ((probs / denominators) @ masks)  # (..., n)
    if all_dropped == "uniform":
        expected = expected + drop_ratio**n / n
    return expected


def _smoothing_coefficients_integral(p: np.ndarray, drop_ratio: float) -> np.ndarray:
    """c_j (all-dropped counted as 0) for p (..., n) from the one-dimensional integral.

    With 1/x = int_0^inf exp(-t x) dt and independent keys,

        E[1 / (p_j + S_j)] = int_0^inf exp(-t p_j) prod_{i != j} (r + (1 - r) exp(-t p_i)) dt.

    We integrate over s = log t with the trapezoid rule (step `_QUAD_STEP`), from t = `_QUAD_T_MIN` (the part
    below it is at most 1e-16 relative) to the t where exp(-t p_min) is negligible. The product is taken in log
    space, and the factor of key j is divided out by subtracting its log.
    """
    p_min = float(p.min())
    t_max = (_QUAD_TAIL + math.log(1.0 / p_min)) / p_min
    s = np.arange(math.log(_QUAD_T_MIN), math.log(t_max) + _QUAD_STEP, _QUAD_STEP)
    log_r = math.log(drop_ratio) if drop_ratio > 0 else -math.inf
    log_keep = math.log1p(-drop_ratio)
    flat = p.reshape(-1, p.shape[-1])
    out = np.empty_like(flat)
    # Bound the (nodes x rows x n) work array to about 4M entries.
    rows_per_chunk = max(1, int(4_000_000 // (len(s) * flat.shape[1])))
    nodes_per_chunk = len(s) if rows_per_chunk > 1 else max(1, int(4_000_000 // flat.shape[1]))
    for start in range(0, flat.shape[0], rows_per_chunk):
        rows = flat[start : start + rows_per_chunk]  # (R, n)
        acc = np.zeros_like(rows)
        for node in range(0, len(s), nodes_per_chunk):
            t = np.exp(s[node : node + nodes_per_chunk])[:, None, None]  # (K, 1, 1)
            log_factor = np.logaddexp(log_r, log_keep - t * rows)  # log(r + (1 - r) e^{-t p_i}), (K, R, n)
            log_prod = log_factor.sum(axis=-1, keepdims=True)
            acc += (t * np.exp(-t * rows + log_prod - log_factor)).sum(axis=0)
        out[start : start + rows_per_chunk] = (1.0 - drop_ratio) * _QUAD_STEP * acc
    return out.reshape(p.shape)


def smoothing_coefficients(p, drop_ratio: float, *, all_dropped: str = "zero", method: str = "auto") -> np.ndarray:
    """Exact smoothing coefficients c (..., n), defined by E[p_hat_j] = c_j p_j, for probability vectors p.

    - `all_dropped="zero"` (default): the mathematical DropKey, where an all-dropped row has no weight; then
      sum_j c_j p_j = 1 - ratio**n. `"uniform"`: the library's `dropkey_weights`, whose all-dropped rows are uniform;
      this adds ratio**n / (n p_j) to c_j and makes sum_j c_j p_j = 1.
    - `method`: "enumerate" sums over the 2**n keep patterns; "integral" uses a one-dimensional integral that is
      exact to about 1e-13 relative for any n; "auto" enumerates for n <= `ENUMERATION_MAX_KEYS`.
    Not Monte Carlo: the result is deterministic. For n = 1024 it takes a few milliseconds.
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    check_all_dropped(all_dropped)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    arr = check_probabilities(p)
    n = arr.shape[-1]
    if method == "auto":
        method = "enumerate" if n <= ENUMERATION_MAX_KEYS else "integral"
    if drop_ratio == 0.0:
        coeffs = np.ones_like(arr)
    elif method == "enumerate":
        return expected_weights_enumerate(arr, drop_ratio, all_dropped=all_dropped) / arr
    else:
        coeffs = _smoothing_coefficients_integral(arr, drop_ratio)
    if all_dropped == "uniform":
        coeffs = coeffs + drop_ratio**n / (n * arr)
    return coeffs


def expected_weights(p, drop_ratio: float, *, all_dropped: str = "zero", method: str = "auto") -> np.ndarray:
    """E[p_hat] = c * p (..., n), exact (see `smoothing_coefficients`)."""
    arr = check_probabilities(p)
    return smoothing_coefficients(arr, drop_ratio, all_dropped=all_dropped, method=method) * arr


def smoothing_coefficients_approx(p, drop_ratio: float, *, order: int = 1) -> np.ndarray:
    """Large-n approximation of c_j (all-dropped counted as 0).

    The kept mass of the other keys, X = p_j + sum_{i != j} m_i p_i, has mean mu_j = 1 - r + r p_j and variance
    r (1 - r) sum_{i != j} p_i**2, and concentrates when no weight dominates. Order 1 is 1/E[X] (Jensen's lower
    bound, which ignores the spread):  c_j ~ (1 - r) / (1 - r + r p_j).  Order 2 adds the delta-method term
    (1 - r) Var[X] / mu_j**3. Both miss the event that every other key is dropped (probability r**(n-1)), which
    matters for small n.
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    arr = check_probabilities(p)
    mu = 1.0 - drop_ratio + drop_ratio * arr
    coeffs = (1.0 - drop_ratio) / mu
    if order == 2:
        var = drop_ratio * (1.0 - drop_ratio) * ((arr**2).sum(axis=-1, keepdims=True) - arr**2)
        coeffs = coeffs + (1.0 - drop_ratio) * var / mu**3
    return coeffs


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread: for tensors this small, extra threads only add synchronisation (badly so on a
    shared CPU). The previous setting is restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class MonteCarloEstimate(NamedTuple):
    """A Monte Carlo estimate of the smoothing coefficients and its standard error, both (..., n)."""

    mean: np.ndarray
    stderr: np.ndarray
    num_samples: int


def smoothing_coefficients_mc(
    p,
    drop_ratio: float,
    num_samples: int = 100_000,
    *,
    generator: torch.Generator | None = None,
    chunk_size: int = 65_536,
) -> MonteCarloEstimate:
    """Estimate c (..., n) by sampling the library's own `dropkey_weights` on the logits log p, in float64.

    Every sample draws a fresh Bernoulli(ratio) mask; the estimate is mean(p_hat) / p. Because `dropkey_weights`
    gives all-dropped rows uniform attention, this estimates `smoothing_coefficients(p, ratio, all_dropped="uniform")`.
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    check_positive_int(num_samples, "num_samples", minimum=2)
    arr = check_probabilities(p)
    scores = torch.from_numpy(np.log(arr))
    total = torch.zeros(scores.shape, dtype=torch.float64)
    total_sq = torch.zeros(scores.shape, dtype=torch.float64)
    done = 0
    with one_thread():
        while done < num_samples:
            size = min(chunk_size, num_samples - done)
            weights = dropkey_weights(scores.expand(size, *scores.shape), drop_ratio, generator=generator)
            total += weights.sum(dim=0)
            total_sq += (weights**2).sum(dim=0)
            done += size
    mean = total / num_samples
    var = (total_sq / num_samples - mean**2).clamp_min(0.0) * num_samples / (num_samples - 1)
    return MonteCarloEstimate(
        mean=(mean / scores.exp()).numpy(),
        stderr=((var / num_samples).sqrt() / scores.exp()).numpy(),
        num_samples=num_samples,
    )


def entropy(p, axis: int = -1) -> np.ndarray:
    """Shannon entropy -sum p log p (nats) along `axis`, with 0 log 0 = 0, of an array (`analysis.row_entropy`).
    p need not be normalised."""
    rows = torch.from_numpy(np.moveaxis(np.asarray(p, dtype=np.float64), axis, -1).copy())
    return row_entropy(rows).numpy()


def conditional_expected_weights(p, drop_ratio: float, *, method: str = "auto") -> np.ndarray:
    """E[p_hat | the row keeps at least one key] = c * p / (1 - ratio**n): the expected attention as a distribution."""
    arr = check_probabilities(p)
    drop_ratio = check_drop_ratio(drop_ratio)
    return expected_weights(arr, drop_ratio, method=method) / (1.0 - drop_ratio ** arr.shape[-1])


def normalized_expected_entropy(p, drop_ratios: Sequence[float]) -> np.ndarray:
    """Entropy / log n of the expected attention given a non-empty row (`conditional_expected_weights`), for one
    attention row p (n,) and each drop ratio: (len(drop_ratios),). 1 is uniform attention."""
    arr = check_probabilities(p)
    return np.array([entropy(conditional_expected_weights(arr, r)) / np.log(arr.shape[-1]) for r in drop_ratios])


# --------------------------------------------------------------------------------------------------------------
# Example attention rows and approximation errors for the figures


def peaked_attention(n: int, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """A reproducible attention row: softmax of standard normal logits divided by `temperature`."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(n) / temperature
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def approximation_errors(
    ns: Sequence[int], drop_ratio: float, *, order: int = 1, temperature: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Largest relative error of `smoothing_coefficients_approx` against the exact c, for one attention row
    `peaked_attention(n, temperature, seed)` per n."""
    errors = []
    for n in ns:
        p = peaked_attention(int(n), temperature, seed)
        exact = smoothing_coefficients(p, drop_ratio)
        errors.append(float(np.max(np.abs(smoothing_coefficients_approx(p, drop_ratio, order=order) / exact - 1))))
    return np.array(errors)
