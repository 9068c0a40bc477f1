"""Tiny synthetic data and configs for tests that train: a run takes well under a second."""

import torch

from dropkey_lib.config import TrainConfig
from dropkey_lib.data import CIFAR10Data


def tiny_data(train_size: int = 60, test_size: int = 20) -> CIFAR10Data:
    """Random uint8 images with balanced labels, in the shape of CIFAR-10."""
    g = torch.Generator().manual_seed(0)
    return CIFAR10Data(
        train_images=torch.randint(0, 256, (train_size, 3, 32, 32), dtype=torch.uint8, generator=g),
        train_labels=torch.arange(train_size) % 10,
        test_images=torch.randint(0, 256, (test_size, 3, 32, 32), dtype=torch.uint8, generator=g),
        test_labels=torch.arange(test_size) % 10,
        source="random test images",
    )


def tiny_config(**overrides) -> TrainConfig:
    """A 2-block, 16-channel model for 2 epochs of 4 batches."""
    settings = dict(dim=16, depth=2, num_heads=2, epochs=2, batch_size=16, train_eval_size=20, drop_ratio=0.2)
    return TrainConfig().replace(**{**settings, **overrides})
