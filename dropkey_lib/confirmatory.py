"""The analysis of the pre-registered study's confirmatory grid (results/preregistration.md, part 2).

One analysis, used by `scripts/confirmatory_report.py` (the text report), `scripts/figures.py` (the README's
Results table) and notebook 10, so that all three say the same thing:

    results = experiments.load_results("results/confirmatory")
    answers = confirmatory.judge(results)          # {question: [Verdict, Verdict]}; refuses an incomplete grid
    print(confirmatory.report(results))

It looks at no outcome before the grid is complete: `check_complete` reads only the run folders' names and seeds,
and refuses unless every configuration of the grid `confirmatory` has finished all of its seeds (0 to 67), as the
running protocol says. `judge` then applies part 2's rules as declared (with their dated deviations): the six
comparisons of `verdicts.FAMILIES["confirmatory"]`, each with a paired t-test for a difference and two one-sided
tests for equivalence within ±`verdicts.CONFIRMATORY_MARGIN`, Holm's correction over all 12 tests at alpha 0.05,
and one answer per question (`verdicts.overall` of its comparisons).

The analysis was committed before the grid was complete, so that it, too, was fixed before anyone saw an outcome.
"""

from __future__ import annotations

from typing import Sequence

from . import verdicts
from .experiments import GRIDS

GRID = GRIDS["confirmatory"]
FAMILY = verdicts.FAMILIES["confirmatory"]
# The paper's three questions and the comparisons (rows of FAMILY, as (run, baseline)) that answer each.
QUESTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "Q1: drop keys before the softmax rather than attention weights after it": (
        ("dropkey-0.1", "dropout-0.1"),
        ("dropkey-0.3", "dropout-0.3"),
    ),
    "Q2: a drop ratio that decreases with depth": (
        ("dropkey-0.3-down_to_half", "dropkey-0.3"),
        ("dropkey-0.3-down_to_half", "dropkey-0.3-up_from_half"),
    ),
    "Q3: structured drops are not essential": (
        ("dropkey_block-0.3", "dropkey-0.3"),
        ("dropkey_cross-0.3", "dropkey-0.3"),
    ),
}


def configurations() -> list[str]:
    """The grid's configuration names, in the grid's order."""
    return [name for name, _ in GRID.configs]


def check_complete(results: Sequence[dict]) -> list[int]:
    """The grid's seeds, when every configuration has finished all of them (0 to GRID.seeds - 1) and no run is
    extra; else a ValueError that says how far the grid is. Reads only run names and seeds, no outcome."""
    done = verdicts.seeds_by_run(results)
    complete = [seed for seed in range(GRID.seeds) if all(seed in done.get(name, ()) for name in configurations())]
    if len(complete) < GRID.seeds:
        raise ValueError(
            f"the confirmatory grid is not complete: {len(complete)} of {GRID.seeds} seeds have finished with every "
            "configuration. The pre-registration allows no analysis before all of them have (results/"
            "preregistration.md, running protocol); continue it with `dropkey-experiments confirmatory`"
        )
    seeds = verdicts.check_grid(results, configurations(), min_seeds=GRID.seeds)  # also refuses unpaired seeds
    if len(results) != len(configurations()) * GRID.seeds:
        raise ValueError(
            f"expected {len(configurations()) * GRID.seeds} runs ({len(configurations())} configurations x "
            f"{GRID.seeds} seeds), found {len(results)}"
        )
    return seeds


def judge(results: Sequence[dict]) -> dict[str, list[verdicts.Verdict]]:
    """{question: its comparisons' verdicts}, the whole family judged at once, as pre-registered."""
    check_complete(results)
    judged = verdicts.judge_family(results, FAMILY, margin=verdicts.CONFIRMATORY_MARGIN)
    by_pair = {(v.run, v.baseline): v for v in judged}
    if sorted(by_pair) != sorted(pair for pairs in QUESTIONS.values() for pair in pairs):
        raise ValueError("QUESTIONS must name exactly the comparisons of verdicts.FAMILIES['confirmatory']")
    return {question: [by_pair[pair] for pair in pairs] for question, pairs in QUESTIONS.items()}


def report(results: Sequence[dict]) -> str:
    """The whole analysis as text: each question's answer and comparisons, then the comparisons with none."""
    answers = judge(results)
    lines = [f"{len(results)} runs: {len(GRID.configs)} configurations x {GRID.seeds} paired seeds, complete"]
    for question, judged in answers.items():
        lines += ["", f"{question}: {verdicts.overall(judged)}"]
        for v in judged:
            lines.append(f"  {v}")
            lines.append(
                f"    detectable with 80% power at Holm's first step: {v.detectable_effect() * 100:.2f} points"
            )
    lines += ["", "Reported, not judged: each regulariser minus none (test accuracy)"]
    rows = verdicts.grid_summary(results, "test_accuracy", baseline="none", runs=configurations())
    lines += [f"  {line}" for line in verdicts.results_table(rows, baseline="none", digits=2).to_text().splitlines()]
    return "\n".join(lines)
