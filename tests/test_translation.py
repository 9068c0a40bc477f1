"""The Chinese notebooks (notebooks-zh/) are built from the English ones and the gettext catalogs in
locale/zh_CN/notebooks/ by scripts/translate.py, and cannot drift: a changed English cell makes its translation
stale, and the check fails until it is re-translated."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import polib
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import badges  # noqa: E402  (scripts/ is not a package)
import translate  # noqa: E402

COURSE = badges.load_course()
ENGLISH = translate.english_notebooks()
REJECTED = translate.rejected_renderings()


def code_cells(book: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.id, cell.source) for cell in book.cells if cell.cell_type == "code"]


# The committed Chinese course


def test_every_numbered_notebook_and_the_solutions_have_a_chinese_version():
    assert len(ENGLISH) == 14
    missing = [p.name for p in ENGLISH if not translate.chinese_path(p).is_file()]
    assert not missing, f"no Chinese notebook for {missing}; run python scripts/translate.py build"


def test_the_chinese_notebooks_are_in_step_with_the_english_notebooks_and_the_catalogs():
    found = translate.run_check(ENGLISH, COURSE)
    assert not found, "\n".join(found)


def test_no_chinese_notebook_is_left_without_an_english_source():
    sources = {p.name for p in ENGLISH}
    orphans = [p.name for p in translate.CHINESE.glob("*.ipynb") if p.name not in sources]
    assert not orphans


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem)
def test_a_chinese_notebook_runs_the_english_code_after_switching_the_checkers_to_chinese(english):
    chinese = nbformat.read(translate.chinese_path(english), as_version=4)
    expected = code_cells(nbformat.read(english, as_version=4))
    colab = [i for i, (cell_id, _) in enumerate(expected) if cell_id == badges.COLAB_ID]
    language = (translate.LANGUAGE_ID, translate.LANGUAGE_CELL)
    if colab:
        expected[colab[0]] = (badges.COLAB_ID, COURSE.colab_cell(folder="notebooks-zh"))
        expected.insert(colab[0] + 1, language)
    assert code_cells(chinese) == expected


@pytest.mark.parametrize("english", ENGLISH[:-1], ids=lambda p: p.stem)
def test_a_chinese_notebook_launches_itself_on_binder_and_colab(english):
    badges_cell = next(
        c for c in nbformat.read(translate.chinese_path(english), as_version=4).cells if c.id == "launch-badges"
    )
    assert COURSE.chinese_binder_url(english.name) in badges_cell.source
    assert COURSE.colab_url(english.name, folder="notebooks-zh") in badges_cell.source


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem)
def test_a_chinese_notebook_has_no_english_prose_cell_left(english):
    chinese = nbformat.read(translate.chinese_path(english), as_version=4)
    english_text = {c.source for c in translate.translated_cells(nbformat.read(english, as_version=4))}
    untranslated = [c.id for c in chinese.cells if c.cell_type == "markdown" and c.source in english_text]
    assert not untranslated


@pytest.mark.parametrize("english", ENGLISH[:-1], ids=lambda p: p.stem)
def test_a_chinese_notebook_leaves_out_the_english_notebooks_chinese_summary(english):
    chinese = nbformat.read(translate.chinese_path(english), as_version=4)
    assert not any(c.source.startswith(translate.SUMMARY_START) for c in chinese.cells)


# What survives translation


def test_a_faithful_translation_has_no_fault():
    english = "## 2. The ratio (core)\nDrop ratio 0.1 in [notebook 05](05_x.ipynb): $c_j$ and `ratio`."
    chinese = "## 2. 丢弃率（核心）\n[笔记本 05](05_x.ipynb) 中的丢弃率 0.1：$c_j$ 与 `ratio`。"
    assert translate.translation_faults(english, chinese, REJECTED) == []


def test_a_changed_number_is_a_fault():
    faults = translate.translation_faults("the ratio is 0.1", "丢弃率为 0.2", REJECTED)
    assert faults == ["numbers of the English text missing: ['0.1']", "numbers not in the English text: ['0.2']"]


def test_a_changed_code_block_is_a_fault():
    english = "Run:\n```python\nprint(1)\n```"
    assert translate.translation_faults(english, "运行：\n```python\nprint(2)\n```", REJECTED) == [
        "code blocks differ from the English cell (keep them as they are)"
    ]


def test_a_changed_link_target_is_a_fault():
    faults = translate.translation_faults("see [notes](../docs/a.md)", "见[笔记](../docs/zh/a.md)", REJECTED)
    assert faults and faults[0].startswith("link targets differ")


def test_changed_math_is_a_fault():
    faults = translate.translation_faults("the coefficient $c_j$", "系数 $c_i$", REJECTED)
    assert faults and faults[0].startswith("math differs")


def test_a_lost_heading_is_a_fault():
    assert translate.translation_faults("## Title\ntext", "标题\n正文", REJECTED) == [
        "headings differ in number or level"
    ]


def test_bold_that_markdown_would_not_close_is_a_fault():
    assert translate.translation_faults("**Goal.** Learn.", "**目标。**学习。", REJECTED) == [
        "some ** or * would show literally (after Chinese punctuation, add a space after the closing **)"
    ]
    assert translate.translation_faults("**Goal.** Learn.", "**目标。** 学习。", REJECTED) == []
    assert translate.translation_faults("Learn **this**.", "学习。**这个**很重要。", REJECTED) == []


def test_inline_code_may_wrap_onto_the_next_line():
    english = "call `train(config,\nmodel=m)` and `f`"
    assert translate.translation_faults(english, "调用 `train(config,\nmodel=m)` 和 `f`", REJECTED) == []


def test_a_rendering_the_glossary_rejects_is_a_fault():
    assert translate.translation_faults("the key", "钥匙", REJECTED) == [
        "uses '钥匙' for 'key', a rendering the glossary rejects"
    ]


# The catalog workflow: update marks changed cells stale, check fails until they are re-translated


def notebook(*texts: str) -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell(text, id=f"cell{i}") for i, text in enumerate(texts)]
    cells.append(nbformat.v4.new_code_cell("x = 1", id="code"))
    return nbformat.v4.new_notebook(cells=cells)


def translated(catalog: polib.POFile, **msgstrs: str) -> polib.POFile:
    for entry in catalog:
        if entry.msgctxt in msgstrs:
            entry.msgstr, entry.flags = msgstrs[entry.msgctxt], []
    return catalog


def test_update_gives_a_new_cell_an_empty_translation_that_the_check_reports():
    catalog = translate.update(None, notebook("# Title"), "notebooks/x.ipynb")
    assert [(e.msgctxt, e.msgid, e.msgstr) for e in catalog] == [("cell0", "# Title", "")]
    assert translate.problems(catalog, notebook("# Title"), "x") == ["x: cell cell0 ('# Title') is not translated"]


def test_an_unchanged_cell_keeps_its_translation():
    book = notebook("# Title", "Some text.")
    catalog = translated(translate.update(None, book, "x"), cell0="# 标题", cell1="一些文字。")
    again = translate.update(catalog, book, "x")
    assert [e.msgstr for e in again] == ["# 标题", "一些文字。"] and not any(e.flags for e in again)
    assert translate.problems(again, book, "x") == []


def test_a_changed_english_cell_makes_its_translation_stale():
    catalog = translated(
        translate.update(None, notebook("# Title", "The ratio is 0.1."), "x"), cell0="# 标题", cell1="丢弃率为 0.1。"
    )
    changed = notebook("# Title", "The ratio is 0.2.")
    stale = translate.update(catalog, changed, "x")
    entry = next(e for e in stale if e.msgctxt == "cell1")
    assert entry.msgid == "The ratio is 0.2." and entry.msgstr == "丢弃率为 0.1。"
    assert entry.flags == ["fuzzy"] and entry.previous_msgid == "The ratio is 0.1."
    assert translate.problems(stale, changed, "x") == [
        "x: cell cell1 ('The ratio is 0.2.') is stale: its English text changed; re-translate it"
    ]


def test_a_stale_translation_passes_again_once_re_translated():
    catalog = translated(translate.update(None, notebook("The ratio is 0.1."), "x"), cell0="丢弃率为 0.1。")
    changed = notebook("The ratio is 0.2.")
    stale = translate.update(catalog, changed, "x")
    assert translate.problems(translated(stale, cell0="丢弃率为 0.2。"), changed, "x") == []


def test_a_stale_cell_stays_english_in_the_chinese_notebook():
    catalog = translated(translate.update(None, notebook("Old."), "x"), cell0="旧。")
    changed = notebook("New.")
    chinese = translate.build(changed, translate.update(catalog, changed, "x"), "x.ipynb", COURSE)
    assert chinese.cells[0].source == "New."


def test_a_binder_or_colab_link_in_a_translated_cell_opens_the_chinese_notebook():
    english = f"[run it]({COURSE.binder_url('05_x.ipynb')}) or [here]({COURSE.colab_url('05_x.ipynb')})"
    catalog = translated(translate.update(None, notebook(english), "x"), cell0=english.replace("run it", "运行"))
    chinese = translate.build(notebook(english), catalog, "x.ipynb", COURSE).cells[0].source
    assert COURSE.chinese_binder_url("05_x.ipynb") in chinese
    assert COURSE.colab_url("05_x.ipynb", folder="notebooks-zh") in chinese


def test_a_deleted_cell_leaves_the_catalog():
    catalog = translated(translate.update(None, notebook("A.", "B."), "x"), cell0="甲。", cell1="乙。")
    shorter = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("A.", id="cell0")])
    assert [e.msgctxt for e in translate.update(catalog, shorter, "x")] == ["cell0"]


def test_the_catalog_of_an_english_notebook_edited_without_update_fails_the_check():
    catalog = translated(translate.update(None, notebook("A."), "x"), cell0="甲。")
    assert translate.problems(catalog, notebook("A!"), "x") == [
        "x: cell cell0 ('A!') changed or is new; run: python scripts/translate.py update"
    ]


def test_build_keeps_the_outputs_of_unchanged_code_cells_of_the_committed_chinese_notebook():
    book = notebook("A.")
    catalog = translated(translate.update(None, book, "x"), cell0="甲。")
    committed = translate.build(book, catalog, "x.ipynb", COURSE)
    committed.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="中文输出\n")]
    rebuilt = translate.build(book, catalog, "x.ipynb", COURSE, previous=committed)
    assert rebuilt.cells[-1].outputs == committed.cells[-1].outputs


def test_building_again_after_the_chinese_notebook_ran_changes_nothing_but_changed_markdown():
    book = notebook("A.")
    book.cells[-1].metadata["execution"] = {"iopub.execute_input": "English run"}
    book.metadata["widgets"] = {"state": "English run"}
    catalog = translated(translate.update(None, book, "x"), cell0="甲。")
    committed = translate.build(book, catalog, "x.ipynb", COURSE)
    committed.cells[-1].metadata["execution"] = {"iopub.execute_input": "Chinese run"}
    committed.metadata["widgets"] = {"state": "Chinese run"}
    rebuilt = translate.build(book, translated(catalog, cell0="乙。"), "x.ipynb", COURSE, previous=committed)
    assert rebuilt.cells[-1].metadata["execution"] == {"iopub.execute_input": "Chinese run"}
    assert rebuilt.metadata["widgets"] == {"state": "Chinese run"}
    assert [cell.source for cell in rebuilt.cells if cell.get("id") == "cell0"] == ["乙。"]
    book.cells[-1].source = "x = 2"  # changed code: until the Chinese notebook runs again, the English state stands
    rebuilt = translate.build(book, catalog, "x.ipynb", COURSE, previous=committed)
    assert rebuilt.metadata["widgets"] == {"state": "English run"}


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A copy of one English notebook, its catalog and its Chinese notebook, laid out as in the repository."""
    english = ROOT / "notebooks" / "05_drop_ratio_schedules.ipynb"
    for path in (english, translate.catalog_path(english), translate.chinese_path(english)):
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return tmp_path


