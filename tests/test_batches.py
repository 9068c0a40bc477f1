"""Tests for dropkey_lib.batches: augmentation, shuffled and resumed epochs, evaluation batches."""

from __future__ import annotations

import pytest
import torch

from dropkey_lib import batches
from dropkey_lib.data import to_float

# --------------------------------------------------------------------------------------------------------------
# Augmentation


def reference_augment(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """The per-image loop that `augment_batch` vectorises: zero-pad by 4, crop at (dy, dx), maybe mirror."""
    out = []
    for image, y, x, f in zip(images, dy.tolist(), dx.tolist(), flip.tolist()):
        crop = torch.nn.functional.pad(image, (4, 4, 4, 4))[:, y : y + 32, x : x + 32]
        out.append(crop.flip(-1) if f else crop)
    return torch.stack(out).float() / 255


def random_images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(1, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_augment_batch_shape_dtype_and_range():
    out = batches.augment_batch(random_images(16), torch.Generator().manual_seed(0))
    assert out.shape == (16, 3, 32, 32) and out.dtype == torch.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_augment_batch_is_reproducible_with_the_generator():
    images = random_images(8)
    first = batches.augment_batch(images, torch.Generator().manual_seed(3))
    assert torch.equal(first, batches.augment_batch(images, torch.Generator().manual_seed(3)))
    assert not torch.equal(first, batches.augment_batch(images, torch.Generator().manual_seed(4)))


def test_augment_batch_matches_per_image_crop_and_flip():
    images = random_images(128)
    dy, dx, flip = batches.draw_augmentation(128, torch.Generator().manual_seed(5))
    assert 20 < int(flip.sum()) < 108 and (dy != 4).any() and (dx != 4).any()  # flips and shifts both happen
    out = batches.augment_batch(images, torch.Generator().manual_seed(5))
    assert torch.equal(out, reference_augment(images, dy, dx, flip))


def test_shifted_crops_show_zero_padding():
    images = torch.full((64, 3, 32, 32), 255, dtype=torch.uint8)
    dy, dx, _ = batches.draw_augmentation(64, torch.Generator().manual_seed(6))
    out = batches.augment_batch(images, torch.Generator().manual_seed(6))
    zero_pixels = (out == 0).all(dim=1).sum(dim=(1, 2))  # zero in every channel
    expected = 32 * 32 - (32 - (dy - 4).abs()) * (32 - (dx - 4).abs())
    assert torch.equal(zero_pixels, expected) and (expected > 0).any()
    assert set(out.unique().tolist()) == {0.0, 1.0}


# --------------------------------------------------------------------------------------------------------------
# Batches


def test_evaluation_batches_keep_order_and_cover_everything():
    images, labels = random_images(10), torch.arange(10)
    produced = list(batches.iterate_batches(images, labels, 4))
    assert [len(y) for _, y in produced] == [4, 4, 2]
    assert torch.equal(torch.cat([x for x, _ in produced]), to_float(images))
    assert torch.cat([y for _, y in produced]).tolist() == list(range(10))


def test_shuffled_epoch_follows_epoch_order():
    images, labels = random_images(10), torch.arange(10)
    order = batches.epoch_order(10, torch.Generator().manual_seed(7))
    produced = list(
        batches.iterate_batches(images, labels, 3, shuffle=True, generator=torch.Generator().manual_seed(7))
    )
    assert torch.cat([y for _, y in produced]).tolist() == order.tolist() != list(range(10))
    assert torch.equal(torch.cat([x for x, _ in produced]), to_float(images[order]))


def test_resumed_epoch_equals_the_rest_of_the_epoch():
    images, labels = random_images(20), torch.arange(20)

    def epoch(start_batch: int) -> list:
        generator = torch.Generator().manual_seed(8)
        return list(
            batches.iterate_batches(
                images, labels, 6, shuffle=True, augment=True, generator=generator, start_batch=start_batch
            )
        )

    full, resumed = epoch(0), epoch(2)
    assert len(full) == 4 and len(resumed) == 2
    for (x, y), (x_resumed, y_resumed) in zip(full[2:], resumed):
        assert torch.equal(x, x_resumed) and torch.equal(y, y_resumed)


def test_shuffle_or_augment_needs_a_generator():
    with pytest.raises(ValueError, match="generator is required"):
        batches.iterate_batches(random_images(4), torch.arange(4), 2, augment=True)
