"""What every figure module shares: the colours of the paper's Figure 2, input checks, new axes and figures.

Colours follow the paper's Figure 2: a key that the query still sees is yellow, a dropped key is blue, and a
seed of a structured window is a red mark.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

KEPT_COLOR = "#f4c542"  # yellow: the key answers the query
DROPPED_COLOR = "#3b6fb6"  # blue: the key is hidden from the query
SEED_COLOR = "#d62728"  # red: a seed of a block / cross window
QUERY_COLOR = "black"
MASKED_ENTRY_COLOR = "#d9d9d9"  # light grey: a dropped entry of a scores / weights matrix
MASK_CMAP = ListedColormap([KEPT_COLOR, DROPPED_COLOR])

ArrayLike = Any  # torch.Tensor, np.ndarray, nested sequences of numbers


# --------------------------------------------------------------------------------------------------------------
# Input checks


def _to_numpy(value: ArrayLike, name: str, *, ndim: int | None = None, dtype: Any = float) -> np.ndarray:
    """`value` as a NumPy array of `dtype` (torch tensors are detached and moved to the CPU first)."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy() if dtype is float else value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    return array


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """`ax`, or the Axes of a new figure of `figsize` when `ax` is None."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise ValueError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _new_figure(fig: Figure | None, figsize: tuple[float, float]) -> Figure:
    """`fig` (cleared), or a new figure of `figsize` when `fig` is None."""
    if fig is None:
        return plt.figure(figsize=figsize)
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure or None, got {type(fig).__name__}")
    fig.clear()
    return fig


def _check_labels(labels: Sequence[str] | None, length: int, name: str) -> list[str] | None:
    if labels is None:
        return None
    labels = [str(label) for label in labels]
    if len(labels) != length:
        raise ValueError(f"{name} must have {length} entries, got {len(labels)}")
    return labels


def _check_curves(curves: Mapping[str, ArrayLike], name: str) -> dict[str, np.ndarray]:
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"{name} must be a non-empty mapping from label to values")
    return {str(label): _to_numpy(values, f"{name}[{label!r}]").ravel() for label, values in curves.items()}
