"""Peak memory and wall time of each notebook as on Binder: full mode, one CPU, one torch thread.

    python binder/measure_memory.py [notebooks/08_training_on_cifar10.ipynb ...] [--json notebooks.json]

Each notebook runs with `scripts/run_notebooks.py` (nbclient, like `jupyter nbconvert --execute`, without its
output-widget stall) on a copy (in a temporary folder laid out like the repository, so the committed notebooks are
never modified), pinned to one CPU core (`taskset -c 0`, when
available) with OMP_NUM_THREADS=MKL_NUM_THREADS=1 (what binder/start sets) and DROPKEY_QUICK unset (full mode, what
a student gets). Two figures per notebook:

- kernel: the kernel process's own peak resident memory (VmHWM, exact), read by a cell appended to the copy;
- total: the peak of the summed resident memory of every process of the run (the runner, the kernel and anything it
  starts), sampled every 0.2 s with psutil.

`--json PATH` writes them as a measurement file (`dropkey_lib.measurements`: the machine, the date, the command and,
per notebook stem, `<stem>.seconds`, `<stem>.kernel_peak_mb` and `<stem>.total_peak_mb`); the classroom guide, the
lesson plans and the READMEs quote `results/measurements/notebooks.json` through `scripts/figures.py`.

Binder's 2 GB limit is for the whole session: add JupyterLab's own server (about 100-150 MB) to the kernel figure.

Run it with the data cache already filled (as postBuild leaves it on Binder), e.g. with DROPKEY_DATA pointing at a
CIFAR-10 copy that was decoded once before (`python -m dropkey_lib.data`); otherwise the first notebook's peak
includes decoding the data set, which on Binder happens at build time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """def _peak_mb():
    status = open("/proc/self/status").read()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
print("DROPKEY_PEAK_MB %.1f" % _peak_mb())
"""


def mirror_repository(dest: Path) -> Path:
    """dest/ with the repository's layout: a copy of notebooks/, links to every other top-level entry."""
    shutil.copytree(ROOT / "notebooks", dest / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for entry in ROOT.iterdir():
        if entry.name not in {"notebooks", ".git", ".venv", ".ci-venv"}:
            (dest / entry.name).symlink_to(entry)
    return dest


def tree_rss(process) -> int:
    """The summed resident memory (bytes) of `process` and all its descendants, 0 when it has ended."""
    import psutil

    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure_one(notebook: Path, timeout: float, env: dict) -> dict:
    """Run one copied notebook (with the probe cell appended) and measure it."""
    import nbformat
    import psutil

    book = nbformat.read(notebook, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell(PROBE))
    nbformat.write(book, notebook)
    # scripts/run_notebooks.py: nbclient without its output-widget stall (see that script's docstring).
    command = [
        sys.executable,
        str(ROOT / "scripts" / "run_notebooks.py"),
        "--timeout",
        str(int(timeout)),
        str(notebook),
    ]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    started = time.monotonic()
    log = notebook.with_suffix(".log")
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=notebook.parent, env=env, stdout=out, stderr=subprocess.STDOUT)
        watched, peak = psutil.Process(process.pid), 0
        while process.poll() is None:
            peak = max(peak, tree_rss(watched))
            time.sleep(0.2)
    seconds = time.monotonic() - started
    result = {
        "notebook": notebook.name,
        "ok": process.returncode == 0,
        "seconds": round(seconds, 1),
        "total_peak_mb": round(peak / 2**20, 1),
    }
    if process.returncode != 0:
        result["error"] = log.read_text(errors="replace")[-3000:]
        return result
    executed = nbformat.read(notebook, as_version=4)
    errors = [f"cell {i}: {o['ename']}: {o['evalue']}" for i, cell in enumerate(executed.cells)
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]  # fmt: skip
    if errors:
        result["errors"] = errors
    outputs = executed.cells[-1].get("outputs", [])
    text = "".join(o.get("text", "") for o in outputs)
    if "DROPKEY_PEAK_MB" in text:
        result["kernel_peak_mb"] = float(text.split("DROPKEY_PEAK_MB")[1].split()[0])
    return result


def write_measurement(path: str, results: list[dict], argv: list[str]) -> None:
    """The results of the notebooks that ran as a measurement file (see the module doc)."""
    from dropkey_lib import measurements

    values = {}
    for r in results:
        if not r["ok"]:
            continue
        stem = Path(r["notebook"]).stem
        values[f"{stem}.seconds"] = measurements.value(r["seconds"], "s")
        values[f"{stem}.total_peak_mb"] = measurements.value(r["total_peak_mb"], "MB")
        if "kernel_peak_mb" in r:
            values[f"{stem}.kernel_peak_mb"] = measurements.value(r["kernel_peak_mb"], "MB")
    what = "each notebook top to bottom, full mode, one CPU core, one torch thread: wall time and peak memory"
    command = " ".join(["python binder/measure_memory.py", *argv])
    measurements.write(path, measurements.record(what, command, values))
    print(f"written: {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: every notebooks/NN_*.ipynb)")
    parser.add_argument("--json", help="also write the results to this measurement file (see the module doc)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per cell (default 3600)")
    args = parser.parse_args(argv)

    names = [Path(n).name for n in args.notebooks] or sorted(
        p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    env = {key: value for key, value in os.environ.items() if key != "DROPKEY_QUICK"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    results = []
    with tempfile.TemporaryDirectory(prefix="dropkey-memory-") as folder:
        course = mirror_repository(Path(folder) / "course")
        for name in names:
            print(f"{name}: running in full mode on 1 CPU (load average {os.getloadavg()[0]:.1f}) ...", flush=True)
            result = measure_one(course / "notebooks" / name, args.timeout, env)
            result["load_average_after"] = round(os.getloadavg()[0], 2)
            results.append(result)
            print(json.dumps(result), flush=True)
    print("\n| notebook | kernel peak RSS | all processes, peak | wall time (1 CPU) |")
    print("|---|---:|---:|---:|")
    for r in results:
        if r["ok"]:
            kernel = f"{r.get('kernel_peak_mb', float('nan')):.0f} MB"
            print(f"| {r['notebook']} | {kernel} | {r['total_peak_mb']:.0f} MB | {r['seconds'] / 60:.1f} min |")
        else:
            print(f"| {r['notebook']} | failed | | |")
    if args.json:
        write_measurement(args.json, results, argv if argv is not None else sys.argv[1:])
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
