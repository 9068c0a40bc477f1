"""Argument checks shared by the whole library: each raises a ValueError that names the argument.

They run once, where a value enters the library (a config, a module's `__init__`, a public function), never on
every forward pass.
"""

from __future__ import annotations

import math


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return `value` if it is an int (not a bool) of at least `minimum`, else raise a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return value


def check_drop_ratio(value: object, name: str = "drop_ratio") -> float:
    """Return `value` as a float after checking that it is a probability in [0, 1).

    A drop ratio of 1 would drop every key of every row, so it is rejected rather than silently giving uniform
    attention everywhere.
    """
    try:
        ratio = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}") from None
    if math.isnan(ratio) or not 0.0 <= ratio < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return ratio


def check_choice(value: object, choices: tuple[str, ...], name: str) -> str:
    """Return `value` if it is one of `choices`, else raise a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value  # type: ignore[return-value]
