"""The analysis of the confirmatory grid (dropkey_lib.confirmatory, and its command scripts/confirmatory_report.py)
refuses an incomplete grid and applies the pre-registered rules (results/preregistration.md, part 2) to a complete
one. Synthetic grids only: the real grid is analysed once, when complete."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from dropkey_lib import confirmatory as report
from dropkey_lib import verdicts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import confirmatory_report  # noqa: E402  (scripts/ is not a package)

CONFIGS = [name for name, _ in report.GRID.configs]
SEEDS = report.GRID.seeds


def grid(shifts: dict[str, float] | None = None, seeds: int = SEEDS) -> list[dict]:
    """A synthetic grid: per seed a shared accuracy (the pairing), plus each configuration's shift and a little
    noise of its own."""
    rng = np.random.default_rng(0)
    base = rng.normal(0.45, 0.01, seeds)
    shifts = shifts or {}
    return [
        {"run": name, "seed": s, "test_accuracy": float(base[s] + shifts.get(name, 0.0) + rng.normal(0, 0.002))}
        for name in CONFIGS
        for s in range(seeds)
    ]


def test_an_incomplete_grid_is_refused_with_how_far_it_is():
    with pytest.raises(ValueError, match=f"not complete: 8 of {SEEDS} seeds"):
        report.judge(grid(seeds=8))


def test_a_seed_missing_from_one_configuration_is_refused():
    results = [m for m in grid() if not (m["run"] == "none" and m["seed"] == 5)]
    with pytest.raises(ValueError, match=f"{SEEDS - 1} of {SEEDS} seeds"):
        report.check_complete(results)


def test_a_run_there_twice_is_refused():
    results = grid()
    with pytest.raises(ValueError, match="found"):
        report.check_complete(results + results[:1])


def test_the_questions_name_exactly_the_pre_registered_family():
    pairs = sorted(pair for pairs in report.QUESTIONS.values() for pair in pairs)
    assert pairs == sorted((run, baseline) for run, baseline, _, _ in verdicts.FAMILIES["confirmatory"])


def test_the_whole_family_is_judged_at_once_with_the_pre_registered_margin():
    answers = report.judge(grid())
    judged = [v for question in answers.values() for v in question]
    assert len(judged) == 6 and all(v.family_size == 12 and v.n_paired == SEEDS for v in judged)
    assert all(v.margin == verdicts.CONFIRMATORY_MARGIN for v in judged)


def test_a_clear_gain_of_dropkey_over_dropout_answers_q1_holds():
    answers = report.judge(grid({"dropkey-0.1": 0.01, "dropkey-0.3": 0.01}))
    q1 = next(judged for question, judged in answers.items() if question.startswith("Q1"))
    assert verdicts.overall(q1) == verdicts.HOLDS


def test_structured_drops_shown_worse_answer_q3_holds():
    answers = report.judge(grid({"dropkey_block-0.3": -0.01, "dropkey_cross-0.3": -0.01}))
    q3 = next(judged for question, judged in answers.items() if question.startswith("Q3"))
    assert verdicts.overall(q3) == verdicts.HOLDS


def test_the_report_gives_every_answer_both_p_values_the_margin_and_the_comparisons_with_none():
    text = report.report(grid())
    assert text.count("Holm-adjusted p") == 12 and text.count("equivalence within ±0.5") == 6
    assert all(question in text for question in report.QUESTIONS)
    assert "detectable with 80% power" in text and "paired Δ vs none" in text


def test_the_command_line_refuses_an_incomplete_grid_on_disk(tmp_path, capsys):
    for m in grid(seeds=1):
        folder = tmp_path / m["run"] / "seed0"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(f'{{"run": "{m["run"]}", "seed": 0, "test_accuracy": 0.4}}')
    with pytest.raises(SystemExit, match="not complete: 1 of"):
        confirmatory_report.main([str(tmp_path)])
