"""The pilot report applies the pre-registered rules (results/preregistration.md, part 1) to a pilot's runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import pilot_report  # noqa: E402  (scripts/ is not a package)

SHIFTS = {"none": 0.0, "dropout-0.3": 0.012, "dropkey-0.3": 0.004, "dropkey-0.3-down_to_half": 0.006}


def pilot(depth4_scale: float) -> list[dict]:
    """Three paired seeds per configuration; depth 4's effects are depth 2's times `depth4_scale`."""
    base, noise = [0.44, 0.46, 0.45], [0.001, -0.002, 0.001]
    return [
        {"run": f"depth{depth}-{name}", "seed": s, "test_accuracy": base[s] + shift * scale + noise[s] * (shift > 0),
         "gap": 0.16 if depth == 2 else 0.18}
        for depth, scale in ((2, 1.0), (4, depth4_scale))
        for name, shift in SHIFTS.items()
        for s in range(3)
    ]  # fmt: skip


def test_the_depth_with_the_larger_clear_effect_is_chosen():
    summary = pilot_report.depth_summary(pilot(0.5), 2)
    assert summary["best"] == "dropout-0.3"
    assert summary["rows"]["dropout-0.3"]["diff"] == pytest.approx(0.012)


def test_the_pooled_sd_pools_every_comparison_at_the_depth():
    sd = pilot_report.pooled_sd(pilot(1.0), 2)
    assert 0 < sd < 0.01


def test_the_seed_count_is_at_least_twenty_and_grows_with_the_spread():
    assert pilot_report.seeds_needed(0.001, 12) == 20
    assert pilot_report.seeds_needed(0.01, 12) > pilot_report.seeds_needed(0.006, 12) > 20
