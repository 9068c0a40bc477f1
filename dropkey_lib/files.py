"""Writing files so that an interruption never leaves a half-written one behind."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the folder of `path`; when the block succeeds, move it over `path` in one step.

    `os.replace` within one folder is atomic, so readers see either the old file or the complete new one. If the
    block raises (or is interrupted), the temporary file is deleted and `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _default_file_mode())  # mkstemp makes the file private; give it what open() would
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _default_file_mode() -> int:
    """The permissions `open(path, "w")` gives a new file: 0o666 minus the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """`torch.save` to `path`, atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_json(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` as indented JSON to `path`, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
