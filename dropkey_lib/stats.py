"""The statistics behind the course's verdicts: t-intervals, paired differences, equivalence tests, Holm's correction.

Runs of a grid are *paired*: seed s gives the same initial weights, training subset and batch order in every
configuration. Comparing two configurations seed by seed removes most of the seed-to-seed spread, so the paired
difference is the quantity every claim is judged on.

The last functions plan a grid before it is run: how wide its intervals will be (`t_half_width`), how many seeds
make them narrow enough (`seeds_for_half_width`), and which effect a number of seeds can detect (`detectable_effect`).

SciPy is imported inside the functions that use it: importing it costs about 60 MB of memory, and the notebooks that
only draw figures (through `plots`, which imports this module) should not pay that on Binder's 1 GB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (0 for a single value)."""
    from scipy import stats as scipy_stats

    n = len(values)
    if n == 0:
        raise ValueError("values must not be empty")
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)


@dataclass(frozen=True)
class PairedDifference:
    """Mean of `a[s] - b[s]` over the `n` seeds s that both have, its 95% t-interval half-width `ci95`, and the
    two-sided p-value of a paired t-test against 0 (NaN with fewer than two pairs)."""

    n: int
    diff: float
    ci95: float
    p_value: float


def paired_difference(a: Mapping[int, float], b: Mapping[int, float]) -> PairedDifference:
    """The paired difference a - b over their shared seeds ({seed: value} each)."""
    from scipy import stats as scipy_stats

    shared = sorted(set(a) & set(b))
    differences = [a[s] - b[s] for s in shared]
    if len(differences) < 2:
        diff = differences[0] if differences else math.nan
        return PairedDifference(len(differences), diff, math.nan, math.nan)
    diff, ci = mean_ci(differences)
    if all(d == differences[0] for d in differences):  # zero spread: t is undefined
        p_value = 1.0 if diff == 0 else 0.0
    else:
        p_value = float(scipy_stats.ttest_1samp(differences, 0.0).pvalue)
    return PairedDifference(len(differences), diff, ci, p_value)


