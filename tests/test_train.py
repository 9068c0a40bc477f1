"""Training: history, checkpoints, resume, interruption, divergence, and the CLI."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest
import torch
from tiny import tiny_config, tiny_data

import dropkey_lib.train as train_module
from dropkey_lib.config import FLAT_FIELDS, TrainConfig, ViTConfig
from dropkey_lib.rundir import load_model, upgrade_config
from dropkey_lib.train import (
    DurationEstimator,
    TrainingDiverged,
    TrainingInterrupted,
    build_parser,
    config_from_args,
    learning_rate,
    main,
    parse_args,
    train,
)
from dropkey_lib.vit import TinyViT, count_parameters


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def interrupt_at_batch(monkeypatch, batch: int) -> None:
    """Make Ctrl-C arrive while batch number `batch` (counting from 1 over the whole run) is being trained."""
    real_iterate = train_module.iterate_batches
    served = {"count": 0}

    def iterate(*args, **kwargs):
        for item in real_iterate(*args, **kwargs):
            served["count"] += 1
            if served["count"] == batch:
                signal.raise_signal(signal.SIGINT)
            yield item

    monkeypatch.setattr(train_module, "iterate_batches", iterate)


# --- schedule and config --------------------------------------------------------------------------------------


def test_learning_rate_warms_up_linearly_then_decays_to_zero():
    assert learning_rate(0, 100, 10, 1.0) == pytest.approx(0.1)
    assert learning_rate(9, 100, 10, 1.0) == pytest.approx(1.0)
    assert learning_rate(10, 100, 10, 1.0) == pytest.approx(1.0)
    assert learning_rate(55, 100, 10, 1.0) == pytest.approx(0.5)
    assert learning_rate(100, 100, 10, 1.0) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "overrides, name",
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": -1}, "batch_size"),
        ({"train_size": 5}, "train_size"),
        ({"lr": 0.0}, "lr"),
        ({"augment": "rotate"}, "augment"),
        ({"mode": "x"}, "mode"),
        ({"drop_ratio": 1.0}, "drop_ratio"),
    ],
)
def test_invalid_config_raises_naming_the_field(overrides, name):
    with pytest.raises(ValueError, match=name):
        TrainConfig().replace(**overrides)


def test_quick_config_is_smaller_than_full():
    quick, full = TrainConfig.create(quick=True), TrainConfig.create(quick=False)
    assert quick.train_size < 10_000 and full.train_size is None and quick.model.dim < full.model.dim


# --- a run ----------------------------------------------------------------------------------------------------


def test_history_has_one_record_per_epoch_with_train_and_test_metrics():
    result = train(tiny_config(), data=tiny_data(), progress=False)
    assert [r["epoch"] for r in result.history] == [1, 2]
    keys = ("running_train_loss", "running_train_accuracy", "probe_train_accuracy", "probe_test_loss")
    for key in (*keys, "probe_test_accuracy", "seconds"):
        assert all(key in record for record in result.history)
    assert result.test_accuracy == result.history[-1]["probe_test_accuracy"]
    assert not result.model.training


def test_history_stamps_every_epoch_with_the_time_to_reach_it():
    history = train(tiny_config(), data=tiny_data(), progress=False).history
    assert history[0]["elapsed_seconds"] == pytest.approx(history[0]["seconds"])
    assert history[1]["elapsed_seconds"] == pytest.approx(history[0]["seconds"] + history[1]["seconds"])
    assert all(datetime.fromisoformat(r["finished_at"]).tzinfo is not None for r in history)


def test_the_default_recipe_trains_the_conv_stem_model_with_mean_pooling():
    model_config = TrainConfig().model
    assert (model_config.stem, model_config.pool) == ("conv", "mean")
    assert count_parameters(TinyViT(model_config)) < 1_000_000


def test_a_run_can_train_the_plain_patch_embedding_model():
    result = train(tiny_config(stem="patch", pool="cls"), data=tiny_data(), progress=False)
    assert isinstance(result.model.patch_embed, torch.nn.Conv2d) and result.model.cls_token is not None


def test_callback_sees_every_epoch_as_it_ends():
    seen = []
    train(tiny_config(), data=tiny_data(), progress=False, callback=lambda record: seen.append(record["epoch"]))
    assert seen == [1, 2]


def test_same_seed_gives_the_same_weights():
    a = train(tiny_config(), data=tiny_data(), progress=False).model
    b = train(tiny_config(), data=tiny_data(), progress=False).model
    assert same_weights(a, b)


def test_every_mode_starts_from_the_same_initial_weights():
    models = [
        train(tiny_config(mode=m, epochs=1, lr=1e-12), data=tiny_data(), progress=False).model
        for m in ("none", "dropkey")
    ]
    for (name, a), b in zip(models[0].state_dict().items(), models[1].state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=0, msg=name)


def test_run_folder_holds_config_history_and_checkpoint(tmp_path):
    train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)
    assert json.loads((tmp_path / "config.json").read_text())["model"]["drop"]["mode"] == "dropkey"
    assert len(json.loads((tmp_path / "history.json").read_text())) == 2
    assert (tmp_path / "checkpoint.pt").is_file()
    assert not list(tmp_path.glob("*.tmp"))


def test_load_model_gives_the_trained_model_in_eval_mode(tmp_path):
    result = train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)
    loaded = load_model(tmp_path)
    assert not loaded.training and same_weights(loaded, result.model)


def test_load_model_needs_nothing_but_the_checkpoint_file(tmp_path):
    result = train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    del checkpoint["optimizer"], checkpoint["history"]  # the config (which holds the model's) alone rebuilds it
    torch.save(checkpoint, tmp_path / "model-only.pt")
    assert same_weights(load_model(tmp_path / "model-only.pt"), result.model)


def test_train_trains_a_model_it_is_given():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    before = model[1].weight.detach().clone()
    result = train(tiny_config(epochs=1), data=tiny_data(), progress=False, model=model)
    assert result.model is model and not torch.equal(model[1].weight, before)
    assert len(result.history) == 1 and not model.training


def test_load_model_refuses_a_checkpoint_of_a_model_that_is_not_a_tiny_vit(tmp_path):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    train(tiny_config(epochs=1), data=tiny_data(), out_dir=tmp_path, progress=False, model=model)
    with pytest.raises(ValueError, match="not a TinyViT"):
        load_model(tmp_path)


class FakeClock:
    """A clock for `DurationEstimator` that moves only when told: `clock.now += seconds`."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def steps_taking(estimator: DurationEstimator, clock: FakeClock, steps: int, seconds: float) -> list[float | None]:
    """Take `steps` optimiser steps of `seconds` each; what `estimator.step()` returned after each."""
    said = []
    for _ in range(steps):
        clock.now += seconds
        said.append(estimator.step())
    return said


