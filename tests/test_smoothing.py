"""Tests for dropkey_lib.smoothing: exact smoothing coefficients, Monte Carlo, and the symbolic derivations."""

from __future__ import annotations

import itertools
import math
import time
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
import torch

from dropkey_lib import smoothing as T

RATIOS = [0.0, 0.05, 0.3, 0.5, 0.9, 1 - 1e-6]


def random_p(n: int, rng: np.random.Generator, concentration: float = 0.5) -> np.ndarray:
    p = rng.dirichlet(np.full(n, concentration))
    p = np.maximum(p, 1e-8)
    return p / p.sum()


def brute_force_expected(p, drop_ratio, all_dropped="zero"):
    """E[p_hat] with exact rational arithmetic over all keep patterns (independent of the library's code)."""
    n = len(p)
    fp = [Fraction(float(x)) for x in p]
    total = sum(fp)
    fp = [x / total for x in fp]
    r = Fraction(float(drop_ratio))
    out = [Fraction(0)] * n
    for pattern in itertools.product((0, 1), repeat=n):
        kept = sum(pattern)
        prob = (1 - r) ** kept * r ** (n - kept)
        if kept == 0:
            if all_dropped == "uniform":
                out = [o + prob / n for o in out]
            continue
        den = sum(x for x, m in zip(fp, pattern) if m)
        out = [o + prob * x / den if m else o for o, x, m in zip(out, fp, pattern)]
    return np.array([float(o) for o in out]), np.array([float(x) for x in fp])


# --------------------------------------------------------------------------------------------------------------
# Exact numbers


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("drop_ratio", [0.0, 0.3, 0.9, 1 - 1e-6])
@pytest.mark.parametrize("all_dropped", ["zero", "uniform"])
def test_both_methods_match_rational_brute_force(n, drop_ratio, all_dropped):
    rng = np.random.default_rng(100 * n + int(drop_ratio * 10))
    p = random_p(n, rng)
    expected, p_exact = brute_force_expected(p, drop_ratio, all_dropped)
    reference = expected / p_exact
    for method in ("enumerate", "integral"):
        c = T.smoothing_coefficients(p, drop_ratio, all_dropped=all_dropped, method=method)
        np.testing.assert_allclose(c, reference, rtol=1e-10, atol=0, err_msg=method)


@pytest.mark.parametrize("n", range(1, 11))
def test_integral_matches_enumeration_to_1e10(n):
    rng = np.random.default_rng(n)
    for drop_ratio in RATIOS:
        for concentration in (0.1, 1.0, 10.0):
            p = random_p(n, rng, concentration)
            for all_dropped in T.ALL_DROPPED:
                enum = T.smoothing_coefficients(p, drop_ratio, all_dropped=all_dropped, method="enumerate")
                integ = T.smoothing_coefficients(p, drop_ratio, all_dropped=all_dropped, method="integral")
                np.testing.assert_allclose(integ, enum, rtol=1e-10, atol=0)


def test_tiny_entries_and_dominant_key():
    p = np.array([1 - 4e-8, 1e-8, 1e-8, 1e-8, 1e-8])
    for drop_ratio in (0.1, 0.5, 0.99):
        expected, p_exact = brute_force_expected(p, drop_ratio)
        reference = expected / p_exact
        for method in ("enumerate", "integral"):
            np.testing.assert_allclose(T.smoothing_coefficients(p, drop_ratio, method=method), reference, rtol=1e-10)
        c = T.smoothing_coefficients(p, drop_ratio)
        assert c[0] < c[1:].min()  # the dominant key is shrunk the most
        # A tiny key is alone with probability r**(n-1); then it takes all the weight: c_j >= (1 - r) r**(n-1) / p_j.
        assert np.all(c[1:] >= (1 - drop_ratio) * drop_ratio**4 / 1e-8 * (1 - 1e-12))


