"""Tables and verdicts for a grid of paired runs: does each claim of the paper hold at our scale? (notebook 10)

Notebook 10 reads the metrics of a finished grid (`experiments.load_results`) and asks, per question of the paper,
whether the claim holds at our scale:

    results = load_results("../results/small-data")
    check_grid(results, ["none", "dropkey-0.2", ...], min_seeds=3)      # every configuration, the same seeds
    rows = grid_summary(results, "test_accuracy", baseline="none")       # mean ± 95% CI, paired Δ ± 95% CI
    results_table(rows, baseline="none")
    FAMILY = [("dropkey-0.2", "dropout-0.2", "test_accuracy", "higher"), ...]   # every comparison, stated once
    judged = judge_family(results, FAMILY)                               # one Verdict per comparison
    print(judged[0])                                                     # holds / does not hold / inconclusive

A verdict is computed, never written by hand, from the paired difference of two configurations (the same seeds:
same initial weights, training subset and batch order): its two-sided paired t-test p-value, adjusted with Holm's
method for the whole family of comparisons that is judged together (`stats.paired_difference`, `stats.holm`).
With alpha = 0.05, the outcomes are defined here and only here (`outcome`):

- **holds**: Holm-adjusted p < alpha, and the paired difference lies on the side the paper predicts;
- **does not hold**: Holm-adjusted p < alpha, and the difference lies on the other side;
- **equivalent within the margin**: no difference is shown, but the equivalence test (two one-sided tests,
  `stats.equivalence_p_value`) shows, at Holm-adjusted p < alpha, that the difference lies within ±margin;
- **inconclusive**: neither test decides (or fewer than two paired seeds).

A claim of *no meaningful gain* (expect="not_higher": run is not better than baseline by more than the margin; the
paper's third question, "structured drops are not essential", with run the structured variant and baseline plain
DropKey) is judged with the same two tests, read for that claim: it **holds** when the equivalence test decides
(whatever the difference test says: a gain within the margin is not a meaningful one), or when the difference test
decides with run *below* baseline (then plain DropKey is better); it **does not hold** when the difference test
decides with run above baseline and equivalence is not shown; otherwise it is inconclusive. Equivalence needs a
margin, fixed before the runs (`judge_family(..., margin=...)`); the family then holds both tests of every comparison.

The adjustment keeps the chance of *any* false "holds" or "does not hold" in the family below alpha. Each verdict
also carries the raw p-value and the (unadjusted) 95% t-interval of the difference, which excludes 0 exactly when
the raw p < 0.05: a decided verdict always has an interval that excludes 0, but an interval that excludes 0 is not
enough on its own when several comparisons are made. A family of one comparison (`verdict`) is not adjusted.

The figures of notebook 10 are in `plots/results.py`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from . import metrics
from .stats import detectable_effect, equivalence_p_value, holm, mean_ci, paired_difference
from .tables import Table, format_ci

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
INCONCLUSIVE = "inconclusive"
EQUIVALENT = "equivalent within the margin"
TOO_FEW = "inconclusive (fewer than 2 paired seeds)"
ALPHA = 0.05  # the family-wise error rate of a family of verdicts
EXPECTATIONS = ("higher", "lower", "not_higher")  # "not_higher": no gain beyond the margin (see the module doc)

# The family of comparisons that notebook 10 judges on each committed grid, stated once:
# (run, baseline, metric, what the claim predicts for run). `scripts/figures.py` judges the same families for the
# Markdown files; tests/test_figures.py checks that notebook 10 states the same ones.
FAMILIES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "small-data": (
        *((f"dropkey-{r}", f"dropout-{r}", "test_accuracy", "higher") for r in (0.1, 0.2, 0.3)),  # Q1
        ("dropout-0.2", "none", "gap", "lower"),  # the train/test gap
        ("dropkey-0.2", "none", "gap", "lower"),
        ("dropkey-0.2", "dropout-0.2", "gap", "lower"),
        ("dropkey-0.2-linear_down", "dropkey-0.2", "test_accuracy", "higher"),  # Q2
        ("dropkey-0.2-linear_up", "dropkey-0.2", "test_accuracy", "lower"),
        ("dropkey_block-0.2", "dropkey-0.2", "test_accuracy", "lower"),  # Q3
        ("dropkey_cross-0.2", "dropkey-0.2", "test_accuracy", "lower"),
        ("dropkey-0.2", "none", "mean_attention_entropy", "higher"),  # attention entropy
        ("dropkey-0.2", "dropout-0.2", "mean_attention_entropy", "higher"),
    ),
    "small-data-conv-q1": (
        ("dropkey-0.1", "dropout-0.1", "test_accuracy", "higher"),  # Q1 at the paper's ratio
        ("dropkey-0.1", "none", "test_accuracy", "higher"),
        ("dropout-0.1", "none", "test_accuracy", "higher"),
    ),
    # Pre-registered (results/preregistration.md, part 2): judged with margin=CONFIRMATORY_MARGIN, 12 tests.
    "confirmatory": (
        ("dropkey-0.1", "dropout-0.1", "test_accuracy", "higher"),  # Q1
        ("dropkey-0.3", "dropout-0.3", "test_accuracy", "higher"),
        ("dropkey-0.3-down_to_half", "dropkey-0.3", "test_accuracy", "higher"),  # Q2
        ("dropkey-0.3-down_to_half", "dropkey-0.3-up_from_half", "test_accuracy", "higher"),
        ("dropkey_block-0.3", "dropkey-0.3", "test_accuracy", "not_higher"),  # Q3
        ("dropkey_cross-0.3", "dropkey-0.3", "test_accuracy", "not_higher"),
    ),
}
CONFIRMATORY_MARGIN = 0.005  # half a point of accuracy, fixed before the confirmatory grid's first run

# ------------------------------------------------------------------------------------------------------------------
# Checking and describing a grid


def by_run(results: Iterable[dict], metric: str) -> dict[str, dict[int, float]]:
    """{configuration name: {seed: metric}} from the metrics dicts of a grid's runs."""
    table: dict[str, dict[int, float]] = {}
    for m in results:
        table.setdefault(m["run"], {})[m["seed"]] = m[metric]
    return table


