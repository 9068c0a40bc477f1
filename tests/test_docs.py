"""The written record: notebook headings say core or optional, the repository is self-contained (no reference to the
course's private digest, no absolute path of one machine), relative links resolve, and the paper notes and the
lesson plans exist and point at real notebooks and sections."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
PAPER_NOTES = ROOT / "docs" / "paper-notes.md"
LESSON_PLANS = ROOT / "docs" / "lesson-plans.md"

SECTION_HEADING = re.compile(r"^(#{2,3}) (.*)$")
FENCE = re.compile(r"^\s*(```|~~~)")
PRIVATE_NOTES = re.compile("digest".upper())  # spelled so that this file does not match itself
# An absolute path on some machine (a home, work or temporary folder), not the path part of a URL.
ABSOLUTE_PATH = re.compile(r"(?<![\w.~/:$-])/(?:work|home|Users|tmp|mnt|root|scratch)/")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def unfenced_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def headings(text: str, levels: str = "#{1,6}") -> list[str]:
    pattern = re.compile(rf"^{levels} (.*)$")
    return [m.group(1).strip() for line in unfenced_lines(text) if (m := pattern.match(line))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(text):
        base = slug(heading)
        result.add(base if base not in seen else f"{base}-{seen[base]}")
        seen[base] = seen.get(base, 0) + 1
    return result


def tracked_text_files() -> list[Path]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in names.decode().split("\0"):
        path = ROOT / name
        if name and path.is_file() and b"\0" not in path.read_bytes()[:8192]:
            files.append(path)
    return files


def authored_text(path: Path) -> str:
    """What people wrote in a file. Notebook outputs and the runs' metrics.json are excluded: they record the machine
    a run was made on (the data path it read), which is provenance, not a reference for the reader."""
    if path.suffix == ".ipynb":
        return "\n".join(source(cell) for cell in cells(path))
    if path.name == "metrics.json" and "results" in path.parts:
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


def markdown_documents() -> dict[Path, str]:
    """Every Markdown text a reader follows links in: the Markdown files and the notebooks' Markdown cells."""
    docs = {path: path.read_text(encoding="utf-8") for path in [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]}
    docs[ROOT / "results" / "README.md"] = (ROOT / "results" / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        docs[path] = "\n\n".join(source(cell) for cell in cells(path) if cell["cell_type"] == "markdown")
    return docs


# ----------------------------------------------------------------------------------------------------------------
# Notebook headings


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_section_heading_of_a_numbered_notebook_says_core_or_optional(path):
    unmarked = [
        line
        for cell in cells(path)
        if cell["cell_type"] == "markdown"
        for line in unfenced_lines(source(cell))
        if SECTION_HEADING.match(line) and not line.rstrip().endswith(("(core)", "(optional)"))
    ]
    assert not unmarked, f"{path.name}: headings without (core) or (optional): {unmarked}"


# ----------------------------------------------------------------------------------------------------------------
# Self-contained


def test_no_tracked_file_mentions_the_digest():
    offenders = [
        str(p.relative_to(ROOT)) for p in tracked_text_files() if PRIVATE_NOTES.search(p.read_text(errors="replace"))
    ]
    assert not offenders, f"these files refer to the private digest, which is not part of the repository: {offenders}"


def test_no_tracked_file_names_an_absolute_path_of_one_machine():
    offenders = {
        str(p.relative_to(ROOT)): ABSOLUTE_PATH.findall(text)
        for p in tracked_text_files()
        if ABSOLUTE_PATH.search(text := authored_text(p))
    }
    assert not offenders, f"absolute paths outside the repository: {offenders}"


def test_relative_links_point_at_files_and_headings_that_exist():
    broken = []
    for path, text in markdown_documents().items():
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text(encoding="utf-8")):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


# ----------------------------------------------------------------------------------------------------------------
# The paper notes


def test_paper_notes_tag_whose_statement_each_is():
    text = PAPER_NOTES.read_text(encoding="utf-8")
    for tag in ("[paper]", "[course]", "[secondary, unverified]", "[unknown]"):
        assert tag in text, tag
    assert "https://arxiv.org/abs/2208.02646" in text


def test_paper_notes_cover_the_topics_the_notebooks_cite():
    titles = " ".join(headings(PAPER_NOTES.read_text(encoding="utf-8"), "##")).lower()
    for topic in (
        "three questions",
        "notation",
        "dropkey",
        "algorithm 1",
        "smoothing coefficient",
        "gradient argument",
        "schedule",
        "structured",
        "numbers",
        "course adds",
    ):
        assert topic in titles, topic


def test_paper_notes_quote_no_secondary_number_as_the_papers():
    rows = [line for line in PAPER_NOTES.read_text(encoding="utf-8").splitlines() if "97.6" in line or "82.04" in line]
    assert rows and all("(secondary, unverified)" in row for row in rows)


def test_paper_notes_mention_only_notebooks_that_exist():
    numbers = {p.name[:2] for p in NOTEBOOKS}
    mentioned = set(re.findall(r"notebooks? (\d\d)", PAPER_NOTES.read_text(encoding="utf-8")))
    assert mentioned and mentioned <= numbers, mentioned - numbers


# ----------------------------------------------------------------------------------------------------------------
# The lesson plans

PLAN_ROW = re.compile(r"^\|\s*(\d+)-(\d+) \((\d+)\)\s*\|([^|]*)\|")


def plan_tables() -> list[list[re.Match]]:
    tables, current = [], []
    for line in LESSON_PLANS.read_text(encoding="utf-8").splitlines():
        if m := PLAN_ROW.match(line):
            current.append(m)
        elif current and not line.startswith("|"):
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_lesson_plans_are_one_class_and_two_classes_of_90_minutes():
    tables = plan_tables()
    assert len(tables) == 3  # plan A, then plan B's two classes
    for rows in tables:
        assert int(rows[0].group(1)) == 0 and int(rows[-1].group(2)) == 90
        for row, following in zip(rows, rows[1:] + [None]):
            start, end, minutes = (int(row.group(i)) for i in (1, 2, 3))
            assert end - start == minutes, row.group(0)
            assert following is None or int(following.group(1)) == end, row.group(0)


def test_lesson_plans_link_every_notebook_they_plan_and_its_sections():
    for rows in plan_tables():
        for row in rows:
            what = row.group(4).strip()
            links = LINK.findall(what)
            if not links:
                assert what.startswith("wrap-up"), f"a plan row names no notebook: {row.group(0)}"
                continue
            notebook = (LESSON_PLANS.parent / links[0]).resolve()
            assert notebook in NOTEBOOKS, f"{links[0]} is not a numbered notebook"
            numbered = {
                h.split(".")[0]
                for h in headings("\n\n".join(source(c) for c in cells(notebook) if c["cell_type"] == "markdown"), "##")
            }
            for section in re.findall(r"§(\d+)", what):
                assert section in numbered, f"{notebook.name} has no section {section}"
