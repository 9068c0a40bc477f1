"""Build the marked version of the course's exercises: an nbgrader assignment, derived from the notebooks.

    python scripts/build_marked_exercises.py COURSE_DIR                    # all eight exercises (01-08)
    python scripts/build_marked_exercises.py COURSE_DIR --exercises 02,04  # a subset, e.g. for homework
    python scripts/build_marked_exercises.py COURSE_DIR --release          # and run nbgrader generate_assignment
    python scripts/build_marked_exercises.py COURSE_DIR --language zh      # the Chinese version (notebooks-zh/)

writes the lecturer's source notebook COURSE_DIR/source/ASSIGNMENT/exercises.ipynb (ASSIGNMENT is
`dropkey-exercises` unless --assignment says otherwise) and COURSE_DIR/nbgrader_config.py (when it does not exist
yet). Nothing is copied by hand, so nothing can drift:

- each exercise's text is the Markdown cell before the exercise cell of notebook NN (the cell that calls
  `exercises.check_*`), without its pointer to the solutions;
- its answer cell is the exercise cell's function, whose `raise NotImplementedError` line becomes the body of the
  same function in notebooks/solutions.ipynb, between nbgrader's `### BEGIN SOLUTION` and `### END SOLUTION`;
  `nbgrader generate_assignment` puts the `raise NotImplementedError` line back for the students;
- two graded test cells follow: the notebook's checker (`exercises.grade(exercises.check_X, my_X)`, visible:
  students run it for feedback) and the same checker on other inputs (HIDDEN below, between
  `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS`: removed from the student version, put back when nbgrader
  autogrades). The hidden inputs stay within what each exercise's text promises.

`--language zh` builds the same assignment from the Chinese notebooks (notebooks-zh/): Chinese texts, and a setup
cell that makes the checkers answer in Chinese; the code and the tests are the same.

The hidden inputs are in this public file. For a class that might read it, change HIDDEN (other shapes, ratios,
seeds: within each checker's documented limits) before building. docs/marking.md is the lecturer's guide;
tests/test_marking.py builds the release and autogrades the solutions and a wrong submission, offline.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions.ipynb"
ASSIGNMENT = "dropkey-exercises"
NOTEBOOK_NAME = "exercises.ipynb"
STUB = "raise NotImplementedError  # replace this line with your code"  # the course notebooks' stub line
COLAB_ID = "colab-setup"  # the Colab setup cell of every numbered notebook (scripts/badges.py)

VISIBLE_POINTS = 2  # the notebook's checker
HIDDEN_POINTS = 1  # the same checker on other inputs

# The hidden tests: keyword arguments of each checker that choose inputs the notebook's checker does not try.
# Statistical checkers (01, 02) need shapes at least as large as their own (see their docstrings) and other seeds.
HIDDEN = {
    "check_attention_dropout": {"cases": (((8, 3, 20, 24), 0.45), ((300, 9, 5), 0.2)), "seed": 101},
    "check_dropkey": {"cases": (((16, 3, 12, 20), 0.5, 16), ((60, 10, 9), 0.15, 24)), "seed": 102},
    "check_smoothing_coefficients": {"sizes": (4, 6, 7), "ratios": (0.25, 0.7), "seed": 103},
    "check_value_gradients": {"shapes": ((2, 7), (9, 5), (24, 16)), "seed": 104},
    "check_schedule": {"ratios": (0.15, 0.37, 0.49), "depths": (5, 7, 9, 17, 23)},
    "check_seed_probability": {"windows": (3, 9, 11), "ratios": (0.02, 0.25, 0.5)},
    "check_parameter_count": {
        "configs": (
            {"dim": 96, "num_heads": 3, "depth": 5},
            {"patch_size": 16, "num_classes": 37, "mlp_ratio": 3.0},
            {"pool": "mean", "dim": 40, "num_heads": 5, "depth": 2, "patch_size": 8},
        )
    },
    "check_learning_rate": {"cases": ((1000, 100, 3e-4), (2, 1, 0.1), (33, 0, 0.05))},
}

NBGRADER_CONFIG = f"""\
# nbgrader configuration of the DropKey course's marked exercises (written by scripts/build_marked_exercises.py).
c = get_config()  # noqa: F821 (nbgrader defines it)

