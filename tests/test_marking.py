"""The marked version of the exercises (scripts/build_marked_exercises.py, docs/marking.md): the nbgrader source
notebook is derived from the course notebooks' exercise cells and notebooks/solutions.ipynb; the student version
that `nbgrader generate_assignment` makes holds no solution and no hidden test; `nbgrader autograde` gives the
solutions full marks and wrong answers fewer, hidden tests included. Everything runs offline, in a temporary course
folder (about 50 s: nbgrader starts twice and runs two kernels)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("build_marked_exercises", ROOT / "scripts" / "build_marked_exercises.py")
marked = importlib.util.module_from_spec(_spec)
sys.modules["build_marked_exercises"] = marked  # dataclasses look their module up
_spec.loader.exec_module(marked)

ASSIGNMENT = marked.ASSIGNMENT
NUMBERS = [f"{n:02d}" for n in range(1, 9)]
FULL = len(NUMBERS) * (marked.VISIBLE_POINTS + marked.HIDDEN_POINTS)


def code_cells(path: Path) -> list[str]:
    return [marked.source(c) for c in marked.cells(path) if c["cell_type"] == "code"]


def solution_functions() -> dict[str, str]:
    """Every `my_*` function of notebooks/solutions.ipynb, as written there."""
    found = {}
    for code in code_cells(ROOT / "notebooks" / "solutions.ipynb"):
        for node in ast.parse(code).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("my_"):
                found[node.name] = "\n".join(code.splitlines()[node.lineno - 1 : node.end_lineno])
    return found


def solution_lines() -> set[str]:
    """The lines of every solution body (statements and comments), stripped; lines of punctuation only are left out."""
    lines = set()
    for function in solution_functions().values():
        body = function.splitlines()[1:]
        lines |= {line.strip() for line in body if any(ch.isalnum() for ch in line)}
    return lines


def nbgrader(course: Path, *args: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),  # this checkout's library
        "JUPYTER_CONFIG_DIR": str(course / ".jupyter"),  # no user or system nbgrader configuration
        "JUPYTER_RUNTIME_DIR": str(course / ".runtime"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def grade_ids(book: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in book.cells if "nbgrader" in c.metadata}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course folder with the source notebook and the student version (release/)."""
    root = tmp_path_factory.mktemp("course")
    marked.build(root)
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    return root


def source_version(course: Path) -> nbformat.NotebookNode:
    return nbformat.read(course / "source" / ASSIGNMENT / marked.NOTEBOOK_NAME, as_version=4)


def student_version(course: Path) -> nbformat.NotebookNode:
    return nbformat.read(course / "release" / ASSIGNMENT / marked.NOTEBOOK_NAME, as_version=4)


# ----------------------------------------------------------------------------------------------------------------
# The source notebook, derived from the course


def test_the_source_notebook_has_an_answer_and_two_graded_tests_for_each_exercise_of_notebooks_01_to_08(course):
    cells = grade_ids(source_version(course))
    for n in NUMBERS:
        assert cells[f"ex{n}-answer"].metadata["nbgrader"]["solution"]
        assert cells[f"ex{n}-check"].metadata["nbgrader"]["points"] == marked.VISIBLE_POINTS
        assert "### BEGIN HIDDEN TESTS" in cells[f"ex{n}-hidden"].source
    assert sum(c.metadata["nbgrader"].get("points", 0) for c in cells.values()) == FULL


def test_each_answer_cell_holds_the_body_of_the_solution_in_solutions_ipynb(course):
    cells = grade_ids(source_version(course))
    for exercise in marked.exercises():
        body = solution_functions()[exercise.function].splitlines()[1:]
        answer = cells[f"ex{exercise.number}-answer"].source
        assert all(line in answer for line in body), exercise.function


def test_the_exercise_texts_are_the_notebooks_without_the_pointer_to_the_solutions(course):
    cells = grade_ids(source_version(course))
    for exercise in marked.exercises():
        text = cells[f"ex{exercise.number}-text"].source
        assert exercise.text in text and "solutions" not in text.lower()


