"""Tables, verdicts and figures for the results notebooks: 10 · Results and 11 · Attention analysis.

Notebook 10 reads the metrics of a finished grid (`experiments.load_results`) and asks, per question of the paper,
whether the claim holds at our scale:

    results = load_results("../results/small-data")
    check_grid(results, ["none", "dropkey-0.2", ...], min_seeds=3)      # every configuration, the same seeds
    rows = summary_table(results, "test_accuracy", baseline="none")      # experiments.summary_table
    results_table(rows, baseline="none")                                 # mean ± 95% CI, paired Δ ± 95% CI
    v = verdict(compare(results, "test_accuracy", "dropkey-0.2", "dropout-0.2"), expect="higher")
    print(v)                                                             # holds / does not hold / inconclusive

A verdict is computed from the paired difference of two configurations (the same seeds: same initial weights,
training subset and batch order) and its 95% Student-t confidence interval, never written by hand:

- **holds**: the whole interval lies on the side the paper predicts;
- **does not hold**: the whole interval lies on the other side;
- **inconclusive**: the interval includes 0 (or there are fewer than two paired seeds).

Notebook 11 loads the shipped checkpoints (`load_checkpoint_index`) and draws what they attend to: per-head maps of
one query over the patch grid (`plot_head_maps`), attention rollout on the image (`plot_rollout`), and per-head
entropies (`head_entropy`).

Figures are drawn with matplotlib and returned (an `Axes` for one panel, a `Figure` for several); nothing is
shown or saved here.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor

from .experiments import by_run, mean_ci

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
        "data": sorted({m.get("data", "?") for m in results}),
        "train_seconds": float(sum(m["train_seconds"] for m in results)),
        "run_wall_seconds": float(sum(m.get("wall_seconds_this_session", m["train_seconds"]) for m in results)),
    }


def format_duration(seconds: float) -> str:
    """'2 h 05 min', '7 min 30 s' or '42 s'."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def with_layer_means(results: Iterable[dict]) -> list[dict]:
    """Copies of the metrics dicts with 'mean_attention_entropy' and 'mean_attention_distance' added: the mean over
    layers of the per-layer lists, one number per run that `compare` and `verdict` can use."""
    return [{**m, **{f"mean_{key}": float(np.mean(m[key])) for key in ("attention_entropy", "attention_distance")}}
            for m in results]


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


# ------------------------------------------------------------------------------------------------------------------
# Tables


def format_ci(value: float, ci: float, *, scale: float = 1.0, digits: int = 1, signed: bool = False,
              unit: str = "") -> str:
    """'45.3 ± 0.8 %' (value and half-width of its interval, times `scale`); `signed` puts + on positive values.
    NaN shows as '-'."""
    if not (math.isfinite(value) and math.isfinite(ci)):
        return "-"
    number = f"{value * scale:+.{digits}f}" if signed else f"{value * scale:.{digits}f}"
    if number.lstrip("+-").strip("0.") == "":  # -0.0 / +0.0
        number = f"{0:.{digits}f}" if not signed else f"{0:+.{digits}f}"
    return f"{number} ± {ci * scale:.{digits}f}" + (f" {unit}" if unit else "")


@dataclass
class Table:
    """A small table of strings that prints as aligned text and shows as HTML (and Markdown) in a notebook."""

    headings: list[str]
    cells: list[list[str]]
    caption: str = ""
    align: str = ""  # one letter per column, "l" or "r"; default: first column left, the others right

    def _align(self) -> str:
        return (self.align or "l" + "r" * (len(self.headings) - 1)).ljust(len(self.headings), "r")

    def to_text(self) -> str:
        table = [self.headings, *self.cells]
        widths = [max(len(line[i]) for line in table) for i in range(len(self.headings))]
        align = self._align()
        lines = ["  ".join(cell.ljust(width) if align[i] == "l" else cell.rjust(width)
                           for i, (cell, width) in enumerate(zip(line, widths))).rstrip() for line in table]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def to_markdown(self) -> str:
        head = "| " + " | ".join(self.headings) + " |"
        rule = "|" + "|".join("---" if a == "l" else "---:" for a in self._align()) + "|"
        body = ["| " + " | ".join(cells) + " |" for cells in self.cells]
        return "\n".join(([f"*{self.caption}*", ""] if self.caption else []) + [head, rule, *body])

    def to_html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headings)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in self.cells)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="dropkey-report" style="text-align: right">{caption}'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def __str__(self) -> str:
        return self.to_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.to_html()


