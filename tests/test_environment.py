"""The dependencies are declared once: environment.yml mirrors pyproject.toml exactly."""
from __future__ import annotations

import re
import tomllib

import yaml

from autograde.release import REPO


def _split(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_environment_yml_lists_the_same_ranges_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    entries = [_split(d) for d in yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
               if isinstance(d, str)]
    conda = {name: spec for name, spec in entries if name not in ("python", "pip")}
    assert conda == declared


def test_environment_yml_installs_the_course_package_itself():
    deps = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "--editable ." in pip


def test_every_package_folder_is_declared_for_installation():
    """A non-editable install ships only the packages pyproject.toml lists."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO / "src").parts) for p in (REPO / "src").rglob("__init__.py")}
    found |= {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "autograde").rglob("__init__.py")}
    assert found == listed
