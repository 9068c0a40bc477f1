"""One repository slug for every launch link: pyproject.toml's [tool.dropkey-course], kept in step by
scripts/badges.py (`--check` / `--write`)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("badges", ROOT / "scripts" / "badges.py")
badges = importlib.util.module_from_spec(_spec)
sys.modules["badges"] = badges  # dataclasses look their module up
_spec.loader.exec_module(badges)

COURSE = badges.load_course()
NOTEBOOKS = badges.notebooks()


def test_every_link_agrees_with_the_slug():
    stale = [str(path.relative_to(ROOT)) for path in badges.plan(COURSE)]
    assert not stale, f"out of step with {COURSE.repository}: {stale}; run python scripts/badges.py --write"


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 12


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_binder_and_colab_badges_under_its_title(path):
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source.startswith("# "), "the title cell comes first"
    assert cells[1].get("id") == badges.BADGES_ID
    assert COURSE.binder_url(path.name) in cells[1].source and COURSE.colab_url(path.name) in cells[1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_the_course_on_colab_only(path):
    first = next(cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    assert first.get("id") == badges.COLAB_ID
    lines = first.source.splitlines()
    assert (
        lines[2] == 'if "google.colab" in sys.modules:  # on Google Colab only: get the course and install its library'
    )
    assert all(line.startswith("    ") for line in lines[3:]), "everything else runs inside the Colab check"
    assert f"https://github.com/{COURSE.repository}" in first.source
    assert first.outputs == [], "outside Colab the cell prints nothing (nbval compares this empty output)"


def test_write_moves_every_link_to_a_new_slug(tmp_path):
    for name in ("README.md", "docs", "notebooks"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    moved = badges.Course("someone/dropkey-class", "trunk")
    changes = badges.plan(moved, tmp_path)
    for path, text in changes.items():
        path.write_text(text)
    assert badges.plan(moved, tmp_path) == {}, "--write is idempotent"
    texts = [
        p.read_text() for p in [tmp_path / "README.md", *(tmp_path / "docs").glob("*.md"), *badges.notebooks(tmp_path)]
    ]
    assert not any(COURSE.repository + "/" in t or f"github.com/{COURSE.repository}" in t for t in texts)
    for path in badges.notebooks(tmp_path):
        assert moved.colab_url(path.name) in path.read_text()
    assert (
        "https://colab.research.google.com/github/someone/dropkey-class/blob/trunk/"
        in (tmp_path / "docs" / "classroom.md").read_text()
    )


def test_write_adds_badges_and_colab_cell_to_a_new_notebook(tmp_path):
    (tmp_path / "notebooks").mkdir()
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 12 · New", id="title"),
                                           nbformat.v4.new_code_cell("x = 1", id="first")])  # fmt: skip
    nbformat.write(book, tmp_path / "notebooks" / "12_new.ipynb")
    changed = badges.plan(COURSE, tmp_path)
    assert list(changed) == [tmp_path / "notebooks" / "12_new.ipynb"]
    ids = [cell["id"] for cell in nbformat.reads(changed[tmp_path / "notebooks" / "12_new.ipynb"], as_version=4).cells]
    assert ids == ["title", badges.BADGES_ID, badges.COLAB_ID, "first"]


@pytest.mark.parametrize("bad", ['repository = "no-slash"', 'repository = "a/b/c"', 'branch = "a b"'])
def test_a_malformed_slug_is_a_clear_error(tmp_path, bad):
    key = bad.split(" =")[0]
    table = {"repository": '"owner/name"', "branch": '"main"'} | {key: bad.split("= ")[1]}
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.dropkey-course]\n" + "".join(f"{k} = {v}\n" for k, v in table.items()))
    with pytest.raises(ValueError, match=key):
        badges.load_course(pyproject)
