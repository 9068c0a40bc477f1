"""How much does DropKey cost? `python -m dropkey_lib.bench` prints a Markdown table measured in one process.

1. Attention forward + backward at the default TinyViT's shapes (batch 64, 4 heads, 64 tokens, head dim 24):
   plain attention, classic attention dropout, Algorithm 1 as written (the reference), and the library's fast
   DropKey (cheap mask sampler + fused `scaled_dot_product_attention`).
2. Training throughput (images/s), on random images so that data loading is not measured, of the default TinyViT
   (convolutional stem) and of the patch-embedding TinyViT (`stem="patch"`), each with no drop and with DropKey
   (mean ratio 0.1, decreasing with depth, every block dropping), of the default TinyViT with DropKey in its first
   block only (`linear_down`, the default schedule before `down_to_half`), and of timm's `VisionTransformer` built
   with the patch model's shape (random weights; needs timm, a dev dependency, and is skipped without it). It prints
   the ratios DropKey / no drop and TinyViT / timm.
3. DropKey against timm's own attention dropout (`attn_drop_rate`, after the softmax) at the same constant ratio,
   in two timm families: the same `VisionTransformer` and a small Swin Transformer for 32x32 images (shifted
   windows, relative position bias), converted by `interop.apply_dropkey` (needs timm; skipped without it).

Variants are timed in interleaved rounds and each reports its median, so a burst of load from another process
hits all of them alike. Timings vary between machines; compare ratios, not absolute numbers.

`--json PATH` also writes every number as a measurement file (`dropkey_lib.measurements`), with the machine, the
date and the command: the README's bench tables are generated from `results/measurements/bench-*.json`
(`scripts/figures.py`), so a new measurement is one command and `python scripts/figures.py --write` away.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from dataclasses import replace
from typing import Callable

import torch
import torch.nn.functional as F

from . import measurements
from .attention import DropConfig, attention, dropkey_attention_reference
from .config import TrainConfig, ViTConfig
from .hardware import machine
from .vit import TinyViT

TIMM_FAMILIES = ("timm ViT", "timm Swin")  # the timm models of the DropKey-against-attn_drop comparison


def time_interleaved(variants: dict[str, Callable[[], None]], rounds: int, calls: int) -> dict[str, float]:
    """Median seconds per call of each variant, over `rounds` interleaved rounds of `calls` calls each."""
    for fn in variants.values():  # warm-up: allocator, kernels, lazy init
        fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def attention_variants(
    batch: int = 64, heads: int = 4, tokens: int = 64, head_dim: int = 24, drop_ratio: float = 0.1
) -> dict:
    """Forward + backward closures for each attention implementation at the given shapes."""
    q, k, v = (torch.randn(batch, heads, tokens, head_dim, requires_grad=True) for _ in range(3))

    def step(fn: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            fn().sum().backward()
            for t in (q, k, v):
                t.grad = None

        return run

    return {
        "plain attention (SDPA)": step(lambda: attention(q, k, v, mode="none")),
        f"attention dropout, r={drop_ratio}": step(
            lambda: attention(q, k, v, mode="dropout", drop_ratio=drop_ratio, training=True)
        ),
        f"DropKey, Algorithm 1 reference, r={drop_ratio}": step(
            lambda: dropkey_attention_reference(q, k, v, drop_ratio)
        ),
        f"DropKey, fast path, r={drop_ratio}": step(
            lambda: attention(q, k, v, mode="dropkey", drop_ratio=drop_ratio, training=True)
        ),
    }


# The measurement file's key of each attention variant, in the order of `attention_variants`.
ATTENTION_KEYS = ("plain", "dropout", "reference", "fast")


def measurement_values(attention_times: dict[str, float], training_times: dict, batch: int) -> dict[str, dict]:
    """The bench's numbers as measurement values: `attention.<variant>` in ms (keys `ATTENTION_KEYS`),
    `training.<model>.<regulariser>` in images/s, and the ratios `ratio.<model>.dropkey` (DropKey / no drop),
    `ratio.default.first_block` (DropKey in the first block only / no drop) and
    `ratio.patch.timm` (TinyViT stem='patch' / timm), as printed."""
    values = {
        f"attention.{key}": measurements.value(round(seconds * 1e3, 2), "ms")
        for key, seconds in zip(ATTENTION_KEYS, attention_times.values())
    }
    for (model, mode), seconds in training_times.items():
        values[f"training.{model}.{mode}"] = measurements.value(round(batch / seconds, 1), "images/s")
    for model, mode in (("default", "dropkey"), ("patch", "dropkey"), ("default", "first_block")):
        ratio = training_times[model, "none"] / training_times[model, mode]
        values[f"ratio.{model}.{mode}"] = measurements.value(round(ratio, 3), "x")
    if ("timm", "none") in training_times:
        ratio = training_times["timm", "none"] / training_times["patch", "none"]
        values["ratio.patch.timm"] = measurements.value(round(ratio, 3), "x")
    return values


def timm_twin(config: ViTConfig) -> torch.nn.Module:
    """timm's `VisionTransformer` with the width, depth, heads, MLP ratio, patch and image size and pooling of a
    patch-stem `config`, random weights (nothing is downloaded). Needs timm (a dev dependency), imported here only."""
    from timm.models.vision_transformer import VisionTransformer

    cls_pool = config.pool == "cls"
    return VisionTransformer(
        img_size=config.image_size,
        patch_size=config.patch_size,
        num_classes=config.num_classes,
        embed_dim=config.dim,
        depth=config.depth,
        num_heads=config.num_heads,
        mlp_ratio=config.mlp_ratio,
        class_token=cls_pool,
        global_pool="token" if cls_pool else "avg",
        fc_norm=False,  # like TinyViT: LayerNorm over the tokens, then pool
    )


def timm_swin(attn_drop_rate: float = 0.0) -> torch.nn.Module:
    """A small timm Swin Transformer for 32x32 images (patches of 2, windows of 4 x 4, shifted every second block;
    3 stages of 2 blocks, 48 to 192 channels), random weights, timm's `attn_drop_rate` as given, no stochastic
    depth. Needs timm, imported here only."""
    import timm

    return timm.create_model(
        "swin_tiny_patch4_window7_224", pretrained=False, num_classes=10, img_size=32, patch_size=2, window_size=4,
        embed_dim=48, depths=(2, 2, 2), num_heads=(3, 6, 12), attn_drop_rate=attn_drop_rate, drop_path_rate=0.0,
    )  # fmt: skip


def timm_vit(config: ViTConfig, attn_drop_rate: float = 0.0) -> torch.nn.Module:
    """`timm_twin(config)` with timm's `attn_drop_rate` (post-softmax attention dropout) at every layer."""
    model = timm_twin(config)
    for module in model.modules():
        if hasattr(module, "attn_drop"):
            module.attn_drop.p = attn_drop_rate
    return model