# ----------------------------------------------------------------------------------------------------------------
# The student version


def test_the_student_version_contains_no_line_of_any_solution(course):
    release = {line.strip() for cell in student_version(course).cells for line in cell.source.splitlines()}
    assert solution_lines(), "no solution lines found: the test would pass vacuously"
    assert not solution_lines() & release


def test_the_student_version_contains_no_hidden_test(course):
    release = "\n".join(cell.source for cell in student_version(course).cells)
    assert "HIDDEN TESTS" not in release and "BEGIN SOLUTION" not in release
    for exercise in marked.exercises():
        assert marked.hidden_call(exercise) not in release


def test_the_student_version_gives_each_exercise_the_course_notebooks_stub_and_check(course):
    cells = grade_ids(student_version(course))
    for exercise in marked.exercises():
        assert cells[f"ex{exercise.number}-answer"].source == exercise.stub
        assert (
            f"exercises.grade(exercises.{exercise.check}, {exercise.function})"
            in cells[f"ex{exercise.number}-check"].source
        )


# ----------------------------------------------------------------------------------------------------------------
# Autograding


def parameter_count_hard_coded() -> str:
    """An answer to 07 that is right on the checker's eight configurations only: a table of their counts."""
    from dropkey_lib.exercises.training import PARAMETER_BASE, PARAMETER_CONFIGS
    from dropkey_lib.vit import TinyViT, ViTConfig, count_parameters

    fields = ("dim", "depth", "patch_size", "num_heads", "mlp_ratio", "num_classes", "pool")
    table = {}
    for changes in PARAMETER_CONFIGS:
        config = ViTConfig(**{**PARAMETER_BASE, **changes})
        table[tuple(getattr(config, f) for f in fields)] = count_parameters(TinyViT(config))
    return (
        "def my_parameter_count(config):\n"
        f"    table = {table!r}\n"
        f"    return table.get(tuple(getattr(config, f) for f in {fields!r}), 0)\n"
    )


WRONG = {  # answer cell -> a wrong answer; the other exercises get their solution
    "ex02-answer": (
        "def my_dropkey(scores, ratio):  # the -1e-12 typo: nothing is dropped\n"
        "    mask = torch.bernoulli(torch.full_like(scores, ratio))\n"
        "    return (scores + mask * -1e-12).softmax(dim=-1)\n"
    ),
    "ex04-answer": (
        "def my_value_gradients(p, values, y):  # the forbidden shortcut: autograd\n"
        "    values = values.clone().requires_grad_()\n"
        "    (0.5 * (p @ values - y).pow(2).sum()).backward()\n"
        "    return values.grad\n"
    ),
    "ex07-answer": parameter_count_hard_coded(),
    "ex08-answer": None,  # not attempted: the stub stays
}
LOST = {  # the grade cells where the wrong submission scores 0 (every other cell gets its full points)
    "ex02-check",
    "ex02-hidden",
    "ex04-check",
    "ex04-hidden",
    "ex07-hidden",  # its visible check passes: the table fits the checker's own configurations
    "ex08-check",
    "ex08-hidden",
}


def submit(course: Path, student: str, answers: dict[str, str | None]) -> None:
    """Hand in the student version with every answer cell filled in: by `answers` where given (None leaves the
    stub), else with the function from solutions.ipynb."""
    book = student_version(course)
    solutions = solution_functions()
    for exercise in marked.exercises():
        key = f"ex{exercise.number}-answer"
        answer = answers.get(key, solutions[exercise.function])
        if answer is not None:
            grade_ids(book)[key].source = answer
    path = course / "submitted" / student / ASSIGNMENT / marked.NOTEBOOK_NAME
    path.parent.mkdir(parents=True)
    nbformat.write(book, path)


