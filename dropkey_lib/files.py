"""Writing files so that an interruption never leaves a half-written one behind, and locking a file so that only
one process at a time writes into a folder."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the folder of `path`; when the block succeeds, move it over `path` in one step.

    `os.replace` within one folder is atomic, so readers see either the old file or the complete new one. If the
    block raises (or is interrupted), the temporary file is deleted and `path` is left untouched. A process killed
    in the block (SIGKILL, power loss) cannot delete it: `remove_interrupted_writes` does that later.
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


def remove_interrupted_writes(folder: str | os.PathLike) -> None:
    """Delete the temporary files (`.<name>.<random>.tmp`) that `atomic_path` leaves in `folder` when its process
    is killed in mid-write. Readers never open them; call this only while no other process writes into `folder`."""
    for leftover in Path(folder).glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


class FileLocked(RuntimeError):
    """Another process holds the lock of `exclusive_lock`; `holder` is its process id, None when unknown."""

    def __init__(self, path: Path, holder: int | None) -> None:
        super().__init__(f"{path} is locked by process {holder if holder is not None else '(unknown)'}")
        self.path = path
        self.holder = holder


@contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created if missing) while the block runs; raise `FileLocked` at
    once when another process, or another `exclusive_lock` of this process, holds it.

    The lock belongs to the open file, so the operating system releases it when its holder ends in any way,
    SIGKILL included: a killed process leaves no stale lock (a lock made by creating a file with O_EXCL would stay
    until someone deleted it). While held, the file holds the holder's process id, for messages. It is not deleted
    on release: a process that opened it just before could then lock the deleted file while a third one locks a new
    file of the same name.

    POSIX systems lock with `fcntl.flock` (on NFS, Linux turns it into a lock kept by the server, which all clients
    see); Windows locks the file's first byte with `msvcrt.locking`, a path the test-suite (run on Linux) does not
    exercise.
    """
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _try_lock(fd):
            raise FileLocked(path, _read_holder(fd))
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # released: there is no holder to name
    finally:
        os.close(fd)  # closing the file releases the lock


def _try_lock(fd: int) -> bool:
    """Lock the open file `fd` without waiting; False when another holder has it."""
    try:
        if sys.platform == "win32":
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):  # held elsewhere: EWOULDBLOCK (flock), EACCES (msvcrt)
        return False
    return True


def _read_holder(fd: int) -> int | None:
    """The process id a lock file holds; None when it holds none yet, or cannot be read (Windows locks the byte)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 32).decode())
    except (OSError, ValueError):
        return None
