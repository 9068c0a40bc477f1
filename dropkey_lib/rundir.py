"""Run folders: the one place that names, writes and reads the files of a training run.

A run folder, as `train.train(..., out_dir=...)`, `dropkey-train --out` and the grid runner write it, holds

    config.json       the `TrainConfig` as a nested dict (written when the run starts)
    history.json      one record per finished epoch (see `train.train`; `metrics.METRICS` defines the keys)
    checkpoint.pt     model, optimizer and RNG state, position in the run, and the config (to resume)
    metrics.json      final metrics of a grid run (`experiments.run_one`)
    model.pt          instead of checkpoint.pt in a shipped run (`ship_run`): the model config and weights only
    run.lock          locked by the process that trains in the folder (`lock_run`), so that a second one refuses

Shipped models (`results/checkpoints/*.pt`) are model files: the model config and the weights only, listed in the
index `results/checkpoints.json`. `load_model` rebuilds a `TinyViT` from either kind of file alone.

Old files still load (`upgrade_config`, `upgrade_model_config`, `metrics.upgrade_record`, `metrics.upgrade_final`):
- configs were flat dicts before they were nested (`config.TrainConfig` holds a `ViTConfig`, which holds a
  `DropConfig`); they are nested by field name;
- configs written before the drop ratio, the regulariser and the schedule got one name each (`ratio`,
  `attention_mode`, `drop_schedule`) are read with today's names, and configs written before a field existed get
  the value every run had then: the patch embedding and the class token;
- history records and final metrics written before the metrics registry get its keys;
- checkpoints written before the config was stored once hold a second copy of the model's config (`model_config`),
  which is ignored, or None for a model that is not a TinyViT.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import torch

from . import metrics
from .config import FLAT_FIELDS, TrainConfig, ViTConfig
from .files import FileLocked, exclusive_lock, remove_interrupted_writes, save_json, save_torch
from .vit import TinyViT

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
CHECKPOINT_FILE = "checkpoint.pt"
MODEL_FILE = "model.pt"
METRICS_FILE = "metrics.json"
LOCK_FILE = "run.lock"
CHECKPOINT_INDEX = "checkpoints.json"

# Names used before each concept got one name end to end, and the name used now.
LEGACY_NAMES = {"ratio": "drop_ratio", "attention_mode": "mode", "drop_schedule": "schedule"}
# Fields added to the configs later, with the value that every config written before them meant. The defaults of
# `ViTConfig` / `TrainConfig` changed when they came (a convolutional stem, mean pooling), so an old file without
# them must not fall back to today's defaults.
LEGACY_DEFAULTS = {"stem": "patch", "pool": "cls", "mlp_ratio": 4.0}


def upgrade_config(config: Mapping[str, Any]) -> dict:
    """A training config dict in today's nested form (`TrainConfig.to_dict`), from a dict of any age: legacy key
    names replaced (`LEGACY_NAMES`), fields added since filled in with the value they had then (`LEGACY_DEFAULTS`),
    and a flat dict nested by field name (`config.FLAT_FIELDS`)."""
    if "model" in config:
        return json.loads(json.dumps(config))  # a deep copy
    flat = {**LEGACY_DEFAULTS, **{LEGACY_NAMES.get(key, key): value for key, value in config.items()}}
    unknown = sorted(set(flat) - set(FLAT_FIELDS))
    if unknown:
        raise ValueError(f"config has unknown field(s) {', '.join(unknown)}; known: {', '.join(FLAT_FIELDS)}")
    nested: dict[str, Any] = {"model": {"drop": {}}}
    for key, value in flat.items():
        *parents, name = FLAT_FIELDS[key]
        node = nested
        for parent in parents:
            node = node[parent]
        node[name] = value
    return nested


def upgrade_model_config(config: Mapping[str, Any]) -> dict:
    """A model config dict in today's nested form (`ViTConfig.to_dict`), from a dict of any age (as `upgrade_config`;
    an old flat model config may hold only model fields, or a whole training config)."""
    if "drop" in config:
        return json.loads(json.dumps(config))
    model_fields = {name for name, path in FLAT_FIELDS.items() if path[0] == "model"}
    flat = {LEGACY_NAMES.get(key, key): value for key, value in config.items()}
    return upgrade_config({key: value for key, value in flat.items() if key in model_fields})["model"]


def check_same_config(saved: Mapping[str, Any], wanted: Mapping[str, Any], folder: Path) -> None:
    """Raise a ValueError listing every difference when the run in `folder` was made with another config."""
    saved_flat = TrainConfig.from_dict(upgrade_config(saved)).flat()
    wanted_flat = TrainConfig.from_dict(upgrade_config(wanted)).flat()
    differences = [
        f"{key}: saved {saved_flat[key]!r}, now {wanted_flat[key]!r}"
        for key in FLAT_FIELDS
        if saved_flat[key] != wanted_flat[key]
    ]
    if differences:
        raise ValueError(f"{folder} holds a run with a different config ({'; '.join(differences)})")


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not valid JSON: {error}") from None


# --------------------------------------------------------------------------------------------------------------
# The files of one run


class RunFolderInUse(RuntimeError):
    """Another run is training in the run folder (`lock_run`)."""


@contextmanager
def lock_run(folder: str | os.PathLike) -> Iterator[None]:
    """Hold the run folder `folder` (created if missing) while the block runs: a second run started into it, by
    another process or by this one, raises `RunFolderInUse` naming the folder instead of writing over the first.

    A killed run leaves no stale lock (`files.exclusive_lock`), but it may leave the temporary file of an
    interrupted atomic write: with the folder held, no one else can be writing it, so it is deleted here.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as held:
        try:
            held.enter_context(exclusive_lock(folder / LOCK_FILE))
        except FileLocked as busy:
            holder = f"process {busy.holder}" if busy.holder is not None else "another process"
            raise RunFolderInUse(
                f"{folder} is in use: another run ({holder}) is training in it. Wait for that run to end, or pass "
                f"another --out folder. (Its lock, {LOCK_FILE}, is released when it ends, even if it is killed.)"
            ) from None
        remove_interrupted_writes(folder)
        yield


