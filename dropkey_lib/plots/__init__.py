"""Figures for the notebooks, one module per topic: attention and masks, schedules, the smoothing coefficient and the
gradient argument, training curves, results and attention maps.

    attention.py     attention matrices, drop masks, row sums, weight bars (notebooks 01, 02)
    masks.py         masks on the patch grid, the paper's Figure 2 (notebook 06)
    schedules.py     drop ratios over depth (notebooks 05, 11)
    smoothing.py     the smoothing coefficient (notebook 03)
    gradient_toy.py  the toy gradient problem (notebook 04)
    runs.py          training curves of one run and of several (notebooks 07 to 10)
    results.py       results of a grid of runs (notebook 10)
    analysis.py      attention maps of trained models (notebook 11)

Every function draws with matplotlib and returns what it drew on: an `Axes` when it fills one panel (pass `ax=` to
draw into a panel of your own figure, or leave it out to get a new figure), a `Figure` when it lays out several
panels (pass `fig=` to draw into a figure of your own). Nothing is shown or saved here; the notebook shows the
figure. Nothing is computed here either: the numbers behind the figures come from the concept's own module
(`attention`, `smoothing`, `gradient_toy`, `analysis`, `verdicts`, ...).

Inputs may be torch tensors or anything NumPy can turn into an array. Bad input raises a ValueError that names the
offending argument.

Colours follow the paper's Figure 2: a key that the query still sees is yellow, a dropped key is blue, and a
seed of a structured window is a red mark.
"""

from ._common import DROPPED_COLOR, KEPT_COLOR, MASK_CMAP, MASKED_ENTRY_COLOR, QUERY_COLOR, SEED_COLOR
from .analysis import image_hwc, plot_head_entropy, plot_head_maps, plot_query_map, plot_rollout
from .attention import (
    plot_attention_steps,
    plot_drop_mask,
    plot_dropout_row_sums,
    plot_matrix,
    plot_row_sums,
    plot_weight_bars,
)
from .gradient_toy import plot_toy_training
from .masks import plot_dropped_fraction, plot_grid_values, plot_key_grid, plot_structured_masks
from .results import (
    plot_differences,
    plot_layer_metric,
    plot_layer_panels,
    plot_metric_bars,
    plot_ratio_sweep,
)
from .runs import CURVES, plot_history, plot_runs, plot_time_to_accuracy
from .schedules import plot_layer_ratios, plot_schedules
from .smoothing import plot_coefficients, plot_entropy_vs_ratio, plot_expected_attention_bars, plot_flattening_map

__all__ = [
    "DROPPED_COLOR",
    "KEPT_COLOR",
    "MASK_CMAP",
    "MASKED_ENTRY_COLOR",
    "QUERY_COLOR",
    "SEED_COLOR",
    "plot_matrix",
    "plot_attention_steps",
    "plot_drop_mask",
    "plot_row_sums",
    "plot_dropout_row_sums",
    "plot_weight_bars",
    "plot_key_grid",
    "plot_structured_masks",
    "plot_grid_values",
    "plot_dropped_fraction",
    "plot_layer_ratios",
    "plot_schedules",
    "plot_coefficients",
    "plot_expected_attention_bars",
    "plot_flattening_map",
    "plot_entropy_vs_ratio",
    "plot_toy_training",
    "CURVES",
    "plot_history",
    "plot_runs",
    "plot_time_to_accuracy",
    "plot_ratio_sweep",
    "plot_metric_bars",
    "plot_differences",
    "plot_layer_metric",
    "plot_layer_panels",
    "image_hwc",
    "plot_head_maps",
    "plot_query_map",
    "plot_rollout",
    "plot_head_entropy",
]
