"""The Chinese notebooks (notebooks-zh/), built from the English ones and gettext translation catalogs.

    python scripts/translate.py update   # English notebooks -> catalogs: new cells to translate, changed ones stale
    python scripts/translate.py build    # catalogs + English notebooks -> notebooks-zh/*.ipynb
    python scripts/translate.py check    # exit 1 if a translation is missing or stale, or a Chinese notebook is old
    python scripts/translate.py update-guides       # the guides' catalogs, in step with docs/*.md (Sphinx i18n)
    python scripts/translate.py check-guides [FILE]  # exit 1 if a paragraph of a guide is untranslated or stale

Each English notebook `notebooks/NN_name.ipynb` has one catalog, `locale/zh_CN/notebooks/NN_name.po`, with one
entry per Markdown cell: its context (`msgctxt`) is the cell's id, its `msgid` the English cell, its `msgstr` the
Chinese cell. Edit the `msgstr` with any PO editor (Poedit, Lokalize, a text editor). When an English cell changes,
`update` keeps its old translation but marks it `fuzzy` (stale) and records the old English text (`#| msgid`), as
gettext's msgmerge does; `check`, and so the tests, fail until someone re-translates it and removes the flag.

A Chinese notebook has the English notebook's code cells, in the same order with the same ids, plus one cell (id
`zh-language`) that switches the exercise checkers to Chinese. Its Markdown cells are the translations; the launch
badges and Colab cell point at notebooks-zh/ (Binder through dropkey_lib.launch, with JupyterLab in Chinese), and
the English notebook's Chinese summary cell is left out (the whole notebook is Chinese); Binder and Colab links in
the text open Chinese notebooks. `build` keeps the outputs of code cells whose source did not change and copies the
English outputs of the others; re-execute the notebooks it reports before committing them (DROPKEY_QUICK=1 python
scripts/run_notebooks.py notebooks-zh/NN_name.ipynb), since nbval compares the outputs.

The guides (`TRANSLATED_GUIDES` in docs/conf.py: lesson plans, classroom, marking, paper notes) are translated the way
Sphinx sites are: Sphinx's gettext builder cuts each guide into paragraphs, list items and table cells, and
sphinx-intl keeps `locale/zh_CN/LC_MESSAGES/docs/<name>.po` in step (a changed paragraph becomes fuzzy); the
Chinese site shows the translations. A paragraph whose English changed only in its generated figures (the cog spans
of scripts/figures.py) keeps its translation, with the new figures copied in.

Links stay valid unchanged: notebooks-zh/ sits beside notebooks/, so `../docs/...` and `NN_other.ipynb` work from
both (the latter then opens the Chinese notebook).
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import nbformat
import polib
import yaml
from markdown_it import MarkdownIt
from sphinx.cmd.build import build_main
from sphinx_intl.basic import update as sphinx_intl_update

sys.path.insert(0, str(Path(__file__).resolve().parent))
import badges  # noqa: E402  (scripts/ is not a package)

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ROOT / "notebooks"
CHINESE = ROOT / "notebooks-zh"
CATALOGS = ROOT / "locale" / "zh_CN" / "notebooks"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
LANGUAGE_ID = "zh-language"
LANGUAGE_CELL = 'from dropkey_lib import i18n\n\ni18n.use_language("zh_CN")  # 练习检查器用中文给出反馈'
SUMMARY_START = "**中文摘要**"  # the English notebook's Chinese summary cell, not needed in the Chinese notebook
TERMS = ROOT / "docs" / "zh" / "terms.yaml"
LOCALE = ROOT / "locale"  # Sphinx's locale_dirs: locale/zh_CN/LC_MESSAGES/docs/<guide>.po
FIGURE = re.compile(r"(<!-- \[\[\[cog (.*?)\]\]\]\s*-->)(.*?)(<!--\s*\[\[\[end\]\]\] -->)", re.DOTALL)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`(?:[^`\n]|\n(?!\n))+`")  # may wrap onto the next line, not past a paragraph
HEADING = re.compile(r"^(#+)\s", re.MULTILINE)
MARKDOWN = MarkdownIt("commonmark")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
HEADER = {
    "Project-Id-Version": "dropkey-course notebooks",
    "Language": "zh_CN",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
}


def english_notebooks(root: Path = ROOT) -> list[Path]:
    """The English notebooks that have a Chinese version: the numbered series and the solutions."""
    folder = root / ENGLISH.name
    return [*sorted(folder.glob(NOTEBOOK_GLOB)), folder / "solutions.ipynb"]


def catalog_path(notebook: Path, root: Path = ROOT) -> Path:
    return root / CATALOGS.relative_to(ROOT) / f"{notebook.stem}.po"


def chinese_path(notebook: Path, root: Path = ROOT) -> Path:
    return root / CHINESE.name / notebook.name


def is_translated_cell(cell: nbformat.NotebookNode) -> bool:
    """Markdown cells carry prose to translate, except the launch badges (generated) and the Chinese summary."""
    return (
        cell.cell_type == "markdown"
        and cell.get("id") != badges.BADGES_ID
        and not cell.source.startswith(SUMMARY_START)
    )


def translated_cells(book: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    cells = [cell for cell in book.cells if is_translated_cell(cell)]
    ids = [cell.get("id") for cell in cells]
    if None in ids or len(set(ids)) != len(ids):
        raise ValueError("every Markdown cell needs a unique id (nbformat 4.5); run nbformat's validator to add them")
    return cells


def update(catalog: polib.POFile | None, book: nbformat.NotebookNode, source: str) -> polib.POFile:
    """The catalog for `book` (the English notebook at `source`, relative to the repository), from the old one.

    An unchanged cell keeps its translation and flags; a changed cell keeps its old translation, marked fuzzy, with
    the old English text as `previous_msgid`; a new cell gets an empty translation; entries of deleted cells go.
    """
    old = {entry.msgctxt: entry for entry in (catalog or [])}
    new = polib.POFile(wrapwidth=0)
    new.metadata = dict(catalog.metadata) if catalog is not None else dict(HEADER)
    for cell in translated_cells(book):
        entry = polib.POEntry(msgctxt=cell.id, msgid=cell.source, msgstr="", occurrences=[(source, "")])
        before = old.get(cell.id)
        if before is not None and before.msgid == cell.source:
            entry.msgstr, entry.flags, entry.previous_msgid = before.msgstr, list(before.flags), before.previous_msgid
        elif before is not None and before.msgstr:
            entry.msgstr, entry.flags = before.msgstr, ["fuzzy"]
            entry.previous_msgid = before.previous_msgid if "fuzzy" in before.flags else before.msgid
        new.append(entry)
    return new


def problems(catalog: polib.POFile, book: nbformat.NotebookNode, name: str) -> list[str]:
    """What keeps the catalog from translating the notebook: cells without an entry, untranslated and stale ones."""
    entries = {entry.msgctxt: entry for entry in catalog}
    rejected = rejected_renderings()
    found = []
    for cell in translated_cells(book):
        entry = entries.get(cell.id)
        start = cell.source.splitlines()[0][:60] if cell.source else ""
        if entry is None or entry.msgid != cell.source:
            found.append(
                f"{name}: cell {cell.id} ({start!r}) changed or is new; run: python scripts/translate.py update"
            )
        elif "fuzzy" in entry.flags:
            found.append(f"{name}: cell {cell.id} ({start!r}) is stale: its English text changed; re-translate it")
        elif not entry.msgstr.strip():
            found.append(f"{name}: cell {cell.id} ({start!r}) is not translated")
        else:
            found += [
                f"{name}: cell {cell.id} ({start!r}): {fault}"
                for fault in translation_faults(cell.source, entry.msgstr, rejected)
            ]
    return found


def _prose(markdown: str) -> str:
    """The text of a Markdown cell without code blocks, math, link targets and inline code: what a reader reads."""
    for pattern in (FENCE, MATH, INLINE_CODE):
        markdown = pattern.sub(" ", markdown)
    return LINK_TARGET.sub("] ", markdown)


def literal_emphasis(markdown: str) -> int:
    """How many `*` a CommonMark renderer leaves in the text. Chinese needs care: bold that ends with punctuation
    closes only before a space or punctuation, so "**目标。**学习" shows its asterisks."""
    inline = [token for token in MARKDOWN.parse(markdown) if token.type == "inline"]
    return sum(child.content.count("*") for token in inline for child in token.children if child.type == "text")


def rejected_renderings(terms_file: Path = TERMS) -> dict[str, str]:
    """Chinese renderings the glossary rejects (docs/zh/terms.yaml `avoid`) -> the English term they misrender."""
    terms = yaml.safe_load(terms_file.read_text(encoding="utf-8"))
    return {bad: entry["en"] for entry in terms for bad in entry.get("avoid", [])}


def translation_faults(english: str, chinese: str, rejected: dict[str, str]) -> list[str]:
    """How a translated cell breaks what must survive translation unchanged: its code blocks (same order), math,
    link targets, inline code and heading levels; every number of the English prose and no other; bold that
    Markdown would not close; and the terms the glossary rejects."""
    faults = []
    if FENCE.findall(english) != FENCE.findall(chinese):
        faults.append("code blocks differ from the English cell (keep them as they are)")
    if Counter(MATH.findall(english)) != Counter(MATH.findall(chinese)):
        faults.append(f"math differs: {sorted(set(MATH.findall(english)) ^ set(MATH.findall(chinese)))}")
    english_links, chinese_links = (Counter(map(launch_english, LINK_TARGET.findall(t))) for t in (english, chinese))
    if english_links != chinese_links:
        faults.append(
            f"link targets differ: {sorted(set(LINK_TARGET.findall(english)) ^ set(LINK_TARGET.findall(chinese)))}"
        )
    english_code, chinese_code = (set(INLINE_CODE.findall(FENCE.sub(" ", text))) for text in (english, chinese))
    if english_code != chinese_code:
        faults.append(f"inline code differs: {sorted(english_code ^ chinese_code)}")
    if HEADING.findall(english) != HEADING.findall(chinese):
        faults.append("headings differ in number or level")
    english_numbers, chinese_numbers = set(NUMBER.findall(_prose(english))), set(NUMBER.findall(_prose(chinese)))
    if english_numbers - chinese_numbers:
        faults.append(f"numbers of the English text missing: {sorted(english_numbers - chinese_numbers)}")
    if chinese_numbers - english_numbers:
        faults.append(f"numbers not in the English text: {sorted(chinese_numbers - english_numbers)}")
    if literal_emphasis(chinese) > literal_emphasis(english):
        faults.append("some ** or * would show literally (after Chinese punctuation, add a space after the closing **)")
    faults += [
        f"uses {bad!r} for {term!r}, a rendering the glossary rejects"
        for bad, term in rejected.items()
        if bad in chinese
    ]
    return faults


def launch_english(url: str) -> str:
    """A Binder or Colab link to a Chinese notebook as the link to its English one. Other links stay the same in a
    translation: the Chinese site and notebooks resolve them to Chinese pages themselves."""
    if not url.startswith("https://"):
        return url
    return url.replace("urlpath=dropkey/zh/", "urlpath=lab/tree/notebooks/").replace("/notebooks-zh/", "/notebooks/")


def launch_chinese(markdown: str, course: badges.Course) -> str:
    """`markdown` with its Binder and Colab links to English notebooks sent to the Chinese ones."""
    markdown = markdown.replace(course.binder_url("", ENGLISH.name), course.chinese_binder_url(""))
    return markdown.replace(course.colab_url("", ENGLISH.name), course.colab_url("", CHINESE.name))


def build(
    book: nbformat.NotebookNode,
    catalog: polib.POFile,
    name: str,
    course: badges.Course,
    previous: nbformat.NotebookNode | None = None,
) -> nbformat.NotebookNode:
    """The Chinese notebook: `book` with its Markdown translated by `catalog` (a fuzzy or empty entry leaves the
    English text), the summary cell dropped, badges and Colab cell for notebooks-zh/ and the language cell after the
    Colab cell. Code cells whose source equals the one in `previous` (the committed Chinese notebook) keep its
    outputs and execution timings, and when every code cell does, the notebook keeps its saved widget state: building
    again after a change of Markdown only changes that Markdown."""
    translations = {e.msgctxt: e.msgstr for e in catalog if e.msgstr and "fuzzy" not in e.flags}
    kept = {c.id: c for c in previous.cells if c.cell_type == "code"} if previous is not None else {}
    cells = []
    for cell in book.cells:
        cell = copy.deepcopy(cell)
        if cell.cell_type == "markdown" and cell.source.startswith(SUMMARY_START):
            continue
        if cell.get("id") == badges.BADGES_ID:
            cell.source = course.chinese_badges(name)
        elif cell.get("id") == badges.COLAB_ID:
            cell.source = course.colab_cell(folder=CHINESE.name)
        elif is_translated_cell(cell):
            cell.source = launch_chinese(translations.get(cell.id, cell.source), course)
        if cell.cell_type == "code" and cell.id in kept and kept[cell.id].source == cell.source:
            cell.outputs, cell.execution_count = kept[cell.id].outputs, kept[cell.id].execution_count
            cell.metadata.pop("execution", None)  # the timings of the Chinese notebook's own execution, if any
            if "execution" in kept[cell.id].metadata:
                cell.metadata["execution"] = kept[cell.id].metadata["execution"]
        cells.append(cell)
        if cell.get("id") == badges.COLAB_ID:
            language = kept.get(LANGUAGE_ID) or nbformat.v4.new_code_cell(id=LANGUAGE_ID)
            language.source = LANGUAGE_CELL
            cells.append(language)
    chinese = copy.deepcopy(book)
    chinese.cells = cells
    code = [cell for cell in cells if cell.cell_type == "code"]
    if previous is not None and all(cell.id in kept and kept[cell.id].source == cell.source for cell in code):
        # The same code: the widgets the Chinese notebook's own execution saved are the ones its outputs show.
        chinese.metadata.pop("widgets", None)
        if "widgets" in previous.metadata:
            chinese.metadata["widgets"] = previous.metadata["widgets"]
    chinese.metadata["dropkey"] = {"language": "zh_CN", "translated_from": f"{ENGLISH.name}/{name}"}
    return chinese


def sources(book: nbformat.NotebookNode) -> list[tuple[str, str, str]]:
    """What the catalogs decide in a notebook: each cell's id, type and source (not the outputs)."""
    return [(cell.get("id"), cell.cell_type, cell.source) for cell in book.cells]