def test_ratio_zero_is_identity_and_n1():
    rng = np.random.default_rng(0)
    for n in (1, 4, 50):
        p = random_p(n, rng)
        np.testing.assert_array_equal(T.smoothing_coefficients(p, 0.0), np.ones(n))
    for drop_ratio in (0.2, 0.9, 1 - 1e-6):
        np.testing.assert_allclose(T.smoothing_coefficients([1.0], drop_ratio), [1 - drop_ratio], rtol=1e-12)
        np.testing.assert_allclose(
            T.smoothing_coefficients([1.0], drop_ratio, all_dropped="uniform"), [1.0], rtol=1e-12
        )
        np.testing.assert_allclose(
            T.smoothing_coefficients([1.0], drop_ratio, method="integral"), [1 - drop_ratio], rtol=1e-12
        )


@pytest.mark.parametrize("n", [2, 9, 64, 1024])
def test_sum_identity_and_monotonicity(n):
    rng = np.random.default_rng(n)
    for drop_ratio in (0.1, 0.5, 0.95):
        p = random_p(n, rng)
        c = T.smoothing_coefficients(p, drop_ratio)
        assert abs((c * p).sum() - (1 - drop_ratio**n)) < 1e-12
        cu = T.smoothing_coefficients(p, drop_ratio, all_dropped="uniform")
        assert abs((cu * p).sum() - 1) < 1e-12
        order = np.argsort(p)
        # p_s > p_t  =>  c_s < c_t: sorted by increasing p, c must decrease (strictly, where p differs by more
        # than rounding; random_p clamps some entries to the same 1e-8).
        dp, dc = np.diff(p[order]), np.diff(c[order])
        assert np.all(dc[dp > 1e-9] < 0)
        assert np.all(dc <= 1e-12 * c.max())


def binomial_pmf(k_max: int, prob: float) -> np.ndarray:
    k = np.arange(k_max + 1)
    log_pmf = (
        np.array([math.lgamma(k_max + 1) - math.lgamma(i + 1) - math.lgamma(k_max - i + 1) for i in k])
        + k * math.log(prob)
        + (k_max - k) * math.log1p(-prob)
    )
    return np.exp(log_pmf)


@pytest.mark.parametrize("drop_ratio", [0.05, 0.5, 0.99])
def test_large_n_against_independent_binomial_formula(drop_ratio):
    # Two groups of 512 keys with weights a and b: the kept mass of the others is a K_a + b K_b with binomial
    # counts, so c has an exact double-sum formula that shares no code with the library.
    n_half = 512
    a, b = 3.0 / (4 * n_half), 1.0 / (4 * n_half)
    p = np.array([a] * n_half + [b] * n_half)
    keep = 1 - drop_ratio
    pmf_full, pmf_less = binomial_pmf(n_half, keep), binomial_pmf(n_half - 1, keep)
    ka, kb = np.arange(n_half)[:, None], np.arange(n_half + 1)[None, :]
    c_a = keep * (pmf_less[:, None] * pmf_full[None, :] / (a + a * ka + b * kb)).sum()
    ka, kb = np.arange(n_half + 1)[:, None], np.arange(n_half)[None, :]
    c_b = keep * (pmf_full[:, None] * pmf_less[None, :] / (b + a * ka + b * kb)).sum()
    c = T.smoothing_coefficients(p, drop_ratio)
    np.testing.assert_allclose(c[:n_half], c_a, rtol=1e-9)
    np.testing.assert_allclose(c[n_half:], c_b, rtol=1e-9)


def test_n1024_is_fast_and_exact():
    rng = np.random.default_rng(1)
    p = random_p(1024, rng, 0.3)
    p[:10] = 1e-8
    p /= p.sum()
    T.smoothing_coefficients(p, 0.3)  # warm-up
    start = time.perf_counter()
    c = T.smoothing_coefficients(p, 0.3)
    assert time.perf_counter() - start < 1.0
    # Halving the quadrature step must not change the answer: the trapezoid rule has converged.
    fine = T._QUAD_STEP
    try:
        T._QUAD_STEP = fine / 2
        c_fine = T.smoothing_coefficients(p, 0.3)
    finally:
        T._QUAD_STEP = fine
    np.testing.assert_allclose(c, c_fine, rtol=1e-12)
    assert abs((c * p).sum() - (1 - 0.3**1024)) < 1e-12


