"""verdicts, tables and the results figures of notebooks 10 and 11, on synthetic metrics (no training)."""

import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dropkey_lib import plots, rundir, stats, tables, verdicts


def metrics(run: str, seed: int, acc: float, gap: float = 0.1, depth: int = 3, **extra) -> dict:
    """A synthetic metrics.json dict with the fields notebook 10 reads."""
    return {
        "run": run,
        "seed": seed,
        "test_accuracy": acc,
        "train_accuracy": acc + gap,
        "gap": gap,
        "attention_entropy": [3.0 + 0.1 * layer + acc for layer in range(depth)],
        "attention_distance": [8.0 + layer + acc for layer in range(depth)],
        "train_seconds": 100.0,
        "wall_seconds_this_session": 110.0,
        "hardware": "CPU X; torch 2, 1 thread(s)",
        "data": "CIFAR-10 from /data",
        **extra,
    }


@pytest.fixture
def results():
    base = [0.40, 0.45, 0.50]  # large seed-to-seed spread, shared by every configuration (paired seeds)
    shifts = {
        "none": [0.0, 0.0, 0.0],
        "dropout-0.1": [0.010, 0.012, 0.011],  # clearly above none
        "dropkey-0.1": [0.030, 0.031, 0.029],  # clearly above dropout-0.1
        "dropout-0.2": [0.020, 0.021, 0.019],
        "dropkey-0.2": [0.000, 0.001, -0.001],  # clearly below dropout-0.2
        "dropkey-0.2-linear_down": [0.03, -0.03, 0.01],  # noisy: inconclusive against dropkey-0.2
    }
    return [metrics(run, s, base[s] + shift[s]) for run, shift in shifts.items() for s in range(3)]


def test_format_ci_scales_signs_and_hides_negative_zero():
    assert tables.format_ci(0.4532, 0.0081, scale=100) == "45.3 ± 0.8"
    assert tables.format_ci(0.012, 0.003, scale=100, signed=True, unit="pp") == "+1.2 ± 0.3 pp"
    assert tables.format_ci(-0.0001, 0.01, scale=100, signed=True) == "+0.0 ± 1.0"
    assert tables.format_ci(float("nan"), 0.1) == "-"


def test_check_grid_accepts_paired_seeds_and_names_what_is_wrong(results):
    assert verdicts.check_grid(results, ["none", "dropkey-0.1"], min_seeds=3) == [0, 1, 2]
    with pytest.raises(ValueError, match="missing-config"):
        verdicts.check_grid(results, ["none", "missing-config"])
    with pytest.raises(ValueError, match="fewer than 4 seeds"):
        verdicts.check_grid(results, ["none"], min_seeds=4)
    unpaired = results + [metrics("dropout-0.1", 7, 0.5)]
    with pytest.raises(ValueError, match="seeds differ"):
        verdicts.check_grid(unpaired, ["none", "dropout-0.1"])


def test_compare_is_the_paired_difference_over_shared_seeds(results):
    row = verdicts.compare(results, "test_accuracy", "dropkey-0.1", "dropout-0.1")
    assert row["n_paired"] == 3 and row["baseline"] == "dropout-0.1"
    assert row["diff"] == pytest.approx(0.019, abs=1e-9)
    # The pairing removes the large seed-to-seed spread: the interval is narrow.
    assert 0 < row["diff_ci95"] < 0.01


@pytest.mark.parametrize(
    "run, baseline, expect, outcome",
    [
        ("dropkey-0.1", "dropout-0.1", "higher", verdicts.HOLDS),
        ("dropkey-0.2", "dropout-0.2", "higher", verdicts.DOES_NOT_HOLD),
        ("dropkey-0.2", "dropout-0.2", "lower", verdicts.HOLDS),
        ("dropkey-0.2-linear_down", "dropkey-0.2", "higher", verdicts.INCONCLUSIVE),
    ],
)
def test_a_single_verdict_is_decided_by_its_p_value_and_agrees_with_its_interval(
    results, run, baseline, expect, outcome
):
    v = verdicts.verdict(verdicts.compare(results, "test_accuracy", run, baseline), expect=expect)
    assert v.outcome == outcome and v.family_size == 1 and v.p_adjusted == v.p_value
    assert (v.p_value >= 0.05) == (outcome == verdicts.INCONCLUSIVE)
    assert (abs(v.diff) <= v.ci95) == (outcome == verdicts.INCONCLUSIVE)  # a family of one: p < 0.05 iff 0 is outside
    text = str(v)
    assert outcome in text and run in text and baseline in text and f"3 seeds; {verdicts.p_text(v.p_value)}]" in text