def seeds_by_run(results: Iterable[dict]) -> dict[str, list[int]]:
    """{configuration name: sorted seeds that finished}."""
    seeds: dict[str, set[int]] = {}
    for m in results:
        seeds.setdefault(m["run"], set()).add(int(m["seed"]))
    return {name: sorted(s) for name, s in seeds.items()}


def seed_stats(results: Iterable[dict], metric: str, name: str) -> tuple[float, float, list[float]]:
    """Mean over seeds, its 95% CI half-width, and the per-seed values (in seed order) of `metric` for configuration
    `name`. Raises a ValueError naming the configuration when it has no finished runs."""
    values = by_run(results, metric)
    if name not in values:
        raise ValueError(f"no finished runs for configuration {name!r}; found {sorted(values)}")
    seeds = [values[name][s] for s in sorted(values[name])]
    mean, ci = mean_ci(seeds)
    return mean, ci, seeds


def check_grid(results: Sequence[dict], runs: Sequence[str], min_seeds: int = 3) -> list[int]:
    """Raise a ValueError unless every configuration in `runs` has finished with the same seeds, at least `min_seeds`
    of them (so that every paired difference uses all seeds). Returns the shared seeds."""
    seeds = seeds_by_run(results)
    missing = [name for name in runs if name not in seeds]
    if missing:
        raise ValueError(f"no finished runs for configuration(s) {missing}; found {sorted(seeds)}")
    few = {name: seeds[name] for name in runs if len(seeds[name]) < min_seeds}
    if few:
        raise ValueError(f"fewer than {min_seeds} seeds for {few}")
    reference = seeds[runs[0]]
    unpaired = {name: seeds[name] for name in runs if seeds[name] != reference}
    if unpaired:
        raise ValueError(f"seeds differ from {runs[0]}'s {reference}: {unpaired}")
    return reference


def provenance(results: Sequence[dict]) -> dict:
    """Where the numbers come from: number of runs and configurations, seeds, hardware and data strings (each
    distinct value once), and the summed training and per-run wall times in seconds."""
    if not results:
        raise ValueError("results is empty: no finished runs")
    return {
        "runs": len(results),
        "configurations": len({m["run"] for m in results}),
        "seeds": sorted({int(m["seed"]) for m in results}),
        "hardware": sorted({m.get("hardware", "?") for m in results}),
        # Data sources without their folders: older runs recorded the whole path of the build machine's copy.
        "data": sorted({re.sub(r"from \S*/", "from ", m.get("data", "?")) for m in results}),
        "train_seconds": float(sum(m["train_seconds"] for m in results)),
        "run_wall_seconds": float(sum(m.get("wall_seconds_this_session", m["train_seconds"]) for m in results)),
    }


