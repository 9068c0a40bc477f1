"""Build the course site: the README, the executed notebooks and docs/ as static HTML in _site/html/.

    pip install -e ".[site]" && python scripts/build_site.py    # then open _site/html/index.html

Runs Sphinx (configuration in docs/conf.py) with warnings as errors (-W, --keep-going to list them all) and
nitpicky references (-n): a broken link or a missing page fails the build. Notebooks are not executed; the pages
show their committed outputs. Works offline. Extra arguments go to sphinx-build (e.g. -E to rebuild everything).
The notebooks' pages use the committed outputs: after re-executing a notebook, build again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sphinx.cmd.build import build_main

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_site"  # git-ignored; myst-nb also keeps the notebooks' output images here (jupyter_execute/)
OUT = BUILD / "html"


def main(argv: list[str] | None = None) -> int:
    extra = sys.argv[1:] if argv is None else argv
    args = ["-b", "html", "-W", "--keep-going", "-n", "-q", "-c", str(ROOT / "docs"), "-d", str(BUILD / "doctrees")]
    status = build_main([*args, *extra, str(ROOT), str(OUT)])
    if status == 0:
        print(f"site built: {OUT / 'index.html'}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
