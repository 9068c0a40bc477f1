"""The Binder launch (binder/): the files parse and match pyproject.toml, the launch links open existing notebooks,
and, as a Binder-like local check, a fresh virtual environment built from binder/ runs postBuild, imports what every
notebook imports and runs two notebooks.

The quick checks always run. The Binder-like check (`test_fresh_binder_environment_runs_postbuild_and_notebooks`,
marker `binder`) builds a second virtual environment, so it is slow (a few minutes) and runs only when
DROPKEY_BINDER_CHECK=1; `.ci/run` runs it in a second pytest invocation:

    DROPKEY_BINDER_CHECK=1 pytest -m binder tests/test_binder.py tests/repro

It differs from mybinder.org only where this machine must: the system's Python and a venv instead of conda-forge,
the PyTorch already on this machine (same version as the running one, linked, not copied) instead of PyTorch's CPU
wheel index, and a CIFAR-10 copy placed in the data cache (the shared full copy from DROPKEY_DATA when set, else the
bundled sample) instead of postBuild's download. HOME is a temporary folder, so postBuild fills
`~/.cache/dropkey_lib` exactly as on Binder, and the notebooks run, in quick mode, through `binder/start` as on
Binder, from a copy of the repository's folder layout (the committed notebooks are never modified). They run with
scripts/run_notebooks.py, which avoids nbclient's Output-widget stall (tests/repro/test_output_widget_stall.py).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
DEV_ONLY = ("pytest", "nbval", "pyyaml", "playwright")
# What the Binder image has beyond pyproject.toml's dependencies: the JupyterLab interface in Simplified Chinese
# (docs/classroom.md says how to switch to it). Nothing in the course imports it.
BINDER_ONLY = ("jupyterlab-language-pack-zh-cn",)
BINDER_URL = re.compile(
    r"https://mybinder\.org/v2/gh/(?P<repo>[^/\s)]+/[^/\s)]+)/(?P<ref>[^?\s)]+)\?urlpath=(?P<urlpath>[^\s)\"'\\]+)"
)


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def binder_environment() -> dict:
    return yaml.safe_load((BINDER / "environment.yml").read_text())


def binder_pip_lines() -> list[str]:
    dependencies = binder_environment()["dependencies"]
    return next(item["pip"] for item in dependencies if isinstance(item, dict) and "pip" in item)


def requirement_name(line: str) -> str:
    return re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower()


# ----------------------------------------------------------------------------------------------------------------
# The files


def test_binder_files_exist_and_nothing_competes_with_environment_yml():
    assert (BINDER / "environment.yml").is_file() and (BINDER / "postBuild").is_file() and (BINDER / "start").is_file()
    # repo2docker uses only one environment file; a requirements.txt or a root-level one next to it would be ignored
    # or confuse readers.
    for other in ("requirements.txt", "Pipfile", "setup.py", "apt.txt", "runtime.txt"):
        assert not (BINDER / other).exists(), f"binder/{other} would compete with binder/environment.yml"


def test_environment_yml_parses_with_conda_forge_python():
    environment = binder_environment()
    assert environment["channels"] == ["conda-forge"]
    conda = [item for item in environment["dependencies"] if isinstance(item, str)]
    assert any(re.fullmatch(r"python(=3\.1[0-9])?", item) for item in conda), conda
    assert "pip" in conda


def test_pip_section_is_pyproject_runtime_dependencies_and_the_timm_extra_plus_the_binder_only_extras():
    requirements = {line for line in binder_pip_lines() if not line.startswith("-")}
    extras = {line for line in requirements if requirement_name(line) in BINDER_ONLY}
    assert requirements - extras == set(pyproject()["dependencies"]) | set(pyproject()["optional-dependencies"]["timm"])


def test_binder_installs_jupyterlabs_simplified_chinese_language_pack():
    names = {requirement_name(line) for line in binder_pip_lines() if not line.startswith("-")}
    assert "jupyterlab-language-pack-zh-cn" in names, "binder/environment.yml must install the zh-CN language pack"
    guide = (ROOT / "docs" / "classroom.md").read_text()
    assert "jupyterlab-language-pack-zh-cn" in guide and "Settings > Language" in guide, (
        "docs/classroom.md must say that the language pack is installed and how to switch JupyterLab's language"
    )


def test_torch_comes_from_the_cpu_wheel_index_and_no_dev_tools_bloat_the_image():
    lines = binder_pip_lines()
    assert CPU_INDEX in lines, "PyTorch must come from its CPU wheel index (no CUDA wheels on Binder)"
    assert lines.index(CPU_INDEX) == 0, "the index option goes first in the pip section"
    names = {requirement_name(line) for line in lines if not line.startswith("-")}
    assert {"torch", "torchvision"} <= names
    assert not names & set(DEV_ONLY), f"test tools make the image bigger: {names & set(DEV_ONLY)}"
    assert not any("cu1" in line or "cuda" in line.lower() for line in lines)


@pytest.mark.parametrize("name", ["postBuild", "start"])
def test_scripts_are_executable_bash_that_parses(name):
    path = BINDER / name
    assert os.access(path, os.X_OK), f"binder/{name} must be executable (chmod +x; git keeps the bit)"
    text = path.read_text()
    assert text.startswith("#!/bin/bash\n")
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_git_records_the_executable_bit():
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-s", "binder/postBuild", "binder/start"], cwd=ROOT, capture_output=True, text=True
    )
    modes = {line.split()[-1]: line.split()[0] for line in listed.stdout.splitlines()}
    for name, mode in modes.items():
        assert mode == "100755", f"{name} is committed without its executable bit (git update-index --chmod=+x {name})"


def test_postbuild_stops_on_errors_installs_the_package_and_fetches_cifar10():
    text = (BINDER / "postBuild").read_text()
    commands = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands[0].startswith("set -e"), "postBuild must start with set -e so a failed step fails the build"
    assert any(re.search(r"pip install .*-e \.$", line) for line in commands), "postBuild installs the package"
    assert any("python -m dropkey_lib.data" in line for line in commands), (
        "postBuild fetches CIFAR-10 into the data cache"
    )


FAKE_PYTHON = """#!/bin/bash
# Stands in for python while postBuild runs: records nothing, installs nothing, reports a prefix of its own.
case "$*" in
    "-m pip "*) exit 0 ;;
    "-c import sys; print(sys.prefix)") echo "$FAKE_PREFIX" ;;
    "-m dropkey_lib.data") echo "error: CIFAR-10 was not found (fake)" >&2; exit "$FAKE_DATA_STATUS" ;;
    *) echo "unexpected python call: $*" >&2; exit 99 ;;
