"""Figure helpers: each returns what it drew on, with the expected panels and artists, and rejects bad input."""

import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dropkey_lib import analysis, plots  # noqa: E402
from dropkey_lib.attention import AttentionMaps, TokenLayout, sample_key_drops  # noqa: E402
from dropkey_lib.schedules import SCHEDULES  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    plt.close("all")
    yield
    plt.close("all")
    assert plt.get_fignums() == []


def test_plot_matrix_annotates_every_entry_and_crosses_out_dropped_ones():
    matrix = torch.arange(12.0).view(3, 4)
    drops = torch.zeros(3, 4, dtype=torch.bool)
    drops[1, 2] = True
    ax = plots.plot_matrix(matrix, drop_mask=drops, row_labels="abc")
    assert isinstance(ax, Axes)
    assert len(ax.images) == 2  # the heat map and the grey overlay of the dropped entries
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 12 and texts.count("×") == 1 and "6.00" not in texts
    plt.close(ax.figure)


def test_plot_matrix_draws_into_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert plots.plot_matrix(np.eye(3), ax=axes[1], annotate=False) is axes[1]
    assert len(fig.axes) == 2 and len(axes[1].texts) == 0 and len(axes[0].images) == 0


def test_plot_attention_steps_has_three_panels():
    scores = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    weights = scores.softmax(-1)
    fig = plots.plot_attention_steps(scores, weights, weights @ torch.randn(4, 3), token_labels="wxyz")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [len(ax.texts) for ax in fig.axes] == [16, 16, 12]


def test_plot_drop_mask_and_row_sums_and_weight_bars():
    ax = plots.plot_drop_mask(sample_key_drops((6, 6), 0.3, generator=torch.Generator().manual_seed(0)))
    assert len(ax.images) == 1
    ax = plots.plot_row_sums({"dropout": np.random.default_rng(0).uniform(0.5, 1.5, 200), "DropKey": np.ones(200)})
    assert len(ax.containers) == 2 and len(ax.lines) == 1  # two histograms, the line at 1
    ax = plots.plot_weight_bars({"plain": [0.5, 0.3, 0.2], "DropKey": [0.45, 0.32, 0.23]})
    assert len(ax.containers) == 2 and sum(len(c) for c in ax.containers) == 6


def test_plot_dropout_row_sums_draws_dropout_and_dropkey_with_the_predicted_spread():
    weights = torch.randn(5, 5, generator=torch.Generator().manual_seed(0)).softmax(-1)
    ax = plots.plot_dropout_row_sums(weights, 0.3, draws=200)
    assert len(ax.containers) == 2 and "ratio 0.30, 5 keys" in ax.get_title()
    assert ax.get_legend().get_texts()[1].get_text() == "DropKey"
    again = plots.plot_dropout_row_sums(weights, 0.3, draws=200)
    assert again.get_title() == ax.get_title()  # seeded: the same draws
    predicted = (0.3 / 0.7 * (weights**2).sum(-1).mean()).sqrt().item()
    assert f"predicted {predicted:.3f}" in ax.get_title()
    assert "std 0.000" in plots.plot_dropout_row_sums(weights, 0.0, draws=10).get_title()


def test_plot_key_grid_marks_seeds_query_and_class_token():
    drops = torch.zeros(1 + 16, dtype=torch.bool)
    drops[[0, 5, 6]] = True
    seeds = torch.zeros(4, 4, dtype=torch.bool)
    seeds[1, 1] = True
    ax = plots.plot_key_grid(drops, (4, 4), query=10, seeds=seeds, num_prefix_tokens=1)
    assert len(ax.images) == 1 and len(ax.collections) == 1  # the grid and one scatter of seeds
    assert [t.get_text() for t in ax.texts] == ["cls", "q"]
    assert ax.get_legend() is not None
    np.testing.assert_array_equal(ax.images[0].get_array(), drops[1:].view(4, 4).float().numpy())


def test_plot_structured_masks_draws_three_reproducible_panels():
    fig = plots.plot_structured_masks(0.3, num_prefix_tokens=1, seed=3)
    assert len(fig.axes) == 3
    again = plots.plot_structured_masks(0.3, num_prefix_tokens=1, seed=3)
    for a, b in zip(fig.axes, again.axes):
        np.testing.assert_array_equal(a.images[0].get_array(), b.images[0].get_array())
    assert len(fig.axes[0].collections) == 0  # plain DropKey has no seeds


