"""Train a TinyViT on CIFAR-10: the library function the notebooks call, and the `dropkey-train` CLI.

    dropkey-train                          # full mode: DropKey (mean ratio 0.1, decreasing with depth), all data
    dropkey-train --mode dropout --drop-ratio 0.1 --out runs/dropout
    dropkey-train --quick                  # small data, model and epochs: well under a minute on 2 cores
    dropkey-train --out runs/x --resume    # continue an interrupted run from its last checkpoint

A run folder (see `rundir`) holds `config.json`, `history.json` (one record per epoch) and `checkpoint.pt`, each
written atomically after every epoch. Ctrl-C finishes the current step, saves a checkpoint and exits; `--resume` then
continues exactly where it stopped: with the same seed it ends with the same weights as an uninterrupted run. A run
killed outright (SIGKILL, a crash), even in the middle of a write, resumes from its last epoch's checkpoint (or from
its start, when killed in its first epoch) to the same weights and history too. While a run trains, its folder is
locked: a second run into it refuses.

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
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import rundir
from .attention_config import MODES
from .batches import epoch_generator, eval_batches, iterate_batches
from .config import AUGMENTATIONS, FLAT_FIELDS, POOLS, STEMS, TrainConfig
from .data import CIFAR10Data, load_cifar10, subset
from .schedules import SCHEDULES
from .settings import quick_mode
from .tables import format_duration
from .vit import TinyViT


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
        is never overwritten: continue it with `resume=True` or choose another folder. While a run trains, its
        folder is locked: a second run into it raises `rundir.RunFolderInUse`.
    callback: called with each epoch's record as soon as the epoch ends (live plots in the notebooks).
    on_estimate: called with the estimated wall time of the whole run in seconds, measured on this machine
        (`DurationEstimator`): after the first optimiser steps, and again, refreshed, after the first epoch (once
        only, from the first epoch, when that ends before the first steps are measured); with `progress` each is
        also printed.
    device: where to train, e.g. "cuda" (default: the CPU). Runs are exactly resumable on the CPU; on a GPU the drop
        masks come from the GPU's random number generator, whose state the checkpoint does not hold.
    model: train this module instead of a `TinyViT` built from `config.model` (e.g. a timm model made DropKey by
        `interop.apply_dropkey`). It must take images (B, 3, 32, 32) in [0, 1] and return logits; its initial
        weights are its own, and `rundir.load_model` refuses its checkpoint (it cannot rebuild the module).

    Each history record has: epoch, lr, the running_train_loss and running_train_accuracy of the epoch's batches,
    probe_train_accuracy, probe_test_loss and probe_test_accuracy (on the run's evaluation subsets), seconds (wall
    time of the epoch, evaluation included), images_per_second (training throughput), elapsed_seconds (the
    `seconds` of this and all earlier epochs: the run's time to this accuracy) and finished_at (UTC time stamp,
    ISO 8601). `metrics.METRICS` defines each.
    """
    if not isinstance(data, CIFAR10Data):
        data = load_cifar10(data, sample_fallback=quick_mode())
    if data.is_sample and progress:
        print(SAMPLE_WARNING)
    train_images, train_labels = subset(data.train_images, data.train_labels, config.train_size, config.seed)
    test_images, test_labels = subset(data.test_images, data.test_labels, config.test_size, config.seed)
    probe_images, probe_labels = subset(train_images, train_labels, config.train_eval_size, config.seed)

    device = torch.device(device or "cpu")
    torch.manual_seed(config.seed)
    model = (TinyViT(config.model) if model is None else model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    run_dir = Path(out_dir) if out_dir is not None else None
    # One run at a time in a folder: a second one refuses (rundir.RunFolderInUse) instead of mixing their files.
    with rundir.lock_run(run_dir) if run_dir is not None else nullcontext():
        state = _start_or_resume(run_dir, resume, config, model, optimizer)
        history: list[dict] = state["history"]
        steps_per_epoch = math.ceil(len(train_images) / config.batch_size)
        schedule = _Schedule(config, steps_per_epoch)
        estimator = DurationEstimator(
            steps_left=schedule.total_steps - state["epoch"] * steps_per_epoch - state["step_in_epoch"],
            batch_size=config.batch_size,
            eval_images_per_epoch=len(test_images) + len(probe_images),
            epochs_left=config.epochs - state["epoch"],
        )
        run = _RunState(config, model, optimizer, history, run_dir)
        report = _EstimateReport(estimator, progress, on_estimate)

        with _StopRequest() as stop:
            for epoch in range(state["epoch"], config.epochs):
                resumed = epoch == state["epoch"] and state["step_in_epoch"]
                first_step = state["step_in_epoch"] if resumed else 0
                totals = state["totals"] if resumed else {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
                started = time.perf_counter()
                lr = _train_epoch(
                    run,
                    train_images,
                    train_labels,
                    epoch,
                    first_step,
                    totals,
                    schedule,
                    stop,
                    started,
                    device,
                    report.after_step,
                    progress,
                )
                train_seconds = totals["seconds"] + time.perf_counter() - started
                record = {
                    "epoch": epoch + 1,
                    "lr": lr,
                    "running_train_loss": totals["loss"] / totals["seen"],
                    "running_train_accuracy": totals["correct"] / totals["seen"],
                    "probe_train_accuracy": evaluate(model, probe_images, probe_labels)[1],
                }
                record["probe_test_loss"], record["probe_test_accuracy"] = evaluate(model, test_images, test_labels)
                record["seconds"] = totals["seconds"] + time.perf_counter() - started
                record["images_per_second"] = totals["seen"] / train_seconds
                record["elapsed_seconds"] = sum(r["seconds"] for r in history) + record["seconds"]
                record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
                history.append(record)
                if run_dir is not None:
                    run.save(epoch + 1, 0, None)
                if progress:
                    tqdm.write(format_record(record, config.epochs))
                report.after_epoch(record)
                if callback is not None:
                    callback(record)
                if stop.requested and epoch + 1 < config.epochs:
                    run.interrupt(epoch + 1, 0, None)
    model.eval()
    return TrainResult(model=model, history=history, test_accuracy=history[-1]["probe_test_accuracy"])


SAMPLE_WARNING = (
    "!" * 80 + "\n! Training on the small CIFAR-10 sample bundled with dropkey_lib, not the full data set.\n"
    "! Accuracies are not comparable with full CIFAR-10. Set DROPKEY_DATA or --data to use the real data.\n" + "!" * 80
)


@dataclass
class _Schedule:
    """Steps of a run and the learning rate of each step (`learning_rate`)."""

    config: TrainConfig
    steps_per_epoch: int

    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch

    def lr(self, epoch: int, step: int) -> float:
        warmup_steps = round(self.config.warmup_epochs * self.steps_per_epoch)
        return learning_rate(epoch * self.steps_per_epoch + step, self.total_steps, warmup_steps, self.config.lr)


@dataclass
class _RunState:
    """What a checkpoint saves, and where: the config, model, optimizer and history of a run."""

    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    history: list[dict]
    run_dir: Path | None

    def save(self, epoch: int, step_in_epoch: int, totals: dict | None) -> None:
        """Write the checkpoint, then the history, each atomically. `epoch` counts completed epochs."""
        checkpoint = {
            "config": self.config.to_dict(),
            "model_class": type(self.model).__name__,  # rundir.load_model rebuilds only a TinyViT
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "history": self.history,
            "epoch": epoch,
            "step_in_epoch": step_in_epoch,
            "totals": totals,
            "torch_rng": torch.get_rng_state(),
        }
        rundir.write_checkpoint(self.run_dir, checkpoint)
        rundir.write_history(self.run_dir, self.history)

    def interrupt(self, epoch: int, step_in_epoch: int, totals: dict | None) -> None:
        """Save a checkpoint at this step (if the run has a folder) and stop the run."""
        if self.run_dir is None:
            raise TrainingInterrupted("training interrupted; the run had no out_dir, so nothing was saved")
        self.save(epoch, step_in_epoch, totals)
        raise TrainingInterrupted(f"training interrupted; checkpoint saved in {self.run_dir}. Continue with --resume.")


class _EstimateReport:
    """Reports the run's estimated duration (`DurationEstimator`) to `on_estimate` and, with `progress`, on screen:
    once the first steps are measured, and again, refreshed, after the first epoch."""

    def __init__(
        self, estimator: "DurationEstimator", progress: bool, on_estimate: Callable[[float], None] | None
    ) -> None:
        self.estimator = estimator
        self.progress = progress
        self.on_estimate = on_estimate

    def after_step(self) -> None:
        estimate = self.estimator.step()
        if estimate is not None:
            self._report(
                estimate,
                f"estimated duration of this run: about {format_duration(estimate)} on this machine "
                f"(measured from its first {self.estimator.measured_steps} steps)",
            )

    def after_epoch(self, record: dict) -> None:
        estimate = self.estimator.epoch_end(record["seconds"])
        if estimate is None:
            return
        earlier = self.estimator.first_estimate
        self._report(
            estimate,
            f"estimated duration of this run after epoch {record['epoch']}: about {format_duration(estimate)} on "
            "this machine" + (f" (was {format_duration(earlier)})" if earlier is not None else ""),
        )

    def _report(self, estimate: float, message: str) -> None:
        if self.progress:
            tqdm.write(message)
        if self.on_estimate is not None:
            self.on_estimate(estimate)


def _train_epoch(
    run: _RunState,
    images: Tensor,
    labels: Tensor,
    epoch: int,
    first_step: int,
    totals: dict,
    schedule: _Schedule,
    stop: "_StopRequest",
    started: float,
    device: torch.device,
    after_step: Callable[[], None],
    progress: bool,
) -> float:
    """Train one epoch from `first_step`, adding loss, hits, images and time to `totals`; return the last lr."""
    config, model, optimizer = run.config, run.model, run.optimizer
    batches = iterate_batches(
        images,
        labels,
        config.batch_size,
        shuffle=True,
        augment=config.augment != "none",
        crop_padding=4 if config.augment == "crop_flip" else 0,
        generator=epoch_generator(config.seed, epoch),
        start_batch=first_step,
    )
    model.train()
    steps = schedule.steps_per_epoch
    bar = tqdm(
        batches,
        initial=first_step,
        total=steps,
        desc=f"epoch {epoch + 1}/{config.epochs}",
        disable=not progress,
        leave=False,
    )
    lr = schedule.lr(epoch, first_step)
    for step, (batch, batch_labels) in enumerate(bar, start=first_step):
        lr = schedule.lr(epoch, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch, batch_labels = batch.to(device), batch_labels.to(device)
        logits = model(batch)
        loss = F.cross_entropy(logits, batch_labels, label_smoothing=config.label_smoothing)
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"the loss became {loss.item()} at epoch {epoch + 1}, step {step + 1} (lr {lr:.3g}). Try a lower "
                "--lr; " + (f"the last good checkpoint is in {run.run_dir}." if run.run_dir else "nothing was saved.")
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        after_step()
        totals["loss"] += loss.item() * len(batch_labels)
        totals["correct"] += int((logits.argmax(dim=1) == batch_labels).sum())
        totals["seen"] += len(batch_labels)
        bar.set_postfix(loss=f"{totals['loss'] / totals['seen']:.3f}", acc=f"{totals['correct'] / totals['seen']:.1%}")
        if stop.requested and step + 1 < steps:
            totals["seconds"] += time.perf_counter() - started
            run.interrupt(epoch, step + 1, totals)
    bar.close()
    return lr


class DurationEstimator:
    """Estimate the wall time of a run on the machine it runs on: from its first optimiser steps, then again from
    its first epoch.

    `step()` is called after every optimiser step. The first `skip` steps are not timed (allocators and caches warm
    up); the next `measured_steps` are. Then `step()` returns, once, the estimated seconds from the start of the
    run to its end: the time so far, the remaining steps at the measured pace, and the per-epoch evaluations.
    Evaluation is not timed yet at that point; a forward pass in eval mode costs about half a training step per
    image, so each epoch's evaluation of `eval_images_per_epoch` images is counted as that many half-images.

    A few steps can mislead: with another process starting at the same time, they once announced 1 h 11 min for a
    run that took 25 min. So `epoch_end(seconds)`, called after each epoch with its wall time, returns once, after
    the first epoch that ends, a refreshed estimate: the time so far plus the remaining epochs at that epoch's pace,
    its evaluation measured too. After it `step()` returns nothing more; `first_estimate` keeps what `step()` said.
    `clock` gives the time in seconds (a fake one in tests).
    """

    def __init__(
        self,
        steps_left: int,
        batch_size: int,
        eval_images_per_epoch: int,
        epochs_left: int,
        skip: int = 2,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.steps_left = steps_left
        self.batch_size = batch_size
        self.eval_images_per_epoch = eval_images_per_epoch
        self.epochs_left = epochs_left
        self.skip = skip
        self.measured_steps = min(20, max(3, steps_left // 5))
        self.clock = clock
        self.started = clock()
        self.first_estimate: float | None = None
        self._steps = 0
        self._epochs = 0
        self._timer: float | None = None

    def step(self) -> float | None:
        """Count one optimiser step; return the estimated total seconds once, when the measurement is complete."""
        self._steps += 1
        if self._steps == self.skip:
            self._timer = self.clock()
        if self._timer is None or self._steps != self.skip + self.measured_steps or self._epochs:
            return None
        now = self.clock()
        per_step = (now - self._timer) / self.measured_steps
        evaluation = self.epochs_left * self.eval_images_per_epoch * 0.5 * per_step / self.batch_size
        self.first_estimate = now - self.started + (self.steps_left - self._steps) * per_step + evaluation
        return self.first_estimate

    def epoch_end(self, seconds: float) -> float | None:
        """Count one finished epoch that took `seconds` (its evaluation included; all of it, for an epoch resumed
        in its middle); return the refreshed estimate of the total seconds after the first one, if epochs remain."""
        self._epochs += 1
        if self._epochs != 1 or self._epochs >= self.epochs_left:
            return None
        return self.clock() - self.started + (self.epochs_left - self._epochs) * seconds


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
        f"epoch {record['epoch']}/{epochs}  train loss {record['running_train_loss']:.3f} "
        f"acc {record['running_train_accuracy']:.1%}  "
        f"test loss {record['probe_test_loss']:.3f} acc {record['probe_test_accuracy']:.1%}  "
        f"({record['seconds']:.0f} s, {record['images_per_second']:.0f} img/s)"
    )


# ------------------------------------------------------------------------------------------------------------------
# Checkpoints


def _start_or_resume(
    run_dir: Path | None, resume: bool, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer
) -> dict:
    """Prepare `run_dir` for a new run, or restore model, optimizer, RNG and position from its checkpoint (a run
    folder without one, stopped before its first epoch ended, is started again from the beginning)."""
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
        if not (run_dir / rundir.CONFIG_FILE).is_file():
            raise FileNotFoundError(f"nothing to resume: {run_dir} holds no run (no {rundir.CONFIG_FILE})")
        # The run stopped before its first checkpoint (or the checkpoint was deleted): start it again.
        rundir.check_same_config(rundir.read_config(run_dir).to_dict(), config.to_dict(), run_dir)
        return fresh
    checkpoint = rundir.read_checkpoint(run_dir / rundir.CHECKPOINT_FILE)
    rundir.check_same_config(checkpoint["config"], config.to_dict(), run_dir)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["torch_rng"])
    # The checkpoint is written first: a run killed before it wrote the history that goes with it left a
    # history.json one epoch short.
    rundir.write_history(run_dir, checkpoint["history"])
    return checkpoint


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


# Choices of the config fields that have them, for the CLI's flags.
CHOICES = {"mode": MODES, "schedule": SCHEDULES, "stem": STEMS, "pool": POOLS, "augment": AUGMENTATIONS}
# Options of the command itself, not of the config.
RUN_OPTIONS = ("data", "out", "quick", "resume", "threads", "device")


def build_parser() -> argparse.ArgumentParser:
    """One flag per leaf field of `TrainConfig` (`config.FLAT_FIELDS`: `--drop-ratio`, `--stem-width`, ...), then
    the options of the command."""
    defaults, quick = TrainConfig().flat(), TrainConfig.create(quick=True).flat()
    parser = argparse.ArgumentParser(prog="dropkey-train", description="Train a TinyViT on CIFAR-10 with DropKey.")
    config_flags = parser.add_argument_group("run config (defaults: full mode; with --quick where it differs)")
    for name, default in defaults.items():
        where = ".".join(FLAT_FIELDS[name][:-1]) or "recipe"
        shown = f"{default}" + (f"; {quick[name]} with --quick" if quick[name] != default else "")
        kind = float if isinstance(default, float) else int if isinstance(default, int) or default is None else str
        config_flags.add_argument(
            f"--{name.replace('_', '-')}", type=kind, choices=CHOICES.get(name), help=f"{where}: default {shown}"
        )
    parser.add_argument("--data", help="CIFAR-10 location (also env DROPKEY_DATA); see dropkey_lib.data")
    parser.add_argument("--out", help="run folder (default runs/<mode>-<ratio>-<schedule>-seed<seed>)")
    parser.add_argument("--quick", action="store_true", help="small data, model and epochs (also DROPKEY_QUICK=1)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", help="where to train, e.g. cuda (default: the CPU)")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The run config of parsed arguments: quick or full mode's defaults, then every config flag that was given."""
    changes = {name: value for name, value in vars(args).items() if value is not None and name not in RUN_OPTIONS}
    return TrainConfig.create(quick=args.quick or quick_mode(), **changes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"dropkey-train: error: {error}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    drop = config.drop
    out = Path(args.out or f"runs/{drop.mode}-{drop.drop_ratio:g}-{drop.schedule}-seed{config.seed}")
    ratios = ", ".join(f"{r:g}" for r in drop.layer_ratios(config.model.depth))
    print(f"run folder: {out}\nconfig: {json.dumps(config.to_dict())}\ndrop ratio per layer, first to last: {ratios}")
    try:
        result = train(config, data=args.data, out_dir=out, resume=args.resume, device=args.device)
    except TrainingInterrupted as error:
        print(f"\n{error}", file=sys.stderr)
        return 130
    except (TrainingDiverged, rundir.RunFolderInUse, FileExistsError, FileNotFoundError, ValueError) as error:
        print(f"dropkey-train: error: {error}", file=sys.stderr)
        return 1
    print(f"test accuracy: {result.test_accuracy:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
