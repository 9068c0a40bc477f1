"""Run configs: three nested objects, each checked once when it is made, changed and stored by field name."""

import json

import pytest

from dropkey_lib.attention import DropConfig, TokenLayout
from dropkey_lib.config import FLAT_FIELDS, TrainConfig, ViTConfig
from dropkey_lib.rundir import upgrade_config, upgrade_model_config


def test_a_training_config_holds_the_model_config_which_holds_the_drop_settings():
    config = TrainConfig()
    assert isinstance(config.model, ViTConfig) and isinstance(config.model.drop, DropConfig)
    assert config.drop is config.model.drop


def test_every_leaf_field_has_a_name_of_its_own_across_the_levels():
    assert FLAT_FIELDS["drop_ratio"] == ("model", "drop", "drop_ratio")
    assert FLAT_FIELDS["stem_width"] == ("model", "stem_width")
    assert FLAT_FIELDS["epochs"] == ("epochs",)


def test_replace_changes_fields_at_any_level_and_keeps_the_rest():
    config = TrainConfig().replace(drop_ratio=0.2, stem_width=48, epochs=3)
    assert (config.drop.drop_ratio, config.model.stem_width, config.epochs) == (0.2, 48, 3)
    assert config.drop.schedule == TrainConfig().drop.schedule and config.lr == TrainConfig().lr


def test_replace_with_an_unknown_field_raises_naming_it():
    with pytest.raises(ValueError, match="stem_widht"):
        TrainConfig().replace(stem_widht=48)


def test_a_config_survives_its_json_round_trip():
    config = TrainConfig().replace(mode="dropkey_block", window_size=5, train_size=1000)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_a_stored_config_with_an_unknown_field_raises_naming_it():
    settings = TrainConfig().to_dict()
    settings["model"]["drop"]["ratio_typo"] = 0.1
    with pytest.raises(ValueError, match="ratio_typo"):
        TrainConfig.from_dict(settings)


def test_mode_none_drops_nothing_whatever_ratio_was_asked():
    assert DropConfig(mode="none", drop_ratio=0.3).drop_ratio == 0.0
    assert not DropConfig(mode="none").active and DropConfig(mode="dropkey", drop_ratio=0.1).active


def test_each_layer_gets_its_ratio_from_the_schedule_as_a_constant_layer_config():
    layers = DropConfig(mode="dropkey", drop_ratio=0.1, schedule="linear_down").layer_drops(3)
    assert [layer.drop_ratio for layer in layers] == pytest.approx([0.2, 0.1, 0.0])
    assert {(layer.mode, layer.schedule) for layer in layers} == {("dropkey", "constant")}


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: DropConfig(mode="drop_key"), "mode"),
        (lambda: DropConfig(drop_ratio=1.0), "drop_ratio"),
        (lambda: DropConfig(schedule="cosine"), "schedule"),
        (lambda: DropConfig(window_size=4), "window_size"),
        (lambda: ViTConfig(dim=30, num_heads=4), "num_heads"),
        (lambda: ViTConfig(stem="resnet"), "stem"),
        (lambda: ViTConfig(drop=DropConfig(drop_ratio=0.7)), "drop_ratio"),  # the default schedule needs < 2/3
        (lambda: TrainConfig(augment="rotate"), "augment"),
        (lambda: TrainConfig(label_smoothing=1.0), "label_smoothing"),
        (lambda: TokenLayout((8, 0)), "grid_size"),
        (lambda: TokenLayout((8, 8), -1), "num_prefix_tokens"),
    ],
)
def test_an_invalid_setting_raises_naming_it_when_the_config_is_made(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_the_model_config_knows_its_token_layout():
    assert ViTConfig(pool="cls").layout == TokenLayout((8, 8), 1)
    assert ViTConfig(pool="mean", patch_size=8).layout == TokenLayout((4, 4), 0)


def test_an_old_flat_config_is_nested_by_field_name():
    old = {"mode": "dropout", "drop_ratio": 0.2, "dim": 64, "epochs": 20, "stem": "conv", "pool": "mean"}
    config = TrainConfig.from_dict(upgrade_config(old))
    assert (config.drop.mode, config.drop.drop_ratio, config.model.dim, config.epochs) == ("dropout", 0.2, 64, 20)


def test_an_old_flat_model_config_is_nested_and_ignores_training_fields():
    old = {"dim": 32, "depth": 2, "num_heads": 2, "mode": "dropkey", "drop_ratio": 0.1, "epochs": 4}
    model = ViTConfig.from_dict(upgrade_model_config(old))
    assert (model.dim, model.stem, model.pool, model.drop.mode) == (32, "patch", "cls", "dropkey")
