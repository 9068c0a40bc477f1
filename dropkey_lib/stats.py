"""The statistics behind the course's verdicts: t-intervals, paired differences and Holm's correction.

Runs of a grid are *paired*: seed s gives the same initial weights, training subset and batch order in every
configuration. Comparing two configurations seed by seed removes most of the seed-to-seed spread, so the paired
difference is the quantity every claim is judged on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from scipy import stats as scipy_stats


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (0 for a single value)."""
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