@pytest.mark.parametrize(
    "diff, p_adjusted, expect, outcome",
    [
        (+0.01, 0.01, "higher", verdicts.HOLDS),
        (-0.01, 0.01, "lower", verdicts.HOLDS),
        (-0.01, 0.01, "higher", verdicts.DOES_NOT_HOLD),
        (+0.01, 0.05, "higher", verdicts.INCONCLUSIVE),  # p = alpha is not below alpha
        (-0.01, 0.30, "higher", verdicts.INCONCLUSIVE),
    ],
)
def test_outcome_is_decided_by_the_adjusted_p_value_and_the_predicted_side(diff, p_adjusted, expect, outcome):
    assert verdicts.outcome(diff, p_adjusted, expect, n_paired=5) == outcome


def test_outcome_needs_two_paired_seeds_a_known_direction_and_a_valid_alpha():
    assert verdicts.outcome(0.01, 0.001, "higher", n_paired=1) == verdicts.TOO_FEW
    with pytest.raises(ValueError, match="expect"):
        verdicts.outcome(0.01, 0.001, "better", n_paired=5)
    with pytest.raises(ValueError, match="alpha"):
        verdicts.outcome(0.01, 0.001, "higher", n_paired=5, alpha=5)


def test_holm_turns_the_audits_does_not_hold_at_p_0498_among_12_comparisons_into_inconclusive():
    # The raw p-values of notebook 10's 12 comparisons on the 5-seed grid, rounded: the gap (DropKey vs dropout,
    # p = 0.0498) and the entropy (p = 0.017) were read as "does not hold" on their own.
    raw = [0.775, 0.850, 0.619, 0.0201, 0.0254, 0.0498, 0.108, 0.567, 0.470, 0.905, 0.222, 0.0168]
    adjusted = dict(zip(raw, stats.holm(raw)))
    assert verdicts.outcome(+0.0144, 0.0498, "lower", n_paired=5) == verdicts.DOES_NOT_HOLD  # alone
    assert adjusted[0.0498] > 0.05
    assert verdicts.outcome(+0.0144, adjusted[0.0498], "lower", n_paired=5) == verdicts.INCONCLUSIVE
    assert min(stats.holm(raw)) == pytest.approx(12 * 0.0168)  # smallest p x 12 ~ 0.2: nothing survives


def test_judge_family_adjusts_the_p_values_of_the_whole_family_together(results):
    family = [
        ("dropkey-0.1", "dropout-0.1", "test_accuracy", "higher"),
        ("dropkey-0.2", "dropout-0.2", "test_accuracy", "higher"),
        ("dropkey-0.2-linear_down", "dropkey-0.2", "test_accuracy", "higher"),
    ]
    judged = verdicts.judge_family(results, family)
    alone = [verdicts.verdict(verdicts.compare(results, m, r, b), expect=e) for r, b, m, e in family]
    assert [v.p_value for v in judged] == [v.p_value for v in alone]
    assert [v.p_adjusted for v in judged] == pytest.approx(stats.holm([v.p_value for v in alone]))
    assert all(v.family_size == 3 and "family of 3" in str(v) for v in judged)
    assert [v.outcome for v in judged] == [verdicts.HOLDS, verdicts.DOES_NOT_HOLD, verdicts.INCONCLUSIVE]


def test_judge_family_names_a_malformed_or_repeated_comparison(results):
    with pytest.raises(ValueError, match="comparisons"):
        verdicts.judge_family(results, [("dropkey-0.1", "dropout-0.1", "test_accuracy")])
    with pytest.raises(ValueError, match="comparisons"):
        verdicts.judge_family(results, [("dropkey-0.1", "none", "gap", "lower")] * 2)
    with pytest.raises(ValueError, match="comparisons"):
        verdicts.judge_family(results, [])


