"""Every figure of ours in the Markdown files, computed from the committed data: the one source of the numbers.

    python scripts/figures.py --check    # fails when a Markdown file quotes a figure its data no longer gives
    python scripts/figures.py --write    # rewrites the figures in place (after new results or measurements)

The Markdown files mark each figure with cogapp (https://nedbatchelder.com/code/cog/): the code between
`[[[cog` and `]]]` calls this module (imported as `f`), and what it prints replaces the lines up to `[[[end]]]`.
The markers sit in HTML comments, so GitHub and the course site show the figure only. A figure inside a sentence:

    the shipped run reached <!-- [[[cog f.out(f.test_accuracy("default-run"))]]]
    -->70.5%<!--
    [[[end]]] --> test accuracy

(`out` writes `-->figure<!--`, so the line breaks stay inside the comments and the sentence reads as one line). A
table or a list is a block: `<!-- [[[cog f.block(f.bench_table("attention"))]]] -->` on a line of its own, the
generated lines, then `<!-- [[[end]]] -->`.

The numbers come from the run folders and JSON files under `results/` only: the grids' `metrics.json` (judged as
notebook 10 judges them: `verdicts.FAMILIES`, Holm's correction), the shipped runs' `history.json`, the index of
shipped checkpoints, and `results/measurements/*.json` (timings and memory, written by the tools that measure them,
`dropkey_lib.measurements`). Parameter counts come from building the model of a committed config. `--root DIR` reads
the Markdown files and `results/` of another copy of the repository (the tests use it).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

from dropkey_lib import confirmatory, measurements, stats, tables, verdicts
from dropkey_lib.config import TrainConfig
from dropkey_lib.experiments import GRIDS, load_results
from dropkey_lib.metrics import metric as metric_entry
from dropkey_lib.rundir import load_run, read_checkpoint_index
from dropkey_lib.vit import TinyViT, count_parameters

REPOSITORY = Path(__file__).resolve().parents[1]
MARKDOWN = ("README.md", "README.zh-CN.md", "results/**/*.md", "docs/**/*.md")  # the files whose figures are checked
_root = REPOSITORY


# ------------------------------------------------------------------------------------------------------------------
# Where the data is, and how a figure is written into the Markdown


def use_root(path: str | os.PathLike) -> None:
    """Read the data (and check the Markdown files) of the repository copy at `path`."""
    global _root
    _root = Path(path).resolve()


def root() -> Path:
    """The repository copy whose data the figures are computed from."""
    return _root


def markdown_files(base: Path | None = None) -> list[Path]:
    """The Markdown files that may quote figures (`MARKDOWN`), sorted."""
    base = base or root()
    found = {path for pattern in MARKDOWN for path in base.glob(pattern) if path.is_file()}
    return sorted(found)


def _cog():
    import cog  # the module cogapp provides to the code it runs

    return cog


def out(text: str, lang: str = "en") -> None:
    """Write a figure inside a sentence: `-->text<!--`, so that the line breaks around it stay inside comments.
    `lang="zh"`: a minus sign before a number is written as the Chinese texts write it, U+2212."""
    if "\n" in text or "--" in text:
        raise ValueError(f"an inline figure is one line without '--': {text!r}")
    if lang == "zh":
        text = re.sub(r"(?<![\w.])-(?=\d)", "\u2212", text)
    _cog().out(f"-->{text}<!--\n")


def block(text: str) -> None:
    """Write a table or a list between blank lines: its markers are HTML comments on lines of their own."""
    _cog().out(f"\n{text.strip()}\n\n")


# ------------------------------------------------------------------------------------------------------------------
# Number formats (the units stay in the prose, except % and the signs)


def pct(fraction: float, digits: int = 1) -> str:
    """0.7053 -> '70.5%'."""
    return f"{fraction * 100:.{digits}f}%"


def fixed(number: float, digits: int = 2, signed: bool = False) -> str:
    """12.513 -> '12.51'; signed: '+0.19'; thousands separated: 1205 -> '1,205' (digits=0)."""
    return f"{number:+,.{digits}f}" if signed else f"{number:,.{digits}f}"


def duration(seconds: float, lang: str = "en", precise: bool = False) -> str:
    """'14 min 52 s' ('14 分 52 秒' in Chinese), '1 h 16 min' (`precise`: '1 h 16 min 32 s'), '42 s'."""
    text = tables.format_duration(seconds)
    if precise and seconds >= 3600:
        text += f" {int(round(seconds)) % 60:02d} s"
    if lang == "zh":
        text = text.replace(" h ", " 小时 ").replace(" min", " 分").replace(" s", " 秒")
    return text


def listing(items: list[str], lang: str = "en") -> str:
    """'a, b and c' ('a、b 和 c' in Chinese)."""
    if len(items) < 2:
        return "".join(items)
    if lang == "zh":
        return "、".join(items[:-1]) + " 和 " + items[-1]
    return ", ".join(items[:-1]) + " and " + items[-1]


# ------------------------------------------------------------------------------------------------------------------
# The data: grids, shipped runs, checkpoints, measurements (read once per repository copy)


@functools.lru_cache(maxsize=None)
def _grid(base: Path, name: str) -> tuple[dict, ...]:
    return tuple(verdicts.with_layer_means(load_results(base / "results" / name)))


def grid(name: str) -> list[dict]:
    """The final metrics of every run of a committed grid (`results/<name>/`), with the layer means added."""
    return list(_grid(root(), name))


@functools.lru_cache(maxsize=None)
def _family(base: Path, name: str) -> dict:
    comparisons = verdicts.FAMILIES[name]
    return dict(zip(comparisons, verdicts.judge_family(list(_grid(base, name)), comparisons)))


def judged(name: str, run: str, baseline: str, metric: str = "test_accuracy") -> verdicts.Verdict:
    """The verdict of one comparison of a grid's family, judged together with the others (as notebook 10 does)."""
    for (r, b, m, _), found in _family(root(), name).items():
        if (r, b, m) == (run, baseline, metric):
            return found
    raise ValueError(f"{run} - {baseline} ({metric}) is not in the family of {name!r} (verdicts.FAMILIES)")


def shipped_run(name: str):
    """A shipped run folder (`results/<name>/`: config.json and history.json) as a `rundir.Run`."""
    return load_run(root() / "results" / name)


def measurement(name: str) -> dict:
    """`results/measurements/<name>.json`."""
    return measurements.read(root() / "results" / "measurements" / f"{name}.json")


def measured(name: str, key: str) -> float:
    """One value of a measurement file."""
    values = measurement(name)["values"]
    if key not in values:
        raise ValueError(f"results/measurements/{name}.json has no value {key!r}; it has {sorted(values)}")
    return values[key]["value"]


# ------------------------------------------------------------------------------------------------------------------
# The grids (notebook 10)