def test_the_first_duration_estimate_comes_once_from_the_first_timed_steps():
    clock = FakeClock()
    estimator = DurationEstimator(steps_left=250, batch_size=10, eval_images_per_epoch=0, epochs_left=5, clock=clock)
    said = steps_taking(estimator, clock, 50, 3.0)  # 2 warm-up steps, then 20 timed ones
    assert said[21] == pytest.approx(22 * 3.0 + 228 * 3.0) and said[:21] + said[22:] == [None] * 49


def test_the_duration_estimate_is_refreshed_from_the_first_epoch():
    # The first steps ran beside another process starting at the same time (3 s a step); then alone (1 s a step).
    clock = FakeClock()
    estimator = DurationEstimator(steps_left=250, batch_size=10, eval_images_per_epoch=0, epochs_left=5, clock=clock)
    steps_taking(estimator, clock, 22, 3.0)
    steps_taking(estimator, clock, 28, 1.0)
    clock.now += 6.0  # the epoch's evaluation
    assert estimator.first_estimate == pytest.approx(750.0)
    assert estimator.epoch_end(seconds=100.0) == pytest.approx(100.0 + 4 * 100.0)  # so far + 4 epochs at its pace


def test_the_duration_estimate_is_refreshed_only_after_the_first_of_several_epochs():
    clock = FakeClock()
    estimator = DurationEstimator(steps_left=30, batch_size=10, eval_images_per_epoch=0, epochs_left=3, clock=clock)
    assert [estimator.epoch_end(seconds=10.0) is None for _ in range(3)] == [False, True, True]
    single = DurationEstimator(steps_left=10, batch_size=10, eval_images_per_epoch=0, epochs_left=1, clock=clock)
    assert single.epoch_end(seconds=10.0) is None  # nothing left to estimate


def test_an_epoch_too_short_for_the_first_estimate_replaces_it():
    clock = FakeClock()
    estimator = DurationEstimator(steps_left=8, batch_size=10, eval_images_per_epoch=0, epochs_left=2, clock=clock)
    steps_taking(estimator, clock, 4, 1.0)  # the first estimate needs 5 steps
    assert estimator.epoch_end(seconds=4.0) == pytest.approx(8.0)
    assert steps_taking(estimator, clock, 4, 1.0) == [None] * 4 and estimator.first_estimate is None


def test_on_estimate_hears_the_first_steps_then_the_first_epoch():
    estimates = []
    train(tiny_config(batch_size=10), data=tiny_data(), progress=False, on_estimate=estimates.append)
    assert len(estimates) == 2 and all(seconds > 0 for seconds in estimates)  # 6 steps per epoch: 5 are timed


def test_progress_prints_the_duration_estimate_then_the_refreshed_one_with_the_first(capsys):
    train(tiny_config(batch_size=10), data=tiny_data(), progress=True)
    out = capsys.readouterr().out
    first = re.search(r"estimated duration of this run: about (.+?) on this machine \(measured from", out)
    assert first is not None
    assert "estimated duration of this run after epoch 1: about " in out and f"(was {first[1]})" in out


def test_device_cpu_trains_like_the_default():
    a = train(tiny_config(), data=tiny_data(), progress=False).model
    b = train(tiny_config(), data=tiny_data(), progress=False, device="cpu").model
    assert same_weights(a, b)


