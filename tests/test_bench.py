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
    assert set(variants) == {(m, r) for m in ("default", "patch") for r in ("none", "dropkey")} | {("timm", "none")}


def test_bench_prints_every_ratio(capsys):
    bench.main(["--rounds", "1", "--batch", "4"])
    out = capsys.readouterr().out
    assert out.count("DropKey / no drop") == 2
    assert "TinyViT stem='patch' / timm VisionTransformer" in out


def test_bench_writes_every_number_as_a_measurement_file(tmp_path):
    from dropkey_lib import measurements

    path = tmp_path / "bench.json"
    bench.main(["--rounds", "1", "--batch", "4", "--json", str(path)])
    written = measurements.read(path)
    assert {"attention.plain", "attention.fast", "training.default.dropkey", "ratio.default.dropkey"} <= set(
        written["values"]
    )
    assert written["values"]["ratio.patch.timm"]["unit"] == "x"
    assert written["command"].startswith("python -m dropkey_lib.bench") and written["machine"]