def grid_progress(name: str, lang: str = "en") -> str:
    """How far a grid run in parts has come: '3 of 68 seeds' ('3/68 个种子'), counting the seeds finished with every
    configuration (`Grid.finished_seeds`: the counts only, as the pre-registration's running protocol requires)."""
    done, total = len(GRIDS[name].finished_seeds(root() / "results" / name)), GRIDS[name].seeds
    return f"{done}/{total} 个种子" if lang == "zh" else f"{done} of {total} seeds"


def run_count(name: str) -> str:
    """How many runs a grid has: '55'."""
    return str(len(grid(name)))


def config_count(name: str) -> str:
    """How many configurations a grid has: '11'."""
    return str(len({m["run"] for m in grid(name)}))


def seed_count(name: str) -> str:
    """How many paired seeds a grid has: '5'."""
    return str(len(verdicts.check_grid(grid(name), sorted({m["run"] for m in grid(name)}), min_seeds=2)))


def family_size(name: str) -> str:
    """How many comparisons notebook 10 judges together on a grid: '12'."""
    return str(len(verdicts.FAMILIES[name]))


def _scale(metric: str) -> float:
    return metric_entry(metric).scale


def mean_ci(name: str, run: str, metric: str = "test_accuracy", digits: int = 1) -> str:
    """A configuration's mean over seeds ± the half-width of its 95% t-interval: '39.0 ± 1.2%' (a percentage metric
    keeps its %, a gap in points and other metrics none)."""
    mean, ci, _ = verdicts.seed_stats(grid(name), metric, run)
    scale = _scale(metric)
    text = f"{mean * scale:.{digits}f} ± {ci * scale:.{digits}f}"
    return text + "%" if metric_entry(metric).unit == "%" else text


def mean_range(name: str, runs: list[str], metric: str = "test_accuracy", lang: str = "en") -> str:
    """The lowest and the highest mean over seeds of some configurations: '39.1-39.6%' ('39.1% 到 39.6%')."""
    means = [verdicts.seed_stats(grid(name), metric, run)[0] * _scale(metric) for run in runs]
    low, high = f"{min(means):.1f}", f"{max(means):.1f}"
    return f"{low}% 到 {high}%" if lang == "zh" else f"{low}-{high}%"


def paired(name: str, run: str, baseline: str, metric: str = "test_accuracy", digits: int = 2) -> str:
    """The paired difference run - baseline over the shared seeds ± its 95% half-width, in points for accuracies and
    gaps (nats for entropy): '+1.10 ± 1.05'."""
    row = verdicts.compare(grid(name), metric, run, baseline)
    return tables.format_ci(row["diff"], row["diff_ci95"], scale=_scale(metric), digits=digits, signed=True)


def shrinks(name: str, run: str, baseline: str, metric: str = "gap", digits: int = 2) -> str:
    """How much `run` lowers a metric below `baseline` (minus the paired difference) ± its half-width: '3.36 ± 2.50'."""
    row = verdicts.compare(grid(name), metric, run, baseline)
    return tables.format_ci(-row["diff"], row["diff_ci95"], scale=_scale(metric), digits=digits)


def p_value(name: str, run: str, baseline: str, metric: str = "test_accuracy") -> str:
    """The raw two-sided paired t-test p-value of run - baseline: '0.0431' (three significant digits)."""
    return verdicts.format_p(verdicts.compare(grid(name), metric, run, baseline)["p_value"])


def holm_p(name: str, run: str, baseline: str, metric: str = "test_accuracy") -> str:
    """The Holm-adjusted p-value of a comparison of the grid's family (`verdicts.FAMILIES`): '0.449'."""
    return verdicts.format_p(judged(name, run, baseline, metric).p_adjusted)


def holm_p_among(name: str, run: str, baseline: str, others: list[str], metric: str = "test_accuracy") -> str:
    """The Holm-adjusted p-value of run - baseline within the family of every configuration of `others` (run
    included) against the same baseline: for a comparison that is not in notebook 10's family."""
    family = [(other, baseline, metric, "higher") for other in others]
    found = dict(zip(family, verdicts.judge_family(grid(name), family)))
    return verdicts.format_p(found[(run, baseline, metric, "higher")].p_adjusted)


def regularisers(name: str, baseline: str = "none") -> list[str]:
    """Every configuration of a grid but the baseline, sorted."""
    return sorted({m["run"] for m in grid(name)} - {baseline})


def largest_to_baseline(name: str, baseline: str = "none", metric: str = "test_accuracy") -> str:
    """The configuration whose mean paired difference to the baseline is farthest from 0."""
    rows = {run: verdicts.compare(grid(name), metric, run, baseline)["diff"] for run in regularisers(name, baseline)}
    return max(rows, key=lambda run: abs(rows[run]))


def smallest_holm_p(name: str) -> str:
    """The smallest Holm-adjusted p-value of a grid's family: '0.2'."""
    return verdicts.format_p(min(v.p_adjusted for v in _family(root(), name).values()))


OUTCOMES_ZH = {
    verdicts.HOLDS: "成立",
    verdicts.DOES_NOT_HOLD: "不成立",
    verdicts.INCONCLUSIVE: "无定论",
    verdicts.EQUIVALENT: "在界值内等效",
    verdicts.TOO_FEW: "无定论（配对种子少于 2 个）",
}


def overall(judged: list[verdicts.Verdict], lang: str = "en") -> str:
    """`verdicts.overall` of some verdicts, in English or Chinese (how many comparisons each outcome has)."""
    if lang != "zh":
        return verdicts.overall(judged)
    counts = Counter(v.outcome for v in judged)
    if len(counts) == 1:
        return OUTCOMES_ZH[judged[0].outcome]
    parts = "、".join(f"{OUTCOMES_ZH[outcome]} {count} 个" for outcome, count in counts.items())
    return f"不一致：{parts}（共 {len(judged)} 个比较）"


def outcomes(name: str, lang: str = "en") -> str:
    """What the grid's family says, overall: 'inconclusive' ('无定论') when every verdict is, else
    `verdicts.overall` (in Chinese: how many comparisons each outcome has)."""
    return overall(list(_family(root(), name).values()), lang)


def seed_range(name: str, run: str, metric: str = "test_accuracy", lang: str = "en") -> str:
    """The lowest and the highest seed of a configuration: '37.9-40.3%' ('37.9% 到 40.3%')."""
    _, _, values = verdicts.seed_stats(grid(name), metric, run)
    low, high = (f"{v * _scale(metric):.1f}" for v in (min(values), max(values)))
    return f"{low}% 到 {high}%" if lang == "zh" else f"{low}-{high}%"


def gap_span(name: str, run: str = "none") -> str:
    """The final train/test gaps of a configuration's seeds, lowest to highest, in whole points: '11-17'."""
    _, _, values = verdicts.seed_stats(grid(name), "gap", run)
    return f"{math.floor(min(values) * 100)}-{math.ceil(max(values) * 100)}"


def seed_values(name: str, run: str, metric: str = "gap", lang: str = "en") -> str:
    """Every seed's value, in seed order, signed: '+12.3%, +16.0%, ...' ('+12.3%、+16.0%、...' in Chinese)."""
    _, _, values = verdicts.seed_stats(grid(name), metric, run)
    shown = [f"{v * _scale(metric):+.1f}%" for v in values]
    return ("、" if lang == "zh" else ", ").join(shown)