def timm_regulariser_variants(batch: int = 64, drop_ratio: float = 0.1) -> dict:
    """One optimizer step of each timm model of `TIMM_FAMILIES`, with timm's `attn_drop_rate` = drop_ratio and with
    DropKey at the same constant ratio instead (`interop.apply_dropkey(model, drop_ratio, "constant")`), on a fixed
    random batch. Keys: (model, regulariser), regulariser "attn_drop" or "dropkey"."""
    from .interop import apply_dropkey

    images = torch.rand(batch, 3, 32, 32)
    labels = torch.randint(0, 10, (batch,))
    builders = {
        "timm ViT": lambda rate: timm_vit(replace(ViTConfig(), stem="patch"), rate),
        "timm Swin": timm_swin,
    }
    variants = {}
    for name, build in builders.items():
        torch.manual_seed(0)
        variants[name, "attn_drop"] = training_step(build(drop_ratio), images, labels)
        torch.manual_seed(0)
        variants[name, "dropkey"] = training_step(apply_dropkey(build(0.0), drop_ratio, "constant"), images, labels)
    return variants


def training_step(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Callable[[], None]:
    """A closure that runs one AdamW step of `model` (in train mode) on a fixed batch."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)  # as train.train

    def run() -> None:
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return run


def training_variants(batch: int = 64, with_timm: bool = True) -> dict:
    """One optimizer step of the default TinyViT and of the patch-stem TinyViT, each without and with DropKey,
    of the default TinyViT with DropKey in its first block only (the schedule `linear_down`, the default before
    `down_to_half`: what dropping in every block costs), and of timm's `VisionTransformer` twin of the patch-stem
    model (`timm_twin`, when timm is installed), all on the same fixed random batch. Keys: (model, regulariser)
    pairs, e.g. ("default", "dropkey"), ("default", "first_block") or ("timm", "none")."""
    images = torch.rand(batch, 3, 32, 32)
    labels = torch.randint(0, 10, (batch,))
    default = ViTConfig()
    models = {"default": default, "patch": replace(default, stem="patch")}
    variants = {}
    for name, config in models.items():
        for mode in ("none", "dropkey"):
            torch.manual_seed(0)
            model_config = replace(config, drop=DropConfig(mode="none")) if mode == "none" else config
            variants[name, mode] = training_step(TinyViT(model_config), images, labels)
    torch.manual_seed(0)
    first_block = replace(default, drop=replace(default.drop, schedule="linear_down"))
    variants["default", "first_block"] = training_step(TinyViT(first_block), images, labels)
    if with_timm:
        torch.manual_seed(0)
        variants["timm", "none"] = training_step(timm_twin(models["patch"]), images, labels)
    return variants


def has_timm() -> bool:
    return importlib.util.find_spec("timm") is not None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds per variant (default 20)")
    batch = TrainConfig().batch_size
    parser.add_argument("--batch", type=int, default=batch, help=f"batch size (default {batch}, the recipe's)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as a measurement file (see above)")
    parser.add_argument(
        "--only-timm", action="store_true", help="only the DropKey-against-attn_drop comparison in timm models"
    )
    args = parser.parse_args(argv)
    if args.json and args.only_timm:
        parser.error("--json records the TinyViT tables, which --only-timm leaves out")
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"Machine: {machine()}\n")
    if not args.only_timm:
        values = tinyvit_tables(args)
    if has_timm():
        timm_table(args)
    else:
        print("timm is not installed (pip install timm, a dev dependency): no comparison with timm")
    if args.json:
        command = "python -m dropkey_lib.bench " + " ".join(sys.argv[1:] if argv is None else argv)
        what = f"what DropKey costs: medians of {args.rounds} interleaved rounds, batch {args.batch}"
        print(f"written: {measurements.write(args.json, measurements.record(what, command.strip(), values))}")


def tinyvit_tables(args: argparse.Namespace) -> dict:
    """Parts 1 and 2: attention forward + backward, and training steps of TinyViT (and timm's ViT twin); returns
    their numbers as measurement values (`measurement_values`)."""
    config = ViTConfig()
    tokens = config.layout.num_tokens
    heads, head_dim = config.num_heads, config.dim // config.num_heads
    attention_times = time_interleaved(
        attention_variants(args.batch, heads, tokens, head_dim), rounds=args.rounds, calls=10
    )
    baseline = attention_times["plain attention (SDPA)"]
    print(f"| attention forward + backward (B={args.batch}, H={heads}, N={tokens}, D={head_dim}) | ms | vs plain |")
    print("|---|---:|---:|")
    for name, seconds in attention_times.items():
        print(f"| {name} | {seconds * 1e3:.2f} | {seconds / baseline:.2f}x |")

    with_timm = has_timm()
    training_times = time_interleaved(training_variants(args.batch, with_timm), rounds=args.rounds, calls=6)
    names = {
        "default": f"TinyViT, default (stem={config.stem!r}, pool={config.pool!r})",
        "patch": f"TinyViT, stem='patch' (pool={config.pool!r})",
        "timm": "timm VisionTransformer, same shape as stem='patch'",
    }
    regularisers = {
        "none": "no drop",
        "dropkey": f"DropKey (mean r={config.drop.drop_ratio}, {config.drop.schedule})",
        "first_block": f"DropKey (mean r={config.drop.drop_ratio}, linear_down: first block only)",
    }
    print(f"\n| training step (batch {args.batch}, AdamW) | images/s | vs no drop |")
    print("|---|---:|---:|")
    for (model, mode), seconds in training_times.items():
        print(
            f"| {names[model]}, {regularisers[mode]} | {args.batch / seconds:.0f} | "
            f"{training_times[model, 'none'] / seconds:.3f}x |"
        )
    print()
    for model in ("default", "patch"):
        ratio = training_times[model, "none"] / training_times[model, "dropkey"]
        print(f"DropKey / no drop, {names[model]}: {ratio:.3f}x training throughput")
    ratio = training_times["default", "none"] / training_times["default", "first_block"]
    print(f"DropKey in the first block only / no drop, {names['default']}: {ratio:.3f}x training throughput")
    if with_timm:
        ratio = training_times["timm", "none"] / training_times["patch", "none"]
        print(f"TinyViT stem='patch' / timm VisionTransformer, no drop: {ratio:.3f}x training throughput")
    return measurement_values(attention_times, training_times, args.batch)


def timm_table(args: argparse.Namespace, drop_ratio: float = 0.1) -> None:
    """Part 3: DropKey against timm's attn_drop_rate at the same ratio, in each of `TIMM_FAMILIES`."""
    times = time_interleaved(timm_regulariser_variants(args.batch, drop_ratio), rounds=args.rounds, calls=6)
    print(f"\n| timm model, training step (batch {args.batch}, AdamW), r={drop_ratio} at every layer | "
          "attn_drop_rate, images/s | DropKey, images/s | DropKey / attn_drop |")  # fmt: skip
    print("|---|---:|---:|---:|")
    for name in TIMM_FAMILIES:
        post, dropkey = times[name, "attn_drop"], times[name, "dropkey"]
        print(f"| {name} | {args.batch / post:.0f} | {args.batch / dropkey:.0f} | {post / dropkey:.3f}x |")
    print()
    for name in TIMM_FAMILIES:
        ratio = times[name, "attn_drop"] / times[name, "dropkey"]
        print(f"DropKey / attn_drop, {name}: {ratio:.3f}x training throughput")


if __name__ == "__main__":
    main()