def write_config(folder: Path, config: TrainConfig) -> None:
    """Write `config` as the run's config.json (its nested dict)."""
    save_json(config.to_dict(), Path(folder) / CONFIG_FILE)


def read_config(folder: Path) -> TrainConfig:
    """The run's config.json, of any age, as a `TrainConfig`."""
    return TrainConfig.from_dict(upgrade_config(_read_json(Path(folder) / CONFIG_FILE)))


def write_history(folder: Path, history: list[dict]) -> None:
    save_json(history, Path(folder) / HISTORY_FILE)


def read_history(folder: Path) -> list[dict]:
    """The run's history.json, its records with today's metric keys (`metrics.upgrade_record`)."""
    return [metrics.upgrade_record(record) for record in _read_json(Path(folder) / HISTORY_FILE)]


def write_metrics(folder: Path, final: dict) -> None:
    save_json(final, Path(folder) / METRICS_FILE)


def read_metrics(folder: Path) -> dict:
    """A run's metrics.json with today's metric keys (`metrics.upgrade_final`) and its embedded config upgraded to
    today's nested form."""
    final = metrics.upgrade_final(_read_json(Path(folder) / METRICS_FILE))
    if "config" in final:
        final["config"] = upgrade_config(final["config"])
    return final


def is_finished(folder: Path) -> bool:
    """True when a grid run has written its final metrics."""
    return (Path(folder) / METRICS_FILE).is_file()


def has_checkpoint(folder: Path) -> bool:
    return (Path(folder) / CHECKPOINT_FILE).is_file()


