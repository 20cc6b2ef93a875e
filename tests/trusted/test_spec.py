"""What the checker takes from the course's notebook: which course cells it must run before the tests."""
from __future__ import annotations

import json
import pickle

import nbformat

from autograde.course.release import REPO, assignments
from autograde.trusted import spec


def _course(*cells: tuple[str, str]) -> str:
    nb = nbformat.v4.new_notebook()
    for kind, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        if kind == "answer":
            cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": f"a{len(nb.cells)}"}
        elif kind == "test":
            cell.metadata["nbgrader"] = {"solution": False, "grade": True, "points": 1, "grade_id": f"t{len(nb.cells)}"}
        nb.cells.append(cell)
    return json.dumps(nb)


def _needed(text: str) -> list[bool]:
    return [c.needed for c in spec.spec(text).cells if not c.is_test]


def test_a_plot_no_test_reads_is_left_out_and_what_tests_need_is_run():
    text = _course(("setup", "import numpy as np\nfrom helpers import draw"),
                   ("setup", "X = np.ones(3)"),
                   ("answer", "def f(x):\n    return 2 * x"),
                   ("setup", "draw(f(X))  # a plot"),
                   ("setup", "losses = [f(x) for x in X]"),
                   ("test", "assert np.allclose(f(X), 2 * X)"),
                   ("setup", "late = f(X)  # after the last test"))
    assert _needed(text) == [True, True, False, False, False]


def test_names_a_test_reaches_through_a_helper_or_a_string_are_needed():
    text = _course(("setup", "import numpy as np"),
                   ("setup", "RATE = 0.5"),
                   ("setup", "def helper(g):\n    return g(RATE)"),
                   ("setup", "worked = 3"),
                   ("test", "helper(f)\nassert defined('worked', globals())"))
    assert _needed(text) == [False, True, True, True]


def test_a_cell_that_cannot_be_read_is_always_run():
    text = _course(("setup", "from helpers import *"), ("setup", "x = ("), ("test", "assert True"))
    assert _needed(text) == [True, True]


def test_every_course_notebook_still_runs_its_setup_cell_in_the_checker():
    for assignment in assignments():
        cells = spec.spec((REPO / "solutions" / assignment / f"{assignment}.ipynb").read_text()).cells
        assert next(c for c in cells if not c.is_test).needed, assignment


def test_a_spec_cut_to_some_tests_runs_only_the_setup_they_need():
    text = _course(("setup", "import numpy as np"), ("setup", "A = 1"), ("setup", "B = 2"),
                   ("test", "assert A == 1"), ("test", "assert B == 2"))
    cut = spec.spec(text).only({"t3"})
    assert [c.grade_id for c in cut.cells if c.is_test] == ["t3"] and list(cut.tests) == ["t3"]
    assert [c.needed for c in cut.cells if not c.is_test] == [False, True, False]


def test_a_spec_reaches_the_checker_and_a_dask_worker_unchanged():
    """The checker rebuilds the cells from its task file (JSON); a Dask worker unpickles the task."""
    whole = spec.spec((REPO / "solutions" / assignments()[0] / f"{assignments()[0]}.ipynb").read_text())
    assert [spec.CourseCell.from_wire(json.loads(json.dumps(c.wire()))) for c in whole.cells] == list(whole.cells)
    assert pickle.loads(pickle.dumps(whole)) == whole
