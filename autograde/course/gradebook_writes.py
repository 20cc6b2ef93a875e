"""nbgrader's `SaveAutoGrades`, committing a notebook's scores to the gradebook once, not once per cell.

nbgrader's preprocessor commits after every grade and every comment: about twenty SQLite
transactions per notebook, each one a write to disk, and the largest single cost of its scoring
pass. `SaveAutoGrades` here writes the same rows with the same nbgrader code, then commits them
together: all of a notebook's scores land, or (when something fails half way) none of them.
nbgrader_config.py lists it in ``c.Autograde.autograde_preprocessors`` in place of nbgrader's.
"""
from __future__ import annotations

from nbgrader import preprocessors
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor


class _FlushOnly:
    """A gradebook session whose ``commit`` only sends the pending rows (the caller commits once)."""

    def __init__(self, session):
        self._session = session

    def commit(self) -> None:
        self._session.flush()

    def __getattr__(self, name):
        return getattr(self._session, name)


class _OneTransaction:
    """A `Gradebook` whose ``db`` commits nothing until the preprocessor is done."""

    def __init__(self, gradebook: Gradebook):
        self._gradebook, self.db = gradebook, _FlushOnly(gradebook.db)

    def __getattr__(self, name):
        return getattr(self._gradebook, name)


class SaveAutoGrades(preprocessors.SaveAutoGrades):
    """nbgrader's `SaveAutoGrades` (its ``_add_score`` and ``_add_comment`` as they are), one commit
    per notebook."""

    def preprocess(self, nb, resources):
        found = resources["nbgrader"]  # as nbgrader's own preprocess reads them
        self.notebook_id, self.assignment_id = found["notebook"], found["assignment"]
        self.student_id, self.db_url = found["student"], found["db_url"]
        with Gradebook(self.db_url) as gradebook:
            self.gradebook = _OneTransaction(gradebook)
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            gradebook.db.commit()
        return nb, resources
