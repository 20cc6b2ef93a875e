"""Shared fixtures: grade notebooks with the real nbgrader in throwaway course folders, through
the batch grader's trusted path (test cells checked outside the student's kernel)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from autograde import answer_bank, submissions
from autograde import grade_class
from autograde.nbgrader_app import ensure_tools_on_path
from support import released_course

ensure_tools_on_path()


def student_id(answer: answer_bank.Answer) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", f"{answer.kind}__{answer.name}__{answer.label}".lower())


#: Each assignment's answer bank is graded in this many independent course folders, so that
#: pytest-xdist can spread one large bank over several workers.
CHUNKS = 2


def chunk_of(answer: answer_bank.Answer) -> int:
    return answer_bank.load(answer.assignment).index(answer) % CHUNKS


@pytest.fixture(scope="session")
def released(tmp_path_factory):
    """released(folder) → a fresh sample course in folder/course with all seven assignments
    released (the release is made once per session: tests/support/released_course.py)."""
    base = tmp_path_factory.getbasetemp()  # under pytest-xdist, its parent is this session's, shared by the workers
    template = released_course.template(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    return lambda folder: released_course.copy(template, Path(folder) / "course")


class GradedBank:
    """One chunk of an assignment graded once: every answer-bank entry of the chunk, and in
    chunk 0 also the solutions and the untouched release."""

    def __init__(self, assignment: str, chunk: int, course: Path):
        self.assignment = assignment
        self.answers = [a for a in answer_bank.load(assignment) if chunk_of(a) == chunk]
        if chunk == 0:
            submissions.write(submissions.build(assignment, "solution"), course, "solution", assignment)
            submissions.write(submissions.build(assignment, "untouched"), course, "untouched", assignment)
        for answer in self.answers:
            nb = submissions.build(assignment, "solution", {answer.name: answer.code})
            submissions.write(nb, course, student_id(answer), assignment)
        settings = grade_class.Settings(progress=False, feedback=False, report=False)
        self.results = {r.student: r for r in grade_class.run(course, settings).results}

    def result(self, student: str):
        return self.results[student]

    def of(self, answer: answer_bank.Answer):
        return self.results[student_id(answer)]


@pytest.fixture(scope="session")
def graded(tmp_path_factory, released):
    """graded(assignment, chunk=0) → that chunk's GradedBank, graded once per test worker."""
    cache: dict[tuple[str, int], GradedBank] = {}

    def get(assignment: str, chunk: int = 0) -> GradedBank:
        if (assignment, chunk) not in cache:
            course = released(tmp_path_factory.mktemp(f"{assignment}-{chunk}"))
            cache[(assignment, chunk)] = GradedBank(assignment, chunk, course)
        return cache[(assignment, chunk)]

    return get


def by_assignment(assignment: str, *values, chunk: int = 0, id: str = "") -> pytest.param:
    """A test parameter kept on the same test worker as every other one of its assignment chunk."""
    return pytest.param(assignment, *values, id=id or assignment,
                        marks=pytest.mark.xdist_group(f"{assignment}-{chunk}"))
