"""How much does DropKey cost? `python -m dropkey_lib.bench` prints a Markdown table measured in one process.

1. Attention forward + backward at the default TinyViT's shapes (batch 128, 4 heads, 65 tokens, head dim 24):
   plain attention, classic attention dropout, Algorithm 1 as written (the reference), and the library's fast
   DropKey (cheap mask sampler + fused `scaled_dot_product_attention`).
2. Training throughput (images/s) of the default TinyViT with no drop and with DropKey (mean ratio 0.1,
   decreasing with depth), on random images so that data loading is not measured.

Variants are timed in interleaved rounds and each reports its median, so a burst of load from another process
hits all of them alike. Timings vary between machines; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from .attention import attention, dropkey_attention_reference
from .vit import TinyViT, ViTConfig


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
    batch: int = 128, heads: int = 4, tokens: int = 65, head_dim: int = 24, drop_ratio: float = 0.1
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


def training_variants(batch: int = 128) -> dict:
    """One optimizer step of the default TinyViT without and with DropKey, on a fixed random batch."""
    images = torch.rand(batch, 3, 32, 32)
    labels = torch.randint(0, 10, (batch,))

    def step_fn(config: ViTConfig) -> Callable[[], None]:
        torch.manual_seed(0)
        model = TinyViT(config).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def run() -> None:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return run

    dropkey = ViTConfig()
    return {
        "TinyViT, no drop": step_fn(ViTConfig(mode="none", drop_ratio=0.0)),
        f"TinyViT, DropKey (mean r={dropkey.drop_ratio}, {dropkey.schedule})": step_fn(dropkey),
    }


def machine() -> str:
    """CPU model, threads and torch version, for the table's caption."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds per variant (default 20)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"Machine: {machine()}\n")
    attention_times = time_interleaved(attention_variants(), rounds=args.rounds, calls=10)
    baseline = attention_times["plain attention (SDPA)"]
    print("| attention forward + backward (B=128, H=4, N=65, D=24) | ms | vs plain |")
    print("|---|---:|---:|")
    for name, seconds in attention_times.items():
        print(f"| {name} | {seconds * 1e3:.2f} | {seconds / baseline:.2f}x |")

    training_times = time_interleaved(training_variants(), rounds=args.rounds, calls=3)
    no_drop = training_times["TinyViT, no drop"]
    print("\n| training step (batch 128, AdamW) | images/s | vs no drop |")
    print("|---|---:|---:|")
    for name, seconds in training_times.items():
        print(f"| {name} | {128 / seconds:.0f} | {no_drop / seconds:.3f}x |")


if __name__ == "__main__":
    main()
