"""The live training plot and the training dashboard, driven from code with tiny synthetic data."""

import pytest
from tiny import tiny_config, tiny_data

from dropkey_lib import i18n
from dropkey_lib import train as training
from dropkey_lib.widgets import LiveTrainingPlot, TrainingDashboard, render_curves, train_size_options

PNG = b"\x89PNG\r\n\x1a\n"


def record(epoch: int) -> dict:
    return dict(
        epoch=epoch,
        lr=1e-3,
        running_train_loss=2.0 / epoch,
        running_train_accuracy=0.1 * epoch,
        probe_train_accuracy=0.12 * epoch,
        probe_test_loss=2.1 / epoch,
        probe_test_accuracy=0.1 * epoch,
        seconds=1.0,
        images_per_second=100.0,
    )


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


def test_render_curves_gives_png_with_and_without_history():
    assert render_curves([]).startswith(PNG)
    assert render_curves([record(1), record(2)], epochs=5, title="x").startswith(PNG)


def test_live_plot_reads_records_written_before_the_metrics_registry():
    old = dict(epoch=1, lr=1e-3, train_loss=2.0, train_accuracy=0.1, train_eval_accuracy=0.12, test_loss=2.1,
               test_accuracy=0.1, seconds=1.0, images_per_second=100.0)  # fmt: skip
    live = LiveTrainingPlot(epochs=2, show=False)
    live(old)
    assert live.records == [record(1)] and live.png().startswith(PNG)


def test_live_plot_updates_one_display_handle_per_epoch(monkeypatch):
    handles = []

    def fake_display(obj, display_id=False):
        assert display_id is True
        handles.append(FakeHandle())
        return handles[-1]

    monkeypatch.setattr("IPython.display.display", fake_display)
    live = LiveTrainingPlot(epochs=2)
    result = training.train(tiny_config(), data=tiny_data(), progress=False, callback=live)
    assert len(handles) == 1  # one display, then only in-place updates
    assert len(handles[0].updates) == 2 and all(u.data.startswith(PNG) for u in handles[0].updates)
    assert [r["epoch"] for r in live.records] == [1, 2]
    assert live.records == result.history


def test_live_plot_can_draw_into_an_image_widget():
    import ipywidgets

    image = ipywidgets.Image(format="png")
    live = LiveTrainingPlot(epochs=3, image=image)
    assert bytes(image.value).startswith(PNG)
    live(record(1))
    assert live.records[-1]["epoch"] == 1 and "epoch 1/3" in live.status()


def test_train_size_options_end_with_all_images():
    options = train_size_options(5000, [4000])
    assert options[-1] == ("all (5,000)", None)
    assert [v for _, v in options[:-1]] == [1000, 2000, 4000]


@pytest.fixture
def dashboard():
    return TrainingDashboard(tiny_data(), base=tiny_config(epochs=1))


def test_dashboard_starts_from_the_base_config(dashboard):
    assert dashboard.config() == tiny_config(epochs=1)
    assert bytes(dashboard.plot.value).startswith(PNG)
    assert "no rows yet" in dashboard.table.value
    bundle = dashboard._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("TrainingDashboard")


