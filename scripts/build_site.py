"""Build the course site in English and Chinese: the README, the executed notebooks and docs/ as static HTML.

    pip install -e ".[site]" && python scripts/build_site.py    # then open _site/html/index.html

Runs Sphinx (configuration in docs/conf.py) with warnings as errors (-W, --keep-going to list them all) and
nitpicky references (-n): a broken link or a missing page fails the build. Notebooks are not executed; the pages
show their committed outputs. Works offline. Extra arguments go to sphinx-build (e.g. -E to rebuild everything).
The notebooks' pages use the committed outputs: after re-executing a notebook, build again.

Two sites from the same sources: English in _site/html/, Simplified Chinese in _site/html/zh_CN/ (`-t zh`: the
Chinese README, notebooks-zh/, the guides translated through Sphinx's gettext catalogs in locale/, the Chinese
summaries). Every page links to its counterpart in the other language. Keep the translations in step with
scripts/translate.py (update, build, update-guides; check and check-guides say what is stale).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sphinx.cmd.build import build_main

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_site"  # git-ignored; myst-nb also keeps the notebooks' output images here (jupyter_execute/)
OUT = BUILD / "html"


ZH = OUT / "zh_CN"  # the Chinese site, inside the English one (course_site.ZH_SITE)


def main(argv: list[str] | None = None) -> int:
    extra = sys.argv[1:] if argv is None else argv
    args = ["-b", "html", "-W", "--keep-going", "-n", "-q", "-c", str(ROOT / "docs")]
    status = build_main([*args, "-d", str(BUILD / "doctrees"), *extra, str(ROOT), str(OUT)])
    if status == 0:
        status = build_main([*args, "-t", "zh", "-d", str(BUILD / "doctrees-zh"), *extra, str(ROOT), str(ZH)])
    if status == 0:
        print(f"site built: {OUT / 'index.html'} (中文: {ZH / 'index.html'})")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
