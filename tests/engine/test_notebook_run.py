"""One notebook run the trusted way (`notebook_run.execute_notebook`): what each test cell checks
is the student's values where that test cell stands, whether its snapshot was carried by the
request of the cell before it or, after a cell that raised, taken by a request of its own."""
from __future__ import annotations

import asyncio
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograde.engine.fork_server import kept_servers
from autograde.engine.notebook_run import execute_notebook
from autograde.settings import NotebookLimits
from autograde.trusted import spec as trusted_spec


def _meta(grade_id: str, **flags) -> dict:
    base = {"grade": False, "locked": False, "solution": False, "task": False, "schema_version": 3}
    return {"nbgrader": {**base, "grade_id": grade_id, **flags}}


def _test(grade_id: str, expected: int) -> nbformat.NotebookNode:
    return new_code_cell(f'assert value == {expected}, "[{grade_id}] value should be {expected}"',
                         metadata=_meta(grade_id, grade=True, locked=True, points=1))


def _notebook(first_answer: str) -> nbformat.NotebookNode:
    """An answer, two test cells of it (markdown between), a later answer that changes the value,
    and a test cell of that."""
    return new_notebook(cells=[
        new_code_cell(first_answer, metadata=_meta("first", solution=True)),
        _test("first_visible", 9),
        new_markdown_cell("The hidden test of the same answer:"),
        _test("first_hidden", 9),
        new_code_cell("value = 10", metadata=_meta("second", solution=True)),
        _test("second_visible", 10),
    ])


def _run(first_answer: str, folder: Path) -> nbformat.NotebookNode:
    spec = trusted_spec.spec(nbformat.writes(_notebook(first_answer)))
    limits = NotebookLimits(seconds=120, check_time_factor=2, kernel_restarts=0, output_bytes=1 << 20)
    with kept_servers(1, sandboxed=False) as (server,):
        done, _, _ = asyncio.run(execute_notebook(server, _notebook(first_answer), folder, {"timeout": 30},
                                                  limits, spec))
    return done


def _errors(nb) -> dict[str, list[str]]:
    """grade_id → the error values of each test cell's outputs ([] when it passed)."""
    return {cell.metadata["nbgrader"]["grade_id"]: [o.get("evalue", "") for o in cell.outputs
                                                    if o.output_type == "error"]
            for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")}


@pytest.mark.parametrize("first_answer, carried", [
    ("value = 9", True),
    ('value = 9\nraise ValueError("the answer cell fails after setting the value")', False),
])
def test_each_test_cell_checks_the_value_where_it_stands(first_answer, carried, tmp_path):
    done = _run(first_answer, tmp_path)
    assert _errors(done) == {"first_visible": [], "first_hidden": [], "second_visible": []}
    counts = {cell.metadata["nbgrader"]["grade_id"]: cell.execution_count
              for cell in done.cells if cell.cell_type == "code"}
    # A carried snapshot sends no request of its own: the test cell has no execution count.
    assert (counts["first_visible"] is None and counts["first_hidden"] is None) == carried
    assert counts["second_visible"] is None  # "value = 10" ran without error and carried it


def test_a_wrong_value_fails_the_test_cell_that_checks_it_with_its_message(tmp_path):
    done = _run("value = 8", tmp_path)
    errors = _errors(done)
    assert "[first_visible] value should be 9" in " ".join(errors["first_visible"])
    assert errors["first_hidden"] and errors["second_visible"] == []