esac
"""


def run_postbuild(tmp_path: Path, data_status: int) -> subprocess.CompletedProcess:
    """binder/postBuild with `python` replaced by FAKE_PYTHON, whose CIFAR-10 step exits with `data_status`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(FAKE_PYTHON)
    (bin_dir / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_PREFIX": str(tmp_path / "prefix"),
           "FAKE_DATA_STATUS": str(data_status), "DROPKEY_CACHE": str(tmp_path / "cache")}  # fmt: skip
    return subprocess.run(
        ["bash", str(BINDER / "postBuild")], check=False, cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_postbuild_survives_a_failed_cifar10_download_and_says_so(tmp_path):
    result = run_postbuild(tmp_path, data_status=1)
    assert result.returncode == 0, f"a failed CIFAR-10 download must not fail the image build:\n{result.stderr}"
    assert "error: CIFAR-10 was not found" in result.stderr, "the reason is in the build log"
    assert "WARNING: CIFAR-10 could not be fetched" in result.stdout and "bundled sample" in result.stdout


def test_postbuild_reports_cifar10_in_the_cache_when_the_download_works(tmp_path):
    result = run_postbuild(tmp_path, data_status=0)
    assert result.returncode == 0, result.stderr
    assert "CIFAR-10 is in the data cache" in result.stdout and "WARNING" not in result.stdout


def test_start_turns_the_sample_fallback_on():
    text = (BINDER / "start").read_text()
    assert 'export DROPKEY_SAMPLE_FALLBACK="${DROPKEY_SAMPLE_FALLBACK:-1}"' in text


def test_postbuild_installs_the_jupyterlab_settings_overrides(tmp_path):
    run_postbuild(tmp_path, data_status=0)
    installed = tmp_path / "prefix" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.is_file(), "postBuild copies binder/overrides.json to <sys.prefix>/share/jupyter/lab/settings/"
    assert installed.read_text() == (BINDER / "overrides.json").read_text()


def test_jupyterlab_applies_the_overrides_no_news_prompt_no_update_check(tmp_path):
    """JupyterLab's own settings code, given binder/overrides.json, turns the news prompt and update check off."""
    settings_utils = pytest.importorskip("jupyterlab_server.settings_utils")
    import jupyterlab

    schemas = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
    if not schemas.is_dir():
        pytest.skip(f"no JupyterLab schemas in {schemas}")
    app_settings = tmp_path / "app-settings"
    app_settings.mkdir()
    shutil.copy(BINDER / "overrides.json", app_settings / "overrides.json")
    schema_name = "@jupyterlab/apputils-extension:notification"

    def defaults(app_settings_dir: Path) -> dict:  # JupyterLab applies overrides as the schema's defaults
        overrides, error = settings_utils._get_overrides(str(app_settings_dir))
        assert not error, error
        found, _ = settings_utils.get_settings(str(app_settings_dir), str(schemas), str(tmp_path / "user"), schema_name,
                                               overrides=overrides)  # fmt: skip
        return {key: value.get("default") for key, value in found["schema"]["properties"].items()}

    assert defaults(tmp_path)["fetchNews"] == "none", "without overrides JupyterLab asks (the prompt a class sees)"
    overridden = defaults(app_settings)
    assert overridden["fetchNews"] == "false", f"JupyterLab {jupyterlab.__version__}: {overridden}"
    assert overridden["checkForUpdates"] is False


def test_start_limits_torch_to_one_thread_and_hands_over():
    text = (BINDER / "start").read_text()
    assert 'OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"' in text
    assert text.rstrip().endswith('exec "$@"'), "binder/start must end by running the command Binder gives it"


def test_repo2docker_reads_binder_folder_as_mybinder_will(tmp_path):
    """repo2docker (what mybinder.org runs) plans the image without Docker (--no-build --debug prints its Dockerfile):
    a conda environment from binder/environment.yml, then binder/postBuild, and binder/start at every launch."""
    if importlib.util.find_spec("repo2docker") is None:
        if os.environ.get("CI"):
            pytest.fail("jupyter-repo2docker is not installed (it is in the dev extra)")
        pytest.skip("jupyter-repo2docker is not installed: pip install -e '.[dev]'")
    command = [sys.executable, "-m", "repo2docker", "--no-build", "--no-run", "--debug", "--user-id", "1000",
               "--user-name", "jovyan", str(ROOT)]  # fmt: skip
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    plan = result.stdout + result.stderr
    assert result.returncode == 0, plan[-3000:]
    assert "Building conda environment for python=3.11" in plan, plan[-3000:]
    assert '--file "binder/environment.yml"' in plan
    assert "RUN ./binder/postBuild" in plan
    assert 'R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in plan


# ----------------------------------------------------------------------------------------------------------------
# Launch links


def binder_links() -> list[tuple[str, re.Match]]:
    """Every mybinder.org link in the READMEs (English and Chinese), the docs and the notebooks: (file, match)."""
    files = [*sorted(ROOT.glob("README*.md")), *sorted((ROOT / "docs").rglob("*.md")),
             *sorted((ROOT / "notebooks").glob("*.ipynb"))]  # fmt: skip
    return [(str(f.relative_to(ROOT)), m) for f in files if f.exists() for m in BINDER_URL.finditer(f.read_text())]


def binder_repo_constant() -> str:
    """The GitHub owner/repo the launch links point at, stated once in pyproject.toml's [tool.dropkey-course]."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dropkey-course"]["repository"]


def test_classroom_guide_has_a_lab_badge_for_the_overview():
    links = [m for f, m in binder_links() if f == "docs/classroom.md"]
    assert any(m["urlpath"] == "lab/tree/notebooks/00_overview.ipynb" for m in links)


def test_launch_links_open_existing_notebooks_in_jupyterlab():
    links = binder_links()
    assert links, "no Binder links found"
    repo = binder_repo_constant()
    missing = []
    for where, link in links:
        assert link["repo"] == repo, f"{where}: {link.group(0)} points at {link['repo']}, not {repo}"
        # lab/tree/PATH opens PATH in JupyterLab; dropkey/zh/NN_name.ipynb (dropkey_lib.launch) opens
        # notebooks-zh/NN_name.ipynb with JupyterLab's interface in Chinese
        assert link["urlpath"].startswith(("lab/tree/", "dropkey/zh/")), (
            f"{where}: {link.group(0)} should open JupyterLab (urlpath=lab/tree/... or dropkey/zh/...)"
        )
        if link["urlpath"].startswith("dropkey/zh/"):
            target = "notebooks-zh/" + link["urlpath"].removeprefix("dropkey/zh/")
        else:
            target = link["urlpath"].removeprefix("lab/tree/")
        if not (ROOT / target).is_file():
            missing.append(f"{where}: {target}")
    assert not missing, "Binder links to notebooks that do not exist:\n" + "\n".join(missing)


def test_readme_badge_opens_the_overview_when_the_readme_has_one():
    readme = ROOT / "README.md"
    if not readme.exists() or "mybinder.org" not in readme.read_text():
        pytest.skip("the README has no Binder badge yet (docs/classroom.md has the line to paste)")
    urlpaths = [m["urlpath"] for f, m in binder_links() if f == "README.md"]
    assert "lab/tree/notebooks/00_overview.ipynb" in urlpaths, (
        "README.md mentions Binder but has no launch link https://mybinder.org/v2/gh/<repo>/HEAD?urlpath=lab/tree/"
        "notebooks/00_overview.ipynb: paste the badge line from docs/classroom.md"
    )


# ----------------------------------------------------------------------------------------------------------------
# The Binder-like local check


def mirror_repository(dest: Path) -> Path:
    """dest/ with the repository's layout: a copy of notebooks/, links to every other top-level entry."""
    dest.mkdir(parents=True)
    shutil.copytree(ROOT / "notebooks", dest / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for entry in ROOT.iterdir():
        if entry.name not in {"notebooks", ".git", ".venv", ".ci-venv"}:
            (dest / entry.name).symlink_to(entry)
    return dest


def local_requirements() -> list[str]:
    """binder/environment.yml's pip section, with this machine's PyTorch instead of the CPU wheel index."""
    pinned = {name: f"{name}=={importlib.metadata.version(name).split('+')[0]}" for name in ("torch", "torchvision")}
    return [pinned.get(requirement_name(line), line) for line in binder_pip_lines() if not line.startswith("-")]


REUSED = re.compile(r"(torch|torchvision|triton|nvidia-.*|cuda-.*)")  # distributions reused, not copied again


def reuse_installed_torch(folder: Path) -> list[str]:
    """Link this interpreter's PyTorch, torchvision and their CUDA libraries (about 4.5 GB) into `folder`.

    A `.pth` file in the fresh venv puts `folder` on its path, so pip finds these distributions installed, at the
    pinned versions of local_requirements(), and installs only the rest of environment.yml's packages into the venv.
    pip never modifies or uninstalls distributions outside the venv, so the linked originals are safe. Returns the
    names of the distributions linked.
    """
    folder.mkdir()
    linked = []
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not REUSED.fullmatch(name.lower()) or not dist.files:
            continue
        site = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files if not str(f).startswith("..")}
        for top in tops - {entry.name for entry in folder.iterdir()}:
            if (site / top).exists():
                (folder / top).symlink_to(site / top)
        linked.append(name)
    return linked


def notebook_imports(notebooks: list[Path]) -> list[str]:
    """The top-level modules that the code cells of `notebooks` import (IPython magics and shell lines skipped)."""
    import ast

    modules = set()
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    modules.add(node.module.split(".")[0])
    return sorted(modules)


def run(command: list[str], *, env: dict, cwd: Path, timeout: float, what: str) -> str:
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    print(f"[{time.monotonic() - started:5.0f} s] {what}")
    assert done.returncode == 0, f"{what} failed with exit code {done.returncode}:\n{output[-6000:]}"
    return output


CELL_TIMEOUT = 300  # seconds for one cell; the slowest quick-mode cell here takes well under a minute
NOTEBOOK_LIMIT = 480  # seconds for one notebook's whole run (kernel start to written file), a backstop only
# What only the Binder environment can break, beyond the main suite (which runs every notebook with nbval, on the
# same package versions): 00 is the setup check a student runs first (the data cache that postBuild filled, one
# torch thread); 05 has a `widgets.interactive` cell (ipywidgets without the dev tools, and the notebook runner's
# Output widget). Every other notebook's imports are checked instead of running the notebook a second time.
NOTEBOOKS_RUN = ("00_overview.ipynb", "05_drop_ratio_schedules.ipynb")


def run_notebook(notebook: Path, env: dict, venv: Path) -> str:
    """Execute `notebook` in place with scripts/run_notebooks.py in the venv, through binder/start as on Binder.

    No retries: a cell that fails, a cell past CELL_TIMEOUT, or a cell reply that the client notices late (the
    runner's stall check) fails the test, with the runner's log; so does a run past NOTEBOOK_LIMIT, after which the
    run (runner and kernel, one process group) is killed and the processes still alive are listed.
    """
    command = ["bash", str(BINDER / "start"), str(venv / "bin/python"), str(ROOT / "scripts/run_notebooks.py"),
               f"--timeout={CELL_TIMEOUT}", str(notebook)]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=notebook.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    try:
        output, _ = process.communicate(timeout=NOTEBOOK_LIMIT)
    except subprocess.TimeoutExpired:
        ps = ["ps", "-o", "pid,etime,stat,args", "-g", str(process.pid)]
        alive = subprocess.run(ps, capture_output=True, text=True, check=False)
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(
            f"{notebook.name} did not finish in {NOTEBOOK_LIMIT} s in the Binder environment, although no cell passed "
            f"its {CELL_TIMEOUT} s timeout; killed. Processes of the run:\n{alive.stdout}\nIts log:\n{output[-6000:]}"
        ) from None
    print(f"[{time.monotonic() - started:5.0f} s] run {notebook.name} (quick mode)")
    assert process.returncode == 0, f"{notebook.name} failed in the Binder environment:\n{output[-6000:]}"
    return output


@pytest.mark.binder
@pytest.mark.skipif(
    not os.environ.get("DROPKEY_BINDER_CHECK"), reason="slow: set DROPKEY_BINDER_CHECK=1 (.ci/run does)"
)
def test_fresh_binder_environment_runs_postbuild_and_notebooks(tmp_path):
    venv, home, course = tmp_path / "venv", tmp_path / "home", tmp_path / "course"
    home.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DROPKEY_", "JUPYTER", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        HOME=str(home),
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}:{os.environ['PATH']}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(local_requirements()) + "\n")
    site_packages = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    reused = reuse_installed_torch(tmp_path / "reused")
    assert {"torch", "torchvision"} <= {name.lower() for name in reused}, reused
    (site_packages / "reused-torch.pth").write_text(f"{tmp_path / 'reused'}\n")
    run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", "-r", str(requirements)],
        env=env,
        cwd=tmp_path,
        timeout=1800,
        what="install binder/environment.yml's packages",
    )

    # What postBuild's download would leave in the cache folder, from this machine instead of the internet.
    cache = home / ".cache" / "dropkey_lib"
    cache.mkdir(parents=True)
    source = (
        Path(os.environ["DROPKEY_DATA"])
        if os.environ.get("DROPKEY_DATA")
        else ROOT / "dropkey_lib/assets/cifar10-sample.tar.gz"
    )
    if source.is_file() and source.name.endswith(".tar.gz"):
        name = "cifar-10-python.tar.gz" if source.name == "cifar-10-python.tar.gz" else "cifar10-jpeg.tar.gz"
        (cache / name).symlink_to(source.resolve())
    else:
        (cache / ("cifar-10-batches-py" if (source / "data_batch_1").is_file() else "cifar10-jpeg")).symlink_to(
            source.resolve()
        )

    output = run(["bash", str(BINDER / "postBuild")], env=env, cwd=ROOT, timeout=1800, what="binder/postBuild")
    assert "train: images (" in output and "test: images (" in output, output[-3000:]
    assert list(cache.glob("cifar10-*.pt")), f"postBuild left no decoded CIFAR-10 in {cache}"
    python = str(venv / "bin/python")
    found = run(
        [python, "-c", "import dropkey_lib, sys; print(dropkey_lib.__file__, sys.prefix)"],
        env=env,
        cwd=tmp_path,
        timeout=300,
        what="import the package in the Binder environment",
    )
    assert str(ROOT / "dropkey_lib") in found and str(venv) in found, found
    extensions = run(
        [str(venv / "bin/jupyter"), "labextension", "list"],
        env=env,
        cwd=tmp_path,
        timeout=300,
        what="jupyter labextension list",
    )
    assert re.search(r"@jupyter-widgets/jupyterlab-manager .*enabled", extensions), (
        f"the widget extension is missing:\n{extensions}"
    )
    servers = run([str(venv / "bin/jupyter"), "server", "extension", "list"], env=env, cwd=tmp_path, timeout=300,
                  what="jupyter server extension list")  # fmt: skip
    plain = re.sub(r"\x1b\[[0-9;]*m", "", servers)  # without the terminal colours
    assert re.search(r"dropkey_lib\.launch\s+enabled", plain) and re.search(r"dropkey_lib\.launch\s+OK", plain), (
        f"the Chinese launch link is not enabled:\n{plain}"
    )
    list_packs = "import jupyterlab_server.translation_utils as t; print(sorted(t.get_language_packs()[0]))"
    packs = run([python, "-c", list_packs], env=env, cwd=tmp_path, timeout=300, what="JupyterLab's language packs")
    assert "zh_CN" in packs, f"JupyterLab finds no Simplified Chinese language pack:\n{packs}"
    for dev_tool in ("pytest", "nbval", "playwright"):
        assert subprocess.run([python, "-c", f"import {dev_tool}"], env=env, capture_output=True).returncode != 0, (
            f"{dev_tool} is in the Binder environment: a dev tool that only makes the image bigger"
        )

    # Every notebook's imports resolve here; the notebooks of NOTEBOOKS_RUN run in quick mode, through binder/start as
    # on Binder (one torch thread), from a copy.
    mirror_repository(course)
    notebooks = sorted((course / "notebooks").glob("[0-9]*.ipynb"))
    assert {notebook.name for notebook in notebooks} >= set(NOTEBOOKS_RUN), [notebook.name for notebook in notebooks]
    modules = notebook_imports(notebooks)
    assert {"dropkey_lib", "ipywidgets", "torch"} <= set(modules), modules
    importer = "import importlib, sys; [importlib.import_module(name) for name in sys.argv[1:]]"
    run([python, "-c", importer, *modules], env=env, cwd=course / "notebooks", timeout=300,
        what=f"import what the notebooks import: {', '.join(modules)}")  # fmt: skip
    env_run = {**env, "DROPKEY_QUICK": "1"}
    for name in NOTEBOOKS_RUN:
        run_notebook(course / "notebooks" / name, env_run, venv)
    cells = nbformat.read(course / "notebooks" / NOTEBOOKS_RUN[0], as_version=4).cells
    overview = "".join(output.get("text", "") for cell in cells for output in cell.get("outputs", []))
    assert ", 1 thread(s)" in overview, f"binder/start should leave PyTorch one thread:\n{overview}"
    assert "data: CIFAR-10 (" in overview and "sample" not in overview and "setup OK" in overview, overview