# The student version gets the course notebooks' stub line where the solution was.
c.ClearSolutions.code_stub = {{"python": {STUB!r}}}
# Importing torch in the first cell can take a while on a busy machine.
c.Execute.timeout = 300
"""


@dataclass(frozen=True)
class Edition:
    """The language of an assignment: where its notebooks are and the texts it adds around the exercises."""

    notebooks: str  # the folder of the course notebooks it is built from
    heading: str  # an exercise heading; group 1 is its title
    intro: str  # str.format: numbers, total, visible, hidden, s (the plural ending of the hidden points)
    section: str  # str.format: number, title, notebook
    visible: str  # str.format: points, number
    hidden: str  # str.format: points, s
    setup: tuple[str, ...] = ()  # lines added to the setup cell


ENGLISH = Edition(
    notebooks="notebooks",
    heading=r"#+ Exercise: (.*?)( \((core|optional)\))?$",
    intro=(
        "# DropKey course: the exercises, marked\n\n"
        "The exercises of the course's notebooks {numbers}, in one notebook that is marked automatically ({total} "
        "points). For each one, write the function in its answer cell, in place of `raise NotImplementedError`, and "
        "keep its name and arguments. The notebook section that each exercise refers to is named in its heading: "
        "read it first.\n\n"
        "- The cell after your answer is graded ({visible} points): it runs the notebook's checker. Run it as often "
        'as you like; it must print a line starting with "Correct". If not, its message says what is wrong.\n'
        "- The cell after that is graded too ({hidden} point{s}): hidden tests, the same checker on inputs you have "
        "not seen. They run when your work is marked, so an answer that only fits the checker's own inputs loses "
        "them.\n"
        "- Do not change the other cells: they are put back as they were when your work is marked. Run the setup "
        "cells below first, then save the notebook (with your answers) and hand it in."
    ),
    section=(
        "## {number} · {title}\n\n*The exercise at the end of notebook {notebook}: the sections and results it "
        "refers to are that notebook's.*"
    ),
    visible=(
        '# Graded, {points} points: the checker of notebook {number}. It must print a line starting with "Correct".'
    ),
    hidden=(
        "# Graded, {points} point{s}: hidden tests, the same checker on inputs you have not seen. They run when "
        "your work is marked."
    ),
)
CHINESE = Edition(
    notebooks="notebooks-zh",
    heading=r"#+ 练习：(.*?)(（(核心|选学)）)?$",
    intro=(
        "# DropKey 课程：计分的练习\n\n"
        "课程笔记本 {numbers} 的练习，合在一个自动评分的笔记本里（共 {total} 分）。"
        "每道题都在它的答题单元格里写出函数，替换掉 `raise NotImplementedError`，不要改函数名和参数。"
        "每道题所依据的笔记本小节写在它的标题里：请先读那一节。\n\n"
        "- 答题单元格后面的单元格计分（{visible} 分）：它运行笔记本里的检查器。"
        "可以随意运行多次；它必须打印一行以“正确”开头的文字，否则它的提示会说明哪里不对。\n"
        "- 再后面一个单元格也计分（{hidden} 分）：隐藏测试，即同一个检查器用你没见过的输入再检查一次。"
        "它在评分时才运行，所以只适合检查器自己那几组输入的答案会失去这部分分数。\n"
        "- 不要修改其他单元格：评分时它们会被恢复原样。"
        "先运行下面的准备单元格，然后保存笔记本（连同你的答案）并提交。"
    ),
    section="## {number} · {title}\n\n*笔记本 {notebook} 末尾的练习：题中提到的小节和结果都是那个笔记本里的。*",
    visible="# 计分，{points} 分：笔记本 {number} 的检查器。它必须打印一行以“正确”开头的文字。",
    hidden="# 计分，{points} 分：隐藏测试，同一个检查器用你没见过的输入检查。评分时才运行。",
    setup=("from dropkey_lib import i18n", "", 'i18n.use_language("zh_CN")  # 检查器用中文给出反馈'),
)
EDITIONS = {"en": ENGLISH, "zh": CHINESE}


@dataclass(frozen=True)
class Exercise:
    number: str  # "02"
    notebook: str  # "02 · DropKey step by step"
    title: str  # "DropKey as a function"
    text: str  # the exercise's Markdown, without its heading and without the pointer to the solutions
    function: str  # "my_dropkey"
    check: str  # "check_dropkey"
    stub: str  # the exercise cell's function, as the student sees it


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _function(code: str, name: str | None = None) -> ast.FunctionDef:
    """The top-level function `name` of a cell (the only `my_*` one when name is None)."""
    found = [
        node
        for node in ast.parse(code).body
        if isinstance(node, ast.FunctionDef) and (node.name == name if name else node.name.startswith("my_"))
    ]
    if len(found) != 1:
        raise ValueError(f"expected one function {name or 'my_*'} in the cell, found {len(found)}:\n{code}")
    return found[0]


def exercises(root: Path = ROOT, edition: Edition = ENGLISH) -> list[Exercise]:
    """The exercise of every numbered notebook that has one: its code cell calls `exercises.check_*`."""
    found = []
    for path in sorted((root / edition.notebooks).glob("[0-9][0-9]_*.ipynb")):
        book = cells(path)
        at = [i for i, c in enumerate(book) if c["cell_type"] == "code" and "exercises.check_" in source(c)]
        if not at:
            continue
        if len(at) != 1 or book[at[0] - 1]["cell_type"] != "markdown":
            raise ValueError(f"{path.name}: expected one exercise cell after a Markdown cell, found {len(at)}")
        code, markdown = source(book[at[0]]), source(book[at[0] - 1])
        function = _function(code)
        check = re.search(r"exercises\.(check_\w+)\(" + function.name + r"\)", code)
        heading, _, text = markdown.partition("\n")
        title = re.match(edition.heading, heading.strip())
        if not check or not title:
            raise ValueError(f"{path.name}: the exercise cell or its heading is not in the expected form")
        paragraphs = [p for p in text.strip().split("\n\n") if "solutions.ipynb" not in p]
        notebook_title = source(book[0]).partition("\n")[0].lstrip("# ").strip()
        stub = "\n".join(code.splitlines()[function.lineno - 1 : function.end_lineno])  # with trailing comments
        if STUB not in stub:
            raise ValueError(f"{path.name}: {function.name} has no `{STUB}` line to replace")
        found.append(
            Exercise(
                number=path.name[:2],
                notebook=notebook_title,
                title=title.group(1)[0].upper() + title.group(1)[1:],
                text="\n\n".join(paragraphs),
                function=function.name,
                check=check.group(1),
                stub=stub,
            )
        )
    return found


def solution_body(name: str, solutions: Path = SOLUTIONS) -> str:
    """The body of function `name` in the solutions notebook: its statements and comments (without a docstring),
    dedented."""
    for cell in cells(solutions):
        code = source(cell)
        if cell["cell_type"] != "code" or f"def {name}(" not in code:
            continue
        function = _function(code, name)
        body = function.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):  # a docstring
            body = body[1:]
        lines = code.splitlines()[body[0].lineno - 1 : function.end_lineno]
        return textwrap.dedent("\n".join(lines)).strip("\n")
    raise ValueError(f"{solutions.name} has no function {name}")


def solution_imports(solutions: Path = SOLUTIONS) -> list[str]:
    """The import lines of the solutions notebook's first code cell that its solution functions need."""
    book = [source(c) for c in cells(solutions) if c["cell_type"] == "code"]
    used = set()
    for code in book[1:]:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("my_"):
                used |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    lines = []
    for statement in ast.parse(book[0]).body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            names = {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
            if names & used:
                lines.append(ast.get_source_segment(book[0], statement))
    return lines


def answer_cell_source(exercise: Exercise, solutions: Path = SOLUTIONS) -> str:
    """The exercise cell's function with the solution's body between nbgrader's solution delimiters."""
    body = solution_body(exercise.function, solutions)
    lines = exercise.stub.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == STUB)
    indent = re.match(r"\s*", lines[at]).group(0)
    region = textwrap.indent(f"### BEGIN SOLUTION\n{body}\n### END SOLUTION", indent)
    return "\n".join([*lines[:at], region, *lines[at + 1 :]])


