"""What grading produced, read back from nbgrader: the gradebook's scores (autograded, hand-graded,
late penalties) and the autograded notebooks' failure messages with their misconception tags.

`read` reads one submission; `read_course` reads the whole gradebook at once (every submission of
every assignment, and each assignment's points), which is what totals and the class report use,
so that they are the formgrader's and `nbgrader export`'s numbers."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from autograde.course.nbgrader_app import gradebook_url

NOT_IN_GRADEBOOK = "no graded submission in the gradebook"
TAG = re.compile(r"^\[([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\]", re.MULTILINE)


@dataclass
class CellResult:
    grade_id: str
    score: float | None  # None while a written answer waits for manual grading
    max_score: float
    written: bool  # graded by hand in the formgrader
    message: str = ""
    tags: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Full points, and for a cell worth 0 (a visible check that explains) no failure message."""
        return self.score is not None and self.score >= self.max_score and (self.max_score > 0 or not self.message)


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    cells: list[CellResult] = field(default_factory=list)
    error: str = ""  # why grading failed, in plain words ("" when it worked)
    late_penalty: float = 0.0  # points nbgrader's AssignLatePenalties took off
    seconds_late: float = 0.0  # after the due date, extension included (nbgrader's total_seconds_late)
    extension: timedelta | None = None  # granted to this student for this assignment

    @property
    def auto_score(self) -> float:
        return sum(c.score or 0.0 for c in self.cells if not c.written)

    @property
    def auto_max(self) -> float:
        return sum(c.max_score for c in self.cells if not c.written)

    @property
    def written_score(self) -> float:
        """Points of the written answers graded by hand so far."""
        return sum(c.score or 0.0 for c in self.cells if c.written)

    @property
    def score(self) -> float:
        """Autograded plus hand-graded points, before any late penalty (the formgrader's score)."""
        return self.auto_score + self.written_score

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.cells)

    @property
    def final_score(self) -> float:
        """The score less the late penalty (`nbgrader export`'s score)."""
        return max(0.0, self.score - self.late_penalty)

    @property
    def written_pending(self) -> int:
        return sum(1 for c in self.cells if c.written and c.score is None)

    def cell(self, grade_id: str) -> CellResult:
        return next(c for c in self.cells if c.grade_id == grade_id)

    def failed(self, prefix: str = "") -> list[CellResult]:
        """Autograded cells that lost points or (worth 0) failed, optionally only those whose grade_id
        starts with ``prefix``."""
        return [c for c in self.cells if not c.written and not c.passed and c.grade_id.startswith(prefix)]


def _messages(notebook_path: Path) -> dict[str, str]:
    """grade_id → the error text shown under that test cell in the autograded notebook (the grader's
    own file, written by nbgrader after checking it: read as JSON, not checked again)."""
    try:
        return messages(json.loads(notebook_path.read_text()))
    except (OSError, ValueError):
        return {}


def messages(nb) -> dict[str, str]:
    """grade_id → the error text shown under that test cell of a graded notebook."""
    found = {}
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if grade_id and errors:
            found[grade_id] = "\n".join(f"{e.get('ename')}: {e.get('evalue')}" for e in errors)
    return found


def read(root: Path, assignment: str, student: str, db_url: str | None = None) -> SubmissionResult:
    """The graded submission of one student, from the gradebook and the autograded notebook."""
    return read_many(root, [(student, assignment)], db_url)[0]


def read_many(root: Path, pairs, db_url: str | None = None) -> list[SubmissionResult]:
    """`read` of each (student, assignment) pair, in their order, in one gradebook session: what one
    submission loads (its assignment's cells and notebooks) serves the next, instead of a session
    and some forty queries per submission."""
    from nbgrader.api import Gradebook, MissingEntry

    found = []
    with Gradebook(db_url or gradebook_url(root)) as gb:
        for student, assignment in pairs:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                found.append(SubmissionResult(student, assignment, error=NOT_IN_GRADEBOOK))
                continue
            found.append(_result(root, submission))
    return found


@dataclass
class Course:
    """Everything in the gradebook: each assignment's points, every student, every submission."""
    points: dict[str, float]  # assignment → its maximum score (code, written and task cells)
    students: list[str]
    submissions: list[SubmissionResult]

    def by_key(self) -> dict[tuple[str, str], SubmissionResult]:
        return {(r.student, r.assignment): r for r in self.submissions}


def read_course(root: Path, db_url: str | None = None) -> Course:
    """The whole gradebook in one pass, assignments by name (the course's order: 01_…, 02_…)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url or gradebook_url(root)) as gb:
        points = {a.name: float(a.max_score) for a in sorted(gb.assignments, key=lambda a: a.name)}
        students = sorted(s.id for s in gb.students)
        found = [_result(root, s) for a in gb.assignments for s in a.submissions]
    return Course(points, students, sorted(found, key=lambda r: (r.student, r.assignment)))


def _result(root: Path, submission) -> SubmissionResult:
    student, assignment = submission.student.id, submission.assignment.name
    result = SubmissionResult(student, assignment, late_penalty=float(submission.late_submission_penalty or 0.0),
                              seconds_late=float(submission.total_seconds_late or 0.0),
                              extension=submission.extension)
    for notebook in submission.notebooks:
        messages = _messages(Path(root) / "autograded" / student / assignment / f"{notebook.name}.ipynb")
        for grade in notebook.grades:
            written = grade.cell.cell_type == "markdown"
            pending = grade.auto_score is None and grade.manual_score is None
            score = None if pending else grade.score
            message = messages.get(grade.name, "")
            result.cells.append(CellResult(grade.name, score, grade.max_score, written, message,
                                           tuple(TAG.findall(message))))
    result.cells.sort(key=lambda c: c.grade_id)
    return result
