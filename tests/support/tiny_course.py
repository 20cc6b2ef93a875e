"""A one-notebook nbgrader course that grades in a fraction of a second: for pipeline tests.

Its assignment `tiny` asks for `square(x)`; two visible test cells and one with hidden tests
are worth 1 point each.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograde.course.release import REPO, generate

ASSIGNMENT = "tiny"
SOLUTION = "def square(x):\n    return x * x"
HIDDEN_LINE = "assert square(12345) == 152399025, 'hidden check'"


def _meta(grade_id: str, **flags) -> dict:
    base = {"grade": False, "locked": False, "solution": False, "task": False, "schema_version": 3,
            "grade_id": grade_id}
    return {"nbgrader": {**base, **flags}}


def _notebook(extra_tests: tuple[tuple[str, str], ...] = ()) -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("# Tiny\nWrite `square(x)`.", metadata=_meta("intro", locked=True)),
        new_code_cell(f"### BEGIN SOLUTION\n{SOLUTION}\n### END SOLUTION", metadata=_meta("answer", solution=True)),
        new_code_cell('"""Check that square(3) is 9."""\nassert square(3) == 9, "[wrong-square] square(3) should be 9"',
                      metadata=_meta("test_three", grade=True, locked=True, points=1)),
        new_code_cell('"""Check that square(-2) is 4."""\nassert square(-2) == 4, "[sign] square(-2) should be 4"',
                      metadata=_meta("test_negative", grade=True, locked=True, points=1)),
        new_code_cell(f'"""Hidden checks."""\n### BEGIN HIDDEN TESTS\n{HIDDEN_LINE}\n### END HIDDEN TESTS',
                      metadata=_meta("test_hidden", grade=True, locked=True, points=1)),
        *(new_code_cell(source, metadata=_meta(grade_id, grade=True, locked=True, points=1))
          for grade_id, source in extra_tests),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def make_course(folder: Path, cell_timeout: int = 5, extra_tests: tuple[tuple[str, str], ...] = (),
                check_time_factor: float | None = None) -> Path:
    """A generated nbgrader course with the `tiny` assignment in its gradebook; ``extra_tests``
    are (grade_id, source) test cells worth 1 point each after the three standard ones. A
    ``check_time_factor`` is written as the course's ``c.Grader.check_time_factor``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = (REPO / "nbgrader_config.py").read_text()
    config += f"\nc.Execute.timeout = {cell_timeout}\n"
    if check_time_factor is not None:
        config += f"c.Grader.check_time_factor = {check_time_factor}\n"
    (folder / "nbgrader_config.py").write_text(config)
    source = folder / "solutions" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    nbformat.write(_notebook(extra_tests), source / f"{ASSIGNMENT}.ipynb")
    generate(folder, [ASSIGNMENT])
    return folder


def submit(course: Path, student: str, answer: str = SOLUTION) -> Path:
    """The released notebook with the answer cell replaced by ``answer``, in submitted/."""
    nb = nbformat.read(Path(course) / "course" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer":
            cell.source = answer
    folder = Path(course) / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    return folder / f"{ASSIGNMENT}.ipynb"


def copy_course(course: Path, target: Path) -> Path:
    shutil.copytree(course, target)
    return target