def hidden_call(exercise: Exercise) -> str:
    options = ", ".join(f"{key}={value!r}" for key, value in HIDDEN[exercise.check].items())
    return f"exercises.grade(exercises.{exercise.check}, {exercise.function}, {options})"


def _cell(kind: str, text: str, grade_id: str, *, solution=False, grade=False, locked=True, points=0):
    new = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    meta["task"] = False
    if grade:
        meta["points"] = points
    return new(text, id=grade_id, metadata={"nbgrader": meta})


def source_notebook(
    chosen: list[Exercise], root: Path = ROOT, solutions: Path = SOLUTIONS, edition: Edition = ENGLISH
) -> nbformat.NotebookNode:
    """The lecturer's nbgrader source notebook for the chosen exercises."""
    colab = next(c for c in cells(next((root / edition.notebooks).glob("01_*.ipynb"))) if c.get("id") == COLAB_ID)
    total = len(chosen) * (VISIBLE_POINTS + HIDDEN_POINTS)
    numbers = ", ".join(e.number for e in chosen)
    plural = "" if HIDDEN_POINTS == 1 else "s"
    intro = edition.intro.format(numbers=numbers, total=total, visible=VISIBLE_POINTS, hidden=HIDDEN_POINTS, s=plural)
    book = nbformat.v4.new_notebook()
    book.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    book.cells = [
        _cell("markdown", intro, "intro"),
        _cell("code", source(colab), "setup-colab"),
        _cell(
            "code",
            "\n".join([*solution_imports(solutions), "", "from dropkey_lib import exercises", *edition.setup]),
            "setup",
        ),
    ]
    for e in chosen:
        n = e.number
        text = edition.section.format(number=n, title=e.title, notebook=e.notebook)
        visible = (
            edition.visible.format(points=VISIBLE_POINTS, number=n)
            + f"\nexercises.grade(exercises.{e.check}, {e.function})"
        )
        hidden = (
            edition.hidden.format(points=HIDDEN_POINTS, s=plural)
            + f"\n### BEGIN HIDDEN TESTS\n{hidden_call(e)}\n### END HIDDEN TESTS"
        )
        book.cells += [
            _cell("markdown", f"{text}\n\n{e.text}", f"ex{n}-text"),
            _cell("code", answer_cell_source(e, solutions), f"ex{n}-answer", solution=True, locked=False),
            _cell("code", visible, f"ex{n}-check", grade=True, points=VISIBLE_POINTS),
            _cell("code", hidden, f"ex{n}-hidden", grade=True, points=HIDDEN_POINTS),
        ]
    nbformat.validate(book)
    return book