def test_verdict_accepts_a_grid_summary_row_with_its_baseline(results):
    row = {r["run"]: r for r in verdicts.grid_summary(results, "test_accuracy", baseline="none")}["dropout-0.1"]
    assert verdicts.verdict(row, baseline="none").outcome == verdicts.HOLDS
    with pytest.raises(ValueError, match="baseline"):
        verdicts.verdict(row)


def test_verdict_prints_enough_digits_to_separate_difference_and_interval():
    row = {
        "run": "a",
        "baseline": "b",
        "metric": "test_accuracy",
        "n_paired": 3,
        "diff": 0.013201,
        "diff_ci95": 0.013196,
        "p_value": 0.04999,
    }
    v = verdicts.verdict(row)
    assert v.outcome == verdicts.HOLDS
    diff, ci = v.evidence().removesuffix(" pp").split(" ± ")
    assert abs(float(diff)) > float(ci)
    assert "p = 0.05" in str(v) and verdicts.format_p(0.0498) == "0.0498"  # three significant digits


def test_overall_summarises_agreeing_and_mixed_verdicts(results):
    judged = [
        verdicts.verdict(verdicts.compare(results, "test_accuracy", f"dropkey-{r}", f"dropout-{r}")) for r in (0.1, 0.2)
    ]
    assert verdicts.overall(judged[:1]) == verdicts.HOLDS
    assert verdicts.overall(judged) == "mixed: holds in 1, does not hold in 1, inconclusive in 0 (of 2 comparisons)"


def test_overall_counts_equivalence_apart_from_inconclusive():
    def judged(p_value: float, p_equivalence: float) -> verdicts.Verdict:
        row = {"run": "a", "baseline": "b", "metric": "test_accuracy", "n_paired": 20, "diff": 0.001,
               "diff_ci95": 0.002, "p_value": p_value, "p_equivalence": p_equivalence}  # fmt: skip
        return verdicts.verdict(row, margin=0.005)

    equivalent, unsure = judged(0.5, 0.001), judged(0.5, 0.3)
    assert (equivalent.outcome, unsure.outcome) == (verdicts.EQUIVALENT, verdicts.INCONCLUSIVE)
    assert verdicts.overall([equivalent, equivalent]) == verdicts.EQUIVALENT
    assert verdicts.overall([equivalent, unsure]) == (
        "mixed: holds in 0, does not hold in 0, equivalent within the margin in 1, inconclusive in 1 (of 2 comparisons)"
    )


def test_results_table_shows_means_and_paired_differences(results):
    rows = verdicts.grid_summary(results, "test_accuracy", baseline="none", runs=["none", "dropout-0.1"])
    table = verdicts.results_table(rows, baseline="none")
    assert table.cells[0] == ["none", "3", "45.0 ± 12.4", "baseline"]
    assert table.cells[1][3] == "+1.1 ± 0.2"
    text, markdown, html = table.to_text(), table.to_markdown(), table._repr_html_()
    assert "paired Δ vs none" in text and markdown.startswith("| configuration |") and "<table" in html
    assert len({len(line) for line in text.splitlines()[:2]}) == 1  # heading and rule line up


def test_verdict_table_and_layer_table(results):
    v = verdicts.verdict(verdicts.compare(results, "gap", "dropkey-0.1", "none"), expect="lower")
    table = verdicts.verdict_table([v])
    assert table.headings[3:] == ["p", "Holm-adjusted p", "verdict"]
    assert table.cells[0][2] == "3" and table.cells[0][3] == verdicts.format_p(v.p_value)
    assert table.cells[0][5] == v.outcome
    layers = verdicts.layer_table(results, "attention_entropy", ["none", "dropkey-0.1"])
    assert layers.headings == ["configuration", "layer 1", "layer 2", "layer 3"]
    assert layers.cells[0][1] == f"{3.0 + 0.45:.2f}"


def test_provenance_sums_times_and_lists_distinct_sources(results):
    info = verdicts.provenance(results)
    assert info["runs"] == 18 and info["configurations"] == 6 and info["seeds"] == [0, 1, 2]
    assert info["hardware"] == ["CPU X; torch 2, 1 thread(s)"] and info["train_seconds"] == pytest.approx(1800)
    assert tables.format_duration(7530) == "2 h 05 min"
    assert tables.format_duration(450) == "7 min 30 s"
    assert tables.format_duration(42.4) == "42 s"