def half_width_range(
    name: str, runs_and_baselines: list[tuple[str, str]], metric: str = "test_accuracy", lang: str = "en"
) -> str:
    """The narrowest and the widest 95% half-width of some paired differences: '0.56 to 1.59' ('0.56 到 1.59')."""
    widths = [verdicts.compare(grid(name), metric, r, b)["diff_ci95"] * _scale(metric) for r, b in runs_and_baselines]
    return f"{min(widths):.2f} {'到' if lang == 'zh' else 'to'} {max(widths):.2f}"


def grid_machine(name: str, code: bool = False) -> str:
    """The CPU that every run of a grid recorded (its `metrics.json` `hardware`), e.g. 'Intel(R) Xeon(R) Processor';
    `code`: in backticks (a figure cannot sit inside a code span of the prose: its markers would show)."""
    cpus = sorted({m.get("hardware", "?").split(";")[0] for m in grid(name)})
    if len(cpus) != 1:
        raise ValueError(f"the runs of {name!r} ran on different machines: {cpus}")
    return f"`{cpus[0]}`" if code else cpus[0]


def grid_time(name: str, which: str = "train_seconds", lang: str = "en") -> str:
    """A grid's training time summed over its runs ('train_seconds') or including the final evaluation
    ('run_wall_seconds'): '2 h 21 min'."""
    return duration(verdicts.provenance(grid(name))[which], lang)


def run_minutes(name: str, runs: list[str]) -> str:
    """The median wall time of the runs of some configurations, in minutes: '2.2'."""
    seconds = [m.get("wall_seconds_this_session", m["train_seconds"]) for m in grid(name) if m["run"] in runs]
    return f"{statistics.median(seconds) / 60:.1f}"


def run_seconds_range(name: str) -> str:
    """The fastest and the slowest run of a grid, wall seconds: '99-144'."""
    seconds = [m.get("wall_seconds_this_session", m["train_seconds"]) for m in grid(name)]
    return f"{min(seconds):.0f}-{max(seconds):.0f}"


def paired_sd(name: str, run: str, baseline: str, upper: bool = False) -> float:
    """The SD over seeds of the paired differences run - baseline of test accuracy, in points; `upper`: its one-sided
    80% upper bound (`stats.sd_upper_bound`), as notebook 10's plan uses them."""
    values = verdicts.by_run(grid(name), "test_accuracy")
    seeds = sorted(set(values[run]) & set(values[baseline]))
    sd = 100 * statistics.stdev(values[run][s] - values[baseline][s] for s in seeds)
    return stats.sd_upper_bound(sd, len(seeds)) if upper else sd


def sd(name: str, run: str, baseline: str, upper: bool = False) -> str:
    """`paired_sd` as shown: '0.45'."""
    return f"{paired_sd(name, run, baseline, upper):.2f}"


def seeds_for(name: str, run: str, baseline: str, half_width: float = 0.5, upper: bool = False) -> str:
    """The seeds a 95% half-width of at most `half_width` points needs at that SD: '6' ('11' at the upper bound)."""
    return str(stats.seeds_for_half_width(paired_sd(name, run, baseline, upper), half_width))


def expected_half_width(name: str, run: str, baseline: str, seeds: int, upper: bool = False) -> str:
    """The 95% half-width that `seeds` paired seeds are expected to give at that SD: '0.32'."""
    return f"{stats.t_half_width(paired_sd(name, run, baseline, upper), seeds):.2f}"


def detectable(name: str, run: str, baseline: str, seeds: list[int], lang: str = "en") -> str:
    """The true differences a two-sided paired t-test detects with 80% power: '0.76 with 5 seeds, 0.45 with 10 and
    0.30 with 20' ('5 个种子 0.76、10 个种子 0.45、20 个种子 0.30')."""
    effects = [f"{stats.detectable_effect(paired_sd(name, run, baseline), n):.2f}" for n in seeds]
    if lang == "zh":
        return "、".join(f"{n} 个种子 {e}" for n, e in zip(seeds, effects))
    return listing(
        [f"{e} with {n} seeds" if i == 0 else f"{e} with {n}" for i, (n, e) in enumerate(zip(seeds, effects))]
    )


def expected_half_width_found(name: str, run: str, baseline: str) -> str:
    """The 95% half-width a grid's paired difference run - baseline of test accuracy came out with: '0.41'."""
    return f"{judged(name, run, baseline).ci95 * 100:.2f}"


def outcome(name: str, run: str, baseline: str, metric: str = "test_accuracy") -> str:
    """The verdict of one comparison of a grid's family: 'inconclusive'."""
    return judged(name, run, baseline, metric).outcome


def bounds(name: str, run: str, baseline: str, lang: str = "en") -> str:
    """The ends of the 95% interval of run - baseline, in points: '-0.22 to +0.60' ('−0.22 到 +0.60')."""
    v = judged(name, run, baseline)
    low, high = (f"{100 * x:+.2f}" for x in (v.diff - v.ci95, v.diff + v.ci95))
    return f"{low} 到 {high}" if lang == "zh" else f"{low} to {high}"


def regulariser_count(name: str, baseline: str = "none") -> str:
    """How many configurations of a grid are compared with the baseline: '10'."""
    return str(len(regularisers(name, baseline)))


# The README's table of the paper's claims: (claim, our comparison, [(run, baseline)]), test accuracy, small-data.
# CLAIMS_ZH gives the first two columns in Chinese, row by row.
CLAIMS = (
    (
        "Q1: DropKey beats attention dropout at the same ratio",
        "DropKey - dropout at r = 0.1 / 0.2 / 0.3",
        [(f"dropkey-{r}", f"dropout-{r}") for r in (0.1, 0.2, 0.3)],
    ),
    (
        "Q2: a decreasing ratio beats a constant one",
        "linear decreasing - constant (mean 0.2)",
        [("dropkey-0.2-linear_down", "dropkey-0.2")],
    ),
    (
        "Q2: an increasing ratio is worse than a constant one (secondary summary, unverified)",
        "linear increasing - constant",
        [("dropkey-0.2-linear_up", "dropkey-0.2")],
    ),
    (
        "Q3: structured drops are not needed",
        "block / cross - plain DropKey (0.2)",
        [("dropkey_block-0.2", "dropkey-0.2"), ("dropkey_cross-0.2", "dropkey-0.2")],
    ),
)


CLAIMS_ZH = (
    ("Q1：在相同丢弃率下，DropKey 优于注意力 dropout", "DropKey − dropout，r = 0.1 / 0.2 / 0.3"),
    ("Q2：随深度递减的丢弃率优于恒定丢弃率", "线性递减 − 恒定（平均 0.2）"),
    ("Q2：随深度递增的丢弃率不如恒定丢弃率（二手转述，未经核实）", "线性递增 − 恒定"),
    ("Q3：不需要结构化丢弃", "块状 / 十字形 − 普通 DropKey（0.2）"),
)


