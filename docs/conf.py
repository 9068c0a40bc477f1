"""Sphinx configuration of the course site: the README, the executed notebooks and the guides, as static HTML.

Build it from the repository root (the source folder is the repository; this folder holds the configuration):

    python scripts/build_site.py          # -> _site/html/index.html

Notebooks are rendered with myst-nb from their committed outputs and never executed. Everything the pages need is
in the build output, so the site works offline: MathJax comes from the `jupyter-server-mathjax` package (MathJax 2.7,
copied into `_static/mathjax/`) instead of a CDN, and widget outputs become a placeholder (see `_ext/course_site.py`).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "DropKey for Vision Transformers"
author = "the DropKey course authors"
copyright = "the DropKey course authors, MIT licence"

extensions = ["myst_nb", "course_site"]

# The repository root is the source folder: only these files are pages. Two sites are built from it (build_site.py):
# the English one, and with `-t zh` the Chinese one (its README, the Chinese notebooks, the guides translated through
# the catalogs in locale/, the Chinese summaries and glossary).
root_doc = "README"
include_patterns = [
    "README.md",
    "README.zh-CN.md",
    "docs/*.md",
    "docs/zh/*.md",
    "results/README.md",
    "results/preregistration.md",
    "notebooks/[0-9][0-9]_*.ipynb",
    "notebooks/solutions.ipynb",
]
if tags.has("zh"):  # noqa: F821 (Sphinx defines `tags`)
    language = "zh_CN"
    root_doc = "README.zh-CN"
    include_patterns = [
        "README.zh-CN.md",
        "docs/*.md",
        "docs/zh/*.md",
        "results/README.md",
        "results/preregistration.md",
        "notebooks-zh/[0-9][0-9]_*.ipynb",
        "notebooks-zh/solutions.ipynb",
    ]
exclude_patterns = [
    "_site",
    ".venv",
    ".ci-venv",
    ".git",
    "runs",
    "build",
    "browser-screenshots",
    "**/.ipynb_checkpoints",
]
templates_path = ["_templates"]

# Notebooks: show the committed outputs, never run them.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# Math: MathJax 2.7 shipped inside the site (copied by course_site at build time), no CDN.
# The package ships MathJax's combined "-full" configuration only. Sphinx writes math as \(...\) and \[...\].
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
# myst marks pages tex2jax_ignore (no $...$ guessing in the text); the math elements themselves are processed.
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processClass": "math|output_area"},
    # The package ships the STIX-Web fonts only (as Jupyter's classic notebook configured it), not MathJax's TeX fonts.
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
}
myst_update_mathjax = False  # myst's own setting is for MathJax 3

html_theme = "furo"
html_title = "视觉 Transformer 中的 DropKey" if tags.has("zh") else "DropKey for Vision Transformers"  # noqa: F821
# Every page links to the same page in the other language (course_site.language_switch), above the navigation.
html_sidebars = {
    "**": [
        "sidebar/brand.html",
        "language-switch.html",
        "sidebar/search.html",
        "sidebar/scroll-start.html",
        "sidebar/navigation.html",
        "sidebar/scroll-end.html",
    ]
}
html_additional_pages = {"index": "redirect.html"}  # index.html sends the browser to the README's page

# Broken cross-references and missing pages fail the build (scripts/build_site.py runs with -W -n --keep-going).
nitpicky = True
nb_custom_formats = {".ipynb": "course_site.read_notebook"}

# Translation (Sphinx i18n, gettext catalogs in locale/zh_CN/LC_MESSAGES/, kept with sphinx-intl): the guides below are
# translated paragraph by paragraph; `python scripts/build_site.py` explains the workflow.
locale_dirs = ["locale/"]  # relative to the source folder, the repository root
gettext_compact = False  # one catalog per page: locale/zh_CN/LC_MESSAGES/docs/classroom.po
gettext_location = False  # no source line numbers in the catalogs: editing one paragraph leaves the others alone
gettext_last_translator = gettext_language_team = ""
TRANSLATED_GUIDES = ["docs/lesson-plans.md", "docs/classroom.md", "docs/paper-notes.md", "docs/marking.md"]
if tags.has("guides"):  # noqa: F821 (Sphinx defines `tags`)  the gettext builder: message templates of the guides
    include_patterns, root_doc = TRANSLATED_GUIDES, TRANSLATED_GUIDES[0].removesuffix(".md")
    course_navigation = False
