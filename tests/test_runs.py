"""Reading and comparing finished runs: load a run folder, the table of final metrics with the gap, the plot."""

import json

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from tiny import tiny_config, tiny_data

from dropkey_lib.plots import plot_runs, plot_time_to_accuracy
from dropkey_lib.rundir import Run, find_runs, load_model, load_run, load_runs, ship_run
from dropkey_lib.runs import ensure_run, summary_table
from dropkey_lib.train import train


def stop_after_epoch_1(record: dict) -> None:
    if record["epoch"] == 1:
        raise RuntimeError("stop after epoch 1")  # the checkpoint of epoch 1 is written before the callback runs


@pytest.fixture(scope="module")
def run_folders(tmp_path_factory):
    """Two finished runs (none and dropkey, same seed) in one parent folder."""
    parent = tmp_path_factory.mktemp("runs")
    data = tiny_data()
    for mode in ("none", "dropkey"):
        train(tiny_config(mode=mode), data=data, out_dir=parent / mode, progress=False)
    return parent


def test_load_run_reads_config_and_history(run_folders):
    run = load_run(run_folders / "dropkey")
    assert run.name == "dropkey" and run.path == run_folders / "dropkey"
    assert run.config.to_dict() == json.loads((run_folders / "dropkey" / "config.json").read_text())
    assert [r["epoch"] for r in run.history] == [1, 2]
    assert run.complete


def test_load_runs_finds_every_run_folder_sorted(run_folders):
    (run_folders / "not-a-run").mkdir(exist_ok=True)
    assert [p.name for p in find_runs(run_folders)] == ["dropkey", "none"]
    assert [r.name for r in load_runs(run_folders)] == ["dropkey", "none"]
    assert [r.name for r in load_runs([run_folders / "none", run_folders / "dropkey"])] == ["none", "dropkey"]
    assert [r.name for r in load_runs(run_folders / "none")] == ["none"]


def test_missing_files_give_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="no run folders"):
        load_runs(tmp_path)


def test_table_has_final_metrics_and_the_gap_uses_clean_train_accuracy(run_folders):
    runs = load_runs(run_folders)
    table = summary_table(runs)
    assert len(table) == 2
    for run, row in zip(runs, table.rows):
        last = run.history[-1]
        assert row["probe_train_accuracy"] == last["probe_train_accuracy"]
        assert row["probe_test_accuracy"] == last["probe_test_accuracy"]
        assert row["probe_gap"] == pytest.approx(last["probe_train_accuracy"] - last["probe_test_accuracy"])
        assert row["elapsed_seconds"] == pytest.approx(sum(r["seconds"] for r in run.history))
    assert [row["seed"] for row in table.rows] == [run.config.seed for run in runs]
    assert table.rows[1]["drop_ratio"] == "-"  # plain attention has no drop ratio
    assert table.rows[0]["drop_ratio"] == 0.2 and table.rows[0]["schedule"] == "down_to_half"  # the default
    text, page = str(table), table._repr_html_()
    assert "gap" in text and "dropkey" in text and len(text.splitlines()) == 4  # headings, rule, two runs
    assert page.count("<tr>") == 3 and ">gap</th>" in page


def test_gap_curve_is_clean_train_minus_test(run_folders):
    run = load_run(run_folders / "none")
    expected = [r["probe_train_accuracy"] - r["probe_test_accuracy"] for r in run.history]
    assert run.curve("probe_gap") == pytest.approx(expected)


def test_plot_has_one_panel_per_metric_and_one_line_per_run(run_folders):
    runs = load_runs(run_folders)
    fig = plot_runs(runs)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert sorted(line.get_label() for line in ax.get_lines() if line.get_label() in ("none", "dropkey")) == [
            "dropkey",
            "none",
        ]
    with pytest.raises(ValueError, match="unknown metric"):
        plot_runs(runs, metrics=("nope",))
    matplotlib.pyplot.close("all")


def test_run_in_memory_compares_like_a_loaded_one(run_folders):
    config = tiny_config(mode="dropkey")
    result = train(config, data=tiny_data(), progress=False)
    in_memory = Run.from_result("dropkey", config, result)
    loaded = load_run(run_folders / "dropkey")
    assert in_memory.config == loaded.config
    assert summary_table([in_memory]).rows[0]["probe_test_accuracy"] == loaded.history[-1]["probe_test_accuracy"]


def test_ensure_run_trains_once_then_loads(tmp_path, monkeypatch):
    data = tiny_data()
    first = ensure_run(tiny_config(), tmp_path / "run", data=data, progress=False)
    assert first.complete

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("dropkey_lib.train.train", must_not_train)
    again = ensure_run(tiny_config(), tmp_path / "run", data=data, progress=False)
    assert again.history == first.history
    with pytest.raises(ValueError, match="ratio"):
        ensure_run(tiny_config(drop_ratio=0.3), tmp_path / "run", data=data, progress=False)


def test_a_shipped_run_loads_like_the_original_and_holds_no_optimizer_state(tmp_path):
    result = train(tiny_config(), data=tiny_data(), out_dir=tmp_path / "run", progress=False)
    shipped = ship_run(tmp_path / "run", tmp_path / "shipped")
    assert sorted(p.name for p in shipped.iterdir()) == ["config.json", "history.json", "model.pt"]
    assert load_run(shipped).history == load_run(tmp_path / "run").history
    model = load_model(shipped)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), result.model.state_dict().values()))


def test_an_unfinished_run_is_not_shipped(tmp_path):
    with pytest.raises(RuntimeError, match="stop after epoch 1"):
        train(tiny_config(), data=tiny_data(), out_dir=tmp_path / "run", progress=False, callback=stop_after_epoch_1)
    with pytest.raises(ValueError, match="has not finished"):
        ship_run(tmp_path / "run", tmp_path / "shipped")


def test_time_to_accuracy_draws_one_line_per_run_at_the_cumulative_minutes(run_folders):
    runs = load_runs(run_folders)
    ax = plot_time_to_accuracy(runs)
    assert len(ax.get_lines()) == len(runs) + 2  # one per run, and the 60% and 70% lines
    seconds = [r["seconds"] for r in runs[0].history]
    assert list(ax.get_lines()[0].get_xdata()) == pytest.approx([seconds[0] / 60, sum(seconds) / 60])