def claim_pairs() -> list[tuple[str, str]]:
    """Every (run, baseline) of the README's table of claims (`CLAIMS`), in order."""
    return [pair for _, _, pairs in CLAIMS for pair in pairs]


def claims_table(name: str = "small-data", lang: str = "en") -> str:
    """The paper's claims against a grid: paired differences of test accuracy, raw and Holm-adjusted p-values (the
    family of `verdicts.FAMILIES`) and the overall verdict of each claim; lang='zh' for the Chinese README."""
    heading = (
        "| 论文的结论 | 我们的比较 | 配对差值 | p | Holm 校正后的 p | 判定 |"
        if lang == "zh"
        else "| the paper's claim | our comparison | paired difference | p | Holm p | verdict |"
    )
    lines = [heading, "|---|---|---:|---:|---:|---|"]
    for (claim, comparison, pairs), chinese in zip(CLAIMS, CLAIMS_ZH, strict=True):
        found = [judged(name, run, baseline) for run, baseline in pairs]
        cells = [
            " / ".join(paired(name, run, baseline) for run, baseline in pairs),
            " / ".join(verdicts.format_p(v.p_value) for v in found),
            " / ".join(verdicts.format_p(v.p_adjusted) for v in found),
            overall(found, lang),
        ]
        lines.append("| " + " | ".join([*(chinese if lang == "zh" else (claim, comparison)), *cells]) + " |")
    return "\n".join(lines)


QUESTIONS_ZH = {
    "Q1": "Q1：在 softmax 之前丢弃键，而不是在 softmax 之后丢弃注意力权重",
    "Q2": "Q2：随深度递减的丢弃率",
    "Q3": "Q3：不需要结构化丢弃",
}


def confirmatory_table(lang: str = "en") -> str:
    """The pre-registered study's answers (`dropkey_lib.confirmatory`): per comparison the paired difference ± 95%
    CI in points, the raw / Holm-adjusted p of the difference test and of the equivalence test, the effect the grid
    could have detected, and the verdict; each question's answer in bold. Until every seed has finished, the same
    table with the comparisons only and a line saying how far the grid is (no result is read before then)."""
    zh = lang == "zh"
    margin = f"{verdicts.CONFIRMATORY_MARGIN * 100:g}"
    heading = (
        f"| 问题（回答） | 比较 | 配对差值 ± 95% CI | 差异检验 p / Holm p | 等效检验（±{margin}）p / Holm p "
        "| 可检出的效应 | 判定 |"
        if zh
        else f"| question (answer) | comparison | paired difference ± 95% CI | difference test: p / Holm p "
        f"| equivalence within ±{margin}: p / Holm p | detectable effect | verdict |"
    )
    lines = [heading, "|---|---|---:|---:|---:|---:|---|"]
    done = len(confirmatory.GRID.finished_seeds(root() / "results" / "confirmatory"))
    total = confirmatory.GRID.seeds
    answers = confirmatory.judge(grid("confirmatory")) if done == total else None
    for question, pairs in confirmatory.QUESTIONS.items():
        label = QUESTIONS_ZH[question[:2]] if zh else question
        for index, (run, baseline) in enumerate(pairs):
            first = label if index == 0 else ""
            comparison = f"`{run}` − `{baseline}`"
            if answers is None:
                lines.append(f"| {first} | {comparison} | " + " | ".join(["待定" if zh else "pending"] * 5) + " |")
                continue
            v = answers[question][index]
            if index == 0:
                first += f"（**{overall(answers[question], lang)}**）" if zh else f" (**{overall(answers[question])}**)"
            cells = [
                tables.format_ci(v.diff, v.ci95, scale=100, digits=2, signed=True),
                f"{verdicts.format_p(v.p_value)} / {verdicts.format_p(v.p_adjusted)}",
                f"{verdicts.format_p(v.p_equivalence)} / {verdicts.format_p(v.p_equivalence_adjusted)}",
                fixed(v.detectable_effect() * 100),
                OUTCOMES_ZH[v.outcome] if zh else v.outcome,
            ]
            lines.append(f"| {first} | {comparison} | " + " | ".join(cells) + " |")
    if answers is None:
        note = (
            f"待定：{done}/{total} 个种子已完成；预注册规定，所有种子完成之前不做任何分析。"
            if zh
            else f"Pending: {done} of {total} seeds have finished; the pre-registration allows no analysis before all "
            "of them have."
        )
    else:
        note = (
            f"{total} 个配对种子；差值、区间和可检出的效应以百分点计（测试准确率，全部 10,000 张测试图像），"
            "Holm 校正覆盖 12 个检验，α = 0.05；可检出的效应指在 Holm 第一步的水平（α/12）上有 80% 把握检出的真实差值。"
            if zh
            else f"{total} paired seeds; differences, intervals and detectable effects in points of test accuracy (all "
            "10,000 test images); Holm over the 12 tests, alpha 0.05; the detectable effect is the true difference "
            "found with 80% power at Holm's first step (alpha / 12)."
        )
    return note + "\n\n" + "\n".join(lines)


def _final_probe(name: str, run: str, seed: int) -> float:
    """The last epoch's history test accuracy (its evaluation subset) of one run of a grid, as notebook 09 reads it."""
    return load_run(root() / "results" / name / run / f"seed{seed}").history[-1]["probe_test_accuracy"]


def seed_spread(name: str, run: str, seeds: tuple[int, int] = (0, 1)) -> str:
    """How far two seeds of one configuration end apart in the history's test accuracy, in points: '4.5'."""
    first, second = (_final_probe(name, run, seed) for seed in seeds)
    return f"{abs(first - second) * 100:.1f}"


def mode_spread(name: str, runs: list[str], seed: int = 0) -> str:
    """The largest difference of the history's final test accuracy between configurations, one seed, in points."""
    values = [_final_probe(name, run, seed) for run in runs]
    return f"{(max(values) - min(values)) * 100:.1f}"


def final_probe_math(name: str, run: str, seed: int = 0) -> str:
    """A run's final history test accuracy as inline math, whole percent: '$p \\approx 38\\%$'."""
    return f"$p \\approx {_final_probe(name, run, seed) * 100:.0f}\\%$"


def standard_error(name: str, run: str, seed: int = 0) -> str:
    """The standard error of the history's final test accuracy of a run, sqrt(p(1 - p)/n), in points: '1.5'."""
    history_run = load_run(root() / "results" / name / run / f"seed{seed}")
    p, n = history_run.history[-1]["probe_test_accuracy"], history_run.config.test_size or 10_000
    return f"{math.sqrt(p * (1 - p) / n) * 100:.1f}"


# ------------------------------------------------------------------------------------------------------------------
# Models: parameter counts from the committed configs


def model_config(which: str):
    """The model config of a shipped run ('default-run', 'previous-default-run'), of a grid ('small-data', from its
    runs' config.json as notebook 10 reads it) or of quick mode ('quick', today's `TrainConfig.create(quick=True)`)."""
    if which == "quick":
        return TrainConfig.create(quick=True).model
    if which in GRIDS:
        return TrainConfig.from_dict(grid(which)[0]["config"]).model
    return shipped_run(which).config.model


