"""What defines a training run, as three nested, validated settings objects:

    TrainConfig                  the recipe: epochs, batch size, learning rate, data sizes, seed, ...
      model: ViTConfig           the architecture: stem, width, depth, heads, pooling, ...
        drop: DropConfig         the attention regulariser: mode, mean drop ratio, schedule over depth, window size
                                 (defined in `attention_config`, with the token layout)

Each object checks its own fields once, when it is made, and raises a ValueError that names the field. The model and
its attention layers are built from these objects; nothing downstream checks them again.

Every leaf field has a name that is unique across the three levels (`FLAT_FIELDS`), so a config can be changed by
field name alone: `config.replace(drop_ratio=0.2, stem_width=48, epochs=3)`. The CLI (`dropkey-train`) makes one flag
per leaf field from the same table. On disk a config is its nested dict (`to_dict`); files written before the nesting
are read through `rundir.upgrade_config`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, Mapping

from .attention_config import DropConfig, TokenLayout, check_head_split
from .checks import check_choice, check_positive_int
from .settings import quick_mode

STEMS = ("conv", "patch")
POOLS = ("cls", "mean")
AUGMENTATIONS = ("crop_flip", "flip", "none")


@dataclass(frozen=True)
class ViTConfig:
    """Architecture and attention regulariser of a `vit.TinyViT`.

    The defaults are the model of the default training recipe: a convolutional stem, two blocks, mean pooling,
    0.27M parameters. `ViTConfig(stem="patch", pool="cls", depth=4)` is the plain ViT of notebook 07 and of the
    shipped checkpoints (0.46M parameters).
    """

    image_size: int = 32
    patch_size: int = 4
    num_classes: int = 10
    dim: int = 96
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 4.0
    stem: str = "conv"  # "conv": convolutional stem (converges faster); "patch": the plain ViT patch embedding
    stem_width: int = 32  # channels of the convolutional stem's first two convolutions (stem="conv" only)
    pool: str = "mean"  # "cls": classify from the class token; "mean": average the patch tokens (no class token)
    drop: DropConfig = field(default_factory=DropConfig)

    def __post_init__(self) -> None:
        for name in ("image_size", "patch_size", "num_classes", "dim", "depth", "num_heads", "stem_width"):
            check_positive_int(getattr(self, name), name)
        check_head_split(self.dim, self.num_heads)
        if not (isinstance(self.mlp_ratio, (int, float)) and math.isfinite(self.mlp_ratio) and self.mlp_ratio > 0):
            raise ValueError(f"mlp_ratio must be a positive number, got {self.mlp_ratio!r}")
        if self.image_size % self.patch_size != 0:
            raise ValueError(f"patch_size ({self.patch_size}) must divide image_size ({self.image_size})")
        check_choice(self.stem, STEMS, "stem")
        if self.stem == "conv" and (self.patch_size < 2 or self.patch_size & (self.patch_size - 1)):
            raise ValueError(f"stem='conv' needs a patch_size that is a power of two >= 2, got {self.patch_size}")
        check_choice(self.pool, POOLS, "pool")
        if not isinstance(self.drop, DropConfig):
            raise ValueError(f"drop must be a DropConfig, got {self.drop!r}")
        self.drop.layer_ratios(self.depth)  # the schedule must fit this depth (`schedules.max_drop_ratio`)

    @property
    def layout(self) -> TokenLayout:
        """The tokens the attention layers see: a class token first when pool == "cls", then the patch grid."""
        side = self.image_size // self.patch_size
        return TokenLayout((side, side), 1 if self.pool == "cls" else 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> "ViTConfig":
        """The config of a nested dict as `to_dict` writes it (for older files, see `rundir.upgrade_model_config`)."""
        settings = dict(settings)
        drop = _build(DropConfig, settings.pop("drop", {}), "drop")
        return _build(cls, {**settings, "drop": drop}, "model")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run: the model (`model`, a `ViTConfig`) and the recipe. The defaults are
    full mode; `TrainConfig.create()` gives quick mode's (see `QUICK`) when DROPKEY_QUICK is set.

    The default recipe is tuned for time to accuracy on one CPU core: a narrow convolutional stem (`vit.ConvStem`),
    two blocks with DropKey, mean pooling, batches of 64, 6 epochs, flips only, AdamW with `foreach` (its
    multi-tensor update; on the CPU torch otherwise loops over the parameters). It was chosen by measurement (short
    runs, then full runs side by side with the previous default, README "Measured"); the previous default, a plain
    4-block ViT with a patch embedding and a class token, is `TrainConfig().replace(stem="patch", pool="cls",
    depth=4, epochs=4, batch_size=128, train_eval_size=5000)`.
    """

    model: ViTConfig = field(default_factory=ViTConfig)
    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    # One of AUGMENTATIONS: random 4-pixel-padded crop and flip, flip only, or none. A run of a few epochs on one
    # core is still underfitting, and there random crops cost accuracy: 56.9% with crop_flip against 60.2% with
    # flip after 4 epochs of the previous default (README, "Measured"). Longer runs can choose crop_flip.
    augment: str = "flip"
    warmup_epochs: float = 0.5
    seed: int = 0
    train_size: int | None = None  # use at most this many training images (a class-balanced subset); None = all
    test_size: int | None = None  # evaluate each epoch on at most this many test images; None = all 10,000
    train_eval_size: int = 2000  # clean (eval-mode, unaugmented) train accuracy is measured on this many images

    def __post_init__(self) -> None:
        if not isinstance(self.model, ViTConfig):
            raise ValueError(f"model must be a ViTConfig, got {self.model!r}")
        for name in ("epochs", "batch_size", "train_eval_size"):
            check_positive_int(getattr(self, name), name)
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), f"{name} (None for all)", minimum=10)
        check_choice(self.augment, AUGMENTATIONS, "augment")
        for name in ("lr", "weight_decay", "label_smoothing", "warmup_epochs"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        check_positive_int(self.seed, "seed", minimum=0)

    @property
    def drop(self) -> DropConfig:
        """The model's attention regulariser (`self.model.drop`)."""
        return self.model.drop

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> "TrainConfig":
        """The config of a nested dict as `to_dict` writes it (for older files, see `rundir.upgrade_config`)."""
        settings = dict(settings)
        model = ViTConfig.from_dict(settings.pop("model", {}))
        return _build(cls, {**settings, "model": model}, "config")

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with leaf fields changed by name, at whatever level they live (`FLAT_FIELDS`), e.g.
        `config.replace(drop_ratio=0.2, depth=4, epochs=3)`. Unknown names raise a ValueError."""
        return with_changes(self, changes)

    def flat(self) -> dict[str, Any]:
        """Every leaf field by name: {"mode": ..., "drop_ratio": ..., "dim": ..., "epochs": ...}."""
        return {name: _get(self, path) for name, path in FLAT_FIELDS.items()}

    @classmethod
    def create(cls, quick: bool | None = None, **changes: Any) -> "TrainConfig":
        """The default config of full or quick mode (`quick=None` reads DROPKEY_QUICK), with `changes` applied by
        leaf field name (see `replace`)."""
        quick = quick_mode() if quick is None else quick
        return cls().replace(**{**(QUICK if quick else {}), **changes})


# Quick mode: a 0.13M-parameter model (the default's, 64 channels wide) on 4,000 training images for 8 epochs:
# `dropkey-train --quick` took 45 s on 2 cores and reached 46.7% test accuracy; chance is 10% (README, "Measured").
QUICK = dict(dim=64, epochs=8, batch_size=64, train_size=4000, test_size=1000, train_eval_size=1000)


def _leaf_paths(cls: type, prefix: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """{leaf field name: path of attribute names from a `cls` instance}, nested configs expanded."""
    nested = {"model": ViTConfig, "drop": DropConfig}
    paths: dict[str, tuple[str, ...]] = {}
    for f in fields(cls):
        found = _leaf_paths(nested[f.name], (*prefix, f.name)) if f.name in nested else {f.name: (*prefix, f.name)}
        for name, path in found.items():
            if name in paths:
                raise AssertionError(f"config field name {name!r} is used at two levels: {paths[name]} and {path}")
            paths[name] = path
    return paths


# Every leaf field of a TrainConfig, by its (unique) name: "drop_ratio" -> ("model", "drop", "drop_ratio").
FLAT_FIELDS: dict[str, tuple[str, ...]] = _leaf_paths(TrainConfig)


def _get(config: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        config = getattr(config, name)
    return config


def with_changes(config: Any, changes: Mapping[str, Any]) -> Any:
    """A copy of a TrainConfig, ViTConfig or DropConfig with leaf fields changed by name (see `FLAT_FIELDS`)."""
    if not changes:
        return config
    own = {f.name for f in fields(config)}
    nested = {name: getattr(config, name) for name in own if is_dataclass(getattr(config, name))}
    direct = {name: value for name, value in changes.items() if name in own and name not in nested}
    rest = {name: value for name, value in changes.items() if name not in direct}
    for name, child in nested.items():
        child_names = set(_leaf_paths(type(child)))
        mine = {n: v for n, v in rest.items() if n in child_names}
        if mine:
            direct[name] = with_changes(child, mine)
            rest = {n: v for n, v in rest.items() if n not in mine}
    if rest:
        raise ValueError(f"unknown config field(s): {', '.join(sorted(rest))}; known: {', '.join(FLAT_FIELDS)}")
    return replace(config, **direct)


def _build(cls: type, settings: Mapping[str, Any], what: str) -> Any:
    """`cls(**settings)`, with unknown keys reported as a ValueError that names them."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"{what} has unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**settings)