def test_a_changed_english_cell_fails_the_check_until_it_is_re_translated(course_copy):
    english = course_copy / "notebooks" / "05_drop_ratio_schedules.ipynb"
    assert translate.run_check([english], COURSE, course_copy) == []
    book = nbformat.read(english, as_version=4)
    cell = translate.translated_cells(book)[-1]
    cell.source += "\n\nOne more sentence."
    nbformat.write(book, english)
    translate.run_update([english], course_copy)
    found = translate.run_check([english], COURSE, course_copy)
    assert any(f"cell {cell.id}" in line and "is stale" in line for line in found)

    catalog_file = translate.catalog_path(english, course_copy)
    catalog = polib.pofile(str(catalog_file), wrapwidth=0)
    entry = next(e for e in catalog if e.msgctxt == cell.id)
    entry.msgstr += "\n\n再多一句。"
    entry.flags.remove("fuzzy")
    catalog.save(str(catalog_file))
    assert any("run the build" in line for line in translate.run_check([english], COURSE, course_copy))
    translate.run_build([english], COURSE, course_copy)
    assert translate.run_check([english], COURSE, course_copy) == []


# The guides (Sphinx i18n): docs/lesson-plans.md, docs/classroom.md and docs/paper-notes.md paragraph by paragraph


@pytest.fixture(scope="module")
def guide_templates(tmp_path_factory) -> Path:
    return translate.guide_templates(tmp_path_factory.mktemp("gettext"))


