"""The metrics registry: one key, label, unit and definition per measured quantity, and one owner of the labels."""

import ast
from pathlib import Path

import pytest

from dropkey_lib import metrics

LIBRARY = Path(metrics.__file__).resolve().parent


def string_constants(path: Path) -> set[str]:
    """Every string literal of a module except its docstrings (which may describe a metric in prose)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def test_no_other_library_module_spells_a_metric_label():
    labels = {m.label for m in metrics.METRICS.values()} | {m.short for m in metrics.METRICS.values() if m.short}
    labels -= set(metrics.METRICS)  # "gap" is a key (which other modules use) as well as a short label
    for path in sorted(LIBRARY.rglob("*.py")):
        if path.name != "metrics.py":
            assert not labels & string_constants(path), f"{path.relative_to(LIBRARY)} spells a metric label"


def test_every_metric_says_what_it_was_measured_on():
    assert all(m.measured_on and m.label for m in metrics.METRICS.values())


def test_a_quantity_measured_on_other_images_has_another_key():
    assert "all 10,000" in metrics.metric("test_accuracy").measured_on
    assert "test_size" in metrics.metric("probe_test_accuracy").measured_on
    assert "every image" in metrics.metric("clean_train_accuracy").measured_on
    assert "train_eval_size" in metrics.metric("probe_train_accuracy").measured_on


def test_an_unknown_metric_raises_listing_the_known_ones():
    with pytest.raises(ValueError, match="probe_test_accuracy"):
        metrics.label("test_acc")


def test_history_records_and_final_metrics_of_old_files_get_todays_keys():
    old = {"epoch": 1, "train_loss": 2.0, "train_accuracy": 0.3, "train_eval_accuracy": 0.35, "test_accuracy": 0.3}
    assert metrics.upgrade_record(old) == {
        "epoch": 1,
        "running_train_loss": 2.0,
        "running_train_accuracy": 0.3,
        "probe_train_accuracy": 0.35,
        "probe_test_accuracy": 0.3,
    }
    assert metrics.upgrade_record(metrics.upgrade_record(old)) == metrics.upgrade_record(old)
    assert metrics.upgrade_final({"train_accuracy": 0.9, "test_accuracy": 0.4}) == {
        "clean_train_accuracy": 0.9,
        "test_accuracy": 0.4,
    }


def test_the_gap_is_clean_train_accuracy_minus_test_accuracy():
    assert metrics.gap(0.9, 0.4) == pytest.approx(0.5)
