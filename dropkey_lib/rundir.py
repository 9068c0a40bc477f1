"""Run folders: the one place that names, writes and reads the files of a training run.

A run folder, as `train.train(..., out_dir=...)`, `dropkey-train --out` and the grid runner write it, holds

    config.json       the `TrainConfig` as a dict (written when the run starts)
    history.json      one record per finished epoch (see `train.train` for the keys)
    checkpoint.pt     model, optimizer and RNG state, position in the run, and both configs (to resume)
    metrics.json      final metrics of a grid run (`experiments.run_one`)
    model.pt          instead of checkpoint.pt in a shipped run (`ship_run`): the model config and weights only

Shipped models (`results/checkpoints/*.pt`) are model files: the model config and the weights only, listed in the
index `results/checkpoints.json`. `load_model` rebuilds a `TinyViT` from either kind of file alone.

Old files still load: configs written before the drop ratio, the regulariser and the schedule got one name each
(`ratio`, `attention_mode`, `drop_schedule`) are read with today's names, and configs written before a field
existed get the value every run had then: the patch embedding and the class token (`upgrade_config`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Iterable

import torch

from .files import save_json, save_torch
from .vit import TinyViT, ViTConfig

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
CHECKPOINT_FILE = "checkpoint.pt"
MODEL_FILE = "model.pt"
METRICS_FILE = "metrics.json"
CHECKPOINT_INDEX = "checkpoints.json"

# Names used before each concept got one name end to end, and the name used now.
LEGACY_NAMES = {"ratio": "drop_ratio", "attention_mode": "mode", "drop_schedule": "schedule"}
# Fields added to the configs later, with the value that every config written before them meant. The defaults of
# `ViTConfig` / `TrainConfig` changed when they came (a convolutional stem, mean pooling), so an old file without
# them must not fall back to today's defaults.
LEGACY_DEFAULTS = {"stem": "patch", "pool": "cls", "mlp_ratio": 4.0}


def upgrade_config(config: dict) -> dict:
    """A copy of a config dict with legacy key names replaced by today's (see `LEGACY_NAMES`) and the fields added
    since it was written filled in with the value they had then (see `LEGACY_DEFAULTS`)."""
    upgraded = {LEGACY_NAMES.get(key, key): value for key, value in config.items()}
    return {**LEGACY_DEFAULTS, **upgraded}


def check_same_config(saved: dict, wanted: dict, folder: Path) -> None:
    """Raise a ValueError listing every difference when the run in `folder` was made with another config."""
    saved, wanted = upgrade_config(saved), upgrade_config(wanted)
    if saved != wanted:
        keys = sorted(set(saved) | set(wanted))
        differences = [
            f"{k}: saved {saved.get(k)!r}, now {wanted.get(k)!r}" for k in keys if saved.get(k) != wanted.get(k)
        ]
        raise ValueError(f"{folder} holds a run with a different config ({'; '.join(differences)})")


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not valid JSON: {error}") from None


# --------------------------------------------------------------------------------------------------------------
# The files of one run


def write_config(folder: Path, config: Any) -> None:
    """Write `config` (a dataclass or a dict) as the run's config.json."""
    save_json(asdict(config) if is_dataclass(config) else dict(config), Path(folder) / CONFIG_FILE)


def read_config(folder: Path) -> dict:
    return upgrade_config(_read_json(Path(folder) / CONFIG_FILE))


def write_history(folder: Path, history: list[dict]) -> None:
    save_json(history, Path(folder) / HISTORY_FILE)


def read_history(folder: Path) -> list[dict]:
    return _read_json(Path(folder) / HISTORY_FILE)


def write_metrics(folder: Path, metrics: dict) -> None:
    save_json(metrics, Path(folder) / METRICS_FILE)


def read_metrics(folder: Path) -> dict:
    """A run's metrics.json, its embedded config upgraded to today's names."""
    metrics = _read_json(Path(folder) / METRICS_FILE)
    if "config" in metrics:
        metrics["config"] = upgrade_config(metrics["config"])
    return metrics