def write_checkpoint(folder: Path, state: dict) -> None:
    """Write the training state (see `train.train`) as checkpoint.pt, atomically."""
    save_torch(state, Path(folder) / CHECKPOINT_FILE)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint or model file on the CPU (weights only: no pickled code runs), its configs upgraded.

    A file that PyTorch cannot read (truncated, corrupt, not a PyTorch file) or that is not one of ours (a bare
    state_dict, a tensor) raises a ValueError naming the file and what to do.
    """
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as error:  # every parse failure: UnpicklingError, RuntimeError, EOFError, KeyError, OSError ...
        # `from None`, and not PyTorch's message: for a corrupt file it suggests retrying with weights_only=False,
        # which would run whatever code the file holds.
        raise ValueError(
            f"{path} cannot be read as a checkpoint or model file: it is truncated or corrupt "
            f"(PyTorch: {type(error).__name__}). Delete it and make it again: a run's {CHECKPOINT_FILE} by resuming "
            "the run (dropkey-train with its flags and --resume, or rerunning its grid), which then starts it again "
            f"from its first epoch; a shipped model by restoring it (git checkout -- {path.as_posix()})."
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), Mapping):
        raise ValueError(
            f"{path} is a PyTorch file but not a checkpoint or model file of dropkey_lib: it holds "
            f"{_describe_foreign(checkpoint)}, not a dict with the 'model' weights and a config. Pass a run folder, "
            f"its {CHECKPOINT_FILE} or a file written by rundir.write_model; a bare TinyViT state_dict loads with "
            "TinyViT(its ViTConfig).load_state_dict(torch.load(path, weights_only=True))."
        )
    if checkpoint.get("config") is not None:
        checkpoint["config"] = upgrade_config(checkpoint["config"])
    if checkpoint.get("model_config") is not None:
        checkpoint["model_config"] = upgrade_model_config(checkpoint["model_config"])
    if checkpoint.get("history") is not None:
        checkpoint["history"] = [metrics.upgrade_record(record) for record in checkpoint["history"]]
    return checkpoint


def _describe_foreign(content: Any) -> str:
    """A few words on what a foreign PyTorch file holds, e.g. "a Tensor" or "a dict with keys 'weight', 'bias'"."""
    if isinstance(content, dict):
        keys = ", ".join(repr(key) for key in list(content)[:4]) + (", ..." if len(content) > 4 else "")
        return f"a dict with keys {keys}" if content else "an empty dict"
    return f"a {type(content).__name__}"


# --------------------------------------------------------------------------------------------------------------
# Models


def write_model(path: str | os.PathLike, model: TinyViT) -> None:
    """Save a model file: its `ViTConfig` and weights, nothing else (what `results/checkpoints/` ships)."""
    save_torch({"model_config": model.config.to_dict(), "model": model.state_dict()}, path)


def load_model(path: str | os.PathLike) -> TinyViT:
    """Load a trained TinyViT, in eval mode, from a model file, a checkpoint, or a run folder (its checkpoint, or the
    model file of a shipped run).

    The file alone is enough: a model file carries the model config, a checkpoint the training config that holds
    it. A checkpoint of a model that is not a TinyViT (`train(..., model=...)`) is refused.
    """
    path = Path(path)
    if path.is_dir():
        path = path / (CHECKPOINT_FILE if (path / CHECKPOINT_FILE).is_file() else MODEL_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: pass a run folder, its {CHECKPOINT_FILE} or a model file")
    checkpoint = read_checkpoint(path)
    foreign = checkpoint.get("model_class", "TinyViT") != "TinyViT"
    if foreign or ("model_config" in checkpoint and checkpoint["model_config"] is None):
        raise ValueError(f"{path} holds a model that is not a TinyViT: load its 'model' state_dict into that model")
    if checkpoint.get("model_config") is not None:
        settings = checkpoint["model_config"]
    elif checkpoint.get("config") is not None:
        settings = checkpoint["config"]["model"]
    else:
        raise ValueError(f"{path} has no model config: it is not a checkpoint or model file of this library")
    model = TinyViT(ViTConfig.from_dict(settings))
    model.load_state_dict(checkpoint["model"])
    return model.eval()


def ship_run(run_dir: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Copy a finished run for shipping: its config and history, and its model as a model file (a few MB, instead of
    the checkpoint with the optimizer's state). `load_run` and `load_model` read the copy like the original."""
    run_dir, destination = Path(run_dir), Path(destination)
    run = load_run(run_dir)
    if not run.complete:
        raise ValueError(f"{run_dir} has not finished: {len(run.history)} of {run.config.epochs} epochs")
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
    """One training run: a name, its config and its history (one dict per epoch, `metrics.METRICS` keys).

    A run loaded from a folder also has its `path`; a run trained in memory has none (`Run.from_result`).
    """

    name: str
    config: TrainConfig
    history: list[dict]
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.config, TrainConfig):
            self.config = TrainConfig.from_dict(upgrade_config(self.config))
        self.history = [metrics.upgrade_record(record) for record in self.history]

    @classmethod
    def from_result(cls, name: str, config: TrainConfig, result: Any) -> "Run":
        """A run that lives in memory: `config` its `TrainConfig`, `result` a `TrainResult` (or a history)."""
        history = result if isinstance(result, list) else result.history
        return cls(name=name, config=config, history=[dict(record) for record in history])

    @property
    def complete(self) -> bool:
        """True when the history has as many epochs as the config asks for."""
        return len(self.history) >= self.config.epochs

    def curve(self, metric: str) -> list[float]:
        """The per-epoch values of `metric`, a history key of `metrics.METRICS`; "probe_gap" is computed."""
        if metric == "probe_gap":
            return [metrics.gap(r["probe_train_accuracy"], r["probe_test_accuracy"]) for r in self.history]
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
