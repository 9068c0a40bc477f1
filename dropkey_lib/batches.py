"""Batches of CIFAR-10 for training and evaluation: shuffled epochs, fast augmentation, exact resume.

Images arrive as uint8 (N, 3, 32, 32) from `data.py` and leave one batch at a time as float32 (B, 3, 32, 32) in
[0, 1], with int64 labels (B,). Every random choice of an epoch (its order and each batch's crops and flips) comes
from one `torch.Generator`, `epoch_generator(seed, epoch)`, so an epoch can be replayed, or resumed at any batch.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_positive_int
from .data import check_uint8_images, to_float

# --------------------------------------------------------------------------------------------------------------
# Augmentation


def draw_augmentation(batch_size: int, generator: torch.Generator, padding: int = 4) -> tuple[Tensor, Tensor, Tensor]:
    """The random choices of one augmented batch: crop offsets dy, dx in [0, 2 * padding] and flip flags, each (B,)."""
    dy = torch.randint(0, 2 * padding + 1, (batch_size,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (batch_size,), generator=generator)
    flip = torch.rand(batch_size, generator=generator) < 0.5
    return dy, dx, flip


def augment_batch(images: Tensor, generator: torch.Generator, *, padding: int = 4) -> Tensor:
    """Random crop after zero padding, then random horizontal flip, for a whole batch at once.

    images: uint8 (B, C, H, W) -> float32 (B, C, H, W) in [0, 1]. Each image is padded with `padding` zeros on
    every side, cropped back to H x W at a random offset (dy, dx) in [0, 2 * padding], and mirrored with
    probability 1/2. All choices come from `generator` (see `draw_augmentation`), so the same generator state gives
    the same batch. One `gather` with per-sample pixel indices does the crop and the flip together.
    """
    check_uint8_images(images)
    check_positive_int(padding, "padding", minimum=0)
    batch, channels, height, width = images.shape
    dy, dx, flip = (t.to(images.device) for t in draw_augmentation(batch, generator, padding))
    padded = F.pad(images, (padding, padding, padding, padding))
    rows = dy[:, None] + torch.arange(height, device=images.device)  # (B, H) rows of the padded image
    cols = dx[:, None] + torch.arange(width, device=images.device)  # (B, W) columns of the padded image
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    index = (rows[:, :, None] * (width + 2 * padding) + cols[:, None, :]).reshape(batch, 1, height * width)
    out = padded.reshape(batch, channels, -1).gather(2, index.expand(batch, channels, height * width))
    return out.reshape(batch, channels, height, width).float().div_(255)


# --------------------------------------------------------------------------------------------------------------
# Batches


def num_batches(n: int, batch_size: int, *, drop_last: bool = False) -> int:
    """How many batches an epoch of n samples has."""
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def epoch_order(n: int, generator: torch.Generator) -> Tensor:
    """The sample order of a shuffled epoch: a permutation of range(n), (n,) int64, drawn from `generator`."""
    return torch.randperm(n, generator=generator)


def iterate_batches(
    images: Tensor,
    labels: Tensor,
    batch_size: int,
    *,
    shuffle: bool = False,
    augment: bool = False,
    crop_padding: int = 4,
    generator: torch.Generator | None = None,
    start_batch: int = 0,
    drop_last: bool = False,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Batches of one epoch: (float32 images (B, 3, 32, 32) in [0, 1], int64 labels (B,)).

    images: uint8 (N, 3, 32, 32), labels: (N,). With `shuffle` the order is `epoch_order(N, generator)`, drawn
    when this function is called; with `augment` each batch goes through `augment_batch` (random crop after
    `crop_padding` pixels of zero padding, 0 for flips only), which draws from the same generator as the batch is
    produced. The epoch is therefore a pure function of the generator's state at the
    call. To resume an epoch at batch k, call again with a generator in that same state and `start_batch=k`: the
    order is drawn again and the random choices of the k skipped batches are drawn and discarded, so batches k, k+1,
    ... are exactly those of the uninterrupted epoch.
    """
    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
    check_positive_int(batch_size, "batch_size")
    total = num_batches(len(images), batch_size, drop_last=drop_last)
    if check_positive_int(start_batch, "start_batch", minimum=0) > total:
        raise ValueError(f"start_batch must be an integer in [0, {total}], got {start_batch!r}")
    if (shuffle or augment) and generator is None:
        raise ValueError("generator is required when shuffle or augment is True, so that the epoch can be reproduced")
    order = epoch_order(len(images), generator) if shuffle else torch.arange(len(images))
    if augment:
        for _ in range(start_batch):
            draw_augmentation(batch_size, generator, crop_padding)
    return _batches(images, labels, order, batch_size, range(start_batch, total), augment, crop_padding, generator)


def _batches(
    images: Tensor,
    labels: Tensor,
    order: Tensor,
    batch_size: int,
    batch_indices: range,
    augment: bool,
    crop_padding: int,
    generator: torch.Generator | None,
) -> Iterator[tuple[Tensor, Tensor]]:
    """The generator behind `iterate_batches`, which has already checked its arguments and drawn the order."""
    for i in batch_indices:
        index = order[i * batch_size : (i + 1) * batch_size]
        batch = images[index]
        yield (augment_batch(batch, generator, padding=crop_padding) if augment else to_float(batch)), labels[index]


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator that shuffles and augments epoch `epoch` of a run with `seed` (the same for every mode)."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def eval_batches(images: Tensor, labels: Tensor, batch_size: int = 100) -> Iterator[tuple[Tensor, Tensor]]:
    """Unaugmented batches for evaluation, in order: (float32 images (B, 3, 32, 32) in [0, 1], labels (B,))."""
    for start in range(0, len(images), batch_size):
        yield to_float(images[start : start + batch_size]), labels[start : start + batch_size]
