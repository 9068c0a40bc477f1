"""Figures of the smoothing coefficient (notebook 03); the numbers come from `smoothing.py`.

`dropkey_lib.smoothing` imports SymPy (about 30 MB), so it is imported inside the functions, not at the top:
`import dropkey_lib.plots` stays light.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from ._common import ArrayLike, _new_axes


def plot_coefficients(p: ArrayLike, drop_ratio: float, *, ax: Axes | None = None) -> Axes:
    """c_j against p_j for one attention row p (n,): exact, its large-n approximation, and the line c = 1."""
    from .. import smoothing  # here, not at the top: smoothing imports SymPy (about 30 MB)

    arr = smoothing.check_probabilities(p)
    order = np.argsort(arr)
    ax = _new_axes(ax, (5.0, 3.5))
    ax.plot(arr[order], smoothing.smoothing_coefficients(arr, drop_ratio)[order], "o-", label="exact $c_j$")
    ax.plot(
        arr[order], smoothing.smoothing_coefficients_approx(arr, drop_ratio)[order], "--", label="large-n approximation"
    )
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("original weight $p_j$")
    ax.set_ylabel("smoothing coefficient $c_j$")
    ax.legend(fontsize=8)
    return ax


def plot_expected_attention_bars(p: ArrayLike, drop_ratio: float, *, ax: Axes | None = None) -> Axes:
    """Bars of one attention row p (n,) and of the expected DropKey attention given a non-empty row."""
    from .. import smoothing  # here, not at the top: smoothing imports SymPy (about 30 MB)

    arr = smoothing.check_probabilities(p)
    expected = smoothing.conditional_expected_weights(arr, drop_ratio)
    keys = np.arange(1, arr.shape[-1] + 1)
    ax = _new_axes(ax, (5.0, 3.5))
    ax.bar(keys - 0.2, arr, width=0.4, label="original $p_j$")
    ax.bar(keys + 0.2, expected, width=0.4, label=r"expected, $c_jp_j/(1-r^n)$")
    ax.set_xlabel("key $j$")
    ax.set_ylabel("attention weight")
    ax.set_title(f"ratio {drop_ratio:.2f}: entropy {smoothing.entropy(arr):.3f} -> {smoothing.entropy(expected):.3f}")
    ax.legend(fontsize=8)
    return ax


def plot_flattening_map(p: ArrayLike, drop_ratios: Sequence[float], *, ax: Axes | None = None) -> Axes:
    """Expected attention E[p_hat_j | row not empty] against p_j for each drop ratio, log-log, with the identity."""
    from .. import smoothing  # here, not at the top: smoothing imports SymPy (about 30 MB)

    arr = smoothing.check_probabilities(p)
    order = np.argsort(arr)
    ax = _new_axes(ax, (5.0, 3.5))
    for drop_ratio in drop_ratios:
        expected = smoothing.conditional_expected_weights(arr, drop_ratio)
        ax.plot(arr[order], expected[order], "o-", ms=3, label=f"ratio {drop_ratio:g}")
    lo, hi = arr.min() * 0.8, arr.max() * 1.25
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="no change")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("original weight $p_j$")
    ax.set_ylabel(r"expected weight $c_j p_j / (1 - r^n)$")
    ax.legend(fontsize=8)
    return ax


def plot_entropy_vs_ratio(
    rows: Mapping[str, ArrayLike], drop_ratios: Sequence[float], *, ax: Axes | None = None
) -> Axes:
    """Normalised entropy of the expected attention (given a non-empty row) against the drop ratio, one line per
    attention row ({label: p (n,)})."""
    from .. import smoothing  # here, not at the top: smoothing imports SymPy (about 30 MB)

    ax = _new_axes(ax, (5.0, 3.5))
    for label, p in rows.items():
        values = smoothing.normalized_expected_entropy(p, drop_ratios)
        ax.plot(drop_ratios, values, label=label)
    ax.set_xlabel("drop ratio $r$")
    ax.set_ylabel("entropy / log n")
    ax.legend(fontsize=8)
    return ax
