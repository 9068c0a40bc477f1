"""The pilot of the pre-registered study (results/preregistration.md, part 1): which regime, and how many seeds.

    python scripts/pilot_report.py [results/pilot-regime] [--family-size 12]

Applies part 1's rules, as declared before the pilot ran, to the pilot's finished runs:
- per depth, each regulariser's mean paired difference from `none` in test accuracy (all 10,000 test images), and
  the unregularised clean-train minus test gap;
- the regime: the depth with the larger best effect if that effect is at least 1 point, else the depth where `none`
  has the larger gap;
- the seeds of part 2: the smallest n >= 20 that detects 0.5 points with 80% power at Holm's first step
  (0.05 / family size), planning with 1.25 x the pooled SD of the chosen depth's paired differences.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from dropkey_lib import stats, verdicts
from dropkey_lib.experiments import load_results

REGULARISERS = ("dropout-0.3", "dropkey-0.3", "dropkey-0.3-down_to_half")
CLEAR_EFFECT = 0.01  # one point of test accuracy
TARGET_EFFECT = 0.005  # half a point
SD_GUARD = 1.25
LEAST_SEEDS = 20


def depth_summary(results: list[dict], depth: int) -> dict:
    """The pilot's numbers at one depth: each regulariser's paired difference from none, the best, the gap."""
    prefix = f"depth{depth}-"
    rows = {name: verdicts.compare(results, "test_accuracy", prefix + name, prefix + "none") for name in REGULARISERS}
    gap, _, _ = verdicts.seed_stats(results, "gap", prefix + "none")
    return {"rows": rows, "best": max(rows, key=lambda name: rows[name]["diff"]), "gap": gap}


def pooled_sd(results: list[dict], depth: int) -> float:
    """The pooled SD of the paired differences at `depth`: every regulariser minus none, and DropKey minus dropout."""
    prefix = f"depth{depth}-"
    pairs = [(prefix + name, prefix + "none") for name in REGULARISERS] + [
        (prefix + "dropkey-0.3", prefix + "dropout-0.3")
    ]
    accuracy = verdicts.by_run(results, "test_accuracy")
    variances = []
    for run, baseline in pairs:
        shared = sorted(set(accuracy[run]) & set(accuracy[baseline]))
        differences = [accuracy[run][s] - accuracy[baseline][s] for s in shared]
        mean = sum(differences) / len(differences)
        variances.append(sum((d - mean) ** 2 for d in differences) / (len(differences) - 1))
    return math.sqrt(sum(variances) / len(variances))


def seeds_needed(sd: float, family_size: int) -> int:
    """The smallest n >= LEAST_SEEDS that detects TARGET_EFFECT with 80% power at alpha = 0.05 / family_size."""
    n = LEAST_SEEDS
    while stats.detectable_effect(SD_GUARD * sd, n, power=0.8, alpha=0.05 / family_size) > TARGET_EFFECT:
        n += 1
    return n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", nargs="?", default="results/pilot-regime", type=Path)
    parser.add_argument("--family-size", type=int, default=12, help="tests in part 2's Holm family (default 12)")
    args = parser.parse_args(argv)
    results = load_results(args.grid)
    print(f"{len(results)} finished runs in {args.grid}")
    summaries = {depth: depth_summary(results, depth) for depth in (2, 4)}
    for depth, summary in summaries.items():
        print(f"\ndepth {depth}: clean-train minus test gap of none {summary['gap']:.1%}")
        for name, row in summary["rows"].items():
            print(f"  {name:26s} - none: {row['diff'] * 100:+.2f} ± {row['diff_ci95'] * 100:.2f} points "
                  f"({row['n_paired']} seeds)")  # fmt: skip
    best = {depth: summary["rows"][summary["best"]]["diff"] for depth, summary in summaries.items()}
    depth = max(best, key=best.get)
    if best[depth] >= CLEAR_EFFECT:
        print(f"\nregime: depth {depth}, the larger best effect ({best[depth] * 100:+.2f} points, at least 1 point)")
    else:
        depth = max(summaries, key=lambda d: summaries[d]["gap"])
        largest = max(best.values()) * 100
        print(f"\nno regime with a clear effect (best {largest:+.2f} points < 1 point): depth {depth}, "
              f"the larger gap of none ({summaries[depth]['gap']:.1%})")  # fmt: skip
    sd = pooled_sd(results, depth)
    n = seeds_needed(sd, args.family_size)
    print(f"pooled SD of the paired differences at depth {depth}: {sd * 100:.2f} points; planning with "
          f"{SD_GUARD} x = {SD_GUARD * sd * 100:.2f}")  # fmt: skip
    print(f"seeds per configuration for part 2: {n} (0.5 points, 80% power, alpha 0.05 / {args.family_size})")


if __name__ == "__main__":
    main()