def test_a_click_trains_with_the_library_function_and_adds_a_row(dashboard, monkeypatch):
    calls = []
    real_train = training.train

    def spy(config, **kwargs):
        calls.append((config, kwargs))
        assert dashboard.train_button.disabled  # disabled while training
        return real_train(config, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    dashboard.mode.value = "dropout"
    dashboard.epochs.value = 2
    dashboard.train_button.click()
    assert len(calls) == 1
    config, kwargs = calls[0]
    assert config.drop.mode == "dropout" and config.epochs == 2 and kwargs["data"] is dashboard.data
    assert kwargs["callback"] is dashboard.live
    assert not dashboard.train_button.disabled
    assert len(dashboard.runs) == 1 and dashboard.runs[0].config.drop.mode == "dropout"
    assert dashboard.table.value.count("<tr>") == 2  # heading + one run
    assert "dropout" in dashboard.table.value and "finished" in dashboard.message.value
    assert len(dashboard.live.records) == 2
    dashboard.mode.value = "none"
    dashboard.train_button.click()
    assert dashboard.table.value.count("<tr>") == 3 and dashboard.runs[1].config.drop.drop_ratio == 0.0


def test_the_seed_box_sets_the_runs_seed_and_the_table_shows_it(dashboard, monkeypatch):
    seeds = []
    real_train = training.train

    def spy(config, **kwargs):
        seeds.append(config.seed)
        assert dashboard.seed.disabled  # no change of seed while a run trains
        return real_train(config, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    assert dashboard.seed.value == tiny_config().seed
    dashboard.seed.value = 3
    dashboard.train_button.click()
    assert seeds == [3] and dashboard.runs[0].config.seed == 3 and not dashboard.seed.disabled
    assert "<th>seed</th>" in dashboard.table.value
    assert dashboard.live.title.endswith("seed 3")  # the live plot's title names the seed


def test_the_same_seed_repeats_a_run_exactly(dashboard):
    dashboard.seed.value = 1
    first = dashboard.train()
    second = dashboard.train()
    assert first.history[-1]["probe_test_accuracy"] == second.history[-1]["probe_test_accuracy"]
    assert [r["running_train_loss"] for r in first.history] == [r["running_train_loss"] for r in second.history]


def test_the_ratio_slider_offers_only_ratios_the_schedule_accepts(dashboard):
    dashboard.schedule.value = "constant"
    dashboard.drop_ratio.value = 0.6  # a constant ratio of 0.6 is allowed
    assert dashboard.drop_ratio.max == pytest.approx(0.95) and "cannot be trained" not in dashboard.message.value
    dashboard.schedule.value = "linear_down"  # its first layer would drop 2 * 0.6: the slider stops below 0.5
    assert dashboard.drop_ratio.max == pytest.approx(0.45) and dashboard.drop_ratio.value == pytest.approx(0.45)
    assert "cannot be trained" not in dashboard.message.value


def test_settings_that_cannot_be_trained_show_the_reason_and_train_nothing(dashboard, monkeypatch):
    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("an invalid config was trained"))
    monkeypatch.setattr(dashboard, "config", lambda: dashboard.base.replace(dim=31))  # 31 channels over the heads
    assert dashboard.train() is None
    assert "cannot be trained" in dashboard.message.value and "num_heads" in dashboard.message.value
    assert dashboard.runs == [] and not dashboard.train_button.disabled


def test_a_failing_run_shows_the_error_instead_of_raising(dashboard, monkeypatch):
    def diverge(*args, **kwargs):
        raise training.TrainingDiverged("the loss became nan; try a lower --lr")

    monkeypatch.setattr(training, "train", diverge)
    assert dashboard.train() is None
    assert "TrainingDiverged" in dashboard.message.value and "lower" in dashboard.message.value
    assert not dashboard.train_button.disabled and not dashboard.busy


def test_runs_can_be_saved_to_folders(tmp_path):
    dashboard = TrainingDashboard(tiny_data(), base=tiny_config(epochs=1), out_dir=tmp_path)
    dashboard.train()
    assert (tmp_path / "run-1" / "history.json").is_file()


def test_the_dashboard_shows_the_refreshed_duration_estimate_with_the_first_one(dashboard, monkeypatch):
    shown = []

    def estimating_train(config, *, on_estimate, **kwargs):
        for seconds in (4260.0, 1500.0):  # the first steps, then the first epoch
            on_estimate(seconds)
            shown.append(dashboard.message.value)
        raise KeyboardInterrupt  # enough: nothing else of the run matters here

    monkeypatch.setattr(training, "train", estimating_train)
    dashboard.train_button.click()
    assert "about 1 h 11 min ..." in shown[0]
    assert "about 25 min 00 s (refreshed after the first epoch; it was 1 h 11 min) ..." in shown[1]


@pytest.fixture
def chinese():
    i18n.use_language("zh_CN")
    yield
    i18n.use_language("en")


def test_in_chinese_the_dashboards_controls_and_messages_are_chinese(chinese):
    dashboard = TrainingDashboard(tiny_data(), base=tiny_config(epochs=1))
    assert (dashboard.drop_ratio.description, dashboard.train_button.description) == ("丢弃率", "训练")
    assert dashboard.train_size.options[-1][0].startswith("全部")
    assert "各层的丢弃率" in dashboard.message.value
    dashboard.train_button.click()
    assert "完成" in dashboard.message.value and dashboard.train_button.description == "训练"
    assert "训练仪表盘" in dashboard.widget.children[0].value


def test_in_chinese_the_plot_stays_english_for_want_of_a_chinese_font(chinese):
    dashboard = TrainingDashboard(tiny_data(), base=tiny_config(epochs=1))
    dashboard.train_button.click()
    assert dashboard.live.status().isascii()
