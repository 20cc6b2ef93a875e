"""The answer bank graded at the checker level: each entry in a fresh kernel forked from a fork
server this process keeps for all its grading runs (`fork_server.kept_servers`), checked by the
trusted checker, scored by nbgrader's own `determine_grade`, without the rest of nbgrader's
autograde (sanitizing, the gradebook) that the full runs already cover.

An entry changes one answer cell, so only what depends on that answer is run: the answer cells,
the course cells they or the tests need, and the test cells that reach the changed name through
any chain of names (a test of ``train`` reaches ``forward`` through the solution's ``train``).
Plots and demonstrations nothing reads are left out. `tests/notebooks/test_grading.py` grades a
sample of entries both ways and requires the same scores, cell by cell.
"""
from __future__ import annotations

import asyncio
import tempfile
from functools import cache
from pathlib import Path

import nbformat
from nbgrader.utils import determine_grade

from autograde.samples import answer_bank, submissions
from autograde.engine.notebook_run import execute_notebook
from autograde.course.release import REPO
from autograde.outputs.results import TAG, CellResult, SubmissionResult, messages
from autograde.trusted import spec as trusted_spec
from autograde.engine.fork_server import kept_servers


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@cache
def course_spec(assignment: str) -> trusted_spec.Spec:
    return trusted_spec.spec((REPO / "solutions" / assignment / f"{assignment}.ipynb").read_text())


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names bound, names mentioned); a cell that cannot be read binds and mentions everything."""
    found = trusted_spec.names_in(source)
    return found if found is not None else ({"*"}, {"*"})


def reach(nb, name: str) -> set[str]:
    """Every name whose value can depend on ``name``: the names bound by any code cell that
    mentions one of them, to a fixed point."""
    cells = [_names(c.source) for c in nb.cells if c.cell_type == "code" and not trusted_spec.is_test(c)]
    reached, grew = {name}, True
    while grew:
        grew = False
        for binds, mentions in cells:
            if (mentions & reached or "*" in mentions) and not binds <= reached:
                reached |= binds
                grew = True
    return reached


def trimmed(nb, assignment: str, name: str) -> tuple[object, set[str]]:
    """The notebook cut to what grading ``name`` needs, and the grade_ids of the tests kept (read
    from the course's test cells: the student's copy has no hidden tests)."""
    reached = reach(nb, name)
    course_tests = {c.grade_id: c.source for c in course_spec(assignment).cells if c.is_test}
    keep, needed, tests = [], set(), set()
    for cell in reversed(nb.cells):
        if cell.cell_type != "code":
            keep.append(cell if _meta(cell).get("grade") else None)  # written answers keep their place
            continue
        binds, mentions = _names(course_tests.get(_meta(cell).get("grade_id"), cell.source))
        if trusted_spec.is_test(cell):
            if not (mentions & reached or "*" in mentions):
                continue
            tests.add(_meta(cell)["grade_id"])
        elif not (_meta(cell).get("solution") or binds & needed or "*" in binds):
            continue
        needed |= mentions
        keep.append(cell)
    cut = nbformat.from_dict(nb)
    cut.cells = [c for c in reversed(keep) if c is not None]
    return cut, tests


def spec_for(assignment: str, tests: set[str]) -> trusted_spec.Spec:
    """The course's spec with only the given test cells."""
    return course_spec(assignment).only(tests)


def score(nb, student: str, assignment: str) -> SubmissionResult:
    """Per-cell scores as nbgrader's autograde gives them (`determine_grade`), with the failures'
    messages and tags as `autograde.outputs.results` reads them from an autograded notebook."""
    result, said = SubmissionResult(student, assignment), messages(nb)
    for cell in nb.cells:
        meta = _meta(cell)
        if not meta.get("grade"):
            continue
        auto, most = determine_grade(cell, None)
        message = said.get(meta["grade_id"], "")
        result.cells.append(CellResult(meta["grade_id"], None if auto is None else float(auto), float(most),
                                       cell.cell_type == "markdown", message, tuple(TAG.findall(message))))
    result.cells.sort(key=lambda c: c.grade_id)
    return result


def checked_run(nb, assignment: str, tests: set[str], timeout: float = 30) -> tuple[object, str]:
    """``nb`` run in a fresh kernel (sandboxed as in grading) with the course's checks of the test
    cells ``tests``: (the executed notebook, why it stopped early or "")."""
    with kept_servers(1) as (server,), tempfile.TemporaryDirectory(prefix="bank-", dir=server.scratch_root) as scratch:
        done, _, why = asyncio.run(execute_notebook(server, nb, Path(scratch), {"timeout": timeout},
                                                    spec=spec_for(assignment, tests)))
    return done, why


def grade(answer: answer_bank.Answer, timeout: float = 30) -> SubmissionResult:
    """One bank entry graded at the checker level."""
    nb = submissions.build(answer.assignment, "solution", {answer.name: answer.code})
    cut, tests = trimmed(nb, answer.assignment, answer.name)
    return score(checked_run(cut, answer.assignment, tests, timeout)[0], answer.key, answer.assignment)