def test_batched_rows():
    rng = np.random.default_rng(2)
    batch = np.stack([random_p(6, rng) for _ in range(5)]).reshape(5, 1, 6)
    c = T.smoothing_coefficients(batch, 0.4)
    assert c.shape == (5, 1, 6)
    for i in range(5):
        np.testing.assert_allclose(c[i, 0], T.smoothing_coefficients(batch[i, 0], 0.4), rtol=1e-14)
    np.testing.assert_allclose(T.smoothing_coefficients(batch, 0.4, method="integral"), c, rtol=1e-10)


@pytest.mark.parametrize(
    "p, drop_ratio",
    [
        ([0.5, 0.25, 0.15, 0.1], 0.3),
        ([1.0], 0.6),
        ([0.9, 0.05, 0.03, 0.02], 0.5),
        ([0.2] * 5, 0.8),
        ([1 - 2e-8, 1e-8, 1e-8], 0.5),
    ],
)
def test_monte_carlo_through_the_library_op(p, drop_ratio):
    gen = torch.Generator().manual_seed(0)
    est = T.smoothing_coefficients_mc(p, drop_ratio, 200_000, generator=gen)
    exact = T.smoothing_coefficients(p, drop_ratio, all_dropped="uniform")
    z = np.abs(est.mean - exact) / np.maximum(est.stderr, 1e-15)
    assert np.all((z < 5) | (np.abs(est.mean - exact) < 1e-12 * exact)), (est.mean, exact, est.stderr)


def test_worked_example_of_the_paper_notes():
    c = T.smoothing_coefficients([0.5, 0.25, 0.15, 0.1], 0.3)
    np.testing.assert_allclose(c, [0.851, 1.052, 1.178, 1.269], atol=5e-4)
    approx = T.smoothing_coefficients_approx([0.5, 0.25, 0.15, 0.1], 0.3)
    np.testing.assert_allclose(approx, [0.824, 0.903, 0.940, 0.959], atol=5e-4)


def test_approximation_is_a_lower_bound_and_tight_for_large_n():
    rng = np.random.default_rng(3)
    for n in (4, 32, 1024):
        p = random_p(n, rng, 1.0)
        for drop_ratio in (0.1, 0.5):
            exact = T.smoothing_coefficients(p, drop_ratio)
            first = T.smoothing_coefficients_approx(p, drop_ratio, order=1)
            assert np.all(first <= exact * (1 + 1e-12))  # Jensen
            if n == 1024:
                np.testing.assert_allclose(first, exact, rtol=2e-3)
                second = T.smoothing_coefficients_approx(p, drop_ratio, order=2)
                np.testing.assert_allclose(second, exact, rtol=5e-5)
                assert np.abs(second - exact).max() < np.abs(first - exact).max() / 10


def test_invalid_inputs():
    with pytest.raises(ValueError):
        T.smoothing_coefficients([0.5, 0.5], 1.0)
    with pytest.raises(ValueError):
        T.smoothing_coefficients([0.5, 0.4], 0.1)
    with pytest.raises(ValueError):
        T.smoothing_coefficients([1.0, 0.0], 0.1)
    with pytest.raises(ValueError):
        T.smoothing_coefficients([0.5, 0.5], 0.1, all_dropped="nan")
    with pytest.raises(ValueError):
        T.smoothing_coefficients([0.5, 0.5], 0.1, method="mc")
    with pytest.raises(ValueError):
        T.smoothing_coefficients_approx([0.5, 0.5], 0.1, order=3)


def test_entropy_and_conditional_weights():
    assert T.entropy([0.25] * 4) == pytest.approx(math.log(4))
    assert T.entropy([1.0, 0.0]) == 0.0
    p = T.peaked_attention(8, 0.5, seed=1)
    cond = T.conditional_expected_weights(p, 0.5)
    assert cond.sum() == pytest.approx(1.0, abs=1e-12)
    assert T.entropy(cond) > T.entropy(p)


