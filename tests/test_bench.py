"""The bench: what DropKey costs, and how the patch-stem TinyViT compares with timm's VisionTransformer."""

import pytest

from dropkey_lib import bench
from dropkey_lib.vit import TinyViT, ViTConfig, count_parameters

timm = pytest.importorskip("timm")  # a dev dependency: the library itself never needs it


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_timm_twin_has_exactly_the_parameters_of_the_patch_stem_model(pool):
    config = ViTConfig(stem="patch", pool=pool)
    assert count_parameters(bench.timm_twin(config)) == count_parameters(TinyViT(config))


def test_training_variants_time_both_stems_with_and_without_dropkey_and_timm():
    variants = bench.training_variants(batch=4)
    expected = {(m, r) for m in ("default", "patch") for r in ("none", "dropkey")}
    assert set(variants) == expected | {("default", "first_block"), ("timm", "none")}


def test_bench_prints_every_ratio(capsys):
    bench.main(["--rounds", "1", "--batch", "4"])
    out = capsys.readouterr().out
    assert out.count("DropKey / no drop") == 2
    assert "DropKey in the first block only / no drop" in out
    assert "TinyViT stem='patch' / timm VisionTransformer" in out
    assert out.count("DropKey / attn_drop, ") == len(bench.TIMM_FAMILIES)


def test_bench_writes_every_number_as_a_measurement_file(tmp_path):
    from dropkey_lib import measurements

    path = tmp_path / "bench.json"
    bench.main(["--rounds", "1", "--batch", "4", "--json", str(path)])
    written = measurements.read(path)
    expected = {"attention.plain", "attention.fast", "training.default.dropkey", "ratio.default.dropkey"}
    assert expected | {"ratio.default.first_block"} <= set(written["values"])
    assert written["values"]["ratio.patch.timm"]["unit"] == "x"
    assert written["command"].startswith("python -m dropkey_lib.bench") and written["machine"]


def test_timm_comparison_times_dropkey_against_attn_drop_in_a_vit_and_a_swin():
    variants = bench.timm_regulariser_variants(batch=4)
    assert set(variants) == {(m, r) for m in bench.TIMM_FAMILIES for r in ("attn_drop", "dropkey")}


def test_timm_swin_has_attn_drop_at_the_rate_asked():
    model = bench.timm_swin(0.1)
    assert {m.attn_drop.p for m in model.modules() if hasattr(m, "attn_drop")} == {0.1}


def test_bench_only_timm_prints_the_dropkey_against_attn_drop_ratios(capsys):
    bench.main(["--only-timm", "--rounds", "1", "--batch", "4"])
    out = capsys.readouterr().out
    assert "DropKey / no drop" not in out
    assert all(f"DropKey / attn_drop, {name}" in out for name in bench.TIMM_FAMILIES)


def test_bench_refuses_json_with_only_timm(tmp_path):
    with pytest.raises(SystemExit):
        bench.main(["--only-timm", "--json", str(tmp_path / "bench.json")])
