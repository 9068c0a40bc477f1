"""The committed results: the grids are complete and paired, and the shipped checkpoints are what they claim to be.

The recorded checkpoint accuracies were measured on the JPEG image-folder copy of CIFAR-10 (`cifar10-jpeg.tar.gz`);
each entry of results/checkpoints.json names its copy (`data`) and the fingerprint of its test set
(`test_set_sha256`). Another copy, such as the original python files, has other pixels and other accuracies, so the
re-evaluation compares with the recorded number only on the test set it was recorded on."""

import os
from pathlib import Path

import pytest

from dropkey_lib import rundir, verdicts
from dropkey_lib.config import TrainConfig
from dropkey_lib.data import load_cifar10
from dropkey_lib.experiments import GRIDS, fingerprint_test_set, load_results
from dropkey_lib.rundir import load_model
from dropkey_lib.train import evaluate

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT_INDEX = ROOT / "results" / "checkpoints.json"
REAL_DATA = os.environ.get("DROPKEY_DATA")


# The committed grids: the 5-seed grid of the earlier regime, the 10-seed grid that answers the first question
# (notebook 10, section 11), and the pilot of the pre-registered study (results/preregistration.md). Each must hold
# every seed its grid was planned with (`experiments.Grid.seeds`).
COMMITTED_GRIDS = ("small-data", "small-data-conv-q1", "pilot-regime")


@pytest.mark.parametrize("grid", COMMITTED_GRIDS)
def test_every_configuration_of_a_committed_grid_has_the_same_seeds_so_every_comparison_is_paired(grid):
    spec = GRIDS[grid]
    results = load_results(ROOT / "results" / grid)
    seeds = verdicts.check_grid(results, [name for name, _ in spec.configs], min_seeds=spec.seeds)
    assert seeds == list(range(spec.seeds))
    assert len(results) == len(spec.configs) * spec.seeds


# The confirmatory grid of the pre-registered study runs in parts (results/preregistration.md, "Running protocol"):
# each part commits whole seeds, from seed 0, with every configuration, until all of the grid's seeds are in.
GRIDS_IN_PARTS = ("confirmatory",)


@pytest.mark.parametrize("grid", GRIDS_IN_PARTS)
def test_a_grid_run_in_parts_holds_whole_seeds_from_seed_0_with_every_configuration(grid):
    spec = GRIDS[grid]
    results = load_results(ROOT / "results" / grid)
    seeds = verdicts.check_grid(results, [name for name, _ in spec.configs], min_seeds=1)
    assert seeds == list(range(len(seeds))) and len(seeds) <= spec.seeds
    assert len(results) == len(spec.configs) * len(seeds)


@pytest.mark.parametrize("grid", COMMITTED_GRIDS + GRIDS_IN_PARTS)
def test_every_committed_run_used_its_grid_configuration_and_the_real_data(grid):
    for m in load_results(ROOT / "results" / grid):
        assert TrainConfig.from_dict(m["config"]) == GRIDS[grid].run_config(m["run"], m["seed"])
        assert m["data"].startswith("CIFAR-10"), m["data"]


def test_the_shipped_checkpoints_cover_no_regulariser_dropout_and_dropkey():
    index = rundir.read_checkpoint_index(CHECKPOINT_INDEX)
    models = [load_model(entry["path"]) for entry in index.values()]
    assert {model.config.drop.mode for model in models} >= {"none", "dropout", "dropkey"}
    assert not any(model.training for model in models)
    assert sum(entry["path"].stat().st_size for entry in index.values()) < 10_000_000  # "a few MB in all"


def test_each_shipped_checkpoint_names_the_copy_of_cifar10_its_accuracy_was_measured_on():
    for name, entry in rundir.read_checkpoint_index(CHECKPOINT_INDEX).items():
        assert entry["data"].startswith("CIFAR-10 (") and len(entry["test_set_sha256"]) == 16, name


@pytest.mark.skipif(not REAL_DATA, reason="set DROPKEY_DATA to a copy of CIFAR-10 to re-evaluate the checkpoints")
def test_each_shipped_checkpoint_reproduces_its_recorded_test_accuracy_within_half_a_point():
    data = load_cifar10(REAL_DATA)
    assert len(data.test_labels) == 10_000
    loaded = fingerprint_test_set(data.test_images, data.test_labels)
    for name, entry in rundir.read_checkpoint_index(CHECKPOINT_INDEX).items():
        if entry["test_set_sha256"] != loaded:
            pytest.skip(
                f"{name} was scored on {entry['data']} (test set {entry['test_set_sha256']}), but {data.source} "
                f"(test set {loaded}) has other pixels: its accuracy is not the recorded one"
            )
        _, accuracy = evaluate(load_model(entry["path"]), data.test_images, data.test_labels)
        assert abs(accuracy - entry["test_accuracy"]) <= 0.005, (
            f"{name}: {accuracy:.2%} vs {entry['test_accuracy']:.2%} on {entry['data']}"
        )
