"""Drop ratio per layer: how DropKey's drop ratio is scheduled over depth.

The paper's second question is how the drop ratio should change along the stack of attention layers. Its answer
is a ratio that *decreases* with depth: shallow layers, which see low-level detail, are regularised strongly;
deep layers, which carry the high-level semantics, keep most of their keys.

The paper says "decreasing" but gives no formula (see docs/paper-notes.md §8), so the linear form here is the course's
own choice: `drop_ratio` is the **mean** ratio over the layers, so that all three schedules regularise by the same
total amount and can be compared fairly. The linear schedules go from 2 * drop_ratio to 0 (decreasing) or from 0 to
2 * drop_ratio (increasing) in equal steps; with a single layer every schedule is just `drop_ratio`.
"""

from __future__ import annotations

from .checks import check_choice, check_drop_ratio, check_positive_int

SCHEDULES = ("constant", "linear_down", "linear_up")

# How figures and tables name each schedule.
SCHEDULE_LABELS = {
    "constant": "constant",
    "linear_down": "decreasing (the paper's direction)",
    "linear_up": "increasing",
}


def drop_ratios(drop_ratio: float, depth: int, schedule: str = "linear_down") -> list[float]:
    """Per-layer drop ratios, first layer first, whose mean is `drop_ratio`.

    >>> drop_ratios(0.1, 3, "linear_down")
    [0.2, 0.1, 0.0]
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    check_positive_int(depth, "depth")
    check_choice(schedule, SCHEDULES, "schedule")
    if schedule == "constant" or depth == 1:
        return [drop_ratio] * depth
    if 2 * drop_ratio >= 1:
        raise ValueError(
            f"drop_ratio must be below 0.5 for schedule={schedule!r}: its largest layer ratio is "
            f"2 * drop_ratio = {2 * drop_ratio:g}"
        )
    steps = [2 * drop_ratio * i / (depth - 1) for i in range(depth)]  # 0 ... 2 * drop_ratio
    ratios = steps[::-1] if schedule == "linear_down" else steps
    return [round(r, 12) for r in ratios]


def max_drop_ratio(schedule: str, depth: int) -> float:
    """The bound (exclusive) of the mean drop ratios that `schedule` accepts at `depth`: 1 for the constant
    schedule or a single layer, 0.5 for the linear ones (their largest layer ratio is 2 * drop_ratio)."""
    check_choice(schedule, SCHEDULES, "schedule")
    check_positive_int(depth, "depth")
    return 1.0 if schedule == "constant" or depth == 1 else 0.5