def load_catalog(path: Path) -> polib.POFile | None:
    return polib.pofile(str(path), wrapwidth=0) if path.is_file() else None


def write(path: Path, text: str) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def run_update(notebooks: Iterable[Path], root: Path = ROOT) -> list[Path]:
    """Bring every catalog in step with its English notebook; returns the catalogs that changed."""
    changed = []
    for notebook in notebooks:
        path = catalog_path(notebook, root)
        old = load_catalog(path)
        new = update(old, nbformat.read(notebook, as_version=4), str(notebook.relative_to(root)))
        if old is None or str(new) != str(old):
            write(path, str(new))
            changed.append(path)
    return changed


def run_build(notebooks: Iterable[Path], course: badges.Course, root: Path = ROOT) -> list[Path]:
    """Write every Chinese notebook whose cells differ from the build; returns the ones written."""
    written = []
    for notebook in notebooks:
        target = chinese_path(notebook, root)
        previous = nbformat.read(target, as_version=4) if target.is_file() else None
        catalog = load_catalog(catalog_path(notebook, root)) or polib.POFile()
        new = build(nbformat.read(notebook, as_version=4), catalog, notebook.name, course, previous)
        if previous is None or nbformat.writes(new) != nbformat.writes(previous):
            write(target, nbformat.writes(new) + "\n")
            written.append(target)
    return written


