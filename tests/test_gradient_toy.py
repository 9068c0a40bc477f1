"""Tests for dropkey_lib.gradient_toy: the symbolic gradient argument and the toy training experiment."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from dropkey_lib import gradient_toy as G


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("smoothed", [False, True])
def test_gradient_argument_partials(dim, smoothed):
    prob = G.toy_attention_problem(3, dim)
    for s in range(3):
        assert sp.simplify(prob.dL_dp(s, smoothed) - prob.dL_dp_closed_form(s, smoothed)) == 0
        assert sp.simplify(prob.dL_dbeta(s, smoothed) - prob.dL_dbeta_closed_form(s, smoothed)) == 0
        assert sp.simplify(prob.dL_dv(s, smoothed) - prob.dL_dv_closed_form(s, smoothed)) == sp.zeros(dim, 1)
    assert sp.simplify(prob.gap(0, 1, smoothed) - prob.gap_closed_form(0, 1, smoothed)) == 0


def test_gradient_gap_matches_the_paper_notes_formula():
    prob = G.toy_attention_problem(3, 2)
    p, b, a = prob.p, prob.beta, [x[0] for x in prob.alpha]
    expected = (
        (sum(p[j] * b[j] for j in range(3)) - prob.M) * (b[0] - b[1])
        + sum(p[j] * a[j] for j in range(3)) * (a[0] - a[1])
        - (prob.mu[0] - prob.mu[1])
    )
    assert sp.simplify(prob.gap(0, 1) - expected) == 0


# --------------------------------------------------------------------------------------------------------------
# The toy training experiment


def test_train_toy_attention_is_deterministic_and_dropkey_flattens():
    kwargs = dict(num_seeds=8, steps=150)
    vanilla = G.train_toy_attention(0.0, **kwargs)
    dropkey = G.train_toy_attention(0.5, **kwargs)
    again = G.train_toy_attention(0.5, **kwargs)
    np.testing.assert_array_equal(dropkey.entropy, again.entropy)
    assert vanilla.entropy.shape == (8, 151)
    np.testing.assert_array_equal(vanilla.entropy[:, 0], dropkey.entropy[:, 0])  # same starting problems
    assert dropkey.entropy[:, -1].mean() > vanilla.entropy[:, -1].mean() + 0.05
    assert dropkey.max_weight[:, -1].mean() < vanilla.max_weight[:, -1].mean()


def test_seed_mean_and_stderr_summarise_a_curve_over_seeds():
    history = G.train_toy_attention(0.3, num_seeds=5, steps=10)
    mean, stderr = history.seed_mean_and_stderr("max_weight")
    np.testing.assert_array_equal(mean, history.max_weight.mean(axis=0))
    np.testing.assert_array_equal(stderr, history.max_weight.std(axis=0) / np.sqrt(5))
    assert mean.shape == history.steps.shape
    with pytest.raises(ValueError, match="curve must be"):
        history.seed_mean_and_stderr("accuracy")
