"""The grid runner: pairing, resuming, statistics and shipped checkpoints."""

import json
import sys

import pytest
from test_train import interrupt_at_batch

from dropkey_lib import data as data_module
from dropkey_lib import rundir
from dropkey_lib.config import FLAT_FIELDS
from dropkey_lib.data import SAMPLE_PATH, load_cifar10
from dropkey_lib.experiments import (
    GRIDS,
    PINNED_FIELDS,
    export_checkpoint,
    export_checkpoints,
    fingerprint_test_set,
    grid_runs,
    load_results,
    main,
    print_run_result,
    run_grid,
    run_one,
)
from dropkey_lib.rundir import load_model, read_checkpoint_index
from dropkey_lib.stats import mean_ci
from dropkey_lib.train import TrainingInterrupted
from dropkey_lib.verdicts import grid_summary


def test_grids_pair_seeds_across_configurations():
    runs = grid_runs("small-data", seeds=3)
    seeds = {run.name: sorted(r.config.seed for r in runs if r.name == run.name) for run in runs}
    assert all(s == [0, 1, 2] for s in seeds.values())
    assert len({(r.config.model.dim, r.config.model.depth, r.config.train_size, r.config.epochs) for r in runs}) == 1


def test_schedule_configurations_share_the_mean_ratio():
    runs = {r.name: r.config for r in grid_runs("small-data", seeds=1)}
    assert {runs[n].drop.drop_ratio for n in ("dropkey-0.2", "dropkey-0.2-linear_down", "dropkey-0.2-linear_up")} == {
        0.2
    }


def test_a_grid_runs_the_seed_count_it_was_planned_with_unless_told_otherwise():
    assert {run.config.seed for run in grid_runs("small-data-conv-q1")} == set(range(10))
    assert {run.config.seed for run in grid_runs("small-data")} == set(range(5))
    assert {run.config.seed for run in grid_runs("small-data", seeds=2)} == {0, 1}


def test_grids_pin_every_config_field_instead_of_following_the_defaults():
    assert set(PINNED_FIELDS) == set(FLAT_FIELDS)
    model = GRIDS["full-data"].base.model
    assert (model.stem, model.pool, model.dim, model.depth, model.stem_width) == ("conv", "mean", 96, 2, 32)


def test_unknown_grid_raises_naming_grid():
    with pytest.raises(ValueError, match="grid"):
        grid_runs("huge")