def test_ratio_sweep_groups_plain_names_only():
    names = ["none", "dropout-0.3", "dropout-0.1", "dropkey-0.2", "dropkey-0.2-linear_up", "dropkey_block-0.2"]
    assert verdicts.ratio_sweep(names) == {
        "dropout": {0.1: "dropout-0.1", 0.3: "dropout-0.3"},
        "dropkey": {0.2: "dropkey-0.2"},
    }


def test_layer_summary_means_and_intervals(results):
    summary = verdicts.layer_summary(results, "attention_distance", ["none"])
    mean, ci = summary["none"]
    assert mean == pytest.approx([8.45, 9.45, 10.45])
    assert ci[0] == pytest.approx(4.302653 * 0.05 / math.sqrt(3), rel=1e-5)


def test_grid_figures_draw_every_configuration(results):
    sweep = verdicts.ratio_sweep([m["run"] for m in results])
    ax = plots.plot_ratio_sweep(results, sweep)
    assert len(ax.containers) == 2  # one error-bar container per family
    ax = plots.plot_metric_bars(results, "gap", ["none", "dropout-0.1", "dropkey-0.1"], baseline="none")
    assert len(ax.patches) == 3
    judged = [verdicts.verdict(verdicts.compare(results, "test_accuracy", "dropkey-0.1", "none"))]
    assert len(plots.plot_differences(judged).get_yticklabels()) == 1
    fig = plots.plot_layer_panels(
        results, "attention_entropy", {"a": ["none"], "b": ["dropkey-0.1", "none"]}, reference=math.log(65)
    )
    assert len(fig.axes) == 2 and len(fig.axes[1].get_lines()) == 3
    plt.close("all")


def test_load_checkpoint_index_accepts_a_mapping_or_a_list(tmp_path):
    (tmp_path / "results").mkdir()
    index = tmp_path / "results" / "checkpoints.json"
    index.write_text(json.dumps({"dropkey": {"path": "results/checkpoints/dropkey.pt", "test_accuracy": 0.5}}))
    loaded = rundir.read_checkpoint_index(index)
    assert loaded["dropkey"]["path"] == tmp_path / "results/checkpoints/dropkey.pt"
    index.write_text(json.dumps([{"path": "results/checkpoints/none.pt", "test_accuracy": 0.4}]))
    assert list(rundir.read_checkpoint_index(index, root="/repo")) == ["none"]
    assert rundir.read_checkpoint_index(index, root="/repo")["none"]["test_accuracy"] == 0.4


def test_with_layer_means_adds_one_number_per_run(results):
    extended = verdicts.with_layer_means(results)
    assert extended[0]["mean_attention_entropy"] == pytest.approx(np.mean(results[0]["attention_entropy"]))
    assert "mean_attention_entropy" not in results[0]  # the input is not modified
    v = verdicts.verdict(verdicts.compare(extended, "mean_attention_distance", "dropkey-0.1", "none"))
    assert v.outcome == verdicts.HOLDS and str(v).endswith("px, 3 seeds; p < 0.001]")


def test_plot_differences_colours_by_the_adjusted_verdict_not_by_the_interval():
    row = {"run": "a", "baseline": "b", "metric": "gap", "n_paired": 5, "diff": 0.0144, "diff_ci95": 0.0144}
    alone = verdicts.verdict({**row, "p_value": 0.0498}, expect="lower")
    in_family = verdicts.verdict({**row, "p_value": 0.0498}, expect="lower", p_adjusted=0.45, family_size=12)
    ax = plots.plot_differences([alone, in_family])
    colours = [matplotlib.colors.to_hex(c.lines[0].get_color()) for c in ax.containers]
    assert colours == [matplotlib.colors.to_hex("tab:red"), matplotlib.colors.to_hex("grey")]
    assert [t.get_text() for t in ax.texts] == ["p = 0.0498", "Holm p = 0.45"]
    plt.close("all")


def test_seed_stats_give_mean_ci_and_the_values_in_seed_order():
    results = [{"run": "a", "seed": s, "test_accuracy": v} for s, v in ((2, 0.7), (0, 0.5), (1, 0.6))]
    mean, ci, values = verdicts.seed_stats(results, "test_accuracy", "a")
    assert values == [0.5, 0.6, 0.7]
    assert (mean, ci) == stats.mean_ci([0.5, 0.6, 0.7])
    with pytest.raises(ValueError, match="no finished runs for configuration 'b'"):
        verdicts.seed_stats(results, "test_accuracy", "b")