def params(which: str, exact: bool = False) -> str:
    """A model's parameter count: '0.27M', or exact: '268,938'."""
    count = count_parameters(TinyViT(model_config(which)))
    return f"{count:,}" if exact else f"{count / 1e6:.2f}M"


def coefficients(p: tuple[float, ...], drop_ratio: float, digits: int = 3, approx: bool = False, lhs: str = "") -> str:
    """The smoothing coefficients of a row `p` at a drop ratio (`smoothing.smoothing_coefficients`, or its first-order
    approximation (N13) with `approx`), as inline math: '$c \\approx (0.851, 1.052, 1.178, 1.269)$' with lhs
    'c \\approx '. Computed, not measured: the row and the ratio are the example's definition."""
    from dropkey_lib import smoothing

    values = (smoothing.smoothing_coefficients_approx if approx else smoothing.smoothing_coefficients)(p, drop_ratio)
    return "$" + lhs + "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")$"


def block_params(which: str) -> str:
    """The parameters of one transformer block of a model: '111,840'."""
    return f"{count_parameters(TinyViT(model_config(which)).blocks[0]):,}"


def block_share(which: str) -> str:
    """The share of a model's parameters in its transformer blocks, whole percent: '97%'."""
    model = TinyViT(model_config(which))
    return f"{sum(count_parameters(block) for block in model.blocks) / count_parameters(model):.0%}"


# ------------------------------------------------------------------------------------------------------------------
# Worked examples of the theory notebooks: computed by the library from the example's definition