def test_mean_ci_uses_the_t_distribution():
    mean, half_width = mean_ci([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0)
    assert half_width == pytest.approx(4.302653 * 1.0 / 3**0.5, rel=1e-5)


def test_paired_differences_compare_the_same_seeds():
    results = [{"run": "base", "seed": s, "acc": a} for s, a in enumerate([0.50, 0.60, 0.70])] + [
        {"run": "new", "seed": s, "acc": a} for s, a in enumerate([0.51, 0.61, 0.71])
    ]
    rows = {row["run"]: row for row in grid_summary(results, "acc", baseline="base")}
    assert rows["new"]["diff"] == pytest.approx(0.01)
    assert rows["new"]["diff_ci95"] == pytest.approx(0.0, abs=1e-9)  # a constant paired difference is certain


def test_a_grid_writes_metrics_and_skips_finished_runs(tmp_path, capsys):
    results = run_grid("smoke", tmp_path, seeds=1)
    assert {m["run"] for m in results} == {"none", "dropkey-0.2"}
    metrics = json.loads((tmp_path / "smoke" / "dropkey-0.2" / "seed0" / "metrics.json").read_text())
    assert len(metrics["attention_entropy"]) == 2 and "gap" in metrics
    assert metrics["layer_drop_ratios"] == [0.4, 0.0]  # the pinned schedule, linear_down, first layer first
    run_grid("smoke", tmp_path, seeds=1)
    assert "2 already finished, 0 to go" in capsys.readouterr().out
    assert load_results(tmp_path / "smoke") == results


FINISHED = {"run": "dropkey-0.1", "seed": 3, "test_accuracy": 0.4321, "gap": 0.15, "train_seconds": 99.0}


def test_a_finished_run_is_reported_with_its_outcome(capsys):
    print_run_result(FINISHED)
    assert "dropkey-0.1 seed 3: test 43.2%" in capsys.readouterr().out


def test_a_blind_grid_reports_which_run_finished_but_not_its_outcome(capsys):
    print_run_result(FINISHED, blind=True)
    out = capsys.readouterr().out
    assert "dropkey-0.1 seed 3: finished" in out and "43" not in out and "%" not in out


def test_the_confirmatory_grid_is_blind_and_the_exploratory_grids_are_not():
    assert {name for name, grid in GRIDS.items() if grid.blind} == {"confirmatory"}


def test_an_exported_checkpoint_loads_and_records_its_accuracy(tmp_path):
    run_grid("smoke", tmp_path, seeds=1)
    entry = export_checkpoint(tmp_path / "smoke" / "none" / "seed0", tmp_path / "none.pt")
    model = load_model(entry["path"])
    assert not model.training and 0.0 <= entry["test_accuracy"] <= 1.0
    data = load_cifar10()
    assert entry["data"] == data.source  # which copy of CIFAR-10 the accuracy was measured on
    assert entry["test_set_sha256"] == fingerprint_test_set(data.test_images, data.test_labels)


def test_exporting_runs_writes_an_index_with_paths_relative_to_the_folder_above_results(tmp_path, capsys):
    root = tmp_path / "results"
    run_grid("smoke", root, seeds=1)
    assert main(["smoke", "--out", str(root), "--export", "none", "dropkey-0.2"]) == 0
    index = json.loads((root / "checkpoints.json").read_text())
    assert [entry["path"] for entry in index] == ["results/checkpoints/none.pt", "results/checkpoints/dropkey-0.2.pt"]
    loaded = read_checkpoint_index(root / "checkpoints.json")
    assert load_model(loaded["dropkey-0.2"]["path"]).config.drop.mode == "dropkey"
    assert "results/checkpoints/none.pt: test accuracy" in capsys.readouterr().out


def test_exporting_an_unfinished_run_raises_naming_it(tmp_path):
    with pytest.raises(ValueError, match="'dropkey-0.2' seed 0 .* has not finished"):
        export_checkpoints("smoke", ["dropkey-0.2"], tmp_path / "results")


# --- on a Dask cluster (the optional `grid` extra) -------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_cluster():
    """Two single-threaded worker processes on localhost, the smallest real Dask cluster."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def local_pool_results(tmp_path_factory):
    """The smoke grid (two configurations, seed 0) on the default engine, a local pool of processes."""
    return run_grid("smoke", tmp_path_factory.mktemp("local"), seeds=1, workers=2)


def accuracies(results: list[dict]) -> dict[tuple[str, int], float]:
    return {(m["run"], m["seed"]): m["test_accuracy"] for m in results}


def test_a_grid_on_a_dask_cluster_gives_the_same_results_as_the_local_pool(tmp_path, dask_cluster, local_pool_results):
    on_dask = run_grid("smoke", tmp_path, seeds=1, scheduler=dask_cluster.scheduler_address)
    assert len(on_dask) == 2
    assert accuracies(on_dask) == accuracies(local_pool_results)  # identical, run by run and seed by seed
    assert [m["config"] for m in on_dask] == [m["config"] for m in local_pool_results]


def test_a_run_interrupted_on_a_lost_worker_is_resumed_and_the_grid_completes(
    tmp_path, monkeypatch, dask_cluster, local_pool_results
):
    # What a worker lost mid-run leaves behind: a checkpoint from the middle of the run, and no metrics.
    run = next(r for r in grid_runs("smoke", seeds=1) if r.name == "dropkey-0.2")
    with monkeypatch.context() as patch:
        interrupt_at_batch(patch, 2)
        with pytest.raises(TrainingInterrupted):
            run_one(run, tmp_path / "smoke")
    folder = tmp_path / "smoke" / run.folder
    assert rundir.has_checkpoint(folder) and not rundir.is_finished(folder)
    resumed = run_grid("smoke", tmp_path, seeds=1, scheduler=dask_cluster.scheduler_address)
    assert accuracies(resumed) == accuracies(local_pool_results)
    history = json.loads((folder / "history.json").read_text())
    assert len(history) == 1  # one epoch, trained half before and half after the interruption


def test_run_grid_without_dask_installed_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"dropkey_lib\[grid\]"):
        run_grid("smoke", tmp_path, seeds=1, scheduler="tcp://127.0.0.1:1")


def finished_run(root, grid: str = "smoke", name: str = "none") -> None:
    """A run folder that counts as finished (it has metrics), enough for --export to accept the run's name."""
    folder = root / grid / name / "seed0"
    folder.mkdir(parents=True)
    rundir.write_metrics(folder, {"run": name, "seed": 0})


def test_export_refuses_the_bundled_sample_given_as_data(tmp_path):
    finished_run(tmp_path / "results")
    with pytest.raises(ValueError, match="data: .* is not the full CIFAR-10 test set"):
        main(["smoke", "--out", str(tmp_path / "results"), "--data", str(SAMPLE_PATH), "--export", "none"])
    assert not (tmp_path / "results" / "checkpoints.json").exists()


def test_export_in_quick_mode_without_data_refuses_the_sample_fallback(tmp_path, monkeypatch):
    finished_run(tmp_path / "results")
    monkeypatch.delenv("DROPKEY_DATA", raising=False)
    monkeypatch.setenv("DROPKEY_QUICK", "1")
    monkeypatch.setenv("DROPKEY_SAMPLE_FALLBACK", "1")  # as on Binder: loading falls back to the sample
    monkeypatch.setattr(data_module, "search_cache", missing_cifar10)  # no CIFAR-10 anywhere, no download
    with pytest.raises(ValueError, match="bundled CIFAR-10 sample .* is not the full CIFAR-10 test set"):
        main(["smoke", "--out", str(tmp_path / "results"), "--export", "none"])
    assert not (tmp_path / "results" / "checkpoints.json").exists()


def missing_cifar10(cache, download):
    raise data_module.DataNotFoundError("no CIFAR-10 here")


def test_finished_seeds_are_those_every_configuration_has_without_reading_an_outcome(tmp_path):
    spec = GRIDS["confirmatory"]
    for name, _ in spec.configs:
        (tmp_path / name / "seed0").mkdir(parents=True)
        (tmp_path / name / "seed0" / "metrics.json").write_text("not read")  # not even JSON: only its presence counts
    (tmp_path / spec.configs[0][0] / "seed1").mkdir()
    (tmp_path / spec.configs[0][0] / "seed1" / "metrics.json").write_text("not read")
    assert spec.finished_seeds(tmp_path) == [0]
