"""course/ is nbgrader's generation of solutions/: in sync, without solutions, hidden tests or outputs."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograde import cli
from autograde.course.release import REPO, assignments, release_drift

ASSIGNMENTS = assignments()
REGION = re.compile(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END", re.S)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_every_solutions_notebook_has_a_release():
    assert ASSIGNMENTS, "no notebooks in solutions/"
    missing = [a for a in ASSIGNMENTS if not (REPO / "course" / a / f"{a}.ipynb").exists()]
    assert not missing, f"run `make release`: no student notebook for {missing}"


def test_course_equals_a_fresh_nbgrader_generation():
    drift = release_drift()
    assert not drift, "course/ differs from `nbgrader generate_assignment` of solutions/ " \
                      f"(run `make release`, never edit course/ by hand): {drift}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_shows_no_solution_or_hidden_test_text(assignment):
    solution = _cells(REPO / "solutions" / assignment / f"{assignment}.ipynb")
    student_text = "\n".join(_text(c) for c in _cells(REPO / "course" / assignment / f"{assignment}.ipynb"))
    secret = {line.strip() for c in solution for region in REGION.findall(_text(c))
              for line in region.splitlines() if len(line.strip()) > 12 and not line.strip().startswith("#")}
    # lines the solutions notebook also shows outside its secret regions (imports, the problem) are public
    public = "\n".join(REGION.sub("", _text(c)) for c in solution)
    leaked = sorted(line for line in secret if line in student_text and line not in public)
    assert not leaked, f"solution or hidden-test lines in the student notebook: {leaked[:3]}"
    assert "BEGIN SOLUTION" not in student_text and "BEGIN HIDDEN TESTS" not in student_text
    written = [c for c in solution if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("solution")]
    for cell in written:
        assert _text(cell).strip()[:40] not in student_text, "a written model answer reached the student notebook"


@pytest.mark.parametrize("folder", ["solutions", "course"])
def test_notebooks_are_stored_without_outputs(folder):
    for path in sorted((REPO / folder).glob("*/*.ipynb")):
        for cell in _cells(path):
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name} has outputs"


def test_the_course_contract_check_reports_no_problem():
    tool = REPO.parent / "shared" / "tools" / "check_contract.py"
    if not tool.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: CI must have ../shared beside the clone")
        pytest.skip("../shared/tools/check_contract.py is not beside this checkout")
    prefixes = [a[:2] for a in ASSIGNMENTS]
    run = subprocess.run([sys.executable, str(tool), str(REPO), *prefixes], capture_output=True, text=True)
    assert run.returncode == 0 and " 0 problems" in run.stdout, run.stdout + run.stderr


def test_release_names_the_missing_course_folder(tmp_path, capsys):
    """`release` works on the course folder it is given (default: the current folder), never on
    the bundled course; a folder without nbgrader_config.py and solutions/ is refused."""
    assert cli.main(["release", "--course", str(tmp_path)]) == 2
    assert f"{tmp_path} is not a course folder" in capsys.readouterr().err
