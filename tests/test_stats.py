"""stats: paired t-tests, Holm's correction, and planning how many seeds a grid needs."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from dropkey_lib.stats import (
    detectable_effect,
    equivalence_p_value,
    holm,
    mean_ci,
    paired_difference,
    sd_upper_bound,
    seeds_for_half_width,
    t_half_width,
)


def test_paired_difference_p_value_is_the_paired_t_test():
    a = {0: 0.50, 1: 0.61, 2: 0.69, 3: 0.55}
    b = {0: 0.49, 1: 0.58, 2: 0.68, 3: 0.55, 9: 0.1}  # seed 9 has no partner and is left out
    paired = paired_difference(a, b)
    assert paired.n == 4
    expected = scipy_stats.ttest_rel([a[s] for s in range(4)], [b[s] for s in range(4)]).pvalue
    assert paired.p_value == pytest.approx(expected)


def test_holm_multiplies_the_smallest_p_value_by_the_family_size_and_keeps_the_order():
    assert holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])  # 3 x 0.01, then max(0.03, 2 x 0.03), ...
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    adjusted = holm([0.2, math.nan, 0.01])
    assert math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)  # NaN is not counted in the family


def test_seeds_for_half_width_is_the_fewest_seeds_that_reach_it():
    n = seeds_for_half_width(1.0, 0.5)
    assert t_half_width(1.0, n) <= 0.5 < t_half_width(1.0, n - 1)
    assert n == 18
    assert t_half_width(1.0, 5) == pytest.approx(mean_ci([-1.0, -0.5, 0.0, 0.5, 1.0])[1] / math.sqrt(0.625))


def test_seeds_for_half_width_names_a_bad_argument():
    with pytest.raises(ValueError, match="half_width"):
        seeds_for_half_width(1.0, 0.0)
    with pytest.raises(ValueError, match="sd"):
        seeds_for_half_width(-1.0, 0.5)


def test_detectable_effect_has_the_requested_power_in_simulated_paired_t_tests():
    sd, n = 2.0, 8
    delta = detectable_effect(sd, n, power=0.8)
    differences = np.random.default_rng(0).normal(delta, sd, size=(20_000, n))
    rejected = scipy_stats.ttest_1samp(differences, 0.0, axis=1).pvalue < 0.05
    assert rejected.mean() == pytest.approx(0.8, abs=0.015)


def test_detectable_effect_is_larger_than_the_normal_approximation_and_shrinks_with_seeds():
    normal = (scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8)) / math.sqrt(10)
    assert detectable_effect(1.0, 10) == pytest.approx(0.996, abs=0.001)  # Cohen's d for n = 10 pairs
    assert detectable_effect(1.0, 10) > normal
    assert detectable_effect(1.0, 20) < detectable_effect(1.0, 10) < detectable_effect(1.0, 5)
    with pytest.raises(ValueError, match="n must"):
        detectable_effect(1.0, 1)


def test_sd_upper_bound_is_above_the_sample_sd_and_tightens_with_more_values():
    assert sd_upper_bound(1.0, 5) == pytest.approx(math.sqrt(4 / scipy_stats.chi2.ppf(0.2, 4)))
    assert sd_upper_bound(1.0, 5) > sd_upper_bound(1.0, 50) > 1.0


def test_equivalence_p_value_is_the_larger_of_the_two_one_sided_t_tests():
    a = {0: 0.51, 1: 0.52, 2: 0.505, 3: 0.515}
    b = {0: 0.50, 1: 0.515, 2: 0.50, 3: 0.505}
    differences = np.array([a[s] - b[s] for s in a])
    lower = scipy_stats.ttest_1samp(differences, -0.02, alternative="greater").pvalue
    upper = scipy_stats.ttest_1samp(differences, 0.02, alternative="less").pvalue
    assert equivalence_p_value(a, b, 0.02) == pytest.approx(max(lower, upper))


def test_a_small_difference_with_little_spread_is_equivalent_and_a_large_one_is_not():
    base = {s: 0.5 + 0.03 * s for s in range(10)}
    close = {s: v + 0.001 * (-1) ** s for s, v in base.items()}
    far = {s: v + 0.02 + 0.001 * (-1) ** s for s, v in base.items()}
    assert equivalence_p_value(close, base, 0.005) < 0.001
    assert equivalence_p_value(far, base, 0.005) > 0.5


def test_equivalence_needs_two_pairs_and_a_positive_margin():
    assert math.isnan(equivalence_p_value({0: 0.5}, {0: 0.4}, 0.01))
    with pytest.raises(ValueError, match="margin"):
        equivalence_p_value({0: 0.5, 1: 0.4}, {0: 0.4, 1: 0.3}, 0.0)


def test_detectable_effect_at_a_strict_level_and_many_seeds_is_a_number():
    # SciPy's noncentral t gives NaN for some far tails (df=49 at a Holm level of 0.05 / 12): not a failure here.
    effect = detectable_effect(0.0125, 50, alpha=0.05 / 12)
    assert 0 < effect < 0.0125