def build(
    course_dir: Path, assignment: str = ASSIGNMENT, numbers: list[str] | None = None, language: str = "en"
) -> Path:
    """Write the source notebook (and nbgrader_config.py unless there is one) into an nbgrader course folder."""
    edition = EDITIONS[language]
    found = exercises(ROOT, edition)
    chosen = [e for e in found if numbers is None or e.number in numbers]
    unknown = set(numbers or ()) - {e.number for e in found}
    if unknown or not chosen:
        raise SystemExit(f"no exercise in notebook(s) {sorted(unknown)}; there are {[e.number for e in found]}")
    path = course_dir / "source" / assignment / NOTEBOOK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    solutions = ROOT / edition.notebooks / SOLUTIONS.name
    nbformat.write(source_notebook(chosen, ROOT, solutions, edition), path)
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(NBGRADER_CONFIG)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("course_dir", type=Path, help="the nbgrader course folder (created if needed)")
    parser.add_argument("--assignment", default=ASSIGNMENT, help=f"the assignment's name (default {ASSIGNMENT})")
    parser.add_argument("--exercises", help="comma-separated notebook numbers, e.g. 02,04 (default: all)")
    parser.add_argument(
        "--release", action="store_true", help="then run `nbgrader generate_assignment` (the student version)"
    )
    parser.add_argument("--language", choices=sorted(EDITIONS), default="en", help="en (default) or zh: Chinese")
    args = parser.parse_args(argv)
    numbers = [n.strip().zfill(2) for n in args.exercises.split(",")] if args.exercises else None
    path = build(args.course_dir, args.assignment, numbers, args.language)
    print(f"wrote {path}")
    if args.release:
        command = [sys.executable, "-m", "nbgrader", "generate_assignment", args.assignment, "--force"]
        subprocess.run(command, cwd=args.course_dir, check=True)
        print(f"student version: {args.course_dir / 'release' / args.assignment / NOTEBOOK_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
