"""Drop ratio per layer: how DropKey's drop ratio is scheduled over depth.

The paper's second question is how the drop ratio should change along the stack of attention layers. Its answer
is a ratio that *decreases* with depth: shallow layers, which see low-level detail, are regularised strongly;
deep layers, which carry the high-level semantics, keep most of their keys.

The paper says "decreasing" but gives no formula (see docs/paper-notes.md §8), so the linear form here is the course's
own choice: `drop_ratio` is the **mean** ratio over the layers, so that all three schedules regularise by the same
total amount and can be compared fairly. With a single layer every schedule is just `drop_ratio`. In equal steps:

- `linear_down` goes from 2 * drop_ratio to 0 and `linear_up` from 0 to 2 * drop_ratio: the full range, but the
  last (first) layer drops nothing, so with 2 layers DropKey acts in one layer only;
- `down_to_half` goes from 1.5 * drop_ratio to 0.5 * drop_ratio and `up_from_half` the other way: every layer
  drops keys, which keeps "where keys are dropped" apart from "how many" when schedules are compared.

`DEFAULT_SCHEDULE`, `down_to_half`, is the course's reading of the paper's "decreasing": with the default two blocks
it gives 0.15 and 0.05 at mean ratio 0.1, so DropKey acts in every attention layer (`linear_down` would give 0.2 and
0.0: DropKey in the first block only). The other readings stay available by name, with their old meanings.
"""

from __future__ import annotations

from .checks import check_choice, check_drop_ratio, check_positive_int

SCHEDULES = ("constant", "linear_down", "linear_up", "down_to_half", "up_from_half")

# The schedule of the default model and of `interop.apply_dropkey`: decreasing with depth, every layer dropping.
DEFAULT_SCHEDULE = "down_to_half"

# The first and last layer's ratio of each linear schedule, as multiples of the mean ratio.
_ENDS = {"linear_down": (2.0, 0.0), "linear_up": (0.0, 2.0), "down_to_half": (1.5, 0.5), "up_from_half": (0.5, 1.5)}

# How figures and tables name each schedule.
SCHEDULE_LABELS = {
    "constant": "constant",
    "linear_down": "decreasing (the paper's direction)",
    "linear_up": "increasing",
    "down_to_half": "decreasing, every layer drops",
    "up_from_half": "increasing, every layer drops",
}


def drop_ratios(drop_ratio: float, depth: int, schedule: str = DEFAULT_SCHEDULE) -> list[float]:
    """Per-layer drop ratios, first layer first, whose mean is `drop_ratio`.

    >>> drop_ratios(0.1, 3, "linear_down")
    [0.2, 0.1, 0.0]
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    check_positive_int(depth, "depth")
    check_choice(schedule, SCHEDULES, "schedule")
    if schedule == "constant" or depth == 1:
        return [drop_ratio] * depth
    first, last = _ENDS[schedule]
    if max(first, last) * drop_ratio >= 1:
        raise ValueError(
            f"drop_ratio must be below {1 / max(first, last):g} for schedule={schedule!r}: its largest layer ratio "
            f"is {max(first, last):g} * drop_ratio = {max(first, last) * drop_ratio:g}"
        )
    steps = [first + (last - first) * i / (depth - 1) for i in range(depth)]
    return [round(drop_ratio * step, 12) for step in steps]


def max_drop_ratio(schedule: str, depth: int) -> float:
    """The bound (exclusive) of the mean drop ratios that `schedule` accepts at `depth`: 1 for the constant
    schedule or a single layer, 0.5 for `linear_down` and `linear_up` (their largest layer ratio is 2 * drop_ratio),
    2/3 for `down_to_half` and `up_from_half` (1.5 * drop_ratio)."""
    check_choice(schedule, SCHEDULES, "schedule")
    check_positive_int(depth, "depth")
    return 1.0 if schedule == "constant" or depth == 1 else 1 / max(_ENDS[schedule])