@pytest.fixture(scope="module")
def scores(course) -> dict[str, dict[str, float]]:
    """Autograde two submissions, the solutions and a wrong one: each student's score per grade cell and in all."""
    from nbgrader.api import Gradebook

    submit(course, "solutions", {})
    submit(course, "wrong", WRONG)
    nbgrader(course, "autograde", ASSIGNMENT)
    result = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in ("solutions", "wrong"):
            notebook = gradebook.find_submission_notebook("exercises", ASSIGNMENT, student)
            result[student] = {grade.name: grade.score for grade in notebook.grades}
            result[student]["total"] = notebook.score
    return result


def test_autograding_gives_the_solutions_full_marks(scores):
    assert scores["solutions"]["total"] == FULL


def test_autograding_takes_marks_off_the_wrong_answers_only(scores):
    full = {cell: score for cell, score in scores["solutions"].items() if cell != "total"}
    wrong = {cell: score for cell, score in scores["wrong"].items() if cell != "total"}
    assert {cell for cell, score in wrong.items() if score != full[cell]} == LOST
    assert all(wrong[cell] == 0 for cell in LOST)
    assert scores["wrong"]["total"] == FULL - sum(full[cell] for cell in LOST)


def test_an_answer_fitted_to_the_visible_check_loses_the_hidden_marks(scores):
    assert scores["wrong"]["ex07-check"] == marked.VISIBLE_POINTS
    assert scores["wrong"]["ex07-hidden"] == 0


def test_autograding_runs_the_hidden_tests_that_the_student_version_lacks(course, scores):
    autograded = nbformat.read(course / "autograded" / "wrong" / ASSIGNMENT / marked.NOTEBOOK_NAME, as_version=4)
    exercise = next(e for e in marked.exercises() if e.number == "07")
    hidden = grade_ids(autograded)["ex07-hidden"]
    assert marked.hidden_call(exercise) in hidden.source
    assert [output.get("ename") for output in hidden.outputs] == ["AssertionError"]


# ----------------------------------------------------------------------------------------------------------------
# The Chinese version (--language zh): the same assignment from notebooks-zh/


@pytest.fixture(scope="module")
def chinese_course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course-zh")
    marked.build(root, language="zh")
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    return root


def test_the_chinese_version_has_the_chinese_text_of_every_exercise(chinese_course):
    cells = grade_ids(source_version(chinese_course))
    chinese = marked.exercises(marked.ROOT, marked.CHINESE)
    assert [e.number for e in chinese] == NUMBERS
    for exercise in chinese:
        text = cells[f"ex{exercise.number}-text"].source
        assert exercise.text in text and "练习参考答案" not in text and re.search(r"[\u4e00-\u9fff]", exercise.title)
    assert cells["intro"].source.startswith("# DropKey 课程：计分的练习")


def test_the_chinese_version_grades_the_same_answers_with_the_same_tests(course, chinese_course):
    english, chinese = grade_ids(source_version(course)), grade_ids(source_version(chinese_course))
    for n in NUMBERS:
        assert chinese[f"ex{n}-answer"].source == english[f"ex{n}-answer"].source
        for kind in ("check", "hidden"):
            code = [line for line in chinese[f"ex{n}-{kind}"].source.splitlines() if not line.startswith("# ")]
            assert code == [line for line in english[f"ex{n}-{kind}"].source.splitlines() if not line.startswith("# ")]


def test_the_chinese_version_switches_the_checkers_to_chinese_before_the_exercises(chinese_course):
    setup = grade_ids(source_version(chinese_course))["setup"].source
    assert 'i18n.use_language("zh_CN")' in setup


def test_the_chinese_student_version_contains_no_solution_and_no_hidden_test(chinese_course):
    release = "\n".join(cell.source for cell in student_version(chinese_course).cells)
    assert not solution_lines() & {line.strip() for line in release.splitlines()}
    assert "HIDDEN TESTS" not in release and "BEGIN SOLUTION" not in release
