"""Argument checks: each returns the value it accepts and raises a ValueError naming the argument otherwise."""

import math

import pytest

from dropkey_lib.checks import check_choice, check_drop_ratio, check_positive_int


def test_a_positive_int_is_returned():
    assert check_positive_int(3, "epochs") == 3


@pytest.mark.parametrize("value", [0, -1, 2.0, "3", True, None])
def test_anything_but_a_positive_int_is_rejected_by_name(value):
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        check_positive_int(value, "epochs")


def test_the_minimum_can_be_zero_or_larger():
    assert check_positive_int(0, "padding", minimum=0) == 0
    with pytest.raises(ValueError, match="size must be an integer >= 10"):
        check_positive_int(9, "size", minimum=10)


@pytest.mark.parametrize("value", [0, 0.1, "0.5", 0.999])
def test_a_drop_ratio_in_0_1_is_returned_as_a_float(value):
    assert check_drop_ratio(value) == float(value)


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, math.nan, "x", None])
def test_a_drop_ratio_outside_0_1_is_rejected_by_name(value):
    with pytest.raises(ValueError, match="drop_ratio must"):
        check_drop_ratio(value)


def test_a_drop_ratio_check_can_name_another_argument():
    with pytest.raises(ValueError, match="p must"):
        check_drop_ratio(2.0, "p")


def test_a_choice_lists_the_allowed_values():
    assert check_choice("flip", ("flip", "none"), "augment") == "flip"
    with pytest.raises(ValueError, match="augment must be one of flip, none; got 'crop'"):
        check_choice("crop", ("flip", "none"), "augment")