def with_layer_means(results: Iterable[dict]) -> list[dict]:
    """Copies of the metrics dicts with 'mean_attention_entropy' and 'mean_attention_distance' added: the mean over
    layers of the per-layer lists, one number per run that `compare` and `verdict` can use."""
    return [
        {**m, **{f"mean_{key}": float(np.mean(m[key])) for key in ("attention_entropy", "attention_distance")}}
        for m in results
    ]


def ratio_sweep(runs: Iterable[str], modes: Sequence[str] = ("dropout", "dropkey")) -> dict[str, dict[float, str]]:
    """{mode: {ratio: configuration name}} for the names of the form '<mode>-<ratio>' (e.g. 'dropkey-0.2'), ratios
    sorted. Names with a suffix such as 'dropkey-0.2-linear_down' are not part of a sweep and are left out."""
    sweep: dict[str, dict[float, str]] = {mode: {} for mode in modes}
    for name in runs:
        mode, _, ratio = name.rpartition("-")
        if mode in sweep:
            try:
                sweep[mode][float(ratio)] = name
            except ValueError:
                continue
    return {mode: dict(sorted(found.items())) for mode, found in sweep.items()}


def layer_summary(
    results: Sequence[dict], metric: str, runs: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{configuration: (mean per layer, 95% CI half-width per layer)} of a per-layer metric over seeds."""
    summary = {}
    for name in runs:
        per_seed = [m[metric] for m in results if m["run"] == name]
        if not per_seed:
            raise ValueError(f"no finished runs for configuration {name!r}")
        by_layer = list(zip(*per_seed))
        stats = [mean_ci(list(values)) for values in by_layer]
        summary[name] = (np.array([s[0] for s in stats]), np.array([s[1] for s in stats]))
    return summary


# ------------------------------------------------------------------------------------------------------------------
# Tables


def grid_summary(results: Sequence[dict], metric: str, baseline: str, runs: Sequence[str] | None = None) -> list[dict]:
    """Per configuration: n, mean ± 95% CI of `metric`, and the paired difference to `baseline` (same seeds) with
    its 95% CI and p-value. `runs` picks and orders the configurations (default: all)."""
    values = by_run(results, metric)
    if baseline not in values:
        raise ValueError(f"no finished runs for baseline {baseline!r}; found {sorted(values)}")
    rows = []
    for name in runs or sorted(values):
        if name not in values:
            raise ValueError(f"no finished runs for configuration {name!r}; found {sorted(values)}")
        mean, ci = mean_ci(list(values[name].values()))
        paired = paired_difference(values[name], values[baseline])
        rows.append(
            {
                "run": name,
                "n": len(values[name]),
                "mean": mean,
                "ci95": ci,
                "diff": paired.diff,
                "diff_ci95": paired.ci95,
                "p_value": paired.p_value,
            }
        )
    return rows


def metric_format(metric: str) -> tuple[str, float, str, str]:
    """How `metric` is shown: its label, scale (100 for percentages), unit and unit of a difference, from the
    metrics registry (`metrics.METRICS`)."""
    entry = metrics.metric(metric)
    return entry.label, entry.scale, entry.unit, entry.difference_unit


def results_table(
    rows: Sequence[dict],
    *,
    metric: str = "test_accuracy",
    baseline: str | None = None,
    digits: int = 1,
    caption: str = "",
) -> Table:
    """Rows of `grid_summary` as a table: configuration, seeds, mean ± 95% CI, and the paired
    difference to `baseline` ± 95% CI (the baseline's own row shows 'baseline')."""
    label, scale, unit, diff_unit = metric_format(metric)
    headings = ["configuration", "seeds", f"{label}, mean ± 95% CI" + (f" ({unit})" if unit else "")]
    if baseline is not None:
        headings.append(f"paired Δ vs {baseline} ± 95% CI" + (f" ({diff_unit})" if diff_unit else ""))
    cells = []
    for row in rows:
        line = [row["run"], str(row["n"]), format_ci(row["mean"], row["ci95"], scale=scale, digits=digits)]
        if baseline is not None:
            line.append(
                "baseline"
                if row["run"] == baseline
                else format_ci(row["diff"], row["diff_ci95"], scale=scale, digits=digits, signed=True)
            )
        cells.append(line)
    return Table(headings, cells, caption)


def layer_table(
    results: Sequence[dict], metric: str, runs: Sequence[str], *, digits: int = 2, caption: str = ""
) -> Table:
    """Per-layer means over seeds of a per-layer metric ('attention_entropy', 'attention_distance'), one row per
    configuration, one column per layer."""
    summary = layer_summary(results, metric, runs)
    depth = max(len(mean) for mean, _ in summary.values())
    headings = ["configuration"] + [f"layer {layer}" for layer in range(1, depth + 1)]
    cells = [[name] + [f"{v:.{digits}f}" for v in mean] for name, (mean, _) in summary.items()]
    return Table(headings, cells, caption)


# ------------------------------------------------------------------------------------------------------------------
# Paired comparisons and verdicts


def compare(results: Sequence[dict], metric: str, run: str, baseline: str, margin: float | None = None) -> dict:
    """The paired difference `run` - `baseline` of `metric` over their shared seeds: a dict with run, baseline,
    metric, n_paired, diff (mean), diff_ci95 (half-width of its 95% t-interval), p_value (paired t-test) and, with a
    `margin` (in the metric's own unit, e.g. 0.005 for half a point of accuracy), p_equivalence (TOST)."""
    values = by_run(results, metric)
    for name in (run, baseline):
        if name not in values:
            raise ValueError(f"no finished runs for configuration {name!r}; found {sorted(values)}")
    paired = paired_difference(values[run], values[baseline])
    return {
        "run": run,
        "baseline": baseline,
        "metric": metric,
        "n_paired": paired.n,
        "diff": paired.diff,
        "diff_ci95": paired.ci95,
        "p_value": paired.p_value,
        "p_equivalence": math.nan if margin is None else equivalence_p_value(values[run], values[baseline], margin),
    }


def _digits_apart(value: float, ci: float, digits: int = 2, most: int = 4) -> int:
    """The fewest decimals (from `digits` up to `most`) at which |value| and ci print differently."""
    if not (math.isfinite(value) and math.isfinite(ci)):
        return digits
    while digits < most and f"{abs(value):.{digits}f}" == f"{ci:.{digits}f}" and abs(value) != ci:
        digits += 1
    return digits


def format_p(p: float) -> str:
    """'0.0498', '0.2', '< 0.001' or '-' (NaN): three significant digits, so that 0.0498 does not print as 0.05."""
    if not math.isfinite(p):
        return "-"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def p_text(p: float, name: str = "p") -> str:
    """'p = 0.0498' or 'p < 0.001'."""
    shown = format_p(p)
    return f"{name} {shown}" if shown.startswith("<") else f"{name} = {shown}"


def outcome(
    diff: float,
    p_adjusted: float,
    expect: str,
    n_paired: int,
    alpha: float = ALPHA,
    p_equivalence_adjusted: float = math.nan,
) -> str:
    """The definition of the outcomes (see the module doc): HOLDS, DOES_NOT_HOLD, EQUIVALENT, INCONCLUSIVE or TOO_FEW,
    from the paired difference `diff` (run - baseline), its family-adjusted p-value, the predicted side, and the
    family-adjusted p-value of the equivalence test (NaN when no margin was set)."""
    if expect not in EXPECTATIONS:
        raise ValueError(f"expect must be one of {', '.join(EXPECTATIONS)}, got {expect!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if n_paired < 2 or not (math.isfinite(diff) and math.isfinite(p_adjusted)):
        return TOO_FEW
    different = p_adjusted < alpha
    equivalent = math.isfinite(p_equivalence_adjusted) and p_equivalence_adjusted < alpha
    if expect == "not_higher":
        if equivalent or (different and diff < 0):
            return HOLDS
        return DOES_NOT_HOLD if different else INCONCLUSIVE
    if different:
        return HOLDS if (diff > 0) == (expect == "higher") else DOES_NOT_HOLD
    return EQUIVALENT if equivalent else INCONCLUSIVE


@dataclass(frozen=True)
class Verdict:
    """Whether the paired difference `run` - `baseline` lies on the side a claim predicts (see the module doc)."""

    run: str
    baseline: str
    metric: str
    expect: str  # "higher", "lower" or "not_higher": what the claim predicts for run compared with baseline
    outcome: str  # HOLDS, DOES_NOT_HOLD, INCONCLUSIVE or TOO_FEW
    diff: float
    ci95: float  # half-width of the 95% t-interval of diff (not adjusted for the family)
    n_paired: int
    p_value: float  # two-sided paired t-test, on its own
    p_adjusted: float  # Holm-adjusted within the family the verdict was judged in
    family_size: int = 1  # the number of tests in that family
    margin: float = math.nan  # the equivalence margin (metric units), NaN without an equivalence test
    p_equivalence: float = math.nan  # the TOST p-value, on its own
    p_equivalence_adjusted: float = math.nan

    @property
    def holds(self) -> bool:
        return self.outcome == HOLDS

    @property
    def decided(self) -> bool:
        """True for holds, does not hold and equivalent within the margin; False for inconclusive."""
        return self.outcome in (HOLDS, DOES_NOT_HOLD, EQUIVALENT)

    def claim(self) -> str:
        label, scale, _, unit = metric_format(self.metric)
        if self.expect == "not_higher":
            return f"{self.run} has no {label} gain over {self.baseline} beyond {self.margin * scale:g}{unit}"
        return f"{self.run} has {self.expect} {label} than {self.baseline}"

    def detectable_effect(self, power: float = 0.8) -> float:
        """The true difference (metric units) this comparison detects with probability `power` at the level of
        Holm's first step in its family (alpha / family size): what "inconclusive" could have missed."""
        if self.n_paired < 2 or not math.isfinite(self.ci95) or self.ci95 == 0:
            return math.nan
        from scipy import stats as scipy_stats

        sd = self.ci95 * math.sqrt(self.n_paired) / float(scipy_stats.t.ppf(0.975, self.n_paired - 1))
        return detectable_effect(sd, self.n_paired, power=power, alpha=ALPHA / self.family_size)

    def evidence(self) -> str:
        """'+0.80 ± 0.76 pp': the paired difference and its CI half-width, with enough digits to tell them apart."""
        _, scale, _, unit = metric_format(self.metric)
        return format_ci(
            self.diff,
            self.ci95,
            scale=scale,
            digits=_digits_apart(self.diff * scale, self.ci95 * scale),
            signed=True,
            unit=unit,
        )

    def significance(self) -> str:
        """'p = 0.0498, Holm-adjusted p = 0.449 (family of 12)', or just 'p = ...' for a family of one."""
        shown = p_text(self.p_value)
        if self.family_size > 1:
            shown += f", {p_text(self.p_adjusted, 'Holm-adjusted p')}"
        if math.isfinite(self.p_equivalence):
            _, scale, _, unit = metric_format(self.metric)
            shown += f"; equivalence within ±{self.margin * scale:g}{unit}: {p_text(self.p_equivalence)}"
            if self.family_size > 1:
                shown += f", {p_text(self.p_equivalence_adjusted, 'Holm-adjusted p')}"
        return shown if self.family_size == 1 else f"{shown} (family of {self.family_size})"

    def __str__(self) -> str:
        return (
            f"{self.claim()}: {self.outcome} "
            f"[paired Δ = {self.evidence()}, {self.n_paired} seeds; {self.significance()}]"
        )


def verdict(
    row: Mapping,
    expect: str = "higher",
    baseline: str | None = None,
    *,
    p_adjusted: float | None = None,
    family_size: int = 1,
    alpha: float = ALPHA,
    margin: float | None = None,
    p_equivalence_adjusted: float | None = None,
) -> Verdict:
    """Judge a claim from one paired comparison: `row` from `compare` (or a row of `grid_summary`, then give
    `baseline`). `expect`: 'higher', 'lower' or 'not_higher', what the claim predicts for row's run against the
    baseline ('not_higher' needs `margin`).
    `p_adjusted`: the row's p-value adjusted within its family (`judge_family` passes it); by default the row is
    a family of one and its own p-value decides. `margin`: the equivalence margin the row's p_equivalence was
    computed with (`compare(..., margin=...)`). The outcome is `outcome(...)`."""
    baseline = row.get("baseline", baseline)
    if baseline is None:
        raise ValueError("row has no 'baseline': pass baseline= (the configuration it was compared with)")
    n = int(row.get("n_paired", row.get("n", 0)))
    diff, ci, p_value = float(row["diff"]), float(row["diff_ci95"]), float(row["p_value"])
    adjusted = p_value if p_adjusted is None else float(p_adjusted)
    p_equivalence = float(row.get("p_equivalence", math.nan))
    equivalence_adjusted = p_equivalence if p_equivalence_adjusted is None else float(p_equivalence_adjusted)
    if expect == "not_higher" and margin is None:
        raise ValueError("expect='not_higher' is judged with an equivalence test: pass margin= (and compare with it)")
    decision = outcome(diff, adjusted, expect, n, alpha, equivalence_adjusted)
    return Verdict(
        row["run"],
        baseline,
        row.get("metric", "?"),
        expect,
        decision,
        diff,
        ci,
        n,
        p_value,
        adjusted,
        family_size,
        math.nan if margin is None else float(margin),
        p_equivalence,
        equivalence_adjusted,
    )


def judge_family(
    results: Sequence[dict],
    comparisons: Sequence[tuple[str, str, str, str]],
    alpha: float = ALPHA,
    margin: float | None = None,
) -> list[Verdict]:
    """Judge a whole family of claims at once: `comparisons` is [(run, baseline, metric, expect)], every
    comparison the analysis makes. Each paired difference is tested (`compare`), the p-values are adjusted
    together with Holm's method (`stats.holm`), and each verdict is decided on its adjusted p-value. With a
    `margin` (metric units, fixed before the runs), every comparison also gets an equivalence test, and Holm's
    method adjusts all 2 x len(comparisons) p-values as one family. Returns the verdicts in the order of
    `comparisons`."""
    if not comparisons:
        raise ValueError("comparisons must not be empty: pass the family [(run, baseline, metric, expect), ...]")
    for item in comparisons:
        if len(item) != 4 or item[3] not in EXPECTATIONS:
            expected = " | ".join(repr(e) for e in EXPECTATIONS)
            raise ValueError(f"comparisons: each must be (run, baseline, metric, {expected}), got {item!r}")
    if len(set(comparisons)) != len(comparisons):
        raise ValueError("comparisons: a comparison appears twice in the family")
    rows = [compare(results, metric, run, baseline, margin) for run, baseline, metric, _ in comparisons]
    p_values = [row["p_value"] for row in rows] + ([row["p_equivalence"] for row in rows] if margin else [])
    adjusted = holm(p_values)
    m = sum(math.isfinite(p) for p in p_values)
    equivalence_adjusted = adjusted[len(rows) :] if margin else [None] * len(rows)
    return [
        verdict(row, expect, p_adjusted=p, family_size=m, alpha=alpha, margin=margin, p_equivalence_adjusted=q)
        for row, (*_, expect), p, q in zip(rows, comparisons, adjusted, equivalence_adjusted)
    ]


def overall(verdicts: Sequence[Verdict]) -> str:
    """One outcome for a question judged by several comparisons: the outcome when they all agree, else how many
    comparisons had each: 'mixed: holds in a, does not hold in b[, equivalent within the margin in c], inconclusive
    in d (of n comparisons)' (the equivalence count appears when there is one)."""
    if not verdicts:
        raise ValueError("no verdicts to summarise")
    outcomes = [v.outcome for v in verdicts]
    if len(set(outcomes)) == 1:
        return outcomes[0]
    holds = sum(o == HOLDS for o in outcomes)
    fails = sum(o == DOES_NOT_HOLD for o in outcomes)
    equivalent = sum(o == EQUIVALENT for o in outcomes)
    unsure = len(outcomes) - holds - fails - equivalent
    counts = f"holds in {holds}, does not hold in {fails}" + (f", {EQUIVALENT} in {equivalent}" if equivalent else "")
    return f"mixed: {counts}, inconclusive in {unsure} (of {len(outcomes)} comparisons)"


def verdict_table(verdicts: Sequence[Verdict], caption: str = "") -> Table:
    """The verdicts as a table: claim, paired Δ ± 95% CI, seeds, raw p, Holm-adjusted p, outcome."""
    cells = []
    for v in verdicts:
        cells.append([v.claim(), v.evidence(), str(v.n_paired), format_p(v.p_value), format_p(v.p_adjusted), v.outcome])
    headings = ["claim", "paired Δ ± 95% CI", "seeds", "p", "Holm-adjusted p", "verdict"]
    return Table(headings, cells, caption, align="lrrrrl")
