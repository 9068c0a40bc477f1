"""Checkers for the exercises of notebooks 01-08: they grade your answer and say what is wrong.

Every `check_*` takes your answer, a function, runs it on inputs of its own and then

- prints one line starting with "Correct" ("正确" in Chinese) when the answer is right;
- raises `AssertionError` with a message that says what is wrong and how to think about it when it is not;
- prints a "not attempted yet" line, and raises nothing, when your function raises `NotImplementedError`. The
  notebooks ship in that state, so they run from top to bottom before you have written anything.

Checkers that draw random numbers seed torch's global random number generator inside `torch.random.fork_rng`:
a check gives the same verdict every time you run it, and your own random state is left as it was. Statistical
tolerances are set so that a correct answer fails with probability below 1e-6 over the draws (each docstring says
why); the wrong answers the checkers are built to catch miss by hundreds of standard errors. Checkers that compare
numbers with exact ones allow for float32 (a relative 1e-5, see `_grading.RTOL`), so an answer computed in torch's
default dtype passes; when a failing answer looks like float32, the message says so, and it prints enough digits
to show the difference.

The messages are English unless a notebook asks for Chinese with `dropkey_lib.i18n.use_language("zh_CN")`: every
message is written as `_("English text with {placeholders}").format(...)`, translated when the checker runs, from
the catalog dropkey_lib/locale/zh_CN/LC_MESSAGES/dropkey_lib.po (`dropkey_lib.i18n` says how to add or change one).

The checkers live by subject: `attention` (01, 02, 06), `derivations` (03, 04), `training` (05, 07, 08); the
machinery they share is in `_grading`. `grade(check, answer)` (module `marking`) runs a checker as a graded test: the
marked version of the exercises (nbgrader, docs/marking.md) calls it, also with other inputs than the notebooks'
(each checker's keyword arguments) for its hidden tests. The solutions are in `notebooks/solutions.ipynb`;
`tests/test_exercises.py` runs every checker on its solution and on the wrong answers each checker must catch.
"""

from .attention import check_attention_dropout, check_dropkey, check_seed_probability
from .derivations import check_smoothing_coefficients, check_value_gradients
from .marking import grade
from .training import check_learning_rate, check_parameter_count, check_schedule

__all__ = [
    "check_attention_dropout",
    "check_dropkey",
    "check_smoothing_coefficients",
    "check_value_gradients",
    "check_schedule",
    "check_seed_probability",
    "check_parameter_count",
    "check_learning_rate",
    "grade",
]
