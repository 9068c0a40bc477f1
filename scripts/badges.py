"""Keep every Binder and Colab launch link in step with the one repository slug in pyproject.toml.

    python scripts/badges.py --check   # list every link or cell that disagrees with the slug; exit 1 if any
    python scripts/badges.py --write   # rewrite them

The slug (GitHub `owner/name`) and the branch Colab opens live in pyproject.toml, `[tool.dropkey-course]`:
the only place to edit when the course is published. `--write` then makes the rest agree with it:

- every notebook `notebooks/NN_*.ipynb` gets, right after its title cell, a markdown cell (id `launch-badges`)
  with a Binder badge (JupyterLab on this notebook) and an "Open in Colab" badge;
- its first code cell is the Colab setup cell (id `colab-setup`): on Google Colab it clones the repository,
  installs the library and moves into `notebooks/`, elsewhere it does nothing and prints nothing (so nbval, which
  compares the committed, empty output, is unaffected);
- docs/classroom.md gets the table of launch badges between its `<!-- launch-badges -->` markers;
- every other mybinder.org / colab.research.google.com link in README.md, docs/*.md
  and the notebooks is rewritten to the slug (the text around it is left alone).

Inserted cells have no outputs and keep the notebook's other cells, ids and outputs untouched (nbformat).
tests/test_badges.py runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
BADGES_ID = "launch-badges"
COLAB_ID = "colab-setup"
TABLE_START, TABLE_END = "<!-- launch-badges:start -->", "<!-- launch-badges:end -->"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
SLUG = r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"
# Links to the course that carry its slug: (pattern with groups before/slug/after, what the link is).
LINKS = {
    "binder": re.compile(rf"(https://mybinder\.org/v2/gh/)(?P<slug>{SLUG})(/)"),
    "colab": re.compile(rf"(https://colab\.research\.google\.com/github/)(?P<slug>{SLUG})(/blob/)(?P<branch>[^/\s]+)"),
}
COLAB_CLONE = "/content/dropkey-course"


@dataclass(frozen=True)
class Course:
    """Where the course is published: the GitHub `owner/name` and the branch Colab opens."""

    repository: str
    branch: str

    # `folder` is where the notebook lives in the repository: notebooks/ (English) or notebooks-zh/ (Chinese).
    def binder_url(self, notebook: str, folder: str = "notebooks") -> str:
        return f"https://mybinder.org/v2/gh/{self.repository}/HEAD?urlpath=lab/tree/{folder}/{notebook}"

    def colab_url(self, notebook: str, folder: str = "notebooks") -> str:
        return f"https://colab.research.google.com/github/{self.repository}/blob/{self.branch}/{folder}/{notebook}"

    def badges(self, notebook: str, folder: str = "notebooks") -> str:
        return (
            f"[![Launch on Binder]({BINDER_BADGE})]({self.binder_url(notebook, folder)})\n"
            f"[![Open In Colab]({COLAB_BADGE})]({self.colab_url(notebook, folder)})"
        )

    def chinese_binder_url(self, notebook: str) -> str:
        """Binder on a Chinese notebook with JupyterLab's interface in Chinese (dropkey_lib.launch's link)."""
        return f"https://mybinder.org/v2/gh/{self.repository}/HEAD?urlpath=dropkey/zh/{notebook}"

    def chinese_badges(self, notebook: str) -> str:
        return (
            f"[![在 Binder 上启动]({BINDER_BADGE})]({self.chinese_binder_url(notebook)})\n"
            f"[![在 Colab 中打开]({COLAB_BADGE})]({self.colab_url(notebook, 'notebooks-zh')})"
        )

    def colab_cell(self, folder: str = "notebooks") -> str:
        return (
            "import sys\n"
            "\n"
            'if "google.colab" in sys.modules:  # on Google Colab only: get the course and install its library\n'
            f'    REPO, CLONE = "https://github.com/{self.repository}", "{COLAB_CLONE}"\n'
            f"    !test -d {{CLONE}} || git clone -q --depth 1 --branch {self.branch} {{REPO}} {{CLONE}}\n"
            "    %pip install -q {CLONE}\n"
            f"    %cd {{CLONE}}/{folder}"
        )


def load_course(pyproject: Path = ROOT / "pyproject.toml") -> Course:
    """The `[tool.dropkey-course]` table of pyproject.toml, checked."""
    table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("dropkey-course")
    if table is None:
        raise ValueError(f"{pyproject}: no [tool.dropkey-course] table with the repository slug")
    repository, branch = table.get("repository"), table.get("branch")
    if not isinstance(repository, str) or not re.fullmatch(SLUG, repository):
        raise ValueError(f"{pyproject}: [tool.dropkey-course] repository must be 'owner/name', got {repository!r}")
    if not isinstance(branch, str) or not re.fullmatch(r"[^/\s]+", branch):
        raise ValueError(f"{pyproject}: [tool.dropkey-course] branch must be a branch name, got {branch!r}")
    return Course(repository, branch)


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob(NOTEBOOK_GLOB))


def title(path: Path) -> str:
    """A notebook's first heading without the '#' ('05 · Drop-ratio schedules')."""
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE) if cell.cell_type == "markdown" else None
        if match:
            return match.group(1).strip()
    return path.stem


