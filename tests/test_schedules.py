"""Drop-ratio schedules over depth."""

import pytest

from dropkey_lib.config import TrainConfig
from dropkey_lib.schedules import SCHEDULES, drop_ratios, max_drop_ratio


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("depth", [1, 2, 4, 12])
def test_every_schedule_has_the_requested_mean(schedule, depth):
    ratios = drop_ratios(0.15, depth, schedule)
    assert len(ratios) == depth
    assert sum(ratios) / depth == pytest.approx(0.15)


def test_constant_is_the_same_ratio_in_every_layer():
    assert drop_ratios(0.2, 5, "constant") == [0.2] * 5


def test_linear_down_decreases_from_twice_the_ratio_to_zero():
    assert drop_ratios(0.1, 3, "linear_down") == pytest.approx([0.2, 0.1, 0.0])


def test_linear_up_is_linear_down_reversed():
    assert drop_ratios(0.1, 6, "linear_up") == drop_ratios(0.1, 6, "linear_down")[::-1]


def test_linear_steps_are_equal():
    ratios = drop_ratios(0.2, 5, "linear_down")
    steps = [a - b for a, b in zip(ratios, ratios[1:])]
    assert steps == pytest.approx([steps[0]] * 4)


def test_single_layer_gets_the_ratio_whatever_the_schedule():
    assert drop_ratios(0.7, 1, "linear_down") == [0.7]


def test_linear_schedules_reject_a_mean_that_would_need_a_ratio_of_one():
    with pytest.raises(ValueError, match="ratio"):
        drop_ratios(0.5, 4, "linear_down")


@pytest.mark.parametrize("drop_ratio", [-0.1, 1.0, float("nan")])
def test_invalid_ratio_raises_naming_ratio(drop_ratio):
    with pytest.raises(ValueError, match="ratio"):
        drop_ratios(drop_ratio, 4, "constant")


def test_unknown_schedule_raises_naming_schedule():
    with pytest.raises(ValueError, match="schedule"):
        drop_ratios(0.1, 4, "cosine")


@pytest.mark.parametrize("depth", [0, -1, 2.5])
def test_invalid_depth_raises_naming_depth(depth):
    with pytest.raises(ValueError, match="depth"):
        drop_ratios(0.1, depth, "constant")


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("depth", [1, 6])
def test_max_drop_ratio_is_the_bound_that_drop_ratios_accepts(schedule, depth):
    bound = max_drop_ratio(schedule, depth)
    assert max(drop_ratios(bound - 0.01, depth, schedule)) < 1
    if bound < 1:
        with pytest.raises(ValueError, match="drop_ratio"):
            drop_ratios(bound, depth, schedule)


def test_down_to_half_falls_from_one_and_a_half_times_to_half_the_ratio():
    assert drop_ratios(0.2, 3, "down_to_half") == pytest.approx([0.3, 0.2, 0.1])


def test_up_from_half_is_down_to_half_reversed():
    assert drop_ratios(0.2, 5, "up_from_half") == drop_ratios(0.2, 5, "down_to_half")[::-1]


@pytest.mark.parametrize("schedule", ["down_to_half", "up_from_half"])
def test_every_layer_drops_keys_with_the_half_schedules_even_with_two_layers(schedule):
    assert min(drop_ratios(0.1, 2, schedule)) == pytest.approx(0.05)


def test_linear_down_leaves_the_last_layer_without_drops():
    # Why the half schedules exist: with 2 layers the full-range schedule drops keys in one layer only.
    assert drop_ratios(0.1, 2, "linear_down") == [0.2, 0.0]


def test_the_default_schedule_decreases_with_depth_and_drops_keys_in_every_layer():
    for depth in (2, 4, 12):
        ratios = drop_ratios(0.1, depth)
        assert ratios == sorted(ratios, reverse=True) and ratios[0] > ratios[-1] > 0


def test_the_default_model_drops_keys_in_every_attention_layer():
    config = TrainConfig()
    ratios = config.model.drop.layer_ratios(config.model.depth)
    assert ratios == pytest.approx([0.15, 0.05])
