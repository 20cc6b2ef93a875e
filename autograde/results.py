"""What grading produced, read back from nbgrader: the gradebook's scores and the autograded
notebooks' failure messages with their misconception tags."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .nbgrader_app import gradebook_url

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

    @property
    def auto_score(self) -> float:
        return sum(c.score or 0.0 for c in self.cells if not c.written)

    @property
    def auto_max(self) -> float:
        return sum(c.max_score for c in self.cells if not c.written)

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
    """grade_id → the error text shown under that test cell in the autograded notebook."""
    if not notebook_path.exists():
        return {}
    nb = nbformat.read(notebook_path, as_version=4)
    found = {}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if grade_id and errors:
            found[grade_id] = "\n".join(f"{e.get('ename')}: {e.get('evalue')}" for e in errors)
    return found


def read(root: Path, assignment: str, student: str, db_url: str | None = None) -> SubmissionResult:
    """The graded submission of one student, from the gradebook and the autograded notebook."""
    from nbgrader.api import Gradebook, MissingEntry

    result = SubmissionResult(student, assignment)
    with Gradebook(db_url or gradebook_url(root)) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            result.error = "no graded submission in the gradebook"
            return result
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
