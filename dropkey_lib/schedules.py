"""Drop ratio per layer: how DropKey's ratio is scheduled over depth.

The paper's second question is how the drop ratio should change along the stack of attention layers. Its answer
is a ratio that *decreases* with depth: shallow layers, which see low-level detail, are regularised strongly;
deep layers, which carry the high-level semantics, keep most of their keys.

The paper's exact formula is unknown to us (see `docs/paper-notes.md` §8), so the linear one here is our choice:
`ratio` is the **mean** ratio over the layers, so that all three schedules regularise by the same total amount
and can be compared fairly. The linear schedules go from 2 * ratio to 0 (decreasing) or from 0 to 2 * ratio
(increasing) in equal steps; with a single layer every schedule is just `ratio`.
"""

from __future__ import annotations

from .attention import check_ratio

SCHEDULES = ("constant", "linear_down", "linear_up")


def drop_ratios(ratio: float, depth: int, schedule: str = "linear_down") -> list[float]:
    """Per-layer drop ratios, first layer first, whose mean is `ratio`.

    >>> drop_ratios(0.1, 3, "linear_down")
    [0.2, 0.1, 0.0]
    """
    ratio = check_ratio(ratio)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
    if schedule == "constant" or depth == 1:
        return [ratio] * depth
    if 2 * ratio >= 1:
        raise ValueError(
            f"ratio must be below 0.5 for schedule={schedule!r}: its largest layer ratio is 2 * ratio = {2 * ratio:g}"
        )
    steps = [2 * ratio * i / (depth - 1) for i in range(depth)]  # 0 ... 2 * ratio
    ratios = steps[::-1] if schedule == "linear_down" else steps
    return [round(r, 12) for r in ratios]
