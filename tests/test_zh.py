"""The Chinese materials (README.zh-CN.md, docs/zh/): every notebook has its Chinese summary, the glossary covers the
machine-readable term list, and the Chinese README lists the same notebooks as the English one.

The notebooks are found with `notebooks/[0-9][0-9]_*.ipynb`, so a new notebook fails these tests until it has its
summary cell, its `docs/zh/<stem>.md` and a Chinese caption for each of its figures.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polib
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "docs" / "zh"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STEMS = [path.stem for path in NOTEBOOKS]
REQUIRED_SECTIONS = ("目标", "关键结果", "图的中文说明", "你学到了什么")
MISREADINGS = "容易误读的地方"
WITH_MISREADINGS = ("03_", "04_", "05_")  # the notebooks whose English text corrects a misreading of the paper
MISREAD_SENTENCE = "在训练阶段逐渐减少各层上丢弃的K的数量"  # reads like a schedule over training time; it is over depth
NOTEBOOK_LINK = re.compile(r"\]\((?:\./)?notebooks(?:-zh)?/([0-9][0-9]_[^)/]+)\.ipynb\)")  # English or Chinese


def notebook(stem: str) -> dict:
    return json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))


def summary(stem: str) -> str:
    return (ZH / f"{stem}.md").read_text(encoding="utf-8")


def sections(markdown: str) -> dict[str, str]:
    """The `## ` sections of a markdown text: heading -> body."""
    parts = re.split(r"^## +(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def figure_count(stem: str) -> int:
    """How many figures the committed notebook shows: its image outputs."""
    cells = notebook(stem)["cells"]
    outputs = [output for cell in cells if cell["cell_type"] == "code" for output in cell.get("outputs", [])]
    return sum(1 for output in outputs if "image/png" in output.get("data", {}))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def terms() -> list[dict]:
    return yaml.safe_load((ZH / "terms.yaml").read_text(encoding="utf-8"))


def glossary_rows() -> dict[str, list[str]]:
    """The glossary's table rows: English term -> [Chinese term, variants, definition]."""
    rows = {}
    for line in (ZH / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[0] != "English" and not set(cells[0]) <= set("-: "):
            assert cells[0] not in rows, f"glossary.md: {cells[0]!r} has two rows"
            rows[cells[0]] = cells[1:]
    return rows


def readme_notebooks(name: str) -> list[str]:
    """The notebooks that the table of README `name` links, in order."""
    table = [line for line in (ROOT / name).read_text(encoding="utf-8").splitlines() if line.startswith("| [")]
    return [match.group(1) for line in table for match in [NOTEBOOK_LINK.search(line)] if match]


# ----------------------------------------------------------------------------------------------------------------
# One Chinese summary per notebook


def test_there_are_notebooks_to_summarise():
    assert len(STEMS) >= 12, STEMS


@pytest.mark.parametrize("stem", STEMS)
def test_every_notebook_has_a_chinese_summary_file(stem):
    assert (ZH / f"{stem}.md").is_file(), f"notebooks/{stem}.ipynb has no Chinese summary docs/zh/{stem}.md"


@pytest.mark.parametrize("stem", STEMS)
def test_every_notebook_has_a_marked_chinese_summary_cell_among_its_opening_cells(stem):
    # The opening cells: the title, the launch badges and the Colab setup cell (tests/test_badges.py), then 中文摘要.
    opening = notebook(stem)["cells"][1:4]
    marked = [
        cell
        for cell in opening
        if cell["cell_type"] == "markdown" and "".join(cell["source"]).startswith("**中文摘要**")
    ]
    assert marked, f"notebooks/{stem}.ipynb: one of the cells right after the title must start with **中文摘要**"
    source = "".join(marked[0]["source"])
    assert f"(../docs/zh/{stem}.md)" in source, (
        f"notebooks/{stem}.ipynb: the 中文摘要 cell must link ../docs/zh/{stem}.md"
    )


@pytest.mark.parametrize("stem", STEMS)
def test_summary_has_goals_key_results_figure_captions_and_what_you_learned(stem):
    found = sections(summary(stem))
    missing = [name for name in REQUIRED_SECTIONS if not found.get(name, "").strip()]
    assert not missing, f"docs/zh/{stem}.md lacks the section(s) {missing} (## headings, each with text)"


@pytest.mark.parametrize("stem", STEMS)
def test_summary_links_back_to_its_notebook(stem):
    assert f"(../../notebooks/{stem}.ipynb)" in summary(stem), f"docs/zh/{stem}.md must link its notebook"


@pytest.mark.parametrize("stem", STEMS)
def test_every_figure_of_the_notebook_has_a_chinese_caption(stem):
    captions = re.findall(r"^- \*\*图 (\d+)\*\*", sections(summary(stem)).get("图的中文说明", ""), flags=re.MULTILINE)
    expected = figure_count(stem)
    assert [int(n) for n in captions] == list(range(1, expected + 1)), (
        f"docs/zh/{stem}.md: notebooks/{stem}.ipynb shows {expected} figure(s), so 图的中文说明 needs the captions "
        f"- **图 1** ... - **图 {expected}**, in the order of the notebook; found {captions}"
    )


@pytest.mark.parametrize("stem", [stem for stem in STEMS if stem.startswith(WITH_MISREADINGS)])
def test_notebooks_03_04_05_explain_the_misreadings_in_chinese(stem):
    text = sections(summary(stem)).get(MISREADINGS, "")
    chinese = re.findall(r"[\u4e00-\u9fff]", text)
    assert len(chinese) > 200, f"docs/zh/{stem}.md needs a section ## {MISREADINGS} that explains them in Chinese"


def test_summary_of_05_corrects_the_schedule_over_training_time_reading():
    text = squash(sections(summary(next(stem for stem in STEMS if stem.startswith("05_"))))[MISREADINGS])
    assert MISREAD_SENTENCE in text, "05's summary must quote the sentence it corrects"
    assert "深度" in text and "固定不变" in text, (
        "05's summary must say the ratio changes with depth, fixed in training"
    )


@pytest.mark.parametrize("stem", STEMS)
def test_summary_equations_are_the_notebooks_own_latex(stem):
    nb = squash("".join("".join(cell["source"]) for cell in notebook(stem)["cells"] if cell["cell_type"] == "markdown"))
    equations = re.findall(r"\$\$(.+?)\$\$", summary(stem), flags=re.DOTALL)
    different = [eq for eq in equations if squash(eq) not in nb]
    assert not different, f"docs/zh/{stem}.md: display equations not written as in the notebook: {different}"


# ----------------------------------------------------------------------------------------------------------------
# The glossary


def test_term_list_has_at_least_30_terms_each_with_chinese_and_variants():
    entries = terms()
    assert len({entry["en"] for entry in entries}) >= 30
    for entry in entries:
        assert set(entry) <= {"en", "zh", "variants", "avoid"}, entry
        assert entry["en"].strip() and entry["zh"].strip(), entry
        assert isinstance(entry.get("variants", []), list) and isinstance(entry.get("avoid", []), list), entry


@pytest.mark.parametrize("entry", terms(), ids=lambda entry: entry["en"])
def test_glossary_covers_the_term_with_its_chinese_term_and_variants(entry):
    rows = glossary_rows()
    assert entry["en"] in rows, f"docs/zh/glossary.md has no row for {entry['en']!r}"
    chinese, variants, definition = rows[entry["en"]]
    assert chinese == entry["zh"], (
        f"glossary.md: {entry['en']!r} is {chinese!r} there but {entry['zh']!r} in terms.yaml"
    )
    listed = [v.strip() for v in variants.split("、")]
    missing = [v for v in entry.get("variants", []) if v not in listed]
    assert not missing, f"glossary.md: the row of {entry['en']!r} lacks the variant(s) {missing}"
    assert len(definition) >= 10, f"glossary.md: {entry['en']!r} needs a one-line definition"


def test_every_glossary_row_is_in_the_term_list():
    extra = set(glossary_rows()) - {entry["en"] for entry in terms()}
    assert not extra, f"glossary.md rows missing from docs/zh/terms.yaml: {sorted(extra)}"


def rejected_renderings(text: str) -> list[tuple[str, str]]:
    """The renderings of `text` that the term list rejects, with the term each renders: [(rendering, term)]."""
    return [(bad, entry["en"]) for entry in terms() for bad in entry.get("avoid", []) if bad in text]


@pytest.mark.parametrize("path", ["README.zh-CN.md", *[f"docs/zh/{stem}.md" for stem in STEMS]])
def test_chinese_texts_avoid_the_renderings_the_glossary_rejects(path):
    if not (ROOT / path).is_file():
        pytest.skip(f"{path} does not exist (another test reports it)")
    used = rejected_renderings((ROOT / path).read_text(encoding="utf-8"))
    assert not used, f"{path} uses renderings the glossary rejects (rendering, term): {used}"


@pytest.mark.parametrize("stem", STEMS)
def test_the_chinese_summary_cell_of_a_notebook_avoids_the_renderings_the_glossary_rejects(stem):
    cells = [c for c in notebook(stem)["cells"] if "".join(c["source"]).startswith("**中文摘要**")]
    used = rejected_renderings("".join("".join(c["source"]) for c in cells))
    assert not used, f"notebooks/{stem}.ipynb's 中文摘要 uses renderings the glossary rejects: {used}"


CHINESE_NOTEBOOKS = sorted((ROOT / "notebooks-zh").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHINESE_NOTEBOOKS, ids=lambda p: p.stem)
def test_the_chinese_notebooks_avoid_the_renderings_the_glossary_rejects(path):
    book = json.loads(path.read_text(encoding="utf-8"))
    prose = "".join("".join(c["source"]) for c in book["cells"] if c["cell_type"] == "markdown")
    used = rejected_renderings(prose)
    assert not used, f"notebooks-zh/{path.name} uses renderings the glossary rejects (rendering, term): {used}"


@pytest.mark.parametrize("path", sorted((ROOT / "locale/zh_CN/LC_MESSAGES/docs").glob("*.po")), ids=lambda p: p.stem)
def test_the_chinese_guides_avoid_the_renderings_the_glossary_rejects(path):
    used = rejected_renderings("\n".join(entry.msgstr for entry in polib.pofile(str(path))))
    assert not used, f"{path.relative_to(ROOT)} uses renderings the glossary rejects (rendering, term): {used}"


def test_backbone_is_a_rejected_rendering_of_the_convolutional_stem():
    # 主干 is a backbone (the whole feature extractor) in Chinese vision writing; 词干 is a word stem.
    assert rejected_renderings("带卷积主干的模型") == [("卷积主干", "stem")]
    assert rejected_renderings("卷积词干") == [("卷积词干", "stem")]
    assert rejected_renderings("带卷积 stem 的模型") == []


@pytest.mark.parametrize(
    "term",
    [
        "stem",
        "mean pooling",
        "recipe",
        "Holm correction",
        "family of comparisons",
        "p-value",
        "half-width",
        "minimal detectable effect",
        "percentage point",
        "wall time",
    ],
)
def test_the_term_list_has_the_terms_of_the_results(term):
    assert term in {entry["en"] for entry in terms()}, f"docs/zh/terms.yaml has no entry for {term!r}"


# ----------------------------------------------------------------------------------------------------------------
# The Chinese README


def test_chinese_readme_lists_the_same_notebooks_as_the_english_one():
    english, chinese = readme_notebooks("README.md"), readme_notebooks("README.zh-CN.md")
    assert english, "no notebook table found in README.md"
    assert chinese == english, f"README.zh-CN.md's table lists {chinese}, README.md's lists {english}"


def test_chinese_readme_links_each_listed_notebooks_summary():
    text = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    missing = [stem for stem in readme_notebooks("README.zh-CN.md") if f"(docs/zh/{stem}.md)" not in text]
    assert not missing, f"README.zh-CN.md does not link the Chinese summaries of {missing}"


def test_chinese_readme_links_the_chinese_notebooks_in_its_table():
    table = [
        line for line in (ROOT / "README.zh-CN.md").read_text(encoding="utf-8").splitlines() if line.startswith("| [")
    ]
    assert table and all(line.startswith("| [") and "](notebooks-zh/" in line.split("|")[1] for line in table)


# Every section of README.md has its Chinese counterpart in README.zh-CN.md, in the same order.
README_SECTIONS = {
    "Quick start": "快速开始",
    "The notebooks": "笔记本",
    "The library": "代码库",
    "DropKey in timm models": "timm 模型中的 DropKey",
    "Measured": "实测数据",
    "Results: the paper's claims at small scale": "实验结果：在小规模上检验论文的结论",
    "Data": "数据",
    "Tests and CI": "测试与持续集成",
    "Status": "项目状态",
    "Citation": "引用",
}


def readme_sections(name: str) -> list[str]:
    return re.findall(r"^## (.+)$", (ROOT / name).read_text(encoding="utf-8"), re.MULTILINE)


def test_every_section_of_the_english_readme_is_known_here():
    assert set(readme_sections("README.md")) == set(README_SECTIONS), "a README.md section is new or renamed: map it"


def test_the_chinese_readme_has_every_section_of_the_english_one_in_the_same_order():
    chinese = [title for title in readme_sections("README.zh-CN.md") if title in README_SECTIONS.values()]
    assert chinese == [README_SECTIONS[title] for title in readme_sections("README.md")]


def figure_calls(name: str) -> list[str]:
    """The generated figures a file quotes (its cog calls), without the language argument."""
    calls = re.findall(r"\[\[\[cog (.*?)\]\]\]", (ROOT / name).read_text(encoding="utf-8"), re.DOTALL)
    return sorted(re.sub(r"(?:,\s*|(?<=\())(?:lang=)?\"zh\"", "", " ".join(call.split())) for call in calls)


def test_the_chinese_readme_quotes_every_generated_figure_of_the_english_one():
    missing = set(figure_calls("README.md")) - set(figure_calls("README.zh-CN.md"))
    assert not missing, f"README.zh-CN.md lacks these figures of README.md: {sorted(missing)}"


def test_the_two_readmes_link_to_each_other():
    assert "(README.zh-CN.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(README.md)" in (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")


def test_chinese_readme_has_the_two_commands_of_the_english_one():
    english = re.findall(r"^python3 -m venv .+$", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.MULTILINE)
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert len(english) == 2 and all(command in chinese for command in english)
