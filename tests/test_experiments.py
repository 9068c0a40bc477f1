"""The grid runner: pairing, resuming, statistics and shipped checkpoints."""

import json

import pytest

from dropkey_lib.experiments import (
    export_checkpoint,
    export_checkpoints,
    grid_runs,
    load_results,
    main,
    run_grid,
)
from dropkey_lib.rundir import load_model, read_checkpoint_index
from dropkey_lib.stats import mean_ci
from dropkey_lib.verdicts import grid_summary


def test_grids_pair_seeds_across_configurations():
    runs = grid_runs("small-data", seeds=3)
    seeds = {run.name: sorted(r.config.seed for r in runs if r.name == run.name) for run in runs}
    assert all(s == [0, 1, 2] for s in seeds.values())
    assert len({(r.config.dim, r.config.depth, r.config.train_size, r.config.epochs) for r in runs}) == 1


def test_schedule_configurations_share_the_mean_ratio():
    runs = {r.name: r.config for r in grid_runs("small-data", seeds=1)}
    assert {runs[n].drop_ratio for n in ("dropkey-0.2", "dropkey-0.2-linear_down", "dropkey-0.2-linear_up")} == {0.2}


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
    run_grid("smoke", tmp_path, seeds=1)
    assert "2 already finished, 0 to go" in capsys.readouterr().out
    assert load_results(tmp_path / "smoke") == results


def test_an_exported_checkpoint_loads_and_records_its_accuracy(tmp_path):
    run_grid("smoke", tmp_path, seeds=1)
    entry = export_checkpoint(tmp_path / "smoke" / "none" / "seed0", tmp_path / "none.pt")
    model = load_model(entry["path"])
    assert not model.training and 0.0 <= entry["test_accuracy"] <= 1.0


def test_exporting_runs_writes_an_index_with_paths_relative_to_the_folder_above_results(tmp_path, capsys):
    root = tmp_path / "results"
    run_grid("smoke", root, seeds=1)
    assert main(["smoke", "--out", str(root), "--export", "none", "dropkey-0.2"]) == 0
    index = json.loads((root / "checkpoints.json").read_text())
    assert [entry["path"] for entry in index] == ["results/checkpoints/none.pt", "results/checkpoints/dropkey-0.2.pt"]
    loaded = read_checkpoint_index(root / "checkpoints.json")
    assert load_model(loaded["dropkey-0.2"]["path"]).config.mode == "dropkey"
    assert "results/checkpoints/none.pt: test accuracy" in capsys.readouterr().out


def test_exporting_an_unfinished_run_raises_naming_it(tmp_path):
    with pytest.raises(ValueError, match="'dropkey-0.2' seed 0 .* has not finished"):
        export_checkpoints("smoke", ["dropkey-0.2"], tmp_path / "results")