def noisy_equal_and_shifted_results() -> list[dict]:
    """20 paired seeds: `same` within a tenth of a point of `none`, `better` one point above it, `worse` one below."""
    rng = np.random.default_rng(0)
    base = rng.normal(0.45, 0.02, 20)
    shifts = {"none": 0.0, "same": 0.0, "better": 0.01, "worse": -0.01}
    return [
        metrics(run, s, float(base[s] + shift + rng.normal(0, 0.001)))
        for run, shift in shifts.items()
        for s in range(20)
    ]


def test_without_a_difference_a_small_paired_difference_is_equivalent_within_the_margin():
    judged = verdicts.judge_family(
        noisy_equal_and_shifted_results(), [("same", "none", "test_accuracy", "higher")], margin=0.005
    )
    assert judged[0].outcome == verdicts.EQUIVALENT and judged[0].decided


def test_a_claim_of_no_gain_holds_by_equivalence():
    family = [("same", "none", "test_accuracy", "not_higher")]
    (same,) = verdicts.judge_family(noisy_equal_and_shifted_results(), family, margin=0.005)
    assert same.outcome == verdicts.HOLDS and "no test accuracy gain over none beyond 0.5" in same.claim()


def test_a_claim_of_no_gain_holds_when_the_baseline_is_shown_better():
    family = [("worse", "none", "test_accuracy", "not_higher")]
    (worse,) = verdicts.judge_family(noisy_equal_and_shifted_results(), family, margin=0.005)
    assert worse.p_adjusted < 0.05 and worse.diff < 0 and worse.outcome == verdicts.HOLDS


def test_a_claim_of_no_gain_fails_when_a_gain_is_shown_and_equivalence_is_not():
    family = [("better", "none", "test_accuracy", "not_higher")]
    (better,) = verdicts.judge_family(noisy_equal_and_shifted_results(), family, margin=0.005)
    assert better.p_adjusted < 0.05 and better.diff > 0 and better.outcome == verdicts.DOES_NOT_HOLD


def test_a_claim_of_no_gain_is_inconclusive_when_neither_test_decides():
    assert verdicts.outcome(0.002, 0.3, "not_higher", 20, p_equivalence_adjusted=0.2) == verdicts.INCONCLUSIVE
    assert (
        verdicts.outcome(0.002, 0.01, "not_higher", 20, p_equivalence_adjusted=0.01) == verdicts.HOLDS
    )  # a gain within the margin


def test_with_a_margin_holm_adjusts_the_difference_and_equivalence_tests_as_one_family():
    family = [("same", "none", "test_accuracy", "higher"), ("better", "none", "test_accuracy", "higher")]
    judged = verdicts.judge_family(noisy_equal_and_shifted_results(), family, margin=0.005)
    raw = [v.p_value for v in judged] + [v.p_equivalence for v in judged]
    adjusted = [v.p_adjusted for v in judged] + [v.p_equivalence_adjusted for v in judged]
    assert adjusted == pytest.approx(stats.holm(raw))
    assert judged[0].family_size == 4 and "equivalence within ±0.5" in str(judged[0])


def test_a_claim_of_no_gain_needs_a_margin():
    with pytest.raises(ValueError, match="margin"):
        verdicts.judge_family(noisy_equal_and_shifted_results(), [("same", "none", "test_accuracy", "not_higher")])


def test_the_detectable_effect_is_at_the_level_of_holms_first_step():
    v = verdicts.judge_family(
        noisy_equal_and_shifted_results(),
        [("same", "none", "test_accuracy", "higher"), ("better", "none", "test_accuracy", "higher")],
    )[0]
    sd = v.ci95 * math.sqrt(v.n_paired) / scipy_t_975(v.n_paired - 1)
    assert v.detectable_effect() == pytest.approx(stats.detectable_effect(sd, v.n_paired, alpha=0.05 / 2))


def scipy_t_975(df: int) -> float:
    from scipy import stats as scipy_stats

    return float(scipy_stats.t.ppf(0.975, df))
