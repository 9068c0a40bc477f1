"""The notebooks in a real browser: JupyterLab 4 in headless Chromium, as a student on Binder sees them.

For each notebook below, the test copies it, with its outputs cleared, into a temporary folder laid out like the
repository (the committed notebook is never touched), starts JupyterLab there on localhost with a token and
DROPKEY_QUICK=1 in the server's (and so the kernel's) environment, opens the notebook in the system's Chromium
driven by Playwright (no browser download), runs all cells from the Run menu and waits until every code cell has
run and the kernel is idle. Then it checks:

- no cell failed: the notebook, saved from the browser, has no error output and every code cell has run;
- the widgets render: at least the expected number of sliders and buttons, each visible with a non-zero size,
  and no "Error displaying widget" anywhere on the page;
- the live training plot (a cell that builds a `LiveTrainingPlot`) shows a loaded image;
- the widgets talk to the kernel: a slider moved with the keyboard changes its readout without an error, and in
  the training dashboard the Train button trains a run and reports it finished.

It saves screenshots under pytest's tmp_path and copies them to `browser-screenshots/` in the repository root
(git-ignored), and prints where they are.

Chromium: /usr/bin/chromium or the one on PATH (Debian's `chromium` package; `.ci/run` installs it). Without it,
or without Playwright, the test is skipped, except under CI (CI set), where that is a failure.

Settings: DROPKEY_BROWSER_NOTEBOOKS=03_smoothing_coefficient.ipynb,... runs other notebooks with the generic
checks; DROPKEY_BROWSER_TIMEOUT (seconds, default 600) bounds each notebook's run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "browser-screenshots"
RUN_TIMEOUT = float(os.environ.get("DROPKEY_BROWSER_TIMEOUT", "600"))
STEP_TIMEOUT_MS = 120_000  # one page action: opening the notebook, a menu, a click
# The flags that work on this closed network (no background connections to Google's hosts).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass(frozen=True)
class Expect:
    """What a notebook must show after running all cells."""

    sliders: int = 0  # at least this many slider widgets
    buttons: int = 0  # at least this many button widgets
    live_plot: bool = False  # a cell building a LiveTrainingPlot shows an image
    click_train: bool = False  # click the dashboard's Train button and wait for the run to finish


EXPECTED = {
    "08_training_on_cifar10.ipynb": Expect(sliders=2, buttons=1, live_plot=True, click_train=True),
    "06_structured_dropkey.ipynb": Expect(sliders=2),
    "01_attention_and_dropout.ipynb": Expect(sliders=1),  # the drop-ratio slider (and a 5 / 65 tokens toggle)
    "11_attention_analysis.ipynb": Expect(sliders=3),  # test image, layer and query sliders (and a head dropdown)
}
for _name in filter(None, os.environ.get("DROPKEY_BROWSER_NOTEBOOKS", "").split(",")):
    EXPECTED.setdefault(_name.strip(), Expect())


def unavailable(reason: str):
    """Skip, or fail under CI, where the browser test must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required under CI: .ci/run installs Chromium and the dev extra installs Playwright)")
    pytest.skip(reason)


def find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------------------------
# JupyterLab on localhost


