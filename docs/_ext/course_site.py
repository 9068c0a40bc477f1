"""Sphinx extension for the course site (docs/conf.py): navigation, offline MathJax, widget placeholders.

- The README is the front page. GitHub shows it too, so it cannot hold Sphinx directives: the navigation (the
  notebooks in order, then the guides) is appended to its source when Sphinx reads it.
- MathJax 2.7 from the `jupyter-server-mathjax` package is copied into `_static/mathjax/` of the built site, so
  equations render without a network (conf.py's `mathjax_path` points there).
- Notebooks are read with their committed outputs. A widget output (application/vnd.jupyter.widget-view+json) needs
  a running kernel, so it becomes a short "run this notebook" placeholder instead of the widget's text
  representation (a dump like `interactive(children=(FloatSlider(...` ); the saved widget state is dropped, so no
  page loads the widget JavaScript from a CDN.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLACEHOLDER_TEXT = (
    "Interactive widget: run this notebook to use it (Binder or Colab badge at the top of the page, "
    "or Jupyter on your machine). This page shows the notebook's saved outputs only."
)
PLACEHOLDER_HTML = (
    '<div class="widget-placeholder" style="border: 1px dashed #888; padding: 0.6em 1em; margin: 0.5em 0;">'
    f"<strong>Interactive widget.</strong> {PLACEHOLDER_TEXT.split(': ', 1)[1]}</div>"
)
NAVIGATION = """

```{toctree}
:hidden:
:caption: Notebooks
:glob:

notebooks/[0-9][0-9]_*
notebooks/solutions
```

```{toctree}
:hidden:
:caption: Guides
:glob:

docs/*
results/README
results/preregistration
```

```{toctree}
:hidden:
:caption: 中文
:glob:

README.zh-CN
docs/zh/*
```
"""


def read_notebook(text: str) -> nbformat.NotebookNode:
    """A notebook from its JSON text, with every widget output replaced by the placeholder (myst-nb reader)."""
    book = nbformat.reads(text, as_version=4)
    book.metadata.pop("widgets", None)
    for cell in book.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/html": PLACEHOLDER_HTML, "text/plain": PLACEHOLDER_TEXT}
    return book


def add_navigation(app, docname: str, source: list[str]) -> None:
    if docname == app.config.root_doc:
        source[0] += NAVIGATION


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    shutil.copytree(static, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("source-read", add_navigation)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
