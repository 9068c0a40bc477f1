"""The analysis of the pre-registered study's confirmatory grid (results/preregistration.md, part 2), run once, on
the complete grid.

    python scripts/confirmatory_report.py [results/confirmatory]

It looks at no outcome before the grid is complete: first it checks, from the run folders' seeds alone, that every
configuration of the grid `confirmatory` has finished all of its seeds (0 to 67), and refuses otherwise, as the
running protocol says. Then it applies part 2's rules as declared (with their dated deviations): the six comparisons
of `verdicts.FAMILIES["confirmatory"]`, each with a paired t-test for a difference and two one-sided tests for
equivalence within ±`verdicts.CONFIRMATORY_MARGIN`, Holm's correction over all 12 tests at alpha 0.05, and one
answer per question (`verdicts.overall` of its comparisons). For every comparison it prints the paired difference
± 95% CI, the raw and Holm-adjusted p-values of both tests, and the effect the grid could have detected; then, reported
and not judged, each regulariser's paired difference from `none`.

The analysis code is committed before the grid is complete, so that it, too, is fixed before anyone sees an outcome.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from dropkey_lib import verdicts
from dropkey_lib.experiments import GRIDS, load_results

GRID = GRIDS["confirmatory"]
FAMILY = verdicts.FAMILIES["confirmatory"]
# The paper's three questions and the comparisons (rows of FAMILY, by run and baseline) that answer each.
QUESTIONS = {
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


def check_complete(results: Sequence[dict]) -> list[int]:
    """The grid's seeds, when every configuration has finished all of them (0 to GRID.seeds - 1) and no run is
    extra; else a ValueError that says how far the grid is. Reads only run names and seeds, no outcome."""
    configs = [name for name, _ in GRID.configs]
    done = verdicts.seeds_by_run(results)
    complete = [seed for seed in range(GRID.seeds) if all(seed in done.get(name, ()) for name in configs)]
    if len(complete) < GRID.seeds:
        raise ValueError(
            f"the confirmatory grid is not complete: {len(complete)} of {GRID.seeds} seeds have finished with every "
            "configuration. The pre-registration allows no analysis before all of them have (results/"
            "preregistration.md, running protocol); continue it with `dropkey-experiments confirmatory`"
        )
    seeds = verdicts.check_grid(results, configs, min_seeds=GRID.seeds)  # also refuses extra or unpaired seeds
    if len(results) != len(configs) * GRID.seeds:
        raise ValueError(
            f"expected {len(configs) * GRID.seeds} runs ({len(configs)} configurations x {GRID.seeds} seeds), found "
            f"{len(results)}"
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
    rows = verdicts.grid_summary(results, "test_accuracy", baseline="none", runs=[name for name, _ in GRID.configs])
    lines += [f"  {line}" for line in verdicts.results_table(rows, baseline="none", digits=2).to_text().splitlines()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", nargs="?", default="results/confirmatory", type=Path)
    args = parser.parse_args(argv)
    try:
        print(report(load_results(args.grid)))
    except ValueError as error:
        raise SystemExit(f"confirmatory_report: {error}") from None


if __name__ == "__main__":
    main()
