"""Every number in a notebook's prose that reports a result is checked by the notebook itself, or is a quoted constant.

A number with a result unit (%, points, min, s, MB, GB, x, ±, M parameters) in a Markdown cell must be
- printed by a code cell whose output nbval compares (not tagged `nbval-ignore-output`), or
- asserted in one of the two code cells that follow the Markdown cell (its value appears in their source), or
- listed in `notebooks/quoted-numbers.yml`, with the source of the constant (a paper figure, a definition, a limit
  of a platform).
So a figure in the prose cannot drift from the data without a test failing. LaTeX math (`$...$`) is left out: it
holds symbols and definitions, not results.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
QUOTED = NOTEBOOKS / "quoted-numbers.yml"

_NUMBER = r"[+\-−]?\d[\d,]*(?:\.\d+)?"
_UNITS = r"percentage points?|points?|pp|min|minutes|h|s|seconds|ms|MB|GB|MiB|GiB"
RESULT = re.compile(
    rf"±\s?{_NUMBER}(?:\s?(?:%|points?))?"
    rf"|{_NUMBER}\s?%"
    rf"|{_NUMBER}\s?(?:{_UNITS})\b"
    rf"|{_NUMBER}(?:x|×)(?![\w\d])"
    rf"|{_NUMBER}M(?:-parameter| parameters)"
)
MATH = re.compile(r"\$[^$]*\$")


def result_numbers(markdown: str) -> list[str]:
    """The numbers with a result unit in Markdown text, as written ("70.5%", "± 0.30 points", "1.2 GB")."""
    return [m.group(0) for m in RESULT.finditer(MATH.sub("", markdown))]


def value_of(number: str) -> str:
    """The digits of a number as written, without sign, unit or thousands separators: "1,205 MB" -> "1205"."""
    return re.search(r"\d[\d,]*(?:\.\d+)?", number).group(0).replace(",", "")


def compared_output(cell: dict) -> str:
    """What nbval compares of a code cell: its text outputs, unless the cell is tagged to be ignored."""
    if "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []):
        return ""
    texts = []
    for output in cell.get("outputs", []):
        texts.append("".join(output.get("text", "")))
        for kind in ("text/plain", "text/html", "text/markdown"):
            texts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(texts).replace(",", "")


def contains_value(text: str, value: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", text) is not None


def unchecked_numbers(notebook: dict, quoted: list[str]) -> list[str]:
    """The result numbers of a notebook's Markdown that it neither prints, nor asserts next, nor lists as quoted."""
    cells = notebook["cells"]
    printed = "\n".join(compared_output(c) for c in cells if c["cell_type"] == "code")
    unchecked = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        following = [c for c in cells[i + 1 : i + 3] if c["cell_type"] == "code"]
        asserted = "\n".join("".join(c["source"]) for c in following).replace("_", "")
        for number in result_numbers("".join(cell["source"])):
            value = value_of(number)
            # An assertion states a percentage as a fraction: "above 20%" is `> 0.2`.
            as_asserted = f"{float(value) / 100:g}" if number.endswith("%") else value
            if number in quoted or contains_value(printed, value) or contains_value(asserted, as_asserted):
                continue
            unchecked.append(number)
    return unchecked


def quoted_numbers() -> dict[str, list[str]]:
    entries = yaml.safe_load(QUOTED.read_text())
    return {name: [entry["number"] for entry in listed] for name, listed in entries.items()}


def test_every_quoted_number_gives_its_source():
    for name, listed in yaml.safe_load(QUOTED.read_text()).items():
        assert (NOTEBOOKS / f"{name}.ipynb").exists(), f"{QUOTED.name} names a notebook that does not exist: {name}"
        for entry in listed:
            assert entry.get("source"), f"{name}: {entry['number']!r} needs a source"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_result_number_in_the_prose_is_printed_asserted_or_quoted(path):
    notebook = json.loads(path.read_text())
    unchecked = unchecked_numbers(notebook, quoted_numbers().get(path.stem, []))
    assert not unchecked, (
        f"{path.name}: these numbers in Markdown are not printed by a compared output, asserted in the next code "
        f"cell, or listed in {QUOTED.name}: {unchecked}"
    )


def markdown_then_code(markdown: str, code: str, output: str = "") -> dict:
    outputs = [{"output_type": "stream", "text": [output]}]
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": [markdown]},
        {"cell_type": "code", "metadata": {}, "source": [code], "outputs": outputs},
    ]
    return {"cells": cells}


def test_a_number_added_to_the_prose_without_a_check_is_found():
    notebook = markdown_then_code("The run reached 70.5% test accuracy in 14.8 min.", "print('done')", "done\n")
    assert unchecked_numbers(notebook, []) == ["70.5%", "14.8 min"]


def test_a_printed_asserted_or_quoted_number_passes():
    printed = markdown_then_code("It reached 70.5%.", "print(f'{accuracy:.1%}')", "70.5%\n")
    asserted = markdown_then_code("It has 1,205 MB at most.", "assert peak_mb <= 1_205", "")
    as_fraction = markdown_then_code("It is above 20%.", "assert accuracy > 0.2", "")
    quoted = markdown_then_code("The paper gains 0.39 points.", "pass", "")
    assert unchecked_numbers(printed, []) == []
    assert unchecked_numbers(asserted, []) == []
    assert unchecked_numbers(as_fraction, []) == []
    assert unchecked_numbers(quoted, ["0.39 points"]) == []


def test_an_ignored_output_does_not_check_a_number():
    notebook = markdown_then_code("It took 36 s.", "print(seconds)", "36 s\n")
    notebook["cells"][1]["metadata"]["tags"] = ["nbval-ignore-output"]
    assert unchecked_numbers(notebook, []) == ["36 s"]


def test_math_is_not_read_as_a_result():
    assert result_numbers("with $p = 38\\%$ and $r = 0.1$ we get 1.5 points") == ["1.5 points"]