def is_finished(folder: Path) -> bool:
    """True when a grid run has written its final metrics."""
    return (Path(folder) / METRICS_FILE).is_file()


def has_checkpoint(folder: Path) -> bool:
    return (Path(folder) / CHECKPOINT_FILE).is_file()


def write_checkpoint(folder: Path, state: dict) -> None:
    """Write the training state (see `train.train`) as checkpoint.pt, atomically."""
    save_torch(state, Path(folder) / CHECKPOINT_FILE)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint or model file on the CPU (weights only: no pickled code runs), its configs upgraded."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("config", "model_config"):
        if checkpoint.get(key) is not None:
            checkpoint[key] = upgrade_config(checkpoint[key])
    return checkpoint


# --------------------------------------------------------------------------------------------------------------
# Models


def write_model(path: str | os.PathLike, model: TinyViT) -> None:
    """Save a model file: its `ViTConfig` and weights, nothing else (what `results/checkpoints/` ships)."""
    save_torch({"model_config": model.config.to_dict(), "model": model.state_dict()}, path)


def load_model(path: str | os.PathLike) -> TinyViT:
    """Load a trained TinyViT, in eval mode, from a model file, a checkpoint, or a run folder (its checkpoint, or the
    model file of a shipped run).

    The file alone is enough: it carries the model config. Files written before that (which carry only the
    training config) are rebuilt from the training config's model fields.
    """
    path = Path(path)
    if path.is_dir():
        path = path / (CHECKPOINT_FILE if (path / CHECKPOINT_FILE).is_file() else MODEL_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: pass a run folder, its {CHECKPOINT_FILE} or a model file")
    checkpoint = read_checkpoint(path)
    if "model_config" in checkpoint and checkpoint["model_config"] is None:
        raise ValueError(f"{path} holds a model that is not a TinyViT: load its 'model' state_dict into that model")
    settings = checkpoint.get("model_config") or checkpoint.get("config")
    if settings is None:
        raise ValueError(f"{path} has no model config: it is not a checkpoint or model file of this library")
    model = TinyViT(ViTConfig.from_settings(settings))
    model.load_state_dict(checkpoint["model"])
    return model.eval()


def ship_run(run_dir: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Copy a finished run for shipping: its config and history, and its model as a model file (a few MB, instead of
    the checkpoint with the optimizer's state). `load_run` and `load_model` read the copy like the original."""
    run_dir, destination = Path(run_dir), Path(destination)
    run = load_run(run_dir)
    if not run.complete:
        raise ValueError(f"{run_dir} has not finished: {len(run.history)} of {run.config.get('epochs')} epochs")
    write_config(destination, run.config)
    write_history(destination, run.history)
    write_model(destination / MODEL_FILE, load_model(run_dir))
    return destination


def write_checkpoint_index(entries: list[dict], path: str | os.PathLike) -> None:
    """Write the index of shipped models: a list of {"path", "test_accuracy", "grid", "run", "seed", ...}, with
    paths relative to the folder above the index's folder (the repository root for results/checkpoints.json)."""
    missing = [entry for entry in entries if "path" not in entry]
    if missing:
        raise ValueError(f"every entry needs a 'path'; these have none: {missing}")
    save_json(entries, path)


def read_checkpoint_index(path: str | os.PathLike, root: str | os.PathLike | None = None) -> dict[str, dict]:
    """Read an index of shipped models: {name: {"path": Path, "test_accuracy": float, ...}}.

    The file may map names to entries or list entries (then a name is the file's stem, e.g. 'dropkey-0.1' for
    'results/checkpoints/dropkey-0.1.pt'). Relative paths are taken relative to `root` (default: the folder above
    the file's folder, i.e. the repository root for results/checkpoints.json)."""
    path = Path(path)
    index = _read_json(path)
    root = Path(root) if root is not None else path.parent.parent
    if isinstance(index, dict) and "path" not in index:
        items = list(index.items())
    else:
        entries = index if isinstance(index, list) else [index]
        items = [(Path(entry["path"]).stem, entry) for entry in entries]
    loaded = {}
    for name, entry in items:
        if "path" not in entry:
            raise ValueError(f"entry {name!r} of {path} has no 'path'")
        file = Path(entry["path"])
        loaded[str(name)] = {**entry, "path": file if file.is_absolute() else root / file}
    return loaded


# --------------------------------------------------------------------------------------------------------------
# Runs


@dataclass
class Run:
    """One training run: a name, its config (a `TrainConfig` as a dict) and its history (one dict per epoch).

    A run loaded from a folder also has its `path`; a run trained in memory has none (`Run.from_result`).
    """

    name: str
    config: dict
    history: list[dict]
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.config = upgrade_config(self.config)

    @classmethod
    def from_result(cls, name: str, config: Any, result: Any) -> "Run":
        """A run that lives in memory: `config` a `TrainConfig` (or dict), `result` a `TrainResult` (or a history)."""
        config_dict = asdict(config) if is_dataclass(config) else dict(config)
        history = result if isinstance(result, list) else result.history
        return cls(name=name, config=config_dict, history=[dict(record) for record in history])

    @property
    def complete(self) -> bool:
        """True when the history has as many epochs as the config asks for."""
        return len(self.history) >= int(self.config.get("epochs", 0))

    def curve(self, metric: str) -> list[float]:
        """The per-epoch values of `metric`: a history key, or "gap" (clean train accuracy - test accuracy).

        The gap is measured in eval mode without augmentation on both sides (`train_eval_accuracy` and
        `test_accuracy`), so it is the usual measure of overfitting and not mixed with the regulariser's noise.
        """
        if metric == "gap":
            return [r["train_eval_accuracy"] - r["test_accuracy"] for r in self.history]
        missing = [r.get("epoch", i + 1) for i, r in enumerate(self.history) if metric not in r]
        if missing:
            raise KeyError(f"run {self.name!r} has no {metric!r} in the history of epoch(s) {missing}")
        return [r[metric] for r in self.history]


def load_run(path: str | os.PathLike, name: str | None = None) -> Run:
    """Read a run folder's config.json and history.json. The name defaults to the folder's name.

    A run that is still going (or was interrupted) loads fine: its history just has fewer epochs (see
    `Run.complete`). A folder without those files raises FileNotFoundError saying which file is missing.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a run folder (it does not exist or is not a folder)")
    for filename in (CONFIG_FILE, HISTORY_FILE):
        if not (folder / filename).is_file():
            raise FileNotFoundError(
                f"{folder} has no {filename}: a run folder written by train(..., out_dir=...) holds "
                f"{CONFIG_FILE} and {HISTORY_FILE} (the history appears after the first epoch)"
            )
    return Run(name=name or folder.name, config=read_config(folder), history=read_history(folder), path=folder)


def find_runs(parent: str | os.PathLike) -> list[Path]:
    """The run folders directly inside `parent` (those with a history.json), sorted by name."""
    parent = Path(parent)
    if not parent.is_dir():
        raise FileNotFoundError(f"{parent} is not a folder")
    return sorted(p for p in parent.iterdir() if (p / HISTORY_FILE).is_file())


def load_runs(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Run]:
    """Load several runs: a list of run folders (in that order), or one folder that contains run folders.

    A single path that is itself a run folder loads just that run.
    """
    if isinstance(paths, (str, os.PathLike)):
        single = Path(paths)
        if (single / HISTORY_FILE).is_file():
            return [load_run(single)]
        folders = find_runs(single)
        if not folders:
            raise FileNotFoundError(f"no run folders (folders with a {HISTORY_FILE}) inside {single}")
        return [load_run(folder) for folder in folders]
    return [load_run(path) for path in paths]
