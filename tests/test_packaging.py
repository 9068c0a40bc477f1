"""The conda environment files install the same packages as pyproject.toml."""

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
