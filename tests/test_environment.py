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
    """The conda environment is the development one: the dependencies and every extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    declared = dict(_split(r) for r in project["dependencies"] + extras)
    entries = [_split(d) for d in yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
               if isinstance(d, str)]
    conda = {name: spec for name, spec in entries if name not in ("python", "pip")}
    assert conda == declared


def test_environment_yml_installs_the_course_package_itself():
    deps = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "--editable ." in pip
