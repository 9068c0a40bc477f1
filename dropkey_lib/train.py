"""Train a TinyViT on CIFAR-10: the library function the notebooks call, and the `dropkey-train` CLI.

    dropkey-train                          # full mode: DropKey (mean ratio 0.1, decreasing with depth), all data
    dropkey-train --mode dropout --drop-ratio 0.1 --out runs/dropout
    dropkey-train --quick                  # small data, model and epochs: well under a minute on 2 cores
    dropkey-train --out runs/x --resume    # continue an interrupted run from its last checkpoint

A run folder (see `rundir`) holds `config.json`, `history.json` (one record per epoch) and `checkpoint.pt`, each
written atomically after every epoch. Ctrl-C finishes the current step, saves a checkpoint and exits; `--resume` then
continues exactly where it stopped: with the same seed it ends with the same weights as an uninterrupted run.

Randomness, and why runs can be paired across configurations:
- the weights are initialised from `torch.manual_seed(seed)`, so every mode starts from the same weights;
- epoch e shuffles and augments from its own generator seeded with (seed, e): same data order for every mode,
  and a resumed epoch replays the same batches from its start batch (see `batches.iterate_batches`);
- the drop masks come from the global torch RNG, whose state the checkpoint saves.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import rundir
from .attention import MODES
from .batches import epoch_generator, eval_batches, iterate_batches
from .checks import check_choice, check_positive_int
from .data import CIFAR10Data, load_cifar10, subset
from .schedules import SCHEDULES
from .settings import quick_mode
from .tables import format_duration
from .vit import POOLS, STEMS, TinyViT, ViTConfig

AUGMENTATIONS = ("crop_flip", "flip", "none")


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults are full mode; see `QUICK` for quick mode.

    The default recipe is tuned for time to accuracy on one CPU core: a narrow convolutional stem (`vit.ConvStem`),
    two blocks with DropKey, mean pooling, batches of 64, 6 epochs, flips only, AdamW with `foreach` (its
    multi-tensor update; on the CPU torch otherwise loops over the parameters). It was chosen by measurement (short
    runs, then full runs side by side with the previous default, README "Measured"); the previous
    default, a plain 4-block ViT with a patch embedding and a class token, is
    `TrainConfig(stem="patch", pool="cls", depth=4, epochs=4, batch_size=128, train_eval_size=5000)`.
    """

    mode: str = "dropkey"  # attention regulariser, one of attention.MODES
    drop_ratio: float = 0.1  # mean drop ratio over the layers
    schedule: str = "linear_down"  # how the ratio changes with depth, one of schedules.SCHEDULES
    window_size: int = 3  # block / cross window side for the structured modes
    stem: str = "conv"  # "conv": convolutional stem; "patch": plain patch embedding (see vit.ViTConfig)
    pool: str = "mean"  # "mean": average the patch tokens; "cls": a class token
    dim: int = 96
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 4.0
    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    # One of AUGMENTATIONS: random 4-pixel-padded crop and flip, flip only, or none. A run of a few epochs on one
    # core is still underfitting, and there random crops cost accuracy: 56.9% with crop_flip against 60.2% with
    # flip after 4 epochs of the previous default (README, "Measured"). Longer runs can choose crop_flip.
    augment: str = "flip"
    warmup_epochs: float = 0.5
    seed: int = 0
    train_size: int | None = None  # use at most this many training images (a class-balanced subset); None = all
    test_size: int | None = None  # evaluate on at most this many test images; None = all 10,000
    train_eval_size: int = 2000  # clean (eval-mode, unaugmented) accuracy is measured on this many train images

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "train_eval_size"):
            check_positive_int(getattr(self, name), name)
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), f"{name} (None for all)", minimum=10)
        check_choice(self.augment, AUGMENTATIONS, "augment")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        self.model_config()  # validates the model's fields: size, mode, drop_ratio, schedule and window_size

    def model_config(self) -> ViTConfig:
        """The architecture and regulariser of the model this run trains."""
        return ViTConfig.from_settings(asdict(self))

    @classmethod
    def create(cls, quick: bool | None = None, **overrides: Any) -> "TrainConfig":
        """The default config of full or quick mode (`quick=None` reads DROPKEY_QUICK), with `overrides` applied."""
        quick = quick_mode() if quick is None else quick
        return cls(**{**(QUICK if quick else {}), **overrides})