def run_check(notebooks: Iterable[Path], course: badges.Course, root: Path = ROOT) -> list[str]:
    """Every reason the Chinese course is not in step with the English one (empty: in step)."""
    found = []
    for notebook in notebooks:
        book = nbformat.read(notebook, as_version=4)
        path = catalog_path(notebook, root)
        catalog = load_catalog(path)
        if catalog is None:
            found.append(
                f"{notebook.name}: no catalog {path.relative_to(root)}; run: python scripts/translate.py update"
            )
            continue
        found += problems(catalog, book, notebook.name)
        target = chinese_path(notebook, root)
        if not target.is_file():
            found.append(f"{notebook.name}: no Chinese notebook {target.relative_to(root)}; run the build")
        elif sources(nbformat.read(target, as_version=4)) != sources(build(book, catalog, notebook.name, course)):
            found.append(f"{target.relative_to(root)} is older than its catalog or English notebook; run the build")
    return found


def guide_templates(folder: Path, root: Path = ROOT) -> Path:
    """Sphinx's gettext builder over the guides: one message template (.pot) per guide under `folder`/docs/."""
    status = build_main(["-b", "gettext", "-Q", "-t", "guides", "-c", str(root / "docs"), str(root), str(folder)])
    if status != 0:
        raise RuntimeError(f"Sphinx's gettext builder failed ({status}) on the guides")
    return folder