def relink(text: str, course: Course) -> str:
    """`text` with every course link pointing at the course's slug (and Colab at its branch)."""
    text = LINKS["binder"].sub(lambda m: m.group(1) + course.repository + m.group(3), text)
    return LINKS["colab"].sub(lambda m: m.group(1) + course.repository + m.group(3) + course.branch, text)


def badge_table(course: Course, root: Path = ROOT) -> str:
    rows = [f"| {title(p)} | {course.badges(p.name).replace(chr(10), ' ')} |" for p in notebooks(root)]
    return "\n".join([TABLE_START, "| notebook | launch |", "|---|---|", *rows, TABLE_END])


def expected_markdown(path: Path, course: Course, root: Path = ROOT) -> str:
    text = relink(path.read_text(), course)
    if TABLE_START in text:
        head, rest = text.split(TABLE_START, 1)
        if TABLE_END not in rest:
            raise ValueError(f"{path}: {TABLE_START} without {TABLE_END}")
        text = head + badge_table(course, root) + rest.split(TABLE_END, 1)[1]
    return text


def expected_notebook(path: Path, course: Course) -> nbformat.NotebookNode:
    """The notebook with its badge cell after the title cell and the Colab cell as its first code cell."""
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "markdown" and cell.get("id") != BADGES_ID:
            cell.source = relink(cell.source, course)
    cells = [c for c in book.cells if c.get("id") not in (BADGES_ID, COLAB_ID)]
    old = {c.get("id"): c for c in book.cells if c.get("id") in (BADGES_ID, COLAB_ID)}
    badges = old.get(BADGES_ID) or nbformat.v4.new_markdown_cell(id=BADGES_ID)
    badges.source = course.badges(path.name)
    colab = old.get(COLAB_ID) or nbformat.v4.new_code_cell(id=COLAB_ID)
    colab.source = course.colab_cell()
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(first_code, colab)
    cells.insert(1 if cells and cells[0].cell_type == "markdown" else 0, badges)
    book.cells = cells
    return book


def plan(course: Course, root: Path = ROOT) -> dict[Path, str]:
    """Every file whose text differs from what the slug asks for: path -> the new text."""
    changes = {}
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        if path.is_file():
            new = expected_markdown(path, course, root)
            if new != path.read_text():
                changes[path] = new
    for path in notebooks(root):
        new = nbformat.writes(expected_notebook(path, course)) + "\n"
        if new != path.read_text():
            changes[path] = new
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--check", action="store_true", help="list the files that disagree with the slug; exit 1 if any"
    )
    action.add_argument("--write", action="store_true", help="rewrite them")
    args = parser.parse_args(argv)
    course = load_course()
    changes = plan(course)
    for path, text in changes.items():
        name = path.relative_to(ROOT)
        if args.write:
            path.write_text(text)
            print(f"rewrote {name}")
        else:
            print(f"{name}: launch links or cells differ from {course.repository} (branch {course.branch})")
    if args.check and changes:
        print("run: python scripts/badges.py --write", file=sys.stderr)
        return 1
    print(
        f"{len(notebooks())} notebooks, README.md and docs/ link to {course.repository} (Colab: branch {course.branch})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