# --------------------------------------------------------------------------------------------------------------
# Symbolic derivations


@pytest.mark.parametrize("n", [2, 3])
def test_closed_forms_equal_the_expectation(n):
    p, r, cs = T.smoothing_coefficients_closed_form(n)
    expected = T.expected_dropkey_weights_symbolic(p, r)
    for j in range(n):
        assert T.is_zero_on_simplex(expected[j] - cs[j] * p[j], p)
    assert T.is_zero_on_simplex(sp.Add(*expected) - (1 - r**n), p)
    uniform = T.expected_dropkey_weights_symbolic(p, r, all_dropped="uniform")
    assert T.is_zero_on_simplex(sp.Add(*uniform) - 1, p)
    # Numerically equal to the exact numeric coefficients.
    values = [0.6, 0.4] if n == 2 else [0.5, 0.3, 0.2]
    subs = dict(zip(p, values)) | {r: sp.Rational(3, 10)}
    numeric = T.smoothing_coefficients(values, 0.3)
    np.testing.assert_allclose([float(c.subs(subs)) for c in cs], numeric, rtol=1e-12)


def test_closed_form_n2():
    p, r, cs = T.smoothing_coefficients_closed_form(2)
    assert sp.simplify(cs[0] - (1 - r) * (1 - r + r / p[0])) == 0


@pytest.mark.parametrize("n", [2, 3, 4])
def test_coupling_identity_and_sign_certificate(n):
    p, r = T.probability_symbols(n), T.ratio_symbol()
    c0 = T.smoothing_coefficient_symbolic(p, r, 0)
    c1 = T.smoothing_coefficient_symbolic(p, r, 1)
    assert T.is_zero_on_simplex(c1 - c0 - T.coupling_gap_symbolic(p, r, 0, 1), p)
    if n <= 3:
        cert = T.sign_certificate(c1 - c0, p, r, 0, 1)
        assert cert["positive"]
    # With an independent positive symbol for 1 - r, SymPy itself sees that the cofactor is positive.
    k = sp.Symbol("k", positive=True)
    gap = T.coupling_gap_symbolic(p, r, 0, 1, keep=k, normalized=False)
    assert sp.simplify(gap / (r * k * (p[0] - p[1]))).is_positive


def test_sign_certificate_rejects_a_wrong_sign():
    p, r = T.probability_symbols(2), T.ratio_symbol()
    wrong = r * (1 - r) * (p[0] - p[1]) * (p[0] - 2 * p[1])
    assert not T.sign_certificate(wrong, p, r, 0, 1)["positive"]


def test_expected_output_coefficients():
    p, r = T.probability_symbols(3), T.ratio_symbol()
    v = sp.symbols("v_1:4")
    out = T.expected_output_symbolic(p, v, r)
    for j in range(3):
        assert T.is_zero_on_simplex(out.coeff(v[j]) - T.smoothing_coefficient_symbolic(p, r, j) * p[j], p)


def test_post_softmax_dropout_is_unbiased_but_rows_do_not_sum_to_one():
    p, r = T.probability_symbols(3), T.ratio_symbol()
    assert [sp.simplify(e - pj) for e, pj in zip(T.expected_dropout_weights_symbolic(p, r), p)] == [0, 0, 0]
    mean, var = T.dropout_row_sum_symbolic(p, r)
    assert mean == 1
    assert sp.simplify(var - r / (1 - r) * sum(pj**2 for pj in p)) == 0


def test_normalized_expected_entropy_is_one_for_uniform_rows_and_rises_with_the_ratio():
    np.testing.assert_allclose(T.normalized_expected_entropy(np.full(8, 1 / 8), [0.0, 0.3, 0.6]), 1.0)
    curve = T.normalized_expected_entropy(T.peaked_attention(8, 0.3), [0.0, 0.2, 0.4, 0.6])
    assert curve.shape == (4,) and np.all(np.diff(curve) > 0) and curve[-1] < 1
    assert curve[0] == pytest.approx(T.entropy(T.peaked_attention(8, 0.3)) / np.log(8))