class Lab:
    """A JupyterLab server in a temporary folder: its URL, token, folder and REST API."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.work = folder / "work"  # the repository's layout: links to its folders, notebooks/ a folder of copies
        self.notebooks = self.work / "notebooks"
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    def api(self, path: str):
        request = urllib.request.Request(f"{self.url}/api/{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def start(self) -> None:
        settings = self.folder / "settings"
        for name, values in {
            # Every cell in the page, not only those scrolled into view, so the checks below see all outputs.
            "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
            # No "news" question or update check popping up over the notebook (and no request to the internet).
            "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        }.items():
            path = settings / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        for sub in ("work", "work/notebooks", "config", "runtime", "ipython", "workspaces"):
            (self.folder / sub).mkdir(exist_ok=True)
        for entry in ROOT.iterdir():  # so that a notebook finds ../<anything> as in the repository
            if entry.name not in {"notebooks", ".git", ".venv", ".ci-venv", "browser-screenshots"}:
                (self.work / entry.name).symlink_to(entry)
        env = {
            **os.environ,
            "DROPKEY_QUICK": "1",  # the kernel inherits the server's environment
            "JUPYTER_CONFIG_DIR": str(self.folder / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.folder / "runtime"),
            "IPYTHONDIR": str(self.folder / "ipython"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--allow-root",  # CI and containers run as root; harmless otherwise
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.work}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.folder / 'workspaces'}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.jpserver_extensions={'dropkey_lib.launch': True}",  # the Chinese launch link
        ]  # fmt: skip
        log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=self.notebooks, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("status")
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer on {self.url} within 120 s:\n{self.log_tail()}")

    def peak_memory_mb(self) -> float | None:
        """The server process's peak resident memory (VmHWM), without its kernels."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        peak = self.peak_memory_mb()
        if peak is not None:
            print(f"\nJupyterLab server (without kernels): peak resident memory {peak:.0f} MB")
        self.shutdown_kernels()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def shutdown_kernels(self) -> None:
        """Shut every kernel down (each notebook's kernel holds its memory until then)."""
        try:
            for kernel in self.api("kernels"):
                request = urllib.request.Request(
                    f"{self.url}/api/kernels/{kernel['id']}",
                    method="DELETE",
                    headers={"Authorization": f"token {self.token}"},
                )
                urllib.request.urlopen(request, timeout=30).close()
        except OSError:
            pass

    def kernel_states(self) -> list[str]:
        return [kernel["execution_state"] for kernel in self.api("kernels")]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("jupyterlab"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        unavailable("no Chromium: install Debian's package with `apt-get install chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        # Playwright gives every launch a new, empty user-data-dir of its own.
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# ----------------------------------------------------------------------------------------------------------------
# Page helpers

# The notebook on show: the page opens one notebook (with `reset`, so no tab of an earlier test is restored), and
# `:visible` keeps it that way even if another tab were open.
NOTEBOOK = ".jp-NotebookPanel .jp-Notebook:visible"
CODE_CELL_STATES_JS = """() => {
    const notebook = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-Notebook'))
        .find(n => n.checkVisibility());
    return notebook ? Array.from(notebook.querySelectorAll('.jp-CodeCell'))
        .map(cell => (cell.querySelector('.jp-InputPrompt') || {}).textContent || '') : [];
}"""


def notebook_area(page):
    return page.locator(NOTEBOOK).first


def open_notebook(page, lab: Lab, name: str) -> None:
    # `reset`: a fresh workspace, so that only this notebook opens (JupyterLab restores the previous tabs otherwise).
    page.goto(f"{lab.url}/lab/tree/notebooks/{name}?reset&token={lab.token}", wait_until="domcontentloaded")
    notebook_area(page).locator(".jp-Cell").first.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
    # A "Select Kernel" dialog appears only for a notebook without kernel metadata: accept the default.
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        dialog.get_by_role("button", name="Select").click()
    wait_until(
        lambda: lab.kernel_states() and all(s == "idle" for s in lab.kernel_states()), 180, "the kernel to start"
    )


def wait_until(condition, timeout: float, what: str, *, interval: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def run_all_cells(page, lab: Lab, timeout: float) -> float:
    """Run > Run All Cells; wait until every code cell shows an execution count and the kernel is idle."""
    started = time.monotonic()
    notebook_area(page).click(position={"x": 5, "y": 5})
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    def finished() -> bool:
        prompts = page.evaluate(CODE_CELL_STATES_JS)
        if not prompts or any("*" in p for p in prompts):
            return False
        # Run All stops at the first failing cell, leaving the later prompts empty ("[ ]:"): that is "finished" too.
        return all(s == "idle" for s in lab.kernel_states())

    time.sleep(2)  # let the first cells get queued ("[*]:") before polling
    wait_until(finished, timeout, "all cells to run (kernel idle, no [*] prompts)", interval=2.0)
    return time.monotonic() - started


def save_and_read(page, lab: Lab, name: str) -> dict:
    """Save the notebook from the browser (Ctrl+S) and read what was saved."""
    path = lab.notebooks / name
    before = path.stat().st_mtime_ns
    notebook_area(page).click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    wait_until(lambda: path.stat().st_mtime_ns != before, 60, f"the browser to save {name}", interval=0.5)
    time.sleep(0.5)
    return json.loads(path.read_text())


def code_cells(notebook: dict) -> list[dict]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def check_no_errors(notebook: dict, name: str) -> None:
    cells = code_cells(notebook)
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                raise AssertionError(
                    f"{name}: code cell {index + 1} failed in the browser with {output['ename']}: {output['evalue']}\n"
                    f"--- cell source ---\n{source(cell)[:1500]}"
                )
    not_run = [i + 1 for i, cell in enumerate(cells) if cell.get("execution_count") is None and source(cell).strip()]
    assert not not_run, f"{name}: code cells {not_run} did not run"


def screenshot(page, tmp_path: Path, label: str, target=None) -> Path:
    """A screenshot of the page (scrolled to `target` when given), saved in tmp_path and browser-screenshots/."""
    if target is not None:
        target.scroll_into_view_if_needed(timeout=STEP_TIMEOUT_MS)
        time.sleep(0.5)
    path = tmp_path / f"{label}.png"
    page.screenshot(path=str(path))
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SCREENSHOTS / path.name)
    print(f"screenshot: {path} (copy: {SCREENSHOTS / path.name})")
    return path


def visible_with_size(locator) -> bool:
    box = locator.bounding_box()
    return locator.is_visible() and box is not None and box["width"] > 0 and box["height"] > 0


def check_widgets(page, name: str, expect: Expect):
    """The widgets rendered: no error placeholder, enough visible sliders and buttons. Returns the sliders."""
    body = notebook_area(page)
    text = body.inner_text()
    assert "Error displaying widget" not in text, f"{name}: a widget failed to render ('Error displaying widget')"
    assert "Loading widget..." not in text, f"{name}: a widget never rendered (still 'Loading widget...')"
    sliders = body.locator(".jupyter-widgets.widget-slider")
    buttons = body.locator("button.jupyter-widgets.jupyter-button, .jupyter-widgets.widget-button")
    assert sliders.count() >= expect.sliders, (
        f"{name}: {sliders.count()} slider widgets, expected at least {expect.sliders}"
    )
    assert buttons.count() >= expect.buttons, (
        f"{name}: {buttons.count()} button widgets, expected at least {expect.buttons}"
    )
    for kind, group in (("slider", sliders), ("button", buttons)):
        for i in range(group.count()):
            item = group.nth(i)
            item.scroll_into_view_if_needed(timeout=STEP_TIMEOUT_MS)
            assert visible_with_size(item), f"{name}: {kind} {i + 1} is not visible or has no size"
    return sliders


def check_live_plot(page, notebook: dict, name: str):
    """The cell that builds a LiveTrainingPlot shows one loaded image (the handle updated in place)."""
    indices = [
        i
        for i, cell in enumerate(notebook["cells"])
        if "LiveTrainingPlot(" in source(cell) and cell["cell_type"] == "code"
    ]
    assert indices, f"{name}: no code cell builds a LiveTrainingPlot"
    index = indices[0]
    images = [o for o in notebook["cells"][index].get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1, (
        f"{name}: the live plot cell has {len(images)} PNG outputs, expected exactly one (one display handle)"
    )
    cell = notebook_area(page).locator(".jp-Cell").nth(index)
    image = cell.locator(".jp-OutputArea-output img").first
    image.scroll_into_view_if_needed(timeout=STEP_TIMEOUT_MS)
    loaded = image.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 50")
    assert loaded, f"{name}: the live training plot image did not load in the browser"
    return image


def move_slider(page, lab: Lab, slider, name: str) -> None:
    """Press the right arrow on a slider's handle: its readout must change and the kernel must not fail."""
    readout = slider.locator(".widget-readout").first
    before = readout.inner_text()
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowRight")
    wait_until(
        lambda: readout.inner_text() != before, 30, f"the slider readout to change from {before!r}", interval=0.3
    )
    time.sleep(1)
    wait_until(lambda: all(s == "idle" for s in lab.kernel_states()), 300, "the kernel to handle the slider change")
    assert "Error displaying widget" not in page.content(), f"{name}: moving a slider broke a widget"


def click_train(page, lab: Lab, name: str, timeout: float) -> float:
    """Click the dashboard's Train button; wait until the dashboard says that this new run finished."""
    import re

    notebook = notebook_area(page)
    button = notebook.locator("button.jupyter-button", has_text="Train").first
    button.scroll_into_view_if_needed(timeout=STEP_TIMEOUT_MS)
    dashboard = (
        notebook.locator(".jupyter-widgets.widget-vbox")
        .filter(has=page.locator("button.jupyter-button", has_text="Train"))
        .last
    )
    earlier = [int(n) for n in re.findall(r"run (\d+)", dashboard.inner_text())]
    number = max(earlier, default=0) + 1  # the run this click starts ("run 1" unless the notebook trained some)
    started = time.monotonic()
    button.click()

    def done() -> bool:
        text = dashboard.inner_text()
        for trouble in (f"run {number} failed", f"run {number} was interrupted", "cannot be trained"):
            if trouble in text:
                raise AssertionError(f"{name}: the dashboard's run did not train: {text[:1000]}")
        return f"run {number} finished" in text

    wait_until(done, timeout, f"the dashboard to report 'run {number} finished'", interval=1.0)
    return time.monotonic() - started


# ----------------------------------------------------------------------------------------------------------------
# The test


def check_notebook(page, lab: Lab, name: str, expect: Expect, tmp_path: Path) -> None:
    """Open notebooks/`name` in the lab, run all cells and make every check of `expect`; screenshots on the way."""
    console_errors: list[str] = []
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    label = Path(name).stem
    try:
        open_notebook(page, lab, name)
        seconds = run_all_cells(page, lab, RUN_TIMEOUT)
        print(f"{name}: all cells ran in {seconds:.0f} s (quick mode, in the browser)")
        notebook = save_and_read(page, lab, name)
        check_no_errors(notebook, name)
        sliders = check_widgets(page, name, expect)
        if expect.live_plot:
            screenshot(page, tmp_path, f"{label}-live-plot", check_live_plot(page, notebook, name))
        if sliders.count():
            screenshot(page, tmp_path, f"{label}-sliders", sliders.first)
            move_slider(page, lab, sliders.first, name)
        if expect.click_train:
            seconds = click_train(page, lab, name, RUN_TIMEOUT)
            print(f"{name}: the dashboard trained a run in {seconds:.0f} s")
            screenshot(
                page,
                tmp_path,
                f"{label}-dashboard",
                notebook_area(page).locator("button.jupyter-button", has_text="Train").first,
            )
        assert not console_errors, f"{name}: JavaScript errors in the page: {console_errors}"
    except BaseException:
        try:
            screenshot(page, tmp_path, f"{label}-failure")
        finally:
            print(f"--- JupyterLab log (tail) ---\n{lab.log_tail()}")
        raise


def copy_without_outputs(source_path: Path, target: Path) -> None:
    """Copy a notebook with its outputs and execution counts cleared, so that everything the checks see (and the
    screenshots show) comes from this run, and a run that never started cannot pass on the committed outputs."""
    notebook = json.loads(source_path.read_text())
    for cell in code_cells(notebook):
        cell["outputs"] = []
        cell["execution_count"] = None
    target.write_text(json.dumps(notebook, indent=1))


def new_page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(STEP_TIMEOUT_MS)
    return page


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_in_jupyterlab(name, lab, browser, tmp_path):
    committed = NOTEBOOKS / name
    if not committed.exists():
        pytest.skip(f"{committed.relative_to(ROOT)} does not exist yet")
    copy_without_outputs(committed, lab.notebooks / name)  # a copy: the committed notebook is never modified
    page = new_page(browser)
    try:
        check_notebook(page, lab, name, EXPECTED[name], tmp_path)
    finally:
        page.close()
        lab.shutdown_kernels()


def test_the_checks_catch_a_failing_cell_and_a_broken_widget(lab, browser, tmp_path):
    """The harness itself: a notebook with a widget that cannot render and a failing cell must not pass."""
    import nbformat

    cells = [
        "import ipywidgets as widgets\nwidgets.IntSlider(description='fine')",
        "from IPython.display import display\n"
        "display({'application/vnd.jupyter.widget-view+json': {'model_id': 'no-such-model', 'version_major': 2, "
        "'version_minor': 0}}, raw=True)",
        "raise ValueError('this cell fails on purpose')",
        "print('never runs')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, lab.notebooks / "harness_check.ipynb")
    page = new_page(browser)
    try:
        open_notebook(page, lab, "harness_check.ipynb")
        run_all_cells(page, lab, 300)
        saved = save_and_read(page, lab, "harness_check.ipynb")
        with pytest.raises(
            AssertionError, match="code cell 3 failed in the browser with ValueError: this cell fails on purpose"
        ):
            check_no_errors(saved, "harness_check.ipynb")
        saved["cells"][2]["outputs"] = []
        with pytest.raises(AssertionError, match=r"code cells \[4\] did not run"):
            check_no_errors(saved, "harness_check.ipynb")
        with pytest.raises(AssertionError, match="Error displaying widget"):
            check_widgets(page, "harness_check.ipynb", Expect(sliders=1))
        screenshot(page, tmp_path, "harness_check")
    finally:
        page.close()
        lab.shutdown_kernels()


def test_the_chinese_launch_link_opens_a_chinese_notebook_in_a_chinese_jupyterlab(lab, browser):
    """What a Chinese Binder badge does (urlpath=dropkey/zh/NN_name.ipynb, dropkey_lib.launch): JupyterLab comes up with
    its menus in Chinese (the language pack is a dev dependency, as it is in the Binder image) and the Chinese
    notebook open. Nothing is run or saved: the notebook is the committed file."""
    from dropkey_lib import launch

    page = new_page(browser)
    try:
        page.goto(f"{lab.url}/dropkey/zh/06_structured_dropkey.ipynb?token={lab.token}")
        page.wait_for_url("**/lab/tree/notebooks-zh/06_structured_dropkey.ipynb*")
        page.locator(".jp-Notebook .jp-MarkdownCell h1").first.wait_for()
        assert page.locator(".jp-Notebook .jp-MarkdownCell h1").first.inner_text().startswith("06 · 结构化 DropKey")
        menus = page.locator("#jp-menu-panel .lm-MenuBar-itemLabel").all_inner_texts()
        assert "文件" in menus and "运行" in menus, f"the menu bar is not in Chinese: {menus}"
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "jupyterlab-chinese-launch.png"))
    finally:
        page.close()
        launch.save_locale(lab.folder / "settings", "en")  # the other tests of this module expect English menus