def without_figures(text: str) -> str:
    return FIGURE.sub(lambda m: m.group(1) + m.group(4), text)


def with_figures_of(english: str, translation: str) -> str:
    """`translation` with each generated figure (cog span) replaced by the same figure's span in `english`."""
    spans = {m.group(2): m.group(0) for m in FIGURE.finditer(english)}
    return FIGURE.sub(lambda m: spans.get(m.group(2), m.group(0)), translation)


def carry_figures(catalog: polib.POFile, template: polib.POFile) -> int:
    """Entries whose English changed only in generated figures take the new English, and the new figures into their
    translation (the cog spans are copied verbatim into translations). Returns how many changed."""
    new = {without_figures(entry.msgid): entry.msgid for entry in template}
    carried = 0
    for entry in catalog:
        english = new.get(without_figures(entry.msgid))
        if english is None or english == entry.msgid or not entry.msgstr or "fuzzy" in entry.flags:
            continue
        entry.msgid, entry.msgstr = english, with_figures_of(english, entry.msgstr)
        carried += 1
    return carried


def guide_catalog_path(template: Path, templates: Path, root: Path = ROOT) -> Path:
    return root / LOCALE.name / "zh_CN" / "LC_MESSAGES" / template.relative_to(templates).with_suffix(".po")