def equivalence_p_value(a: Mapping[int, float], b: Mapping[int, float], margin: float) -> float:
    """The p-value of the two one-sided tests (TOST) that the true mean paired difference a - b lies within
    (-margin, +margin), over their shared seeds ({seed: value} each, `margin` in the same unit).

    Each one-sided paired t-test rejects one edge: H0 diff <= -margin, with t = (mean + margin) / se, and
    H0 diff >= +margin, with t = (mean - margin) / se. Equivalence is shown at level alpha when both reject, so the
    p-value is the larger of the two. A small p says "the difference is smaller than the margin", which a large p of
    the difference test never says. NaN with fewer than two pairs.
    """
    from scipy import stats as scipy_stats

    margin = _check_sd(margin, "margin")
    shared = sorted(set(a) & set(b))
    differences = [a[s] - b[s] for s in shared]
    n = len(differences)
    if n < 2:
        return math.nan
    mean = sum(differences) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    if sd == 0:  # zero spread: the mean is exact
        return 0.0 if abs(mean) < margin else 1.0
    se = sd / math.sqrt(n)
    p_above_lower = float(scipy_stats.t.sf((mean + margin) / se, n - 1))
    p_below_upper = float(scipy_stats.t.cdf((mean - margin) / se, n - 1))
    return max(p_above_lower, p_below_upper)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values of a family of tests, in the input order.

    Sort the m p-values p_(1) <= ... <= p_(m); the adjusted value of p_(i) is the running maximum of
    (m - j + 1) * p_(j) over j <= i, capped at 1. Rejecting where the adjusted value is below alpha keeps the
    chance of any false "holds" or "does not hold" in the whole family below alpha. NaN stays NaN.
    """
    indexed = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    m = len(indexed)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(indexed)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


# ------------------------------------------------------------------------------------------------------------------
# Planning a grid: how many seeds?


def _check_sd(sd: float, name: str = "sd") -> float:
    if not (isinstance(sd, (int, float)) and math.isfinite(sd) and sd > 0):
        raise ValueError(f"{name} must be a positive finite number, got {sd!r}")
    return float(sd)


def t_half_width(sd: float, n: int, confidence: float = 0.95) -> float:
    """The half-width t_{n-1} * sd / sqrt(n) of the `confidence` t-interval of a mean of n values with standard
    deviation sd: what a grid of n paired seeds is expected to give if its paired differences scatter by sd."""
    from scipy import stats as scipy_stats

    sd = _check_sd(sd)
    if not (isinstance(n, int) and n >= 2):
        raise ValueError(f"n must be an integer >= 2 (paired seeds), got {n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)


def seeds_for_half_width(sd: float, half_width: float, confidence: float = 0.95, most: int = 10_000) -> int:
    """The fewest paired seeds n (at least 2) whose `confidence` t-interval of the mean paired difference has a
    half-width `t_half_width(sd, n)` of at most `half_width`, if the paired differences have standard deviation
    `sd` (same unit as `half_width`). Raises a ValueError if more than `most` seeds would be needed."""
    sd, half_width = _check_sd(sd), _check_sd(half_width, "half_width")
    for n in range(2, most + 1):
        if t_half_width(sd, n, confidence) <= half_width:
            return n
    raise ValueError(f"half_width {half_width} needs more than most={most} seeds at sd {sd}")


def detectable_effect(sd: float, n: int, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest true mean paired difference that a two-sided paired t-test at level `alpha` on `n` seeds
    detects (p < alpha) with probability `power`, if the paired differences have standard deviation `sd`.

    Exact, from the noncentral t distribution: under a true difference delta, the t statistic follows
    nct(df=n - 1, nc=delta * sqrt(n) / sd); the result is the delta at which P(|T| > t_{1-alpha/2, n-1}) = power.
    (The normal approximation (z_{1-alpha/2} + z_power) * sd / sqrt(n) is smaller, optimistic for few seeds.)"""
    from scipy import stats as scipy_stats
    from scipy.optimize import brentq

    sd = _check_sd(sd)
    if not (isinstance(n, int) and n >= 2):
        raise ValueError(f"n must be an integer >= 2 (paired seeds), got {n!r}")
    if not (0 < alpha < 1 and alpha / 2 < power < 1):
        raise ValueError(f"need 0 < alpha < 1 and alpha/2 < power < 1, got alpha={alpha!r}, power={power!r}")
    df, critical = n - 1, float(scipy_stats.t.ppf(1 - alpha / 2, n - 1))

    def missing_power(delta: float) -> float:
        nc = delta * math.sqrt(n) / sd
        wrong_side = float(scipy_stats.nct.cdf(-critical, df, nc))
        # SciPy's nct.cdf returns NaN for some far tails (e.g. df=49, nc=7); there it is below 1e-20, so 0.
        wrong_side = wrong_side if math.isfinite(wrong_side) else 0.0
        return float(scipy_stats.nct.sf(critical, df, nc)) + wrong_side - power

    upper = sd
    while missing_power(upper) < 0:
        upper *= 2
    return float(brentq(missing_power, 0.0, upper, xtol=1e-12 * sd))


def sd_upper_bound(sd: float, n: int, confidence: float = 0.8) -> float:
    """A one-sided `confidence` upper bound of the true standard deviation, from the sample standard deviation `sd`
    of `n` values: sd * sqrt((n - 1) / chi2_{1 - confidence, n - 1}). Planning with it instead of `sd` guards against
    a pilot (a few seeds) that happened to scatter little."""
    from scipy import stats as scipy_stats

    sd = _check_sd(sd)
    if not (isinstance(n, int) and n >= 2):
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return sd * math.sqrt((n - 1) / float(scipy_stats.chi2.ppf(1 - confidence, n - 1)))