# Quick mode: a 0.13M-parameter model (the default's, 64 channels wide) on 4,000 training images for 8 epochs:
# `dropkey-train --quick` took 45 s on 2 cores and reached 46.7% test accuracy; chance is 10% (README, "Measured").
QUICK = dict(dim=64, epochs=8, batch_size=64, train_size=4000, test_size=1000, train_eval_size=1000)


@dataclass
class TrainResult:
    model: nn.Module  # a TinyViT unless `train` was given another model; in eval mode
    history: list[dict]  # one record per epoch, see `train`
    test_accuracy: float  # final test accuracy, in [0, 1]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run after a completed step; the message says where the checkpoint is."""


def train(
    config: TrainConfig,
    *,
    data: CIFAR10Data | str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    callback: Callable[[dict], None] | None = None,
    on_estimate: Callable[[float], None] | None = None,
    device: str | torch.device | None = None,
    model: nn.Module | None = None,
) -> TrainResult:
    """Train a TinyViT with `config` and return the model, its per-epoch history and its final test accuracy.

    data: a loaded `CIFAR10Data`, or a path / None for `load_cifar10` (quick mode falls back to the bundled
        sample when no data set is found).
    out_dir: where config, history and checkpoints go (None: keep everything in memory). An existing run there
        is never overwritten: continue it with `resume=True` or choose another folder.
    callback: called with each epoch's record as soon as the epoch ends (live plots in the notebooks).
    on_estimate: called once, after the first optimiser steps, with the estimated wall time of the whole run in
        seconds, measured on this machine (`DurationEstimator`); with `progress` it is also printed.
    device: where to train, e.g. "cuda" (default: the CPU). Runs are exactly resumable on the CPU; on a GPU the drop
        masks come from the GPU's random number generator, whose state the checkpoint does not hold.
    model: train this module instead of a `TinyViT` built from the config's model fields (e.g. a timm model made
        DropKey by `interop.apply_dropkey`). It must take images (B, 3, 32, 32) in [0, 1] and return logits; its
        initial weights are its own, and a checkpoint of it holds no model config (`rundir.load_model` refuses it).

    Each history record has: epoch, lr, train_loss and train_accuracy (running averages over the augmented
    batches, with drops on), train_eval_accuracy (eval mode, unaugmented, on up to `train_eval_size` training
    images), test_loss, test_accuracy, seconds (wall time of the epoch, evaluation included) and
    images_per_second (training throughput), elapsed_seconds (the `seconds` of this and all earlier epochs: the
    run's time to this accuracy) and finished_at (UTC time stamp, ISO 8601).
    """
    if not isinstance(data, CIFAR10Data):
        data = load_cifar10(data, sample_fallback=quick_mode())
    if data.is_sample and progress:
        print(
            "!" * 80 + "\n! Training on the small CIFAR-10 sample bundled with dropkey_lib, not the full data set.\n"
            "! Accuracies are not comparable with full CIFAR-10. Set DROPKEY_DATA or --data to use the real data.\n"
            + "!"
            * 80
        )
    train_images, train_labels = subset(data.train_images, data.train_labels, config.train_size, config.seed)
    test_images, test_labels = subset(data.test_images, data.test_labels, config.test_size, config.seed)
    probe_images, probe_labels = subset(train_images, train_labels, config.train_eval_size, config.seed)

    device = torch.device(device or "cpu")
    torch.manual_seed(config.seed)
    model = (TinyViT(config.model_config()) if model is None else model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    steps_per_epoch = math.ceil(len(train_images) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)

    run_dir = Path(out_dir) if out_dir is not None else None
    state = _start_or_resume(run_dir, resume, config, model, optimizer)
    history: list[dict] = state["history"]
    estimator = DurationEstimator(
        steps_left=total_steps - state["epoch"] * steps_per_epoch - state["step_in_epoch"],
        batch_size=config.batch_size,
        eval_images_per_epoch=len(test_images) + len(probe_images),
        epochs_left=config.epochs - state["epoch"],
    )

    with _StopRequest() as stop:
        for epoch in range(state["epoch"], config.epochs):
            first_step, totals = 0, {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
            if epoch == state["epoch"] and state["step_in_epoch"]:
                first_step, totals = state["step_in_epoch"], state["totals"]
            batches = iterate_batches(
                train_images,
                train_labels,
                config.batch_size,
                shuffle=True,
                augment=config.augment != "none",
                crop_padding=4 if config.augment == "crop_flip" else 0,
                generator=epoch_generator(config.seed, epoch),
                start_batch=first_step,
            )
            model.train()
            started = time.perf_counter()
            bar = tqdm(
                batches,
                initial=first_step,
                total=steps_per_epoch,
                desc=f"epoch {epoch + 1}/{config.epochs}",
                disable=not progress,
                leave=False,
            )
            for step, (images, labels) in enumerate(bar, start=first_step):
                lr = learning_rate(epoch * steps_per_epoch + step, total_steps, warmup_steps, config.lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                images, labels = images.to(device), labels.to(device)
                logits = model(images)
                loss = F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss.item()} at epoch {epoch + 1}, step {step + 1} (lr {lr:.3g}). "
                        "Try a lower --lr; "
                        + (f"the last good checkpoint is in {run_dir}." if run_dir else "nothing was saved.")
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                estimate = estimator.step()
                if estimate is not None:
                    if progress:
                        tqdm.write(
                            f"estimated duration of this run: about {format_duration(estimate)} on this machine "
                            f"(measured from its first {estimator.measured_steps} steps)"
                        )
                    if on_estimate is not None:
                        on_estimate(estimate)
                totals["loss"] += loss.item() * len(labels)
                totals["correct"] += int((logits.argmax(dim=1) == labels).sum())
                totals["seen"] += len(labels)
                bar.set_postfix(
                    loss=f"{totals['loss'] / totals['seen']:.3f}", acc=f"{totals['correct'] / totals['seen']:.1%}"
                )
                if stop.requested and step + 1 < steps_per_epoch:
                    totals["seconds"] += time.perf_counter() - started
                    _interrupt(run_dir, config, model, optimizer, history, epoch, step + 1, totals)
            bar.close()
            train_seconds = totals["seconds"] + time.perf_counter() - started
            record = {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": totals["loss"] / totals["seen"],
                "train_accuracy": totals["correct"] / totals["seen"],
                "train_eval_accuracy": evaluate(model, probe_images, probe_labels)[1],
            }
            record["test_loss"], record["test_accuracy"] = evaluate(model, test_images, test_labels)
            record["seconds"] = totals["seconds"] + time.perf_counter() - started
            record["images_per_second"] = totals["seen"] / train_seconds
            record["elapsed_seconds"] = sum(r["seconds"] for r in history) + record["seconds"]
            record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            history.append(record)
            if run_dir is not None:
                _save(run_dir, config, model, optimizer, history, epoch + 1, 0, None)
            if progress:
                tqdm.write(format_record(record, config.epochs))
            if callback is not None:
                callback(record)
            if stop.requested and epoch + 1 < config.epochs:
                _interrupt(run_dir, config, model, optimizer, history, epoch + 1, 0, None)
    model.eval()
    return TrainResult(model=model, history=history, test_accuracy=history[-1]["test_accuracy"])


class DurationEstimator:
    """Estimate the wall time of a run from its first optimiser steps, on the machine it runs on.

    `step()` is called after every optimiser step. The first `skip` steps are not timed (allocators and caches warm
    up); the next `measured_steps` are. Then `step()` returns, once, the estimated seconds from the start of the
    run to its end: the time so far, the remaining steps at the measured pace, and the per-epoch evaluations.
    Evaluation is not timed yet at that point; a forward pass in eval mode costs about half a training step per
    image, so each epoch's evaluation of `eval_images_per_epoch` images is counted as that many half-images.
    """

    def __init__(
        self, steps_left: int, batch_size: int, eval_images_per_epoch: int, epochs_left: int, skip: int = 2
    ) -> None:
        self.steps_left = steps_left
        self.batch_size = batch_size
        self.eval_images_per_epoch = eval_images_per_epoch
        self.epochs_left = epochs_left
        self.skip = skip
        self.measured_steps = min(20, max(3, steps_left // 5))
        self.started = time.perf_counter()
        self._steps = 0
        self._timer: float | None = None

    def step(self) -> float | None:
        """Count one optimiser step; return the estimated total seconds once, when the measurement is complete."""
        self._steps += 1
        if self._steps == self.skip:
            self._timer = time.perf_counter()
        if self._timer is None or self._steps != self.skip + self.measured_steps:
            return None
        now = time.perf_counter()
        per_step = (now - self._timer) / self.measured_steps
        evaluation = self.epochs_left * self.eval_images_per_epoch * 0.5 * per_step / self.batch_size
        return now - self.started + (self.steps_left - self._steps) * per_step + evaluation


def learning_rate(step: int, total_steps: int, warmup_steps: int, base_lr: float) -> float:
    """Linear warm-up to `base_lr` over `warmup_steps`, then cosine decay to 0 at `total_steps`.

    A pure function of the step, so a resumed run needs no scheduler state.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 100) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode (no drops) on uint8 images (N, 3, 32, 32)."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    device = next(model.parameters()).device
    for batch, batch_labels in eval_batches(images, labels, batch_size):
        batch, batch_labels = batch.to(device), batch_labels.to(device)
        logits = model(batch)
        loss_sum += F.cross_entropy(logits, batch_labels, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == batch_labels).sum())
    model.train(was_training)
    return loss_sum / len(images), correct / len(images)


def format_record(record: dict, epochs: int) -> str:
    """One line per epoch for logs."""
    return (
        f"epoch {record['epoch']}/{epochs}  train loss {record['train_loss']:.3f} acc {record['train_accuracy']:.1%}  "
        f"test loss {record['test_loss']:.3f} acc {record['test_accuracy']:.1%}  "
        f"({record['seconds']:.0f} s, {record['images_per_second']:.0f} img/s)"
    )


# ------------------------------------------------------------------------------------------------------------------
# Checkpoints


def _save(
    run_dir: Path,
    config: TrainConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    history: list[dict],
    epoch: int,
    step_in_epoch: int,
    totals: dict | None,
) -> None:
    """Write the checkpoint, then the history, each atomically. `epoch` counts completed epochs."""
    checkpoint = {
        "config": asdict(config),
        "model_config": model.config.to_dict() if isinstance(model, TinyViT) else None,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "history": history,
        "epoch": epoch,
        "step_in_epoch": step_in_epoch,
        "totals": totals,
        "torch_rng": torch.get_rng_state(),
    }
    rundir.write_checkpoint(run_dir, checkpoint)
    rundir.write_history(run_dir, history)


def _start_or_resume(
    run_dir: Path | None, resume: bool, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer
) -> dict:
    """Prepare `run_dir` for a new run, or restore model, optimizer, RNG and position from its checkpoint."""
    fresh = {"epoch": 0, "step_in_epoch": 0, "history": []}
    if run_dir is None:
        if resume:
            raise ValueError("resume=True needs out_dir: the folder of the run to continue")
        return fresh
    if not resume:
        if rundir.has_checkpoint(run_dir):
            raise FileExistsError(
                f"{run_dir} already holds a run. Continue it with --resume, or pass another --out folder."
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_config(run_dir, config)
        return fresh
    if not rundir.has_checkpoint(run_dir):
        raise FileNotFoundError(f"nothing to resume: {run_dir / rundir.CHECKPOINT_FILE} does not exist")
    checkpoint = rundir.read_checkpoint(run_dir / rundir.CHECKPOINT_FILE)
    rundir.check_same_config(checkpoint["config"], asdict(config), run_dir)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["torch_rng"])
    return checkpoint


def _interrupt(run_dir: Path | None, config, model, optimizer, history, epoch, step, totals) -> None:
    """Save a checkpoint at this step (if the run has a folder) and stop the run."""
    if run_dir is None:
        raise TrainingInterrupted("training interrupted; the run had no out_dir, so nothing was saved")
    _save(run_dir, config, model, optimizer, history, epoch, step, totals)
    raise TrainingInterrupted(f"training interrupted; checkpoint saved in {run_dir}. Continue with --resume.")


class _StopRequest:
    """While installed, the first Ctrl-C only sets `requested`; the loop stops after the current step.

    A second Ctrl-C interrupts at once. Outside the main thread signals cannot be caught, so nothing is installed.
    """

    def __init__(self) -> None:
        self.requested = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "_StopRequest":
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# ------------------------------------------------------------------------------------------------------------------
# CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="dropkey-train", description="Train a TinyViT on CIFAR-10 with DropKey.")
    parser.add_argument("--mode", choices=MODES, help=f"attention regulariser (default {defaults.mode})")
    parser.add_argument(
        "--drop-ratio", type=float, help=f"mean drop ratio over the layers (default {defaults.drop_ratio})"
    )
    parser.add_argument("--schedule", choices=SCHEDULES, help=f"ratio over depth (default {defaults.schedule})")
    parser.add_argument("--window-size", type=int, help="block/cross window side (default 3)")
    parser.add_argument(
        "--stem", choices=STEMS, help=f"convolutional stem or plain patch embedding (default {defaults.stem})"
    )
    parser.add_argument("--pool", choices=POOLS, help=f"mean of the tokens or class token (default {defaults.pool})")
    parser.add_argument("--epochs", type=int, help=f"default {defaults.epochs} ({QUICK['epochs']} with --quick)")
    parser.add_argument("--batch-size", type=int, help=f"default {defaults.batch_size}")
    parser.add_argument("--lr", type=float, help=f"peak learning rate (default {defaults.lr})")
    parser.add_argument("--seed", type=int, help="default 0")
    parser.add_argument("--train-size", type=int, help="use a class-balanced subset of this many training images")
    parser.add_argument("--augment", choices=AUGMENTATIONS, help="training augmentation (default flip)")
    parser.add_argument("--data", help="CIFAR-10 location (also env DROPKEY_DATA); see dropkey_lib.data")
    parser.add_argument("--out", help="run folder (default runs/<mode>-<ratio>-<schedule>-seed<seed>)")
    parser.add_argument("--quick", action="store_true", help="small data, model and epochs (also DROPKEY_QUICK=1)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", help="where to train, e.g. cuda (default: the CPU)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = {
        name: value
        for name, value in vars(args).items()
        if value is not None and name not in ("data", "out", "quick", "resume", "threads", "device")
    }
    try:
        config = TrainConfig.create(quick=args.quick or quick_mode(), **overrides)
    except ValueError as error:
        print(f"dropkey-train: error: {error}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out or f"runs/{config.mode}-{config.drop_ratio:g}-{config.schedule}-seed{config.seed}")
    print(f"run folder: {out}\nconfig: {json.dumps(asdict(config))}")
    try:
        result = train(config, data=args.data, out_dir=out, resume=args.resume, device=args.device)
    except TrainingInterrupted as error:
        print(f"\n{error}", file=sys.stderr)
        return 130
    except (TrainingDiverged, FileExistsError, FileNotFoundError, ValueError) as error:
        print(f"dropkey-train: error: {error}", file=sys.stderr)
        return 1
    print(f"test accuracy: {result.test_accuracy:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
