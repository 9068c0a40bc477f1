"""Measurement files (`dropkey_lib.measurements`): what a timing or a memory figure records, and that the committed
ones say where they came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from dropkey_lib import measurements

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted((ROOT / "results" / "measurements").glob("*.json"))


def test_a_measurement_written_is_read_back(tmp_path):
    written = measurements.record(
        "a test", "pytest", {"seconds": measurements.value(1.5, "s")}, machine="here", date="2026-01-01T00:00Z"
    )
    path = measurements.write(tmp_path / "m.json", written)
    assert measurements.read(path) == written


def test_a_measurement_defaults_to_this_machine_and_now():
    recorded = measurements.record("a test", "pytest", {"seconds": measurements.value(1.0, "s")})
    assert recorded["machine"] and recorded["date"].endswith("Z")


def test_a_measurement_without_its_command_is_refused():
    with pytest.raises(ValueError, match="command"):
        measurements.check({"what": "x", "machine": "m", "date": "d", "values": {}})


def test_a_value_without_a_unit_is_refused():
    with pytest.raises(ValueError, match="unit"):
        measurements.check({"what": "x", "command": "c", "machine": "m", "date": "d", "values": {"s": {"value": 1}}})


def test_there_are_committed_measurements():
    assert COMMITTED


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_every_committed_measurement_has_machine_date_command_and_source(path):
    measurement = measurements.read(path)
    assert measurement["machine"] and measurement["date"][:4].isdigit() and measurement["command"]
    # Written by a tool, or transcribed from older prose: either way the file says which.
    assert "source" in measurement or measurement["command"].startswith(("python -m", "python binder/"))