def test_every_paragraph_of_the_guides_has_a_current_translation(guide_templates):
    assert sorted(str(p.relative_to(guide_templates)) for p in guide_templates.rglob("*.pot")) == [
        "docs/classroom.pot",
        "docs/lesson-plans.pot",
        "docs/marking.pot",
        "docs/paper-notes.pot",
    ]
    found = translate.guide_problems(guide_templates)
    assert not found, "\n".join(found[:20])


def guide_course(tmp_path: Path, english: str, chinese: str, new_english: str) -> Path:
    """A translated guide paragraph (catalog under tmp_path/locale) and the templates of its new English text."""
    catalog = polib.POFile()
    catalog.append(polib.POEntry(msgid=english, msgstr=chinese))
    (tmp_path / "locale/zh_CN/LC_MESSAGES/docs").mkdir(parents=True)
    catalog.save(str(tmp_path / "locale/zh_CN/LC_MESSAGES/docs/guide.po"))
    template = polib.POFile()
    template.append(polib.POEntry(msgid=new_english, msgstr=""))
    (tmp_path / "templates/docs").mkdir(parents=True)
    template.save(str(tmp_path / "templates/docs/guide.pot"))
    return tmp_path / "templates"


def test_a_changed_paragraph_of_a_guide_is_stale_after_sphinx_intl_updates_its_catalog(tmp_path):
    templates = guide_course(tmp_path, "The ratio is 0.1 here.", "这里丢弃率为 0.1。", "The ratio is 0.2 here.")
    translate.sphinx_intl_update(str(tmp_path / "locale"), str(templates), ("zh_CN",), jobs=1)
    assert translate.guide_problems(templates, root=tmp_path) == [
        "docs/guide.md: 'The ratio is 0.2 here.' is stale: its English text changed; re-translate it"
    ]


