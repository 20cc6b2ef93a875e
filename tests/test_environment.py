"""The dependencies are declared once: environment.yml mirrors pyproject.toml exactly."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import yaml

from autograde.course.release import REPO


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


def test_xdist_groups_keep_their_tests_on_one_worker(tmp_path):
    """The suite pays each expensive set-up once per group (`xdist_group`); pytest 9.2 with
    pytest-xdist 3.8 silently spread a group over the workers, paying it once per worker."""
    import subprocess
    import sys

    (tmp_path / "test_grouped.py").write_text(
        "import os, pytest\n"
        "@pytest.mark.xdist_group('one')\n@pytest.mark.parametrize('i', range(8))\n"
        "def test_grouped(i):\n    print('WORKER', os.environ['PYTEST_XDIST_WORKER'])\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-rA", "-p",
                          "no:cacheprovider", "test_grouped.py"], cwd=tmp_path, capture_output=True, text=True)
    workers = set(re.findall(r"WORKER (gw\d+)", run.stdout))
    assert run.returncode == 0 and len(workers) == 1, run.stdout[-2000:]


def test_reading_a_notebook_does_not_build_iri_parsers():
    """jsonschema < 4.25 (pyproject.toml): importing nbformat does not load rfc3987-syntax, whose 38
    Lark parsers cost every grading process 2.8 s before it reads its first notebook."""
    loaded = subprocess.run([sys.executable, "-c", "import sys, nbformat, nbgrader.api; "
                             "print('rfc3987_syntax' in sys.modules)"], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