def test_plot_grid_values_dropped_fraction_and_schedules():
    ax = plots.plot_grid_values(np.random.default_rng(0).random((8, 8)), mark=(4, 4), annotate=True)
    assert len(ax.texts) == 64 and len(ax.figure.axes) == 2  # the grid and its colour bar
    ax = plots.plot_dropped_fraction([0.1, 0.2, 0.3], {"block 3": [0.1, 0.2, 0.3], "naive": [0.08, 0.15, 0.22]})
    assert len(ax.lines) == 3  # the diagonal and two curves
    ax = plots.plot_schedules(0.1, 6, extra={"stochastic depth": np.linspace(0, 0.1, 6)})
    assert len(ax.lines) == len(SCHEDULES) + 2  # every schedule, the extra curve, the mean line
    np.testing.assert_allclose(ax.lines[SCHEDULES.index("linear_down")].get_ydata(), [0.2, 0.16, 0.12, 0.08, 0.04, 0.0])
    assert ax.lines[len(SCHEDULES)].get_linestyle() == "--"


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: plots.plot_matrix(np.zeros(3)), "matrix"),
        (lambda: plots.plot_matrix(np.zeros((2, 2)), drop_mask=np.zeros((3, 2), bool)), "drop_mask"),
        (lambda: plots.plot_matrix(np.zeros((2, 2)), row_labels=["a"]), "row_labels"),
        (lambda: plots.plot_matrix(np.zeros((2, 2)), ax="left"), "ax"),
        (lambda: plots.plot_attention_steps(np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 1))), "weights"),
        (lambda: plots.plot_drop_mask(np.zeros((2, 2, 2), bool)), "drop_mask"),
        (lambda: plots.plot_row_sums({}), "row_sums"),
        (lambda: plots.plot_row_sums({"a": [1.0]}, bins=0), "bins"),
        (lambda: plots.plot_dropout_row_sums(torch.ones(2, 2), 0.1), "weights"),
        (lambda: plots.plot_dropout_row_sums(torch.full((2, 2), 0.5), 1.0), "ratio"),
        (lambda: plots.plot_dropout_row_sums(torch.full((2, 2), 0.5), 0.1, draws=0), "draws"),
        (lambda: plots.plot_weight_bars({"a": [1, 2], "b": [1, 2, 3]}), "rows"),
        (lambda: plots.plot_key_grid(np.zeros(16, bool), (4, 4), num_prefix_tokens=1), "drop_mask"),
        (lambda: plots.plot_key_grid(np.zeros(16, bool), (4, 4), query=16), "query"),
        (lambda: plots.plot_key_grid(np.zeros(16, bool), (4, 4), seeds=np.zeros((3, 4), bool)), "seeds"),
        (lambda: plots.plot_key_grid(np.zeros(16, bool), (4, 0)), "grid_size"),
        (lambda: plots.plot_structured_masks(1.0), "ratio"),
        (lambda: plots.plot_structured_masks(0.1, block_window=2), "block_window"),
        (lambda: plots.plot_structured_masks(0.1, cross_window=0), "cross_window"),
        (lambda: plots.plot_grid_values(np.zeros((4, 4)), mark=(4, 0)), "mark"),
        (lambda: plots.plot_dropped_fraction([0.1, 0.2], {"a": [0.1]}), "fractions"),
        (lambda: plots.plot_layer_ratios({"a": [0.1]}, dashed=["b"]), "dashed"),
        (lambda: plots.plot_schedules(0.1, 4, schedules=["cosine"]), "schedules"),
        (lambda: plots.plot_schedules(0.1, 0), "depth"),
        (lambda: plots.plot_schedules(0.6, 4), "ratio"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_importing_the_figures_and_widgets_leaves_sympy_and_scipy_unloaded():
    # Binder gives a kernel 1 GB: notebooks that only draw figures must not pay for SymPy and SciPy (about 90 MB).
    code = (
        "import sys, dropkey_lib.plots, dropkey_lib.widgets; "
        "print(sorted(m for m in ('sympy', 'scipy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def random_maps() -> AttentionMaps:
    """Two layers of softmax-normalised random maps of 2 images, 3 heads, a class token and a 4 x 4 grid."""
    generator = torch.Generator().manual_seed(0)
    layers = [torch.softmax(torch.randn(2, 3, 17, 17, generator=generator), dim=-1) for _ in range(2)]
    return AttentionMaps(layers, TokenLayout((4, 4), 1))


def random_image() -> torch.Tensor:
    return torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_plot_head_maps_has_a_row_per_model_with_the_image_and_each_head():
    fig = plots.plot_head_maps({"a": random_maps(), "b": random_maps()}, random_image())
    assert len(fig.axes) == 2 * 4 and "layer 2 of 2" in fig._suptitle.get_text()


def test_plot_rollout_shows_the_image_then_one_panel_per_model():
    heat = analysis.rollout_map(random_maps())
    assert len(plots.plot_rollout(random_image(), {"a": heat, "b": heat}).axes) == 3


def test_plot_head_entropy_draws_one_scatter_per_head():
    ax = plots.plot_head_entropy({"a": analysis.head_entropy(random_maps())}, reference=math.log(17))
    assert len(ax.collections) == 3


def test_image_hwc_rejects_an_image_without_channels():
    with pytest.raises(ValueError, match="shape"):
        plots.image_hwc(torch.zeros(16, 16))


def test_plot_query_map_overlays_one_head_and_leaves_the_class_token_off_the_grid():
    maps = random_maps()
    ax = plots.plot_query_map(maps, random_image(), layer=0, head=1, index=1)
    assert len(ax.images) == 2 and np.array_equal(ax.images[1].get_array(), analysis.query_maps(maps, 0, image=1)[1])
    assert not ax.patches and "head 2" in ax.get_title()


def test_plot_query_map_of_a_patch_query_shows_the_mean_of_the_heads_and_outlines_the_patch():
    maps = random_maps()
    ax = plots.plot_query_map(maps, random_image(), query=1 + 5, vmax=0.5, title="a")
    assert np.allclose(ax.images[1].get_array(), analysis.query_maps(maps, -1, query=6).mean(0))
    assert ax.images[1].get_clim() == (0.0, 0.5) and len(ax.patches) == 1  # patch 5 (row 1, column 1)
    assert ax.get_title().startswith("a: mean of the heads")


@pytest.mark.parametrize("kwargs, name", [({"layer": 2}, "layer"), ({"head": 3}, "head"), ({"query": 17}, "query")])
def test_plot_query_map_names_an_argument_out_of_range(kwargs, name):
    with pytest.raises(ValueError, match=name):
        plots.plot_query_map(random_maps(), random_image(), **kwargs)
