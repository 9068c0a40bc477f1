"""Marking: a checker as a graded test, for the nbgrader version of the exercises (scripts/build_marked_exercises.py,
docs/marking.md).

In the course notebooks a checker prints "not attempted yet" for an answer that still raises NotImplementedError,
so that a notebook runs from top to bottom before you have written anything. A graded test must fail there instead,
and it must fail on every other verdict than "Correct": `grade` does both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..i18n import _
from ._grading import _name, _NotAttempted


def grade(check: Callable[..., None], answer: Any, **cases: Any) -> None:
    """Run the checker `check` (one of `exercises.check_*`) on `answer` as a graded test: print its "Correct" line,
    or raise AssertionError with its diagnosis, or with "not attempted" when the answer raises NotImplementedError.
    `cases` are the checker's keyword arguments that choose other inputs (the hidden tests use them)."""
    run = getattr(check, "__wrapped__", None)
    if run is None:
        raise TypeError(_("grade takes a checker from dropkey_lib.exercises, got {check!r}").format(check=check))
    if not callable(answer):
        raise AssertionError(
            _("{checker} grades a function, but got {type_name}: {answer!r}").format(
                checker=check.__name__, type_name=type(answer).__name__, answer=answer
            )
        )
    try:
        message = run(answer, **cases)
    except _NotAttempted:
        raise AssertionError(
            _(
                "Not attempted: {function} still raises NotImplementedError. Replace `raise NotImplementedError` "
                "with your code."
            ).format(function=_name(answer))
        ) from None
    print(message)
