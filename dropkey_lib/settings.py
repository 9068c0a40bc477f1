"""Run-wide settings read from the environment."""

from __future__ import annotations

import os


def quick_mode() -> bool:
    """True when DROPKEY_QUICK is set to anything but "" or "0" (the test suite sets it to 1).

    Quick mode shrinks data, model and epochs so every notebook and the whole test suite stay fast on 2 CPU
    cores. Full mode, the default, is what a student gets.
    """
    return os.environ.get("DROPKEY_QUICK", "") not in ("", "0")
