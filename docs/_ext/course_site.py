"""Sphinx extension for the course site (docs/conf.py): navigation, offline MathJax, widget placeholders.

- The README is the front page. GitHub shows it too, so it cannot hold Sphinx directives: the navigation (the
  notebooks in order, then the guides) is appended to its source when Sphinx reads it.
- MathJax 2.7 from the `jupyter-server-mathjax` package is copied into `_static/mathjax/` of the built site, so
  equations render without a network (conf.py's `mathjax_path` points there).
- Two sites, English and Chinese (`-t zh`, built into `zh_CN/` inside the English one): every page links to the
  same page in the other language, or to the other front page when it has no counterpart.
- Notebooks are read with their committed outputs. A widget output (application/vnd.jupyter.widget-view+json) needs
  a running kernel, so it becomes a short "run this notebook" placeholder instead of the widget's text
  representation (a dump like `interactive(children=(FloatSlider(...` ); the saved widget state is dropped, so no
  page loads the widget JavaScript from a CDN.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLACEHOLDER_TEXT = (
    "Interactive widget: run this notebook to use it (Binder or Colab badge at the top of the page, "
    "or Jupyter on your machine). This page shows the notebook's saved outputs only."
)
PLACEHOLDER_TEXT_ZH = (
    "交互控件：运行本笔记本才能使用它（页面顶部的 Binder 或 Colab 徽章，或你自己电脑上的 Jupyter）。"
    "本页只显示笔记本保存的输出。"
)


def placeholder_html(text: str) -> str:
    title, rest = text.split("：" if "：" in text else ": ", 1)
    return (
        '<div class="widget-placeholder" style="border: 1px dashed #888; padding: 0.6em 1em; margin: 0.5em 0;">'
        f"<strong>{title}</strong> {rest}</div>"
    )


ZH_SITE = "zh_CN"  # the Chinese site's folder inside the English one
NAVIGATION_ZH = """

```{toctree}
:hidden:
:caption: 笔记本
:glob:

notebooks-zh/[0-9][0-9]_*
notebooks-zh/solutions
```

```{toctree}
:hidden:
:caption: 指南
:glob:

docs/*
results/README
results/preregistration
```

```{toctree}
:hidden:
:caption: 摘要与术语表
:glob:

docs/zh/*
```
"""
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
    """A notebook from its JSON text, with every widget output replaced by the placeholder (myst-nb reader), in
    the notebook's language."""
    book = nbformat.reads(text, as_version=4)
    book.metadata.pop("widgets", None)
    chinese = book.metadata.get("dropkey", {}).get("language") == "zh_CN"
    text = PLACEHOLDER_TEXT_ZH if chinese else PLACEHOLDER_TEXT
    for cell in book.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/html": placeholder_html(text), "text/plain": text}
    return book


def add_navigation(app, docname: str, source: list[str]) -> None:
    if docname == app.config.root_doc and app.config.course_navigation:
        source[0] += NAVIGATION_ZH if app.config.language == "zh_CN" else NAVIGATION


def counterpart(docname: str, chinese: bool) -> str:
    """The page in the other language's site that shows the same content as `docname` (the front page if none)."""
    if chinese:
        if docname.startswith("notebooks-zh/"):
            return "notebooks/" + docname.removeprefix("notebooks-zh/")
        if docname.startswith("docs/zh/") and docname[len("docs/zh/") :][:2].isdigit():
            return "notebooks/" + docname.removeprefix("docs/zh/")  # a notebook's Chinese summary
        return docname if docname.startswith(("docs/", "results/")) and not docname.startswith("docs/zh/") else "README"
    if docname.startswith("notebooks/"):
        return "notebooks-zh/" + docname.removeprefix("notebooks/")
    return docname if docname.startswith(("docs/", "results/", "README.zh-CN")) else "README.zh-CN"


class LanguageLinks(SphinxPostTransform):
    """A link to a notebook or to the README opens the page in the site's language: in the Chinese site, an English
    notebook's link (from a guide or a summary) opens the Chinese notebook and the English README's link the Chinese
    README; in the English site, a link to a Chinese notebook opens its page in the Chinese site."""

    default_priority = 8  # before MyST resolves its references (9)

    def run(self, **kwargs) -> None:
        chinese = self.config.language == "zh_CN"
        for node in self.document.findall(addnodes.pending_xref):
            target = node.get("reftarget", "")
            if node.get("refdomain") != "doc":
                continue
            if chinese and target == "README":
                node["reftarget"], node["reftargetid"] = "README.zh-CN", None  # its English anchors are not there
            elif chinese and target.startswith("notebooks/"):
                other = "notebooks-zh/" + target.removeprefix("notebooks/")
                node["reftarget"] = other if other in self.env.found_docs else target
            elif not chinese and target.startswith("notebooks-zh/"):  # the page in the Chinese site
                up = "../" * self.env.docname.count("/")
                link = nodes.reference("", "", *node.children, refuri=f"{up}{ZH_SITE}/{target}.html", internal=False)
                node.replace_self(link)


def language_switch(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Template variables for language-switch.html: the URL of this page in the other site."""
    chinese = app.config.language == "zh_CN"
    up = "../" * pagename.count("/")
    other = counterpart(pagename, chinese)
    context["other_language_url"] = f"{up}../{other}.html" if chinese else f"{up}{ZH_SITE}/{other}.html"
    context["other_language"] = "en" if chinese else "zh-CN"
    context["other_language_label"] = "English" if chinese else "中文"


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    shutil.copytree(static, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.add_config_value("course_navigation", True, "env")  # False for the guides' message templates (conf.py)
    app.connect("source-read", add_navigation)
    app.connect("html-page-context", language_switch)
    app.add_post_transform(LanguageLinks)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
