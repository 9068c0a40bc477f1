"""The settings of an attention layer, checked once where they enter the library: what it drops (`DropConfig`:
mode, drop ratio, schedule over depth, window size) and how its tokens lie on the image (`TokenLayout`).

`attention` computes with them, `config.ViTConfig` holds a model's, and `interop` gives them to timm's layers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .checks import check_choice, check_drop_ratio, check_positive_int
from .schedules import DEFAULT_SCHEDULE, SCHEDULES, drop_ratios

MODES = ("none", "dropout", "dropkey", "dropkey_block", "dropkey_cross")
STRUCTURED_MODES = ("dropkey_block", "dropkey_cross")


# --------------------------------------------------------------------------------------------------------------
# Argument checks


def check_mode(mode: str) -> str:
    """Raise a ValueError naming `mode` unless it is one of `MODES`."""
    return check_choice(mode, MODES, "mode")


def check_window_size(window_size: int) -> int:
    """Structured windows are centred on a seed, so their side must be a positive odd integer."""
    if check_positive_int(window_size, "window_size") % 2 == 0:
        raise ValueError(f"window_size must be a positive odd integer, got {window_size!r}")
    return window_size


def check_grid_size(grid_size: tuple[int, int] | None) -> tuple[int, int]:
    """Structured masks live on the patch grid, so they need its (height, width)."""
    if grid_size is None:
        raise ValueError("grid_size is required for dropkey_block and dropkey_cross: pass the patch grid (h, w)")
    if len(grid_size) != 2 or any(int(g) != g or g < 1 for g in grid_size):
        raise ValueError(f"grid_size must be two positive integers (h, w), got {grid_size!r}")
    return int(grid_size[0]), int(grid_size[1])


def check_head_split(dim: int, num_heads: int) -> None:
    """Multi-head attention splits the `dim` channels evenly over `num_heads` heads."""
    if dim % num_heads != 0:
        raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")


# --------------------------------------------------------------------------------------------------------------
# Settings: what is dropped, and where the tokens lie


@dataclass(frozen=True)
class DropConfig:
    """The attention regulariser of a model, or of one attention layer.

    For a model, `drop_ratio` is the mean ratio over its layers and `schedule` spreads it over depth
    (`layer_drops`); a single layer's config has the constant schedule and that layer's own ratio.
    Mode "none" drops nothing, so its drop ratio is 0 whatever was asked (settled here, once).
    """

    mode: str = "dropkey"  # one of MODES
    drop_ratio: float = 0.1  # mean drop ratio over the layers, in [0, 1)
    schedule: str = DEFAULT_SCHEDULE  # how the ratio changes with depth, one of schedules.SCHEDULES
    window_size: int = 3  # side of the block / cross windows of the structured modes (odd)

    def __post_init__(self) -> None:
        check_mode(self.mode)
        ratio = check_drop_ratio(self.drop_ratio)
        object.__setattr__(self, "drop_ratio", 0.0 if self.mode == "none" else ratio)
        check_choice(self.schedule, SCHEDULES, "schedule")
        check_window_size(self.window_size)

    @property
    def active(self) -> bool:
        """True when this regulariser drops anything in training."""
        return self.mode != "none" and self.drop_ratio > 0.0

    def layer_ratios(self, depth: int) -> list[float]:
        """The drop ratio of each of `depth` layers, first layer first (`schedules.drop_ratios`)."""
        return drop_ratios(self.drop_ratio, depth, self.schedule)

    def layer_drops(self, depth: int) -> list["DropConfig"]:
        """One config per layer: this mode and window, the layer's own ratio, the constant schedule."""
        return [replace(self, drop_ratio=ratio, schedule="constant") for ratio in self.layer_ratios(depth)]

    def describe(self) -> str:
        """A short label such as 'dropkey 0.10 linear_down', or 'no regulariser'."""
        return "no regulariser" if self.mode == "none" else f"{self.mode} {self.drop_ratio:.2f} {self.schedule}"


@dataclass(frozen=True)
class TokenLayout:
    """How a sequence of tokens lies on the image: `num_prefix_tokens` tokens that are not on the image (a class
    token) first, then a `grid_size` = (g_h, g_w) grid of patch tokens in row-major order."""

    grid_size: tuple[int, int]
    num_prefix_tokens: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid_size", check_grid_size(self.grid_size))
        check_positive_int(self.num_prefix_tokens, "num_prefix_tokens", minimum=0)

    @property
    def num_patches(self) -> int:
        return self.grid_size[0] * self.grid_size[1]

    @property
    def num_tokens(self) -> int:
        return self.num_prefix_tokens + self.num_patches

    def check_keys(self, num_keys: int) -> None:
        """Raise a ValueError unless there are exactly as many keys as this layout has tokens."""
        if num_keys != self.num_tokens:
            raise ValueError(
                f"grid_size {self.grid_size} with num_prefix_tokens={self.num_prefix_tokens} describes "
                f"{self.num_tokens} keys, but there are N_k={num_keys}"
            )
