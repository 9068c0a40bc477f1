"""The machine a measurement ran on, in words: recorded next to every timing and every grid run."""

from __future__ import annotations

import platform

import torch


def machine() -> str:
    """CPU model, threads and torch version, for the table's caption."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
