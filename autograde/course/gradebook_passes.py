"""nbgrader's gradebook preprocessors, with one notebook's queries and commits made together.

nbgrader's `OverwriteCells` (sanitizing), `SaveAutoGrades` (scoring) and `GetGrades` (feedback) ask
the gradebook about each cell in turn (one or two joined queries per cell); `SaveAutoGrades` commits
after every grade and every comment: about twenty SQLite transactions and forty queries per
notebook, most of the gradebook's share of grading. The classes here are nbgrader's own (their
per-cell code as it is); each reads the notebook's rows in one query per kind of row (`Prefetched`)
and `SaveAutoGrades` commits them together: all of a notebook's scores land, or (when something
fails half way) none of them. nbgrader_config.py lists them in place of nbgrader's.
"""
from __future__ import annotations

from collections import Counter

from nbgrader import preprocessors
from nbgrader.api import (Assignment, BaseCell, Comment, Grade, GradeCell, Gradebook, Notebook, SourceCell,
                          SubmittedAssignment, SubmittedNotebook, TaskCell)
from nbgrader.preprocessors import NbGraderPreprocessor
from sqlalchemy.orm import undefer


class _FlushOnly:
    """A gradebook session whose ``commit`` only sends the pending rows (the caller commits once)."""

    def __init__(self, session):
        self._session = session

    def commit(self) -> None:
        self._session.flush()

    def __getattr__(self, name):
        return getattr(self._session, name)


class Prefetched:
    """A `Gradebook` for the cells of one notebook (and one student's submission of it): its
    per-cell ``find_*`` answer from rows read at once, one query per kind, in the gradebook's own
    session. A name read twice (two kinds of cell under one name) or not read at all is asked of
    the gradebook as nbgrader asks it, so the answer, or its `MissingEntry`, is nbgrader's."""

    def __init__(self, gradebook: Gradebook, notebook: str, assignment: str, student: str | None = None,
                 one_transaction: bool = False):
        self._gradebook, self._key = gradebook, (notebook, assignment, student)
        self.db = _FlushOnly(gradebook.db) if one_transaction else gradebook.db
        self._read: dict[str, dict] = {}

    def __getattr__(self, name):
        return getattr(self._gradebook, name)

    def _release(self, row):  # the rows of the released notebook: its cells
        db, (notebook, assignment, _) = self._gradebook.db, self._key
        return (db.query(row).join(Notebook, Notebook.id == row.notebook_id)
                .join(Assignment, Assignment.id == Notebook.assignment_id)
                .filter(Notebook.name == notebook, Assignment.name == assignment))

    def _submitted(self, row, cells: tuple[str, ...]):  # the student's rows of these kinds of cell, with their names
        db, (notebook, assignment, student) = self._gradebook.db, self._key
        query = db.query(row, BaseCell.name)
        if row is Grade:  # its points, read with it, not once per grade
            query = query.options(undefer(Grade.max_score))
        return (query.join(BaseCell, BaseCell.id == row.cell_id)
                .join(SubmittedNotebook, SubmittedNotebook.id == row.notebook_id)
                .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                .filter(Notebook.name == notebook, Assignment.name == assignment,
                        SubmittedAssignment.student_id == student, BaseCell.type.in_(cells)))

    def _rows(self, kind: str) -> dict:
        if kind not in self._read:
            if kind == "source":
                pairs = [(c.name, c) for c in self._release(SourceCell)]
            elif kind == "graded":  # nbgrader looks for a grade cell, then a task cell
                pairs = [(c.name, c) for row in (GradeCell, TaskCell) for c in self._release(row)]
            elif kind == "grade":  # a grade cell's or a task cell's, as nbgrader looks for them
                pairs = [(name, row) for row, name in self._submitted(Grade, ("GradeCell", "TaskCell"))]
            else:  # a comment: a written answer's or a task cell's
                pairs = [(name, row) for row, name in self._submitted(Comment, ("SolutionCell", "TaskCell"))]
            names = Counter(name for name, _ in pairs)
            self._read[kind] = {name: row for name, row in pairs if names[name] == 1}
        return self._read[kind]

    def _find(self, kind: str, name: str, *where):
        if where == self._key[:len(where)]:
            found = self._rows(kind).get(name)
            if found is not None:
                return found
        return getattr(self._gradebook, f"find_{kind}_cell" if kind in ("source", "graded") else f"find_{kind}")(
            name, *where)

    def find_source_cell(self, name: str, notebook: str, assignment: str) -> SourceCell:
        return self._find("source", name, notebook, assignment)

    def find_graded_cell(self, name: str, notebook: str, assignment: str) -> GradeCell | TaskCell:
        return self._find("graded", name, notebook, assignment)

    def find_grade(self, cell: str, notebook: str, assignment: str, student: str) -> Grade:
        return self._find("grade", cell, notebook, assignment, student)

    def find_comment(self, cell: str, notebook: str, assignment: str, student: str) -> Comment:
        return self._find("comment", cell, notebook, assignment, student)


class OverwriteCells(preprocessors.OverwriteCells):
    """nbgrader's `OverwriteCells` (its ``preprocess_cell`` and missing-cell code as they are),
    reading the released notebook's cells once."""

    def preprocess(self, nb, resources):
        found = resources["nbgrader"]  # as nbgrader's own preprocess reads them
        self.notebook_id, self.assignment_id, self.db_url = found["notebook"], found["assignment"], found["db_url"]
        with Gradebook(self.db_url) as gradebook:
            self.gradebook = Prefetched(gradebook, self.notebook_id, self.assignment_id)
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources


class SaveAutoGrades(preprocessors.SaveAutoGrades):
    """nbgrader's `SaveAutoGrades` (its ``_add_score`` and ``_add_comment`` as they are), reading
    the submission's grades and comments once and committing them once."""

    def preprocess(self, nb, resources):
        found = resources["nbgrader"]
        self.notebook_id, self.assignment_id = found["notebook"], found["assignment"]
        self.student_id, self.db_url = found["student"], found["db_url"]
        with Gradebook(self.db_url) as gradebook:
            self.gradebook = Prefetched(gradebook, self.notebook_id, self.assignment_id, self.student_id,
                                         one_transaction=True)
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            gradebook.db.commit()
        return nb, resources


class GetGrades(preprocessors.GetGrades):
    """nbgrader's `GetGrades` (feedback: each cell's score and comment into the notebook; its
    per-cell code and its totals as they are), reading the submission's grades and comments once."""

    def preprocess(self, nb, resources):
        found = resources["nbgrader"]
        self.notebook_id, self.assignment_id = found["notebook"], found["assignment"]
        self.student_id, self.db_url = found["student"], found["db_url"]
        with Gradebook(self.db_url) as gradebook:
            self.gradebook = Prefetched(gradebook, self.notebook_id, self.assignment_id, self.student_id)
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            notebook = gradebook.find_submission_notebook(self.notebook_id, self.assignment_id, self.student_id)
            late_penalty = notebook.late_submission_penalty
            if late_penalty is None:
                late_penalty = 0
            else:
                self.log.warning("Late submission penalty: {}".format(late_penalty))
            found.update(score=notebook.score - late_penalty, max_score=notebook.max_score, late_penalty=late_penalty)
        return nb, resources