def _metric_format(metric: str) -> tuple[str, float, str, str]:
    return METRIC_FORMATS.get(metric, (metric, 1.0, "", ""))


def results_table(rows: Sequence[dict], *, metric: str = "test_accuracy", baseline: str | None = None,
                  digits: int = 1, caption: str = "") -> Table:
    """Rows of `experiments.summary_table` as a table: configuration, seeds, mean ± 95% CI, and the paired
    difference to `baseline` ± 95% CI (the baseline's own row shows 'baseline')."""
    label, scale, unit, diff_unit = _metric_format(metric)
    headings = ["configuration", "seeds", f"{label}, mean ± 95% CI" + (f" ({unit})" if unit else "")]
    if baseline is not None:
        headings.append(f"paired Δ vs {baseline} ± 95% CI" + (f" ({diff_unit})" if diff_unit else ""))
    cells = []
    for row in rows:
        line = [row["run"], str(row["n"]), format_ci(row["mean"], row["ci95"], scale=scale, digits=digits)]
        if baseline is not None:
            line.append("baseline" if row["run"] == baseline else
                        format_ci(row["diff"], row["diff_ci95"], scale=scale, digits=digits, signed=True))
        cells.append(line)
    return Table(headings, cells, caption)


def layer_table(results: Sequence[dict], metric: str, runs: Sequence[str], *, digits: int = 2,
                caption: str = "") -> Table:
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
    metric, n_paired, diff (mean) and diff_ci95 (half-width of its 95% t-interval)."""
    values = by_run(results, metric)
    for name in (run, baseline):
        if name not in values:
            raise ValueError(f"no finished runs for configuration {name!r}; found {sorted(values)}")
    shared = sorted(set(values[run]) & set(values[baseline]))
    differences = [values[run][s] - values[baseline][s] for s in shared]
    diff, ci = mean_ci(differences) if differences else (float("nan"), float("nan"))
    return {"run": run, "baseline": baseline, "metric": metric, "n_paired": len(shared), "diff": diff,
            "diff_ci95": ci if len(shared) >= 2 else float("nan")}


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
        label = _metric_format(self.metric)[0]
        return f"{self.run} has {self.expect} {label} than {self.baseline}"

    def evidence(self) -> str:
        """'+0.80 ± 0.76 pp': the paired difference and its CI half-width, with enough digits to tell them apart."""
        _, scale, _, unit = _metric_format(self.metric)
        return format_ci(self.diff, self.ci95, scale=scale, digits=_digits_apart(self.diff * scale, self.ci95 * scale),
                         signed=True, unit=unit)

    def __str__(self) -> str:
        evidence = self.evidence()
        return f"{self.claim()}: {self.outcome} [paired Δ = {evidence}, {self.n_paired} seeds]"


def verdict(row: Mapping, expect: str = "higher", baseline: str | None = None) -> Verdict:
    """Judge a claim from one paired comparison: `row` from `compare` (or a row of `experiments.summary_table`, then
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
    return (f"mixed: holds in {holds}, does not hold in {fails}, inconclusive in {unsure} "
            f"(of {len(outcomes)} comparisons)")


def verdict_table(verdicts: Sequence[Verdict], caption: str = "") -> Table:
    """The verdicts as a table: claim, paired Δ ± 95% CI, seeds, outcome."""
    cells = []
    for v in verdicts:
        cells.append([v.claim(), v.evidence(),
                      str(v.n_paired), v.outcome])
    return Table(["claim", "paired Δ ± 95% CI", "seeds", "verdict"], cells, caption, align="lrrl")


# ------------------------------------------------------------------------------------------------------------------
# Figures from the grid's metrics


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _stats(results: Sequence[dict], metric: str, name: str) -> tuple[float, float, list[float]]:
    values = by_run(results, metric)
    if name not in values:
        raise ValueError(f"no finished runs for configuration {name!r}; found {sorted(values)}")
    seeds = [values[name][s] for s in sorted(values[name])]
    mean, ci = mean_ci(seeds)
    return mean, ci, seeds


def plot_ratio_sweep(results: Sequence[dict], sweep: Mapping[str, Mapping[float, str]], *,
                     metric: str = "test_accuracy", baseline: str | None = "none", ax: Axes | None = None,
                     labels: Mapping[str, str] | None = None, show_seeds: bool = True) -> Axes:
    """`metric` against the drop ratio, one line per family of `sweep` ({family: {ratio: configuration}}, e.g. from
    `ratio_sweep`): mean over seeds with 95% CI error bars, single seeds as faint dots, and the `baseline`
    configuration as a horizontal line with its CI as a grey band."""
    label, scale, unit, _ = _metric_format(metric)
    ax = _new_axes(ax, (5.5, 3.8))
    labels = dict(labels or {})
    all_ratios = sorted({r for family in sweep.values() for r in family})
    step = min(np.diff(all_ratios)) if len(all_ratios) > 1 else 0.1
    offsets = np.linspace(-0.08, 0.08, len(sweep)) * step if len(sweep) > 1 else [0.0]
    if baseline is not None:
        mean, ci, _ = _stats(results, metric, baseline)
        ax.axhspan((mean - ci) * scale, (mean + ci) * scale, color="grey", alpha=0.2, linewidth=0)
        ax.axhline(mean * scale, color="grey", linestyle="--", linewidth=1, label=f"{baseline} (mean, 95% CI)")
    for i, (family, runs) in enumerate(sweep.items()):
        ratios = np.array(list(runs), dtype=float) + offsets[i]
        stats = [_stats(results, metric, name) for name in runs.values()]
        means = np.array([s[0] for s in stats]) * scale
        cis = np.array([s[1] for s in stats]) * scale
        bars = ax.errorbar(ratios, means, yerr=cis, marker="o", capsize=4, label=labels.get(family, family))
        if show_seeds:
            for x, (_, _, seeds) in zip(ratios, stats):
                ax.scatter([x] * len(seeds), np.array(seeds) * scale, s=10, alpha=0.35,
                           color=bars.lines[0].get_color(), zorder=1)
    ax.set_xticks(all_ratios)
    ax.set_xlabel("drop ratio (constant over depth)")
    ax.set_ylabel(label + (f" ({unit})" if unit else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_metric_bars(results: Sequence[dict], metric: str, runs: Sequence[str], *, baseline: str | None = None,
                     ax: Axes | None = None, title: str | None = None) -> Axes:
    """One bar per configuration: mean of `metric` over seeds with its 95% CI, each seed as a dot; a dashed line at
    the `baseline` configuration's mean."""
    label, scale, unit, _ = _metric_format(metric)
    ax = _new_axes(ax, (0.7 * len(runs) + 2.5, 3.6))
    for i, name in enumerate(runs):
        mean, ci, seeds = _stats(results, metric, name)
        color = "lightgrey" if name == baseline else f"C{i % 10}"
        ax.bar(i, mean * scale, yerr=ci * scale, capsize=4, color=color, alpha=0.8, edgecolor="black", linewidth=0.5)
        ax.scatter(i + np.linspace(-0.15, 0.15, len(seeds)), np.array(seeds) * scale, s=12, color="black", zorder=3)
    if baseline is not None:
        ax.axhline(_stats(results, metric, baseline)[0] * scale, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(runs)), runs, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(label + (f" ({unit})" if unit else ""))
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_differences(verdicts: Sequence[Verdict], *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """A forest plot: one row per verdict, its paired difference with the 95% CI as a horizontal error bar and a
    vertical line at 0. Green: holds; red: does not hold; grey: inconclusive."""
    colors = {HOLDS: "tab:green", DOES_NOT_HOLD: "tab:red"}
    ax = _new_axes(ax, (6.0, 0.6 * len(verdicts) + 1.2))
    for i, v in enumerate(verdicts):
        scale = _metric_format(v.metric)[1]
        ax.errorbar(v.diff * scale, i, xerr=0 if not math.isfinite(v.ci95) else v.ci95 * scale, marker="o",
                    capsize=4, color=colors.get(v.outcome, "grey"))
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(verdicts)), [f"{v.run} − {v.baseline}\n(claim: {'> 0' if v.expect == 'higher' else '< 0'})"
                                         for v in verdicts], fontsize=8)
    ax.invert_yaxis()
    units = {_metric_format(v.metric)[3] for v in verdicts}
    ax.set_xlabel("paired difference" + (f" ({units.pop()})" if len(units) == 1 and "" not in units else ""))
    ax.grid(alpha=0.3, axis="x")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def layer_summary(results: Sequence[dict], metric: str, runs: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
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


LAYER_LABELS = {
    "attention_entropy": "attention entropy (nats)",
    "attention_distance": "mean attention distance (pixels)",
}


def plot_layer_metric(results: Sequence[dict], metric: str, runs: Sequence[str], *, ax: Axes | None = None,
                      title: str | None = None, reference: float | None = None, reference_label: str = "") -> Axes:
    """A per-layer metric against depth, one line per configuration (mean over seeds) with its 95% CI as a band;
    an optional dotted `reference` line (e.g. log N, the entropy of uniform attention)."""
    ax = _new_axes(ax, (5.0, 3.5))
    for name, (mean, ci) in layer_summary(results, metric, runs).items():
        layers = np.arange(1, len(mean) + 1)
        line, = ax.plot(layers, mean, marker="o", markersize=4, label=name)
        ax.fill_between(layers, mean - ci, mean + ci, color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_xticks(layers)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle=":", linewidth=1, label=reference_label or None)
    ax.set_xlabel("layer (1 = nearest the patches)")
    ax.set_ylabel(LAYER_LABELS.get(metric, metric))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_layer_panels(results: Sequence[dict], metric: str, groups: Mapping[str, Sequence[str]], *,
                      reference: float | None = None, reference_label: str = "") -> Figure:
    """`plot_layer_metric` once per group ({panel title: configurations}), side by side with a shared y axis."""
    fig, axes = plt.subplots(1, len(groups), figsize=(4.3 * len(groups), 3.6), sharey=True, squeeze=False)
    for ax, (title, runs) in zip(axes[0], groups.items()):
        plot_layer_metric(results, metric, runs, ax=ax, title=title, reference=reference,
                          reference_label=reference_label)
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------------------------
# Shipped checkpoints and their attention (notebook 11)


def load_checkpoint_index(path: str | os.PathLike, root: str | os.PathLike | None = None) -> dict[str, dict]:
    """Read `results/checkpoints.json`: {name: {"path": Path, "test_accuracy": float, ...}}.

    The file may map names to entries or list entries (then a name is the file's stem, e.g. 'dropkey' for
    'results/checkpoints/dropkey.pt'). Relative paths are taken relative to `root` (default: the folder above the
    file's folder, i.e. the repository root for results/checkpoints.json)."""
    path = Path(path)
    index = json.loads(path.read_text())
    root = Path(root) if root is not None else path.parent.parent
    if isinstance(index, dict) and "path" not in index:
        items = list(index.items())
    else:
        entries = index if isinstance(index, list) else [index]
        items = [(Path(entry["path"]).stem, entry) for entry in entries]
    loaded = {}
    for name, entry in items:
        if "path" not in entry:
            raise ValueError(f"entry {name!r} of {path} has no 'path'")
        file = Path(entry["path"])
        loaded[str(name)] = {**entry, "path": file if file.is_absolute() else root / file}
    return loaded


def image_hwc(image: Tensor | np.ndarray) -> np.ndarray:
    """One image (3, H, W), uint8 or float in [0, 1], as a float (H, W, 3) array for `imshow`."""
    array = image.detach().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    if array.ndim != 3 or array.shape[0] != 3:
        raise ValueError(f"image must have shape (3, H, W), got {array.shape}")
    array = array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)
    return np.clip(array.transpose(1, 2, 0), 0.0, 1.0)


def query_maps(maps: Sequence[Tensor], layer: int, *, image: int = 0, query: int = 0,
               grid_size: tuple[int, int] = (8, 8), num_prefix_tokens: int = 1) -> np.ndarray:
    """The attention of token `query` (0 = the class token) of one image over the patch keys in `layer`, per head:
    (H, g_h, g_w). Weights on prefix keys (the class token) are left out, so a head's map sums to 1 minus its
    weight on the class token."""
    m = maps[layer][image, :, query, num_prefix_tokens:]
    return m.reshape(m.shape[0], *grid_size).cpu().numpy()


def plot_head_maps(model_maps: Mapping[str, Sequence[Tensor]], image: Tensor, *, layer: int = -1, index: int = 0,
                   query: int = 0, grid_size: tuple[int, int] = (8, 8), num_prefix_tokens: int = 1,
                   title: str | None = None) -> Figure:
    """One row per model: the image, then each head's attention of `query` over the g x g patch grid in `layer`.

    model_maps: {model name: attention maps from `TinyViT.attention_maps`}; `index` picks the image in the batch
    and `image` is that image (3, H, W) for the first column. All heads of all models share one colour scale, so a
    bright patch means the same weight everywhere; each head's title gives its largest weight on a patch."""
    rows = {name: query_maps(maps, layer, image=index, query=query, grid_size=grid_size,
                             num_prefix_tokens=num_prefix_tokens) for name, maps in model_maps.items()}
    heads = max(m.shape[0] for m in rows.values())
    vmax = max(float(m.max()) for m in rows.values())
    fig, axes = plt.subplots(len(rows), heads + 1, figsize=(1.7 * (heads + 1), 1.8 * len(rows) + 0.6),
                             squeeze=False)
    for r, (name, m) in enumerate(rows.items()):
        axes[r][0].imshow(image_hwc(image))
        axes[r][0].set_ylabel(name, fontsize=10)
        for h in range(heads):
            ax = axes[r][h + 1]
            if h < m.shape[0]:
                ax.imshow(m[h], cmap="inferno", vmin=0.0, vmax=vmax)
                ax.set_title(f"head {h + 1}, max {m[h].max():.2f}", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    depth = len(next(iter(model_maps.values())))
    shown = layer % depth + 1
    who = "the class token" if query < num_prefix_tokens else f"token {query}"
    fig.suptitle(title or f"layer {shown} of {depth}: attention of {who} over the patches", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig


def plot_query_map(maps: Sequence[Tensor], image: Tensor, *, layer: int = -1, head: int | None = None,
                   query: int = 0, index: int = 0, grid_size: tuple[int, int] = (8, 8), num_prefix_tokens: int = 1,
                   vmax: float | None = None, alpha: float = 0.6, ax: Axes | None = None,
                   title: str | None = None) -> Axes:
    """One head's attention of token `query` (0 = the class token) over the patches, laid over the image.

    maps: one model's attention maps from `TinyViT.attention_maps`; `index` picks the image in the batch and `image`
    (3, H, W) is that image. `head` is 0-based; None averages the heads. A patch query is outlined. The colour
    scale runs from 0 to `vmax` (default: this map's largest weight), so pass a common `vmax` to compare models.
    Returns the Axes.
    """
    depth = len(maps)
    if isinstance(layer, bool) or not isinstance(layer, int) or not -depth <= layer < depth:
        raise ValueError(f"layer must be an int in [{-depth}, {depth}), got {layer!r}")
    tokens = maps[layer].shape[-1]
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < tokens:
        raise ValueError(f"query must be a token index in [0, {tokens}), got {query!r}")
    per_head = query_maps(maps, layer, image=index, query=query, grid_size=grid_size,
                          num_prefix_tokens=num_prefix_tokens)
    if head is not None and (isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < len(per_head)):
        raise ValueError(f"head must be None or an int in [0, {len(per_head)}), got {head!r}")
    grid = per_head.mean(axis=0) if head is None else per_head[head]
    ax = _new_axes(ax, (3.4, 3.4))
    picture = image_hwc(image)
    height, width = picture.shape[:2]
    ax.imshow(picture)
    ax.imshow(grid, cmap="inferno", alpha=alpha, vmin=0.0, vmax=float(grid.max()) if vmax is None else vmax,
              extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="nearest")
    if query >= num_prefix_tokens:
        row, col = divmod(query - num_prefix_tokens, grid_size[1])
        cell_h, cell_w = height / grid_size[0], width / grid_size[1]
        ax.add_patch(Rectangle((col * cell_w - 0.5, row * cell_h - 0.5), cell_w, cell_h, fill=False,
                               edgecolor="cyan", linewidth=2))
    ax.set_xticks([])
    ax.set_yticks([])
    who = "mean of the heads" if head is None else f"head {head + 1}"
    ax.set_title(f"{title + ': ' if title else ''}{who}, max {grid.max():.2f}", fontsize=9)
    return ax


def rollout_map(rollout: Tensor, *, index: int = 0, grid_size: tuple[int, int] = (8, 8),
                num_prefix_tokens: int = 1) -> np.ndarray:
    """The class token's row of `analysis.attention_rollout` for one image over the patches, (g_h, g_w),
    renormalised to sum to 1 over the patches (uniform = 1 / (g_h * g_w) everywhere)."""
    row = rollout[index, 0, num_prefix_tokens:].reshape(grid_size).cpu().numpy()
    return row / max(float(row.sum()), 1e-12)


def plot_rollout(image: Tensor, rollouts: Mapping[str, np.ndarray], *, alpha: float = 0.55,
                 title: str | None = None) -> Figure:
    """The image, then for each model its rollout map (from `rollout_map`) laid over the image as a heat map.

    Each map is stretched to its own range (blue = its smallest value, red = its largest), so the colours show
    *where* a model looks; how strongly it prefers those patches is the panel's 'max/min' ratio (1 = uniform)."""
    picture = image_hwc(image)
    height, width = picture.shape[:2]
    fig, axes = plt.subplots(1, len(rollouts) + 1, figsize=(2.3 * (len(rollouts) + 1), 2.8), squeeze=False)
    axes = axes[0]
    axes[0].imshow(picture)
    axes[0].set_title("image", fontsize=9)
    for ax, (name, heat) in zip(axes[1:], rollouts.items()):
        low, high = float(heat.min()), float(heat.max())
        ax.imshow(picture)
        ax.imshow(heat, cmap="jet", alpha=alpha, extent=(-0.5, width - 0.5, height - 0.5, -0.5),
                  interpolation="bilinear", vmin=low, vmax=max(high, low + 1e-12))
        ratio = high / low if low > 0 else float("inf")
        ax.set_title(f"{name}\nmax/min {ratio:.1f}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9) if title else None)
    return fig


def head_entropy(maps: Sequence[Tensor], queries: slice | None = None) -> np.ndarray:
    """Mean entropy (nats) of each head's attention rows, per layer: (L, H), averaged over images and the queries
    in `queries` (default: all)."""
    rows = []
    for m in maps:
        m = m if queries is None else m[:, :, queries]
        rows.append((-(m * m.clamp_min(1e-12).log()).sum(-1)).mean(dim=(0, 2)).cpu().numpy())
    return np.stack(rows)


def plot_head_entropy(entropies: Mapping[str, np.ndarray], *, reference: float | None = None,
                      ax: Axes | None = None, title: str | None = None) -> Axes:
    """Per-head entropies ({model: (L, H) from `head_entropy`}) against depth: each model's heads as dots around its
    layer position, its per-layer mean as a line."""
    ax = _new_axes(ax, (5.5, 3.6))
    n = len(entropies)
    for i, (name, values) in enumerate(entropies.items()):
        layers = np.arange(1, values.shape[0] + 1)
        x = layers + (i - (n - 1) / 2) * 0.12
        line, = ax.plot(x, values.mean(axis=1), marker="_", markersize=12, label=name)
        for h in range(values.shape[1]):
            ax.scatter(x, values[:, h], s=12, color=line.get_color(), alpha=0.6)
        ax.set_xticks(layers)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle=":", linewidth=1, label="uniform attention, log N")
    ax.set_xlabel("layer (1 = nearest the patches)")
    ax.set_ylabel("entropy per head (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