def run_update_guides(root: Path = ROOT) -> None:
    """Bring the guides' catalogs in step with docs/*.md: figures carried over, then sphinx-intl's update."""
    with tempfile.TemporaryDirectory() as folder:
        templates = guide_templates(Path(folder), root)
        for template in sorted(templates.rglob("*.pot")):
            path = guide_catalog_path(template, templates, root)
            if path.is_file():
                catalog = polib.pofile(str(path))
                if carry_figures(catalog, polib.pofile(str(template))):
                    catalog.save(str(path))
        sphinx_intl_update(str(root / LOCALE.name), str(templates), ("zh_CN",), jobs=1)


def guide_problems(templates: Path, guides: Iterable[str] | None = None, root: Path = ROOT) -> list[str]:
    """Every paragraph of the guides whose translation is missing, stale or faulty (empty: in step)."""
    rejected = rejected_renderings()
    found = []
    for template in sorted(templates.rglob("*.pot")):
        name = str(template.relative_to(templates).with_suffix(".md"))
        if guides is not None and name not in guides:
            continue
        path = guide_catalog_path(template, templates, root)
        if not path.is_file():
            found.append(f"{name}: no catalog {path.relative_to(root)}; run: python scripts/translate.py update-guides")
            continue
        entries = {entry.msgid: entry for entry in polib.pofile(str(path)) if not entry.obsolete}
        for message in polib.pofile(str(template)):
            start = message.msgid.splitlines()[0][:60]
            entry = entries.get(message.msgid)
            if entry is None:
                found.append(f"{name}: {start!r} changed or is new; run: python scripts/translate.py update-guides")
            elif "fuzzy" in entry.flags:
                found.append(f"{name}: {start!r} is stale: its English text changed; re-translate it")
            elif not entry.msgstr.strip():
                found.append(f"{name}: {start!r} is not translated")
            else:
                found += [
                    f"{name}: {start!r}: {fault}" for fault in translation_faults(message.msgid, entry.msgstr, rejected)
                ]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["update", "build", "check", "update-guides", "check-guides"])
    parser.add_argument("files", nargs="*", type=Path, help="English notebooks, or guides (default: all)")
    args = parser.parse_args(argv)
    if args.action == "update-guides":
        run_update_guides()
        return 0
    if args.action == "check-guides":
        guides = [str(p.resolve().relative_to(ROOT)) for p in args.files] or None
        with tempfile.TemporaryDirectory() as folder:
            found = guide_problems(guide_templates(Path(folder)), guides)
        print("\n".join(found) or "the guides' catalogs translate every paragraph of the guides")
        return 1 if found else 0
    notebooks = [p.resolve() for p in args.files] or english_notebooks()
    course = badges.load_course()
    if args.action == "update":
        for path in run_update(notebooks):
            print(f"updated {path.relative_to(ROOT)}")
    elif args.action == "build":
        for path in run_build(notebooks, course):
            name = path.relative_to(ROOT)
            print(f"built {name}; execute it: DROPKEY_QUICK=1 python scripts/run_notebooks.py {name}")
    found = run_check(notebooks, course) if args.action == "check" else []
    for line in found:
        print(line)
    if found:
        print("then: python scripts/translate.py build", file=sys.stderr)
        return 1
    if args.action == "check":
        print(f"{len(notebooks)} Chinese notebooks are in step with their English notebooks and catalogs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
