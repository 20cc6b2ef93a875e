"""nbgrader's own autograde, run the trusted way: `TrustedExecute` takes the place of nbgrader's
`Execute` preprocessor in `c.Autograde.autograde_preprocessors` (see nbgrader_config.py).

So `nbgrader autograde`, the formgrader's Autograde button and `python -m autograde grade` run
the same engine (`execute.run_task`): each notebook in a fresh kernel forked inside the sandbox,
the test cells checked by the trusted checker outside it, and every other preprocessor of
nbgrader's (scoring, late penalties) unchanged. A failure that is not the student's doing (the
kernel did not start, the checker gave no result) raises, so nbgrader records no grade for that
submission instead of a zero. The grader's settings are the course's ``c.Grader`` (`autograde.settings`),
as for `python -m autograde grade`.
"""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import nbformat
from nbgrader.preprocessors import Execute

from autograde.engine.fork_server import kept_servers
from autograde.engine.notebook_run import InfrastructureError, Task, run_task
from autograde.settings import Grader, KernelLimits
from autograde.trusted import spec as trusted_spec

def _run(coroutine):
    """Run a coroutine to its end, also from a thread whose event loop is running (the formgrader)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box = {}
    thread = threading.Thread(target=lambda: box.update(value=asyncio.run(coroutine)))
    thread.start()
    thread.join()
    return box["value"]


class TrustedExecute(Execute):
    """Execute a submitted notebook as `python -m autograde grade` does (docs/grading.md), with the
    course's ``c.Grader`` settings."""

    def preprocess(self, nb, resources):
        about = resources["nbgrader"]
        coursedir = _coursedir(self)
        grading = Grader(config=self.config)
        task = Task(about["student"], about["assignment"], {about["notebook"]: nbformat.writes(nb)},
                    self._files(coursedir, about["student"], about["assignment"]), self._execute_config(),
                    {about["notebook"]: self._spec(about["assignment"], about["notebook"])} if grading.trusted else None,
                    limits=grading.notebook_limits(), kernel_limits=grading.kernel_limits(), sandbox=grading.sandbox)
        with kept_servers(1, task.sandbox, task.kernel_limits) as (server,):
            done = _run(run_task(server, task))
        if done.infrastructure:
            raise InfrastructureError(f"{about['student']}/{about['assignment']}: {done.infrastructure}")
        if done.error:
            self.log.warning("%s/%s: %s", about["student"], about["assignment"], done.error)
        return nbformat.reads(done.notebooks[about["notebook"]], as_version=nbformat.NO_CONVERT), resources

    def _execute_config(self) -> dict:
        return {name: getattr(self, name) for name in ("timeout", "interrupt_on_timeout", "startup_timeout",
                                                       "raise_on_iopub_timeout")}

    def _files(self, coursedir, student: str, assignment: str) -> dict[str, bytes]:
        """The submission's other files, read from the student's folder without following a link
        (nbgrader's own copy into autograded/ follows them), then the course's own files of the
        assignment on top, as nbgrader's autograde puts them."""
        from autograde.intake import safe_copy

        submitted = coursedir.format_path(coursedir.submitted_directory, student, assignment)
        tree = safe_copy.read_folder(None, submitted)
        for line in tree.skipped:
            self.log.warning("%s/%s: %s", student, assignment, line)
        files = {f.path: f.data for f in tree.files if not f.path.endswith(".ipynb")}
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        for path in sorted(source.rglob("*")):
            if path.is_file() and path.suffix != ".ipynb" and not any(safe_copy.hidden(p) for p in path.parts):
                files[str(path.relative_to(source))] = path.read_bytes()
        return files

    def _spec(self, assignment: str, notebook: str) -> trusted_spec.Spec:
        """The trusted spec from the course's source notebook (never from the submission)."""
        coursedir = _coursedir(self)
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment)) / f"{notebook}.ipynb"
        return trusted_spec.spec(source.read_text())


def _coursedir(preprocessor):
    """The running nbgrader app's CourseDirectory (the exporter's parent is the converter)."""
    owner = preprocessor.parent
    while owner is not None and not hasattr(owner, "coursedir"):
        owner = owner.parent
    if owner is None:
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=preprocessor.config)
    return owner.coursedir
