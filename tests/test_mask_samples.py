"""The samples behind the figures of notebooks 01-03: masks of each kind and row sums under drops."""

import pytest
import torch

from dropkey_lib.mask_samples import row_sums_under_drops, sample_mask_examples


def test_mask_examples_are_reproducible_and_shaped_like_one_query_over_the_grid():
    examples = sample_mask_examples(0.3, (6, 7), num_prefix_tokens=1, seed=4)
    again = sample_mask_examples(0.3, (6, 7), num_prefix_tokens=1, seed=4)
    assert list(examples) == ["dropkey", "block", "cross"]
    assert examples["dropkey"][1] is None
    for name, (mask, seeds) in examples.items():
        assert mask.shape == (1 + 6 * 7,) and mask.dtype == torch.bool
        assert torch.equal(mask, again[name][0])
        if seeds is not None:
            assert seeds.shape == (6, 7) and seeds.dtype == torch.bool


def test_mask_examples_name_the_bad_window():
    with pytest.raises(ValueError, match="cross_window must be a positive odd integer"):
        sample_mask_examples(0.3, cross_window=4)


def test_row_sums_under_dropout_spread_as_predicted_and_dropkey_rows_sum_to_one():
    weights = torch.softmax(torch.randn(6, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64), -1)
    dropout, dropkey, predicted = row_sums_under_drops(weights, 0.3, draws=4000, seed=1)
    assert dropout.shape == dropkey.shape == (4000, 6)
    torch.testing.assert_close(dropkey, torch.ones_like(dropkey))
    assert abs(float(dropout.mean()) - 1.0) < 0.01  # dropout is unbiased
    assert float(dropout.std()) == pytest.approx(predicted, rel=0.05)


def test_row_sums_need_softmax_weights():
    with pytest.raises(ValueError, match="weights must be positive with rows that sum to one"):
        row_sums_under_drops(torch.full((2, 3), 0.5), 0.3)
