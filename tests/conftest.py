"""Shared fixtures: grade notebooks with the real nbgrader in throwaway course folders."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograde import answer_bank, sample_class, submissions
from autograde.grade import autograde
from autograde.nbgrader_app import ensure_tools_on_path
from autograde.release import REPO

ensure_tools_on_path()


def student_id(answer: answer_bank.Answer) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", f"{answer.kind}__{answer.name}__{answer.label}".lower())


class GradedBank:
    """One assignment graded once: the solutions, the untouched release and every answer-bank entry."""

    def __init__(self, assignment: str, folder: Path):
        self.assignment = assignment
        self.answers = answer_bank.load(assignment)
        course = sample_class.prepare_course(folder / "course")
        submissions.write(submissions.build(assignment, "solution"), course, "solution", assignment)
        submissions.write(submissions.build(assignment, "untouched"), course, "untouched", assignment)
        for answer in self.answers:
            nb = submissions.build(assignment, "solution", {answer.name: answer.code})
            submissions.write(nb, course, student_id(answer), assignment)
        self.results = {r.student: r for r in autograde(course)}

    def result(self, student: str):
        return self.results[student]

    def of(self, answer: answer_bank.Answer):
        return self.results[student_id(answer)]


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """graded(assignment) → that assignment's GradedBank, graded once per test worker."""
    cache: dict[str, GradedBank] = {}

    def get(assignment: str) -> GradedBank:
        if assignment not in cache:
            cache[assignment] = GradedBank(assignment, tmp_path_factory.mktemp(assignment))
        return cache[assignment]

    return get


def by_assignment(assignment: str, *values, id: str = "") -> pytest.param:
    """A test parameter kept on the same test worker as every other one of its assignment."""
    return pytest.param(assignment, *values, id=id or assignment, marks=pytest.mark.xdist_group(assignment))


def release_exists(assignment: str) -> bool:
    return (REPO / "course" / assignment / f"{assignment}.ipynb").exists()
