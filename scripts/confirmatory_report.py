"""The analysis of the pre-registered study's confirmatory grid (results/preregistration.md, part 2), run once, on
the complete grid.

    python scripts/confirmatory_report.py [results/confirmatory]

The analysis is `dropkey_lib.confirmatory` (its docstring gives the rules; notebook 10 and the README's Results
table use the same code). It refuses an incomplete grid, reading only the run folders' names and seeds, as the
running protocol says. On the complete grid it prints, for every question, the answer, and for every comparison the
paired difference ± 95% CI, the raw and Holm-adjusted p-values of both tests (difference and equivalence) and the
effect the grid could have detected; then, reported and not judged, each regulariser's paired difference from `none`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dropkey_lib import confirmatory
from dropkey_lib.experiments import load_results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", nargs="?", default="results/confirmatory", type=Path)
    args = parser.parse_args(argv)
    try:
        print(confirmatory.report(load_results(args.grid)))
    except ValueError as error:
        raise SystemExit(f"confirmatory_report: {error}") from None


if __name__ == "__main__":
    main()