def test_a_config_written_before_the_stem_existed_means_the_patch_stem_and_class_token():
    old = {"dim": 96, "depth": 4, "attention_mode": "dropkey", "ratio": 0.1}  # a TrainConfig of the first releases
    assert upgrade_config(old) == {
        "model": {
            "dim": 96,
            "depth": 4,
            "stem": "patch",
            "pool": "cls",
            "mlp_ratio": 4.0,
            "drop": {"mode": "dropkey", "drop_ratio": 0.1},
        }
    }
    assert upgrade_config({"stem": "conv", "pool": "mean", "mlp_ratio": 3.0})["model"]["stem"] == "conv"


def test_an_old_model_file_without_a_stem_still_loads_exactly(tmp_path):
    torch.manual_seed(0)
    old = TinyViT(ViTConfig(stem="patch", pool="cls", mlp_ratio=4.0, dim=32, depth=2, num_heads=2)).eval()
    # What the files written before the convolutional stem hold: a flat model config without stem and pool.
    flat = {"image_size": 32, "patch_size": 4, "num_classes": 10, "dim": 32, "depth": 2, "num_heads": 2}
    flat |= {"mode": "dropkey", "drop_ratio": 0.1, "schedule": "linear_down", "window_size": 3}
    torch.save({"model_config": flat, "model": old.state_dict()}, tmp_path / "old.pt")
    loaded = load_model(tmp_path / "old.pt")
    assert loaded.config.stem == "patch" and same_weights(loaded, old)


def test_an_existing_run_is_never_overwritten(tmp_path):
    train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)


def test_resume_with_a_different_config_raises_naming_the_difference(tmp_path):
    train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="ratio"):
        train(tiny_config(drop_ratio=0.3), data=tiny_data(), out_dir=tmp_path, resume=True, progress=False)


# --- interruption and resume ----------------------------------------------------------------------------------


def test_ctrl_c_saves_a_checkpoint_and_stops(tmp_path, monkeypatch):
    interrupt_at_batch(monkeypatch, 2)
    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert (checkpoint["epoch"], checkpoint["step_in_epoch"]) == (0, 2)


@pytest.mark.parametrize("batch", [2, 4, 6])  # mid-epoch, at the end of epoch 1 (4 batches), in epoch 2
def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path, monkeypatch, batch):
    uninterrupted = train(tiny_config(), data=tiny_data(), progress=False)
    with monkeypatch.context() as patch:
        interrupt_at_batch(patch, batch)
        with pytest.raises(TrainingInterrupted):
            train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)
    resumed = train(tiny_config(), data=tiny_data(), out_dir=tmp_path, resume=True, progress=False)
    assert same_weights(resumed.model, uninterrupted.model)
    losses = [r["running_train_loss"] for r in resumed.history]
    assert losses == pytest.approx([r["running_train_loss"] for r in uninterrupted.history])


def test_a_nan_loss_stops_the_run_with_a_clear_message():
    with pytest.raises(TrainingDiverged, match="--lr"):
        train(tiny_config(lr=1e30, warmup_epochs=0.0), data=tiny_data(), progress=False)


# --- CLI ------------------------------------------------------------------------------------------------------


def test_cli_quick_run_prints_the_test_accuracy_last(tmp_path, capsys):
    assert main(["--quick", "--epochs", "1", "--train-size", "500", "--out", str(tmp_path / "run")]) == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line.startswith("test accuracy: ") and last_line.endswith("%")


def test_cli_rejects_an_invalid_ratio(capsys):
    assert main(["--drop-ratio", "1.5"]) == 2
    assert "ratio" in capsys.readouterr().err


def test_cli_ctrl_c_then_resume_finishes_the_run(tmp_path):
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "dropkey_lib.train",
        "--quick",
        "--epochs",
        "3",
        "--train-size",
        "1000",
        "--out",
        str(run),
    ]
    env = {**os.environ, "DROPKEY_QUICK": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "history.json").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr
    finished = subprocess.run(command + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1].startswith("test accuracy: ")
    assert len(json.loads((run / "history.json").read_text())) == 3


def test_cli_sets_every_config_field_by_its_name_including_the_stem_width():
    config = config_from_args(parse_args(["--stem-width", "48", "--window-size", "5", "--label-smoothing", "0"]))
    assert (config.model.stem_width, config.drop.window_size, config.label_smoothing) == (48, 5, 0.0)


def test_cli_has_a_flag_for_every_config_field():
    flags = {action.dest for action in build_parser()._actions}
    assert set(FLAT_FIELDS) <= flags


def test_cli_prints_the_drop_ratio_of_every_layer(tmp_path, capsys):
    main(["--quick", "--epochs", "1", "--train-size", "100", "--depth", "3", "--out", str(tmp_path / "run")])
    assert "drop ratio per layer, first to last: 0.15, 0.1, 0.05" in capsys.readouterr().out


def test_a_checkpoint_holds_the_config_once(tmp_path):
    train(tiny_config(), data=tiny_data(), out_dir=tmp_path, progress=False)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert "model_config" not in checkpoint and checkpoint["config"] == tiny_config().to_dict()
