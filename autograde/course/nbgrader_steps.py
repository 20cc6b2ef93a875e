"""nbgrader's autograde, split around its one slow step so that the slow step can run elsewhere.

nbgrader's `Autograde` converter sanitizes a submission (records it in the gradebook, restores
the course's own test cells and kernelspec), executes it, then saves the scores. Here the same
nbgrader classes do the first and last parts in the coordinator, the only gradebook writer; the
execution in between is `execute.run_task`, with nbgrader's own `Execute` preprocessor.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbgrader.converters import Autograde
from nbgrader.converters.base import BaseConverter

from autograde import internals
from autograde.intake.staging import STAGED_DIRECTORY

@functools.cache
def after_execute(api) -> tuple:
    """The course's `Autograde.autograde_preprocessors` (nbgrader's own list unless
    nbgrader_config.py says otherwise) without the one that executes, in their order."""
    from nbconvert.preprocessors import ExecutePreprocessor
    from traitlets.utils.importstring import import_item

    listed = Autograde(coursedir=api.coursedir, parent=api).autograde_preprocessors
    classes = [import_item(p) if isinstance(p, str) else p for p in listed]
    return tuple(p for p in classes if not (isinstance(p, type) and issubclass(p, ExecutePreprocessor)))


class Sanitize(Autograde):
    """nbgrader autograde's first pass only: the sanitized notebooks land in autograded/."""

    def convert_single_notebook(self, notebook_filename: str) -> None:
        internals.sanitize_only(self)
        BaseConverter.convert_single_notebook(self, notebook_filename)


def sanitize(api, assignment: str, student: str) -> None:
    """Record the submission and write its sanitized notebooks; raise with nbgrader's log if it fails.

    nbgrader reads the copy intake staged (intake/<student>/<assignment>), never submitted/."""
    from nbgrader.utils import temp_attrs

    submitted = api.coursedir.submitted_directory
    try:
        with temp_attrs(api.coursedir, assignment_id=assignment, student_id=student,
                        submitted_directory=STAGED_DIRECTORY):
            app = Sanitize(coursedir=api.coursedir, parent=api)
            app.force = True
            app.create_student = True
            app.start()
    finally:  # temp_attrs restores nothing when the body raises
        api.coursedir.submitted_directory = submitted


def finish(api, assignment: str, student: str, notebook: str, executed) -> None:
    """Run nbgrader's post-execution preprocessors on an executed notebook (scores into the
    gradebook) and write it to autograded/, exactly as nbgrader's second pass would."""
    exporter = NotebookExporter(parent=api, config=api.config)
    for preprocessor in after_execute(api):  # as Autograde._init_preprocessors registers them
        exporter.register_preprocessor(preprocessor)
    resources = {"unique_key": notebook, "output_files_dir": f"{notebook}_files",
                 "nbgrader": {"student": student, "assignment": assignment, "notebook": notebook,
                              "db_url": api.coursedir.db_url}}
    output, _ = exporter.from_notebook_node(executed, resources=resources)
    target = Path(api.coursedir.format_path(api.coursedir.autograded_directory, student, assignment))
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{notebook}.ipynb"
    temporary = path.with_suffix(".ipynb.partial")
    temporary.write_text(output)
    os.replace(temporary, path)


def sanitized_notebooks(api, assignment: str, student: str) -> dict[str, str]:
    """notebook name → JSON text of each sanitized notebook waiting in autograded/."""
    folder = Path(api.coursedir.format_path(api.coursedir.autograded_directory, student, assignment))
    return {p.stem: p.read_text() for p in sorted(folder.glob("*.ipynb"))}


def submitted_notebooks(api, assignment: str, student: str) -> dict[str, str]:
    """notebook name → JSON text of each notebook as the student submitted it (intake's copy:
    outputs as saved, metadata repaired, no link followed)."""
    folder = Path(api.coursedir.format_path(STAGED_DIRECTORY, student, assignment))
    return {p.stem: p.read_text(errors="replace") for p in sorted(folder.glob("*.ipynb"))}


def assignment_files(api, assignment: str, student: str) -> dict[str, bytes]:
    """The other files nbgrader copied beside the notebooks (data files), relative path → bytes."""
    folder = Path(api.coursedir.format_path(api.coursedir.autograded_directory, student, assignment))
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and not p.name.startswith(".")}


def read_notebook(text: str):
    return nbformat.reads(text, as_version=4)


def hidden_tests_begin(api) -> str:
    """How the course marks the start of hidden tests in a test cell (nbgrader's ClearHiddenTests
    ``begin_test_delimeter``, "BEGIN HIDDEN TESTS" unless nbgrader_config.py says otherwise)."""
    from nbgrader.preprocessors import ClearHiddenTests

    return ClearHiddenTests(parent=api).begin_test_delimeter
