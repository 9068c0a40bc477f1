"""Every measured quantity of the course, in one registry: its key, how figures and tables label it, its unit, and
what exactly it was measured on. No other module spells a metric's label.

Two kinds of record hold them, and a quantity measured on different images gets a different key:

- a run's **history** (`history.json`, one record per epoch, written by `train.train`): the `running_*` metrics of
  the epoch's training batches and the `probe_*` metrics of the run's per-epoch evaluation subsets;
- a grid run's **final metrics** (`metrics.json`, written by `experiments.run_one`): the same model scored on the
  whole test set and on the whole training subset of the run.

Files written before these keys existed are read through `upgrade_record` / `upgrade_final` (`rundir` calls them),
so old and new runs are read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Metric:
    """One measured quantity. A stored value times `scale` is shown in `unit`; a difference of two values in
    `difference_unit` ("pp": percentage points). `short` is the heading of a narrow table column."""

    key: str
    label: str
    unit: str
    scale: float
    difference_unit: str
    measured_on: str
    short: str = ""


_CLEAN = "in eval mode (no drops) without augmentation"
_PROBE_TRAIN = f"{_CLEAN}, on the run's first `train_eval_size` training images (a fixed class-balanced subset)"
_PROBE_TEST = f"{_CLEAN}, on the run's `test_size` test images (all 10,000 when test_size is None)"

_REGISTRY = (
    # per epoch, in history.json
    Metric("running_train_loss", "train loss (augmented, drops on)", "", 1.0, "",
           "mean cross-entropy over the epoch's augmented training batches, in train mode (drops on)"),
    Metric("running_train_accuracy", "train accuracy (augmented, drops on)", "%", 100.0, "pp",
           "accuracy over the epoch's augmented training batches, in train mode (drops on), as they were trained"),
    Metric("probe_train_accuracy", "clean train accuracy", "%", 100.0, "pp", _PROBE_TRAIN, "train acc."),
    Metric("probe_test_loss", "test loss", "", 1.0, "", _PROBE_TEST),
    Metric("probe_test_accuracy", "test accuracy", "%", 100.0, "pp", _PROBE_TEST, "test acc."),
    Metric("probe_gap", "gap (train - test)", "pp", 100.0, "pp",
           "probe_train_accuracy - probe_test_accuracy: the per-epoch measure of overfitting", "gap"),
    Metric("seconds", "epoch time", "s", 1.0, "s", "wall time of the epoch, its evaluation included"),
    Metric("elapsed_seconds", "time", "s", 1.0, "s", "wall time of this and all earlier epochs of the run", "time"),
    Metric("images_per_second", "throughput", "img/s", 1.0, "img/s", "training images per second of the epoch"),
    # final, in metrics.json
    Metric("test_accuracy", "test accuracy", "%", 100.0, "pp", f"{_CLEAN}, on all 10,000 CIFAR-10 test images"),
    Metric("test_loss", "test loss", "", 1.0, "", f"{_CLEAN}, on all 10,000 CIFAR-10 test images"),
    Metric("clean_train_accuracy", "clean train accuracy", "%", 100.0, "pp",
           f"{_CLEAN}, on every image of the run's training subset"),
    Metric("gap", "gap (train - test)", "pp", 100.0, "pp",
           "clean_train_accuracy - test_accuracy: the usual measure of overfitting"),
    Metric("attention_entropy", "attention entropy (nats)", "nats", 1.0, "nats",
           "per layer: mean entropy of the attention rows over 500 test images, heads and queries"),
    Metric("attention_distance", "mean attention distance (pixels)", "px", 1.0, "px",
           "per layer: mean distance between a patch query and the patch keys it attends to, 500 test images"),
    Metric("mean_attention_entropy", "attention entropy (mean over layers)", "nats", 1.0, "nats",
           "attention_entropy averaged over the layers"),
    Metric("mean_attention_distance", "attention distance (mean over layers)", "px", 1.0, "px",
           "attention_distance averaged over the layers"),
    Metric("train_seconds", "training time", "s", 1.0, "s", "sum of the run's epoch times"),
)  # fmt: skip

METRICS: dict[str, Metric] = {metric.key: metric for metric in _REGISTRY}

# Keys of history records and final metrics written before this registry, and what they are called now.
LEGACY_HISTORY_KEYS = {
    "train_loss": "running_train_loss",
    "train_accuracy": "running_train_accuracy",
    "train_eval_accuracy": "probe_train_accuracy",
    "test_loss": "probe_test_loss",
    "test_accuracy": "probe_test_accuracy",
}
LEGACY_FINAL_KEYS = {"train_accuracy": "clean_train_accuracy"}


def metric(key: str) -> Metric:
    """The registry entry of `key`; a ValueError lists the known keys."""
    if key not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {key!r}")
    return METRICS[key]


def label(key: str) -> str:
    """How figures and tables name `key`."""
    return metric(key).label


def short_label(key: str) -> str:
    """The heading of `key` in a narrow table column (its label where it has no short form)."""
    return metric(key).short or metric(key).label


def gap(train_accuracy: float, test_accuracy: float) -> float:
    """The train/test gap: clean train accuracy minus test accuracy (both eval mode, unaugmented)."""
    return train_accuracy - test_accuracy


def upgrade_record(record: Mapping) -> dict:
    """A history record with today's keys (see `LEGACY_HISTORY_KEYS`)."""
    if "probe_test_accuracy" in record:
        return dict(record)
    return {LEGACY_HISTORY_KEYS.get(key, key): value for key, value in record.items()}


def upgrade_final(metrics: Mapping) -> dict:
    """Final metrics with today's keys (see `LEGACY_FINAL_KEYS`)."""
    return {LEGACY_FINAL_KEYS.get(key, key): value for key, value in metrics.items()}