def _join_numbers(numbers: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(numbers)


def ratios(drop_ratio: float, depth: int, schedule: str, digits: int = 3, lang: str = "en") -> str:
    """Each layer's drop ratio (`schedules.drop_ratios`), rounded: '0.2, 0.133, 0.067, 0.0' ('0.2、0.133、...')."""
    from dropkey_lib.schedules import drop_ratios

    return _join_numbers([str(round(r, digits)) for r in drop_ratios(drop_ratio, depth, schedule)], lang)


def keys_dropped(drop_ratio: float, depth: int, schedule: str, tokens: int, lang: str = "en") -> str:
    """The keys a query loses on average in each layer, ratio x tokens: '13.0, 8.7, 4.3, 0.0'."""
    from dropkey_lib.schedules import drop_ratios

    return _join_numbers([f"{r * tokens:.1f}" for r in drop_ratios(drop_ratio, depth, schedule)], lang)


def keys_dropped_total(drop_ratio: float, depth: int, schedule: str, tokens: int) -> str:
    """The keys a query loses on average over all layers: '26.0'."""
    from dropkey_lib.schedules import drop_ratios

    return f"{sum(drop_ratios(drop_ratio, depth, schedule)) * tokens:.1f}"


def all_dropped_math(n: int, drop_ratio: float) -> str:
    """The probability r^n that a row of n keys loses them all, as inline math: '$1.5\\times10^{-5}$'."""
    return sci_math(drop_ratio**n)


def seed_probability(drop_ratio: float, window_size: int, shape: str) -> str:
    """The seed probability of a structured mask (`attention.seed_probability`): '0.0142'."""
    from dropkey_lib.attention import seed_probability as gamma

    return f"{gamma(drop_ratio, window_size, shape):.4f}"


# ------------------------------------------------------------------------------------------------------------------
# The shipped runs (notebooks 07 and 08)


def _epoch_seconds(run) -> list[float]:
    """Elapsed wall time at the end of each epoch (older histories have per-epoch seconds only)."""
    elapsed, total = [], 0.0
    for record in run.history:
        total += record["seconds"]
        elapsed.append(record.get("elapsed_seconds", total))
    return elapsed


def test_accuracy(name: str, epoch: int | None = None, digits: int = 1) -> str:
    """A shipped run's test accuracy (all 10,000 test images) at an epoch (default: the last): '70.5%'."""
    run = shipped_run(name)
    return pct(run.history[(epoch or len(run.history)) - 1]["probe_test_accuracy"], digits)


def epochs(name: str) -> str:
    """How many epochs a shipped run trained: '6'."""
    return str(len(shipped_run(name).history))


def first_epoch_at(name: str, threshold: float) -> int:
    """The first epoch whose test accuracy reaches `threshold` (a fraction)."""
    run = shipped_run(name)
    for i, record in enumerate(run.history, start=1):
        if record["probe_test_accuracy"] >= threshold:
            return i
    raise ValueError(f"{name} never reaches {threshold:.0%}")


def epoch_at(name: str, threshold: float) -> str:
    """`first_epoch_at` as shown: '3'."""
    return str(first_epoch_at(name, threshold))


def minutes(name: str, epoch: int | None = None) -> str:
    """Elapsed minutes of a shipped run at the end of an epoch (default: the last): '14.8'."""
    elapsed = _epoch_seconds(shipped_run(name))
    return f"{elapsed[(epoch or len(elapsed)) - 1] / 60:.1f}"


def minutes_to(name: str, threshold: float) -> str:
    """Elapsed minutes when a shipped run first reaches `threshold`: '7.4'."""
    return minutes(name, first_epoch_at(name, threshold))


def round_minutes(name: str) -> str:
    """A shipped run's elapsed time in whole minutes: '15'."""
    return f"{_epoch_seconds(shipped_run(name))[-1] / 60:.0f}"


def epoch_seconds(name: str) -> str:
    """A shipped run's epochs, training and evaluation, in whole seconds: '887'."""
    return f"{_epoch_seconds(shipped_run(name))[-1]:.0f}"


def time_ratio(name: str, other: str, threshold: float) -> str:
    """The time `name` takes to reach `threshold` over the time `other` takes: '0.45'."""
    mine, theirs = (_epoch_seconds(shipped_run(n))[first_epoch_at(n, threshold) - 1] for n in (name, other))
    return f"{mine / theirs:.2f}"


def live_plot_title(name: str, label: str = "default run (shipped)") -> str:
    """The live plot's title after a shipped run's last epoch, as notebook 08 shows it, in backticks."""
    run = shipped_run(name)
    epochs_done = len(run.history)
    accuracy = pct(run.history[-1]["probe_test_accuracy"])
    return f"`{label} | epoch {epochs_done}/{run.config.epochs}: test acc. {accuracy}, … s elapsed`"


def epoch_rows(name: str, lang: str = "en") -> list[list[str]]:
    """Per epoch: epoch, elapsed minutes, clean train accuracy, test accuracy (the last one bold)."""
    run, elapsed = shipped_run(name), _epoch_seconds(shipped_run(name))
    unit = " 分钟" if lang == "zh" else " min"
    rows = []
    for i, (record, seconds) in enumerate(zip(run.history, elapsed), start=1):
        test = pct(record["probe_test_accuracy"])
        rows.append([str(i), f"{seconds / 60:.1f}{unit}", pct(record["probe_train_accuracy"]), test])
    rows[-1][-1] = f"**{rows[-1][-1]}**"
    return rows


def epoch_table(name: str, lang: str = "en") -> str:
    """A shipped run's epochs as a Markdown table (English or Chinese headings)."""
    headings = (
        ["轮", "累计用时", "干净训练准确率", "测试准确率"]
        if lang == "zh"
        else ["epoch", "elapsed", "clean train acc.", "test acc."]
    )
    rule = "|---|---|---|---|" if lang == "zh" else "|---:|---:|---:|---:|"
    lines = ["| " + " | ".join(headings) + " |", rule]
    lines += ["| " + " | ".join(row) + " |" for row in epoch_rows(name, lang)]
    return "\n".join(lines)


def side_by_side_table(name: str, other: str, lang: str = "en") -> str:
    """Two shipped runs' epochs side by side (README): elapsed, clean train and test accuracy of each."""
    mine, theirs = epoch_rows(name, lang), epoch_rows(other, lang)
    heading = (
        "| 轮 | 默认配方：累计用时 | 干净训练准确率 | 测试准确率 "
        "| 之前的默认配置：累计用时 | 干净训练准确率 | 测试准确率 |"
        if lang == "zh"
        else "| epoch | default recipe: elapsed | clean train acc. | test acc. "
        "| previous default: elapsed | clean train acc. | test acc. |"
    )
    lines = [heading, "|---|---:|---:|---:|---:|---:|---:|"]
    first = first_epoch_at(name, 0.6)
    for i, row in enumerate(mine):
        cells = [row[0], *row[1:]]
        if i + 1 == first:
            cells[3] = f"**{cells[3]}**"
        other_cells = theirs[i][1:] if i < len(theirs) else ["", "", ""]
        lines.append("| " + " | ".join(cells + other_cells) + " |")
    return "\n".join(re.sub(r"\|\s+(?=\|)", "| ", line) for line in lines)


def file_mb(path: str, digits: int = 2) -> str:
    """The size of a committed file in MB: '1.1'."""
    return f"{(root() / path).stat().st_size / 1e6:.{digits}f}"


# ------------------------------------------------------------------------------------------------------------------
# The shipped checkpoints (notebook 11)


def checkpoints() -> dict[str, dict]:
    """The index of shipped checkpoints (`results/checkpoints.json`): {name: entry, with an absolute 'path'}."""
    return read_checkpoint_index(root() / "results" / "checkpoints.json")


def checkpoint_accuracy(run: str) -> str:
    """The recorded test accuracy of a shipped checkpoint: '38.3%'."""
    return pct(checkpoints()[run]["test_accuracy"])


def checkpoint_table() -> str:
    """The shipped checkpoints and their recorded test accuracies, two decimals."""
    lines = ["| checkpoint | test accuracy |", "|---|---:|"]
    for entry in checkpoints().values():
        path = Path(entry["path"]).relative_to(root() / "results").as_posix()
        lines.append(f"| `{path}` | {pct(entry['test_accuracy'], 2)} |")
    return "\n".join(lines)


def checkpoint_mb() -> str:
    """The size of the largest shipped checkpoint file in MB: '0.85'."""
    return f"{max(Path(entry['path']).stat().st_size for entry in checkpoints().values()) / 1e6:.2f}"


# ------------------------------------------------------------------------------------------------------------------
# Measurements (results/measurements/*.json)


def value(name: str, key: str, digits: int = 0, scale: float = 1.0) -> str:
    """One measured value as shown: value('notebooks', '08_training_on_cifar10.kernel_peak_mb') -> '656'."""
    return fixed(measured(name, key) * scale, digits)


def measured_duration(name: str, key: str, lang: str = "en") -> str:
    """A measured number of seconds as a duration: '14 min 52 s' ('14 分 52 秒')."""
    return duration(measured(name, key), lang, precise=True)


def machine(name: str) -> str:
    """The machine a measurement ran on, as recorded."""
    return measurement(name)["machine"]


def date(name: str) -> str:
    """The day a measurement was made: '2026-12-02'."""
    return measurement(name)["date"][:10]


def ratio(name: str, key: str, bold: bool = False) -> str:
    """A measured ratio: '0.966x' (bold: '**0.966x**')."""
    text = f"{measured(name, key):.3f}x"
    return f"**{text}**" if bold else text


def value_range(name: str, low: str, high: str, digits: int = 0) -> str:
    """Two measured values as a range: '10-12'."""
    return f"{value(name, low, digits)}-{value(name, high, digits)}"


def value_difference(name: str, key: str, other: str) -> str:
    """The difference of two measured values, rounded to tens: '420'."""
    return f"{round((measured(name, key) - measured(name, other)) / 10) * 10:.0f}"


def percent_faster(name: str, faster: str, slower: str) -> str:
    """How much faster one measured speed is than another, in whole percent: '16'."""
    return f"{(measured(name, faster) / measured(name, slower) - 1) * 100:.0f}"


def cost_range(names: tuple[str, ...], key: str = "ratio.default.dropkey") -> str:
    """What DropKey costs over several bench runs, 1 - ratio, lowest to highest in whole percent: '1-4'."""
    costs = [(1 - measured(name, key)) * 100 for name in names]
    return f"{math.floor(min(costs))}-{math.ceil(max(costs))}"


def repeat_spread(first: str, second: str) -> str:
    """The largest difference between the ratios two bench runs share: '0.032'."""
    shared = [key for key in measurement(second)["values"] if key.startswith("ratio.")]
    return f"{max(abs(measured(first, key) - measured(second, key)) for key in shared):.3f}"


# The bench tables' rows: key in the bench file -> (English label, Chinese label).
ATTENTION_ROWS = {
    "plain": ("plain attention (SDPA)", "普通注意力（SDPA）"),
    "dropout": ("attention dropout, r=0.1", "注意力 dropout，r=0.1"),
    "reference": ("DropKey, Algorithm 1 reference, r=0.1", "DropKey，算法 1 的参考实现，r=0.1"),
    "fast": ("DropKey, fast path, r=0.1", "DropKey，快速路径，r=0.1"),
}
TRAINING_ROWS = {
    ("default", "none"): ("TinyViT, default, no drop", "TinyViT，默认，不丢弃"),
    ("default", "dropkey"): (
        "TinyViT, default, DropKey (mean r=0.1, `down_to_half`: both blocks)",
        "TinyViT，默认，DropKey（平均 r=0.1，`down_to_half`：两个块都丢弃）",
    ),
    ("default", "first_block"): (
        "TinyViT, default, DropKey (mean r=0.1, `linear_down`: first block only)",
        "TinyViT，默认，DropKey（平均 r=0.1，`linear_down`：只有第一个块丢弃）",
    ),
    ("patch", "none"): ("TinyViT, stem='patch', no drop", "TinyViT，stem='patch'，不丢弃"),
    ("patch", "dropkey"): ("TinyViT, stem='patch', DropKey", "TinyViT，stem='patch'，DropKey"),
    ("timm", "none"): (
        "timm `VisionTransformer`, stem='patch' shape, no drop",
        "timm `VisionTransformer`，stem='patch' 的形状，不丢弃",
    ),
}


def _attention_cells(name: str, key: str) -> list[str]:
    ms = measured(name, f"attention.{key}")
    return [f"{ms:.2f}", f"{ms / measured(name, 'attention.plain'):.2f}x"]


def _training_cells(name: str, model: str, mode: str, lang: str = "en") -> list[str]:
    speed = f"{measured(name, f'training.{model}.{mode}'):.0f}"
    if model == "timm":
        shown = ratio(name, "ratio.patch.timm", bold=True)
        return [speed, f"TinyViT 为 timm 的 {shown}" if lang == "zh" else f"TinyViT {shown} timm"]
    if mode == "none":
        return [speed, "1.000x"]
    return [speed, ratio(name, f"ratio.{model}.{mode}", bold=(model, mode) == ("default", "dropkey"))]


def bench_table(kind: str, runs: tuple[str, ...] = ("bench-1-thread", "bench-2-threads"), lang: str = "en") -> str:
    """The README's bench table, 'attention' or 'training', one pair of columns per bench measurement (1 and 2
    threads): ms or images/s, and the ratio to plain attention or to no drop; lang='zh' for the Chinese README."""
    zh = lang == "zh"
    threads = [measurement(name)["command"].split("--threads")[-1].split()[0] for name in runs]
    labels = [f"{n} 个线程" if zh else f"{n} thread" + ("s" if n != "1" else "") for n in threads]
    if kind == "attention":
        config = TrainConfig()
        model = config.model
        shape = (
            f"B={config.batch_size}, H={model.num_heads}, N={model.layout.num_tokens}, D={model.dim // model.num_heads}"
        )
        headings = [f"注意力前向 + 反向传播（{shape}）" if zh else f"attention forward + backward ({shape})"]
        unit, versus = ("毫秒", "相对普通注意力") if zh else ("ms", "vs plain")
        headings += [h for label in labels for h in (f"{unit}，{label}" if zh else f"{unit}, {label}", versus)]
        rows = [
            [texts[zh], *[c for name in runs for c in _attention_cells(name, key)]]
            for key, texts in ATTENTION_ROWS.items()
        ]
    elif kind == "training":
        batch = TrainConfig().batch_size
        headings = [f"训练步（批量 {batch}，AdamW）" if zh else f"training step (batch {batch}, AdamW)"]
        unit, versus = ("图像/秒", "相对不丢弃") if zh else ("images/s", "vs no drop")
        headings += [h for label in labels for h in (f"{unit}，{label}" if zh else f"{unit}, {label}", versus)]
        rows = [
            [texts[zh], *[c for name in runs for c in _training_cells(name, *key, lang=lang)]]
            for key, texts in TRAINING_ROWS.items()
        ]
    else:
        raise ValueError(f"kind must be 'attention' or 'training', got {kind!r}")
    lines = ["| " + " | ".join(headings) + " |", "|---|" + "---:|" * (len(headings) - 1)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _notebook_stems() -> list[str]:
    values = measurement("notebooks")["values"]
    return [key.removesuffix(".seconds") for key in values if key.endswith(".seconds")]


def notebook_seconds(stem: str) -> str:
    """A notebook's measured wall time, whole seconds: '36'."""
    return f"{measured('notebooks', f'{stem}.seconds'):.0f}"


def notebook_times(lang: str = "en") -> str:
    """Every numbered notebook's wall time: '00: 5 s, 01: 8 s, ...' ('00：5 秒、01：8 秒、...')."""
    stems = [stem for stem in _notebook_stems() if stem[:2].isdigit()]
    if lang == "zh":
        return "、".join(f"{stem[:2]}：{notebook_seconds(stem)} 秒" for stem in stems)
    return ", ".join(f"{stem[:2]}: {notebook_seconds(stem)} s" for stem in stems)


def notebook_seconds_bound(which: str) -> str:
    """The wall time of the fastest ("min") or the slowest ("max") numbered notebook, in whole seconds: a number only,
    so that a translated sentence can quote it as it is."""
    seconds = [measured("notebooks", f"{stem}.seconds") for stem in _notebook_stems() if stem[:2].isdigit()]
    return f"{(min if which == 'min' else max)(seconds):.0f}"


def notebook_time_range(lang: str = "en") -> str:
    """The fastest and the slowest numbered notebook: '5 to 54' ('5 到 54')."""
    seconds = [measured("notebooks", f"{stem}.seconds") for stem in _notebook_stems() if stem[:2].isdigit()]
    return f"{min(seconds):.0f} {'到' if lang == 'zh' else 'to'} {max(seconds):.0f}"


def series_seconds() -> str:
    """The numbered notebooks' wall times summed: '217'."""
    return f"{sum(measured('notebooks', f'{s}.seconds') for s in _notebook_stems() if s[:2].isdigit()):.0f}"


def series_minutes() -> str:
    """The same, in whole minutes: '4'."""
    return f"{float(series_seconds()) / 60:.0f}"


def _cpu_kernel_peaks() -> dict[str, float]:
    """Each notebook's kernel peak with the CPU build: `notebooks` for those it measured with it (no note on the
    value), and `notebook-12-cpu` for notebook 12, measured on its own with a CPU torchvision."""
    values = measurement("notebooks")["values"]
    peaks = {
        stem: values[f"{stem}.kernel_peak_mb"]["value"]
        for stem in _notebook_stems()
        if not values[f"{stem}.kernel_peak_mb"].get("note")
    }
    peaks["12_dropkey_in_timm"] = measured("notebook-12-cpu", "12_dropkey_in_timm.kernel_peak_mb")
    return peaks


def largest_cpu_notebook() -> tuple[str, float]:
    """The notebook with the largest kernel peak with the CPU build."""
    peaks = _cpu_kernel_peaks()
    stem = max(peaks, key=peaks.get)
    return stem, peaks[stem]


def largest_cpu_notebook_number() -> str:
    """'12': the number of the notebook with the largest kernel peak with the CPU build (its MB: `largest_cpu_peak`).
    Numbers only, so that a translated sentence can quote them as they are."""
    return largest_cpu_notebook()[0][:2]


def largest_cpu_peak() -> str:
    """'695': that notebook's kernel peak in MB."""
    return f"{largest_cpu_notebook()[1]:,.0f}"


def notebook_title(stem: str) -> str:
    """A notebook's title, from its first cell ('00 · Overview'); the stem if the notebook is not there."""
    import json

    path = root() / "notebooks" / f"{stem}.ipynb"
    if not path.is_file():
        return stem
    first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"]).splitlines()[0]
    return first.lstrip("# ").strip()


def notebook_table() -> str:
    """The classroom guide's table: each notebook's wall time on one CPU and its kernel's peak memory with the CPU
    build (`_cpu_kernel_peaks`); notebook 12's comes from its own measurement (`notebook-12-cpu`), marked with *."""
    peaks = _cpu_kernel_peaks()
    lines = ["| notebook | wall time, 1 CPU | kernel peak memory, CPU-only PyTorch |", "|---|---:|---:|"]
    for stem in _notebook_stems():
        mark = "*" if stem == "12_dropkey_in_timm" else ""
        lines.append(f"| {notebook_title(stem)} | {notebook_seconds(stem)} s | {peaks[stem]:,.0f} MB{mark} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------------
# The notebooks' printed outputs (seeded simulations): nbval checks the committed outputs against an execution, and
# these functions quote them, so the chain is execution -> committed output -> Markdown. A cell is found by its `id`
# (stable under edits of other cells), never by its index.


@functools.lru_cache(maxsize=None)
def _notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def notebook_text(stem: str, cell_id: str) -> str:
    """The text a code cell of `notebooks/<stem>.ipynb` printed (its streams and `text/plain` results, joined)."""
    path = root() / "notebooks" / f"{stem}.ipynb"
    cells = [c for c in _notebook(path)["cells"] if c["cell_type"] == "code" and c.get("id") == cell_id]
    if not cells:
        raise ValueError(f"notebooks/{stem}.ipynb has no code cell with id {cell_id!r}")
    texts = []
    for output in cells[0].get("outputs", []):
        if output.get("output_type") == "stream":
            texts.append("".join(output["text"]))
        elif "text/plain" in output.get("data", {}):
            texts.append("".join(output["data"]["text/plain"]))
    return "".join(texts)


def notebook_matches(stem: str, cell_id: str, pattern: str) -> list[str]:
    """Every match of `pattern` in a cell's printed text (its first group if it has one); an error naming the
    notebook, the cell and the pattern if there is none."""
    found = [m.group(1) if m.groups() else m.group(0) for m in re.finditer(pattern, notebook_text(stem, cell_id))]
    if not found:
        raise ValueError(f"the output of cell {cell_id!r} of notebooks/{stem}.ipynb does not match {pattern!r}")
    return found


def notebook_output(stem: str, cell_id: str, pattern: str) -> str:
    """A figure as a cell printed it: the first match of `pattern` (its first group if it has one), e.g.
    `notebook_output("07_tiny_vit", "6bc93592", r"fraction dropped (\\S+)")` -> '0.199'."""
    return notebook_matches(stem, cell_id, pattern)[0]


def notebook_value(stem: str, cell_id: str, pattern: str) -> float:
    """The same figure as a number ('540,800' -> 540800.0), to round or to compare."""
    return float(notebook_output(stem, cell_id, pattern).replace(",", ""))


def notebook_values(stem: str, cell_id: str, pattern: str) -> list[float]:
    """Every match as a number, e.g. a column of a printed table."""
    return [float(text.replace(",", "")) for text in notebook_matches(stem, cell_id, pattern)]


def output_table(stem: str, cell_id: str, row_pattern: str, headings: list[str], labels: list[str]) -> str:
    """A Markdown table of a table a cell printed: one row per match of `row_pattern`, its label then its groups,
    e.g. notebook 04's '| DropKey 0.1 | 0.551 ± 0.016 | 0.615 ± 0.022 | 0.0008 |'."""
    rows = [m.groups() for m in re.finditer(row_pattern, notebook_text(stem, cell_id))]
    if len(rows) != len(labels):
        raise ValueError(
            f"the output of cell {cell_id!r} of notebooks/{stem}.ipynb has {len(rows)} rows matching {row_pattern!r},"
            f" not {len(labels)}"
        )
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    return "\n".join(lines + ["| " + " | ".join([label, *row]) + " |" for label, row in zip(labels, rows)])


def inline_math(text: str) -> str:
    """Inline math: 'H = 4' -> '$H = 4$' (a figure cannot sit inside a math span of the prose)."""
    return f"${text}$"


def sci_math(number: float) -> str:
    """A number in scientific notation as inline math, two significant digits: 0.0024 -> '$2.4\\times10^{-3}$'."""
    mantissa, exponent = f"{number:.1e}".split("e")
    return f"${mantissa}\\times10^{{{int(exponent)}}}$"


# ------------------------------------------------------------------------------------------------------------------
# Checking and writing the Markdown files


INLINE_BEGIN = re.compile(r"^(?P<head>.*?)<!-- \[\[\[cog (?P<code>.*)\]\]\]$")


def lint(path: Path) -> list[str]:
    """Where an inline figure of a Markdown file would not render or would not run: its begin line must hold prose
    before the marker (a line that starts with `<!--` is an HTML block and would swallow the figure), that prose must
    not start with the code's first letter (cogapp strips a prefix the line shares with the code), and the marker
    must not sit inside a code span (its comment would show)."""
    problems, ticks, fenced = [], 0, False  # backticks so far in the paragraph: odd inside a code span
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        found = None if fenced else INLINE_BEGIN.match(line)
        before = ticks
        ticks = 0 if not line.strip() else ticks + line.split("<!-- [[[cog")[0].count("`")
        if not found or line.rstrip().endswith("-->"):
            continue
        head, code = found.group("head"), found.group("code").strip()
        where = f"{path}:{number}"
        if not head.strip() or re.fullmatch(r"\s*([-+*]|\d+[.)])\s*", head):
            problems.append(f"{where}: an inline figure needs prose before it on its line")
        elif head.lstrip()[:1] == code[:1]:
            problems.append(f"{where}: the line starts with {code[:1]!r}, as the code does: break the line elsewhere")
        if (before + head.count("`")) % 2:
            problems.append(f"{where}: the figure is inside a code span: let the figure print the backticks")
    return problems


def cog_arguments(files: list[Path]) -> list[str]:
    """cogapp's command line for these files: modules from scripts/, `f` imported, Unix newlines."""
    return ["cog", "-I", str(Path(__file__).resolve().parent), "-p", "import figures as f", "-U", *map(str, files)]


def main(argv: list[str] | None = None) -> int:
    """`--check` (the default): exit 1 if a file would change; `--write`: rewrite the figures in place."""
    from cogapp import Cog

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail when a figure is stale (the default)")
    mode.add_argument("--write", action="store_true", help="rewrite the figures in place")
    parser.add_argument("--root", default=str(REPOSITORY), help="the repository copy to read and check")
    parser.add_argument("files", nargs="*", help="Markdown files (default: every file of MARKDOWN under --root)")
    args = parser.parse_args(argv)
    this = sys.modules.get("figures") or sys.modules[__name__]
    this.use_root(args.root)
    files = [Path(name) for name in args.files] or markdown_files(Path(args.root))
    problems = [problem for path in files for problem in lint(path)]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    stale = "run: python scripts/figures.py --write"
    flags = ["-r"] if args.write else ["--check", "--diff", "--check-fail-msg", stale]
    flags += ["--verbosity", "1"]
    arguments = cog_arguments(files)
    return Cog().main([arguments[0], *flags, *arguments[1:]])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import figures  # the module the cog code imports: the same one, so that --root reaches it

    raise SystemExit(figures.main())
