"""Measurements that are not results of a training run: timings, memory, throughput ratios, in small JSON files.

A training run records its own numbers (`rundir`: config.json, history.json, metrics.json). Everything else the
course quotes that was measured (the bench's ratios, the notebooks' wall time and peak memory, the wall time of a
grid or of a whole command) is one file `results/measurements/<name>.json`:

    {
      "what": "what was measured, in one sentence",
      "command": "the command that measured it",
      "machine": "the machine, as `hardware.machine()` words it (or as it was recorded)",
      "date": "2026-12-02T08:38Z",
      "commit": "77f2d74",                       (optional: the code that was measured)
      "source": "how this file was made",        (optional: e.g. transcribed from the prose of an older README)
      "values": {"<key>": {"value": 12.51, "unit": "ms", "note": "..."}, ...}
    }

The tools that measure write it (`python -m dropkey_lib.bench --json`, `python binder/measure_memory.py --json`);
`scripts/figures.py` reads it for the Markdown files, so that a number is written down once.
"""

from __future__ import annotations

import datetime as _datetime
import json
import os
from pathlib import Path
from typing import Mapping

REQUIRED = ("what", "command", "machine", "date", "values")


def value(number: float, unit: str, note: str = "") -> dict:
    """One entry of a measurement's `values`: the number, its unit and, optionally, a note on how it was taken."""
    entry: dict = {"value": number, "unit": unit}
    if note:
        entry["note"] = note
    return entry


def now() -> str:
    """The current UTC time, to the minute, as measurements record their date."""
    return _datetime.datetime.now(_datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def record(
    what: str,
    command: str,
    values: Mapping[str, dict],
    *,
    machine: str | None = None,
    date: str | None = None,
    **extra: str,
) -> dict:
    """A measurement as a dict in the file format above; the machine and the date default to this one and now."""
    if machine is None:
        from .hardware import machine as this_machine

        machine = this_machine()
    measurement = {"what": what, "command": command, "machine": machine, "date": date or now(), **extra}
    measurement["values"] = {key: dict(entry) for key, entry in values.items()}
    check(measurement)
    return measurement


def check(measurement: Mapping) -> None:
    """Raise a ValueError unless `measurement` has the fields of the format, and every value a number and a unit."""
    missing = [key for key in REQUIRED if key not in measurement]
    if missing:
        raise ValueError(f"a measurement needs the field(s) {', '.join(missing)}")
    for key, entry in measurement["values"].items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), (int, float)) or "unit" not in entry:
            raise ValueError(f"value {key!r} must be {{'value': number, 'unit': str}}, got {entry!r}")


def write(path: str | os.PathLike, measurement: Mapping) -> Path:
    """Write a measurement (checked) as indented JSON; returns the path."""
    check(measurement)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(measurement, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read(path: str | os.PathLike) -> dict:
    """Read a measurement file (checked)."""
    measurement = json.loads(Path(path).read_text(encoding="utf-8"))
    check(measurement)
    return measurement