def test_a_translated_paragraph_of_a_guide_passes(tmp_path):
    templates = guide_course(tmp_path, "The ratio is 0.1 here.", "这里丢弃率为 0.1。", "The ratio is 0.1 here.")
    assert translate.guide_problems(templates, root=tmp_path) == []


def figure(code: str, value: str) -> str:
    return f"<!-- [[[cog {code}]]] -->{value}<!-- [[[end]]] -->"


def test_new_figures_are_carried_into_a_translation_whose_english_changed_only_there():
    old = f"The kernel peaks at {figure('f.value(1)', '849')} MB."
    new = f"The kernel peaks at {figure('f.value(1)', '695')} MB."
    catalog = polib.POFile()
    catalog.append(polib.POEntry(msgid=old, msgstr=f"内核峰值为 {figure('f.value(1)', '849')} MB。"))
    template = polib.POFile()
    template.append(polib.POEntry(msgid=new))
    assert translate.carry_figures(catalog, template) == 1
    assert catalog[0].msgid == new and catalog[0].msgstr == f"内核峰值为 {figure('f.value(1)', '695')} MB。"


def test_a_translation_whose_english_changed_outside_its_figures_is_not_carried():
    old = f"The kernel peaks at {figure('f.value(1)', '849')} MB."
    catalog = polib.POFile()
    catalog.append(polib.POEntry(msgid=old, msgstr=f"内核峰值为 {figure('f.value(1)', '849')} MB。"))
    template = polib.POFile()
    template.append(polib.POEntry(msgid=f"The kernel now peaks at {figure('f.value(1)', '695')} MB."))
    assert translate.carry_figures(catalog, template) == 0 and catalog[0].msgid == old


def test_a_launch_link_may_open_the_chinese_notebook():
    english = f"[launch]({COURSE.binder_url('08_x.ipynb')})"
    chinese = f"[启动]({COURSE.chinese_binder_url('08_x.ipynb')})"
    assert translate.translation_faults(english, chinese, REJECTED) == []


def test_a_link_within_the_course_stays_as_it_is_the_chinese_site_resolves_it():
    english = "see [notebook 08](../notebooks/08_x.ipynb)"
    faults = translate.translation_faults(english, "见[笔记本 08](../notebooks-zh/08_x.ipynb)", REJECTED)
    assert faults and faults[0].startswith("link targets differ")
