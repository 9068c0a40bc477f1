"""A small table of strings that prints as aligned text and shows as HTML (and Markdown) in a notebook."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field


def format_ci(
    value: float, ci: float, *, scale: float = 1.0, digits: int = 1, signed: bool = False, unit: str = ""
) -> str:
    """'45.3 ± 0.8 %' (value and half-width of its interval, times `scale`); `signed` puts + on positive values.
    NaN shows as '-'."""
    if not (math.isfinite(value) and math.isfinite(ci)):
        return "-"
    number = f"{value * scale:+.{digits}f}" if signed else f"{value * scale:.{digits}f}"
    if number.lstrip("+-").strip("0.") == "":  # -0.0 / +0.0
        number = f"{0:.{digits}f}" if not signed else f"{0:+.{digits}f}"
    return f"{number} ± {ci * scale:.{digits}f}" + (f" {unit}" if unit else "")


def format_duration(seconds: float) -> str:
    """'2 h 05 min', '7 min 30 s' or '42 s'."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


@dataclass
class Table:
    """A small table of strings that prints as aligned text and shows as HTML (and Markdown) in a notebook."""

    headings: list[str]
    cells: list[list[str]]
    caption: str = ""
    align: str = ""  # one letter per column, "l" or "r"; default: first column left, the others right
    rows: list[dict] = field(default_factory=list)  # the unformatted records behind the cells, if any

    def __len__(self) -> int:
        return len(self.cells)

    def _align(self) -> str:
        return (self.align or "l" + "r" * (len(self.headings) - 1)).ljust(len(self.headings), "r")

    def to_text(self) -> str:
        table = [self.headings, *self.cells]
        widths = [max(len(line[i]) for line in table) for i in range(len(self.headings))]
        align = self._align()
        lines = [
            "  ".join(
                cell.ljust(width) if align[i] == "l" else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(line, widths))
            ).rstrip()
            for line in table
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def to_markdown(self) -> str:
        head = "| " + " | ".join(self.headings) + " |"
        rule = "|" + "|".join("---" if a == "l" else "---:" for a in self._align()) + "|"
        body = ["| " + " | ".join(cells) + " |" for cells in self.cells]
        return "\n".join(([f"*{self.caption}*", ""] if self.caption else []) + [head, rule, *body])

    def to_html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headings)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in self.cells)
        if not self.cells:
            body = f'<tr><td colspan="{len(self.headings)}"><i>no rows yet</i></td></tr>'
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (
            f'<table class="dropkey-report" style="text-align: right">{caption}'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def __str__(self) -> str:
        return self.to_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.to_html()
