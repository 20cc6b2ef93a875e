"""Shared fixtures: grade notebooks with the real nbgrader in throwaway course folders, through
the batch grader's trusted path (test cells checked outside the student's kernel)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from autograde.samples import answer_bank, submissions
from autograde import pipeline
from autograde.course import release
from autograde.course.nbgrader_app import ensure_tools_on_path
from support import checked_bank, released_course

ensure_tools_on_path()


def student_id(answer: answer_bank.Answer) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", f"{answer.kind}__{answer.name}__{answer.label}".lower())


@pytest.fixture(scope="session")
def released(tmp_path_factory):
    """released(folder) → a fresh sample course in folder/course with all seven assignments
    released (the release is made once per session: tests/support/released_course.py)."""
    base = tmp_path_factory.getbasetemp()  # under pytest-xdist, its parent is this session's, shared by the workers
    template = released_course.template(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    return lambda folder: released_course.copy(template, Path(folder) / "course")


class GradedCourse:
    """Notebooks of every assignment graded in one run of the whole pipeline (nbgrader's
    gradebook, sanitizing, the trusted checker): per assignment, the solution, the untouched
    release and the answer-bank entries ``sample(assignment)`` picks."""

    def __init__(self, course: Path, sample):
        for assignment in release.assignments():
            for base in ("solution", "untouched"):
                submissions.write(submissions.build(assignment, base), course, base, assignment)
            for answer in sample(assignment):
                nb = submissions.build(assignment, "solution", {answer.name: answer.code})
                submissions.write(nb, course, student_id(answer), assignment)
        settings = pipeline.Settings(progress=False, feedback=False, report=False)
        self.results = {(r.student, r.assignment): r for r in pipeline.run(course, settings).results}

    def result(self, assignment: str, student: str):
        return self.results[(student, assignment)]

    def of(self, answer: answer_bank.Answer):
        return self.results[(student_id(answer), answer.assignment)]


def full_run_sample(assignment: str) -> list[answer_bank.Answer]:
    """The bank entries graded by the whole pipeline too: each assignment's first right and first
    wrong answer (the rest are graded at the checker level, `support.checked_bank`)."""
    bank = answer_bank.load(assignment)
    return [next(a for a in bank if a.kind == kind) for kind in ("right", "wrong") if any(a.kind == kind for a in bank)]


@pytest.fixture(scope="session")
def graded(tmp_path_factory, released):
    """The GradedCourse of `full_run_sample`, graded once per test worker (its tests share one)."""
    return GradedCourse(released(tmp_path_factory.mktemp("graded")), full_run_sample)


@pytest.fixture(scope="session")
def checked():
    """checked(answer) → that bank entry graded at the checker level (`support.checked_bank`),
    once per test worker."""
    found: dict[str, object] = {}

    def grade(answer: answer_bank.Answer):
        if answer.key not in found:
            found[answer.key] = checked_bank.grade(answer)
        return found[answer.key]

    return grade


def by_assignment(assignment: str) -> pytest.param:
    """A test parameter kept on the same test worker as every other one of its assignment (so that a
    notebook run once per worker serves them all)."""
    return pytest.param(assignment, id=assignment, marks=pytest.mark.xdist_group(assignment))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups into the node ids
def pytest_collection_modifyitems(items):
    """Tests of a module that share a module-scoped fixture, directly or through one another, run on
    one xdist worker (one group each), so that the fixture is built once: pytest-xdist builds a
    module fixture on every worker that runs one of its tests. Explicit groups are kept."""
    owner: dict[tuple[str, str], tuple[str, str]] = {}  # union-find over (module, fixture)

    def root(key):
        while owner.get(key, key) != key:
            key = owner[key]
        return key

    shared_by = {}
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        names = [(item.nodeid.split("::")[0], name) for name, defs in item._fixtureinfo.name2fixturedefs.items()
                 if defs and defs[-1].scope == "module"]
        for other in names[1:]:
            owner[root(other)] = root(names[0])
        if names:
            shared_by[item] = names[0]
    for item, key in shared_by.items():
        module, fixture = root(key)
        item.add_marker(pytest.mark.xdist_group(f"{module}:{fixture}"))
