"""Tables and verdicts for a grid of paired runs: does each claim of the paper hold at our scale? (notebook 10)

Notebook 10 reads the metrics of a finished grid (`experiments.load_results`) and asks, per question of the paper,
whether the claim holds at our scale:

    results = load_results("../results/small-data")
    check_grid(results, ["none", "dropkey-0.2", ...], min_seeds=3)      # every configuration, the same seeds
    rows = grid_summary(results, "test_accuracy", baseline="none")       # mean ± 95% CI, paired Δ ± 95% CI
    results_table(rows, baseline="none")
    v = verdict(compare(results, "test_accuracy", "dropkey-0.2", "dropout-0.2"), expect="higher")
    print(v)                                                             # holds / does not hold / inconclusive

A verdict is computed from the paired difference of two configurations (the same seeds: same initial weights,
training subset and batch order) and its 95% Student-t confidence interval (`stats.paired_difference`), never
written by hand:

- **holds**: the whole interval lies on the side the paper predicts;
- **does not hold**: the whole interval lies on the other side;
- **inconclusive**: the interval includes 0 (or there are fewer than two paired seeds).

The figures of notebook 10 are in `plots.py`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from .stats import mean_ci, paired_difference
from .tables import Table, format_ci

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
INCONCLUSIVE = "inconclusive (95% CI of the paired difference includes 0)"
TOO_FEW = "inconclusive (fewer than 2 paired seeds)"

# How each metric is shown: label, scale (1 -> 100 for percentages), unit of a value, unit of a difference.
METRIC_FORMATS: dict[str, tuple[str, float, str, str]] = {
    "test_accuracy": ("test accuracy", 100.0, "%", "pp"),
    "train_accuracy": ("clean train accuracy", 100.0, "%", "pp"),
    "gap": ("gap (train - test)", 100.0, "pp", "pp"),
    "test_loss": ("test loss", 1.0, "", ""),
    "mean_attention_entropy": ("attention entropy (mean over layers)", 1.0, "nats", "nats"),
    "mean_attention_distance": ("attention distance (mean over layers)", 1.0, "px", "px"),
}

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
    return METRIC_FORMATS.get(metric, (metric, 1.0, "", ""))


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


def compare(results: Sequence[dict], metric: str, run: str, baseline: str) -> dict:
    """The paired difference `run` - `baseline` of `metric` over their shared seeds: a dict with run, baseline,
    metric, n_paired, diff (mean), diff_ci95 (half-width of its 95% t-interval) and p_value (paired t-test)."""
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
    }


def _digits_apart(value: float, ci: float, digits: int = 2, most: int = 4) -> int:
    """The fewest decimals (from `digits` up to `most`) at which |value| and ci print differently."""
    if not (math.isfinite(value) and math.isfinite(ci)):
        return digits
    while digits < most and f"{abs(value):.{digits}f}" == f"{ci:.{digits}f}" and abs(value) != ci:
        digits += 1
    return digits


@dataclass(frozen=True)
class Verdict:
    """Whether the paired difference `run` - `baseline` lies on the side a claim predicts (see the module doc)."""

    run: str
    baseline: str
    metric: str
    expect: str  # "higher" or "lower": what the claim predicts for run compared with baseline
    outcome: str  # HOLDS, DOES_NOT_HOLD, INCONCLUSIVE or TOO_FEW
    diff: float
    ci95: float
    n_paired: int

    @property
    def holds(self) -> bool:
        return self.outcome == HOLDS

    def claim(self) -> str:
        label = metric_format(self.metric)[0]
        return f"{self.run} has {self.expect} {label} than {self.baseline}"

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

    def __str__(self) -> str:
        evidence = self.evidence()
        return f"{self.claim()}: {self.outcome} [paired Δ = {evidence}, {self.n_paired} seeds]"


def verdict(row: Mapping, expect: str = "higher", baseline: str | None = None) -> Verdict:
    """Judge a claim from one paired comparison: `row` from `compare` (or a row of `grid_summary`, then
    give `baseline`). `expect`: 'higher' or 'lower', what the claim predicts for row's run against the baseline.

    holds when the 95% CI of the paired difference lies entirely on the expected side of 0, does not hold when it
    lies entirely on the other side, inconclusive when it includes 0 or fewer than 2 seeds are paired."""
    if expect not in ("higher", "lower"):
        raise ValueError(f"expect must be 'higher' or 'lower', got {expect!r}")
    baseline = row.get("baseline", baseline)
    if baseline is None:
        raise ValueError("row has no 'baseline': pass baseline= (the configuration it was compared with)")
    n = int(row.get("n_paired", row.get("n", 0)))
    diff, ci = float(row["diff"]), float(row["diff_ci95"])
    if n < 2 or not (math.isfinite(diff) and math.isfinite(ci)):
        outcome = TOO_FEW
    elif abs(diff) <= ci:
        outcome = INCONCLUSIVE
    elif (diff > 0) == (expect == "higher"):
        outcome = HOLDS
    else:
        outcome = DOES_NOT_HOLD
    return Verdict(row["run"], baseline, row.get("metric", "?"), expect, outcome, diff, ci, n)


def overall(verdicts: Sequence[Verdict]) -> str:
    """One outcome for a question judged by several comparisons: 'holds' / 'does not hold' / 'inconclusive (...)'
    when they all agree, else 'mixed: a holds, b do not hold, c inconclusive (of n comparisons)'."""
    if not verdicts:
        raise ValueError("no verdicts to summarise")
    outcomes = [v.outcome for v in verdicts]
    if len(set(outcomes)) == 1:
        return outcomes[0]
    holds = sum(o == HOLDS for o in outcomes)
    fails = sum(o == DOES_NOT_HOLD for o in outcomes)
    unsure = len(outcomes) - holds - fails
    return (
        f"mixed: holds in {holds}, does not hold in {fails}, inconclusive in {unsure} (of {len(outcomes)} comparisons)"
    )


def verdict_table(verdicts: Sequence[Verdict], caption: str = "") -> Table:
    """The verdicts as a table: claim, paired Δ ± 95% CI, seeds, outcome."""
    cells = []
    for v in verdicts:
        cells.append([v.claim(), v.evidence(), str(v.n_paired), v.outcome])
    return Table(["claim", "paired Δ ± 95% CI", "seeds", "verdict"], cells, caption, align="lrrl")
