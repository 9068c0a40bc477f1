"""Packaging: the conda environment installs what pyproject.toml does, and the library stays in small modules."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def conda_pip_requirements(path: Path) -> set[str]:
    dependencies = yaml.safe_load(path.read_text())["dependencies"]
    pip_section = next(item["pip"] for item in dependencies if isinstance(item, dict) and "pip" in item)
    return {line for line in pip_section if not line.startswith("-")}


def test_environment_yml_matches_pyproject():
    assert conda_pip_requirements(ROOT / "environment.yml") == pyproject_requirements()


def test_environment_yml_installs_cpu_only_torch():
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in (ROOT / "environment.yml").read_text()


LIBRARY = ROOT / "dropkey_lib"


@pytest.mark.parametrize("module", sorted(LIBRARY.rglob("*.py")), ids=lambda p: str(p.relative_to(LIBRARY)))
def test_no_library_module_is_longer_than_600_lines(module):
    # A longer module does two jobs: split it along them (see docs/architecture.md).
    assert len(module.read_text().splitlines()) <= 600


def test_building_a_model_imports_no_data_code():
    code = (
        "import sys; from dropkey_lib.vit import TinyViT; from dropkey_lib.config import ViTConfig; "
        "TinyViT(ViTConfig()); print(sorted(m for m in sys.modules if m in ('PIL', 'dropkey_lib.data')))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "[]"
