"""Grade a whole class: parallel, resumable, on nbgrader's gradebook, with a progress bar.

The coordinator is the only process that writes the gradebook. For each submission it runs
nbgrader's sanitize pass, hands the sanitized notebooks to a worker (a fresh kernel per notebook,
forked from a warm fork server here, or a task on a Dask cluster), then runs nbgrader's scoring
pass on what comes back. nbgrader's passes run on one gradebook thread, one at a time, so that the
kernels' messages are read meanwhile (on the event loop they stalled every other slot). A journal
file written after the scores are committed makes a killed run resumable: a submission is graded
again only if its journal is missing or stale. The course's settings (`autograde.settings.Grader`)
go to the workers inside each task, as plain data.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autograde.course import nbgrader_steps
from autograde.engine.notebook_run import Executed, Phases, Task, run_task, run_task_here
from autograde.intake.staging import Problem
from autograde.outputs.results import SubmissionResult, read_many
from autograde.settings import Grader
from autograde.trusted import spec as trusted_spec
from autograde.trusted import tampering

JOURNAL = ".graded.json"
log = logging.getLogger(__name__)


@dataclass
class Outcome:
    results: list[SubmissionResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)  # wall time per submission
    code_seconds: dict[tuple[str, str], float] = field(default_factory=dict)  # its cells' run time
    graded: int = 0  # submissions graded in this run
    resumed: int = 0  # submissions already graded by an earlier run, not graded again
    keys: list[tuple[str, str]] = field(default_factory=list)  # (student, assignment) of the results, in order
    unreadable: dict[tuple[str, str], str] = field(default_factory=dict)  # the student's files: scored 0
    failed: dict[tuple[str, str], str] = field(default_factory=dict)  # not the student's doing: nothing stored
    retried: int = 0  # grading attempts repeated after a failure that was not the student's doing
    wall: float = 0.0  # seconds this run spent grading
    db_url: str = ""  # the gradebook written
    isolation: str = ""  # what kept student code away from the grade and the course files
    csv: Path | None = None  # nbgrader's CSV export
    feedback: list[Path] = field(default_factory=list)  # feedback HTML files
    report: Path | None = None  # the class report page

    @property
    def exit_code(self) -> int:
        """0: every submission graded; 1: some could not be graded (nothing stored for them: run
        again); 4: every submission graded, but some were unreadable and scored 0."""
        return 1 if self.failed else 4 if self.unreadable else 0


def fingerprint(course: Path, student: str, assignment: str) -> str:
    """A hash of everything the student submitted for one assignment (read without following links)."""
    from autograde.intake.staging import fingerprint as of_submission

    return of_submission(course, student, assignment)


def _journal(api, student: str, assignment: str) -> Path:
    return Path(api.coursedir.format_path(api.coursedir.autograded_directory, student, assignment)) / JOURNAL


def already_graded(api, course: Path, student: str, assignment: str) -> dict | None:
    """The journal of an earlier grading of this exact submission, or None."""
    path = _journal(api, student, assignment)
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return entry if entry.get("fingerprint") == fingerprint(course, student, assignment) else None


def _write_journal(api, course: Path, done: Executed | None, student: str, assignment: str,
                   note: str) -> None:
    path = _journal(api, student, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"fingerprint": fingerprint(course, student, assignment), "note": note,
             "seconds": done.seconds if done else 0.0, "code_seconds": done.code_seconds if done else 0.0,
             "phases": done.phases if done else {}}
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(entry))
    os.replace(partial, path)


def record_zero(api, student: str, assignment: str) -> None:
    """Zero every autograded cell of a submission that could not be graded, as nbgrader does
    for a missing notebook (never left as "needs manual grading")."""
    from nbgrader.api import Gradebook

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type == "code" or grade.auto_score is not None:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gb.db.commit()


class Coordinator:
    """Runs the per-submission pipeline with ``grading.workers`` submissions in flight (default: one
    per core), and owns every outcome: a grade stored, a submission the student made unreadable (0),
    or a grading failure that is not the student's doing (retried, then reported; nothing stored)."""

    def __init__(self, api, course: Path, grading: Grader, dask_address: str | None = None, progress: bool = True):
        self.api, self.course, self.grading = api, Path(course), grading
        self.workers = grading.workers or os.cpu_count() or 2
        self.dask_address, self.progress = dask_address, progress
        self._specs: dict[str, dict[str, trusted_spec.Spec]] = {}
        self.hidden_tests_begin = nbgrader_steps.hidden_tests_begin(api)
        self._shown: dict[tuple[str, str], dict] = {}
        self._phases: dict[tuple[str, str], Phases] = {}  # the coordinator's share of each budget
        self.outcome = Outcome()
        execute = api.config.get("Execute", {})
        self.execute_config = {k: execute[k] for k in ("timeout", "interrupt_on_timeout",
                                                       "startup_timeout", "raise_on_iopub_timeout")
                               if k in execute}

    def unreadable(self, student: str, assignment: str, message: str) -> None:
        """The student's files cannot be graded (no notebook, not a notebook, refused by nbgrader):
        every autograded cell scores 0, as nbgrader does for a missing notebook, and it is journaled."""
        self.outcome.unreadable[(student, assignment)] = message
        self._phases.pop((student, assignment), None)  # no budget is journaled for it
        try:
            record_zero(self.api, student, assignment)
        except Exception as error:  # noqa: BLE001 - the gradebook refused: not stored, run again
            self.outcome.unreadable.pop((student, assignment))
            self.failed(student, assignment, f"{message}; the zero could not be stored ({_plain(error)})")
            return
        _write_journal(self.api, self.course, None, student, assignment, message)

    def failed(self, student: str, assignment: str, message: str) -> None:
        """Grading failed for a reason that is not the student's: nothing is stored or journaled,
        so the next run grades it again."""
        self.outcome.failed[(student, assignment)] = message
        self._phases.pop((student, assignment), None)

    def _prepare(self, student: str, assignment: str) -> Task | None:
        try:
            with self._timed(student, assignment, "sanitize"):
                nbgrader_steps.sanitize(self.api, assignment, student)
        except Exception as error:  # noqa: BLE001
            self.unreadable(student, assignment, f"nbgrader could not read the submission ({_plain(error)}): "
                                                 "scored 0")
            return None
        notebooks = nbgrader_steps.sanitized_notebooks(self.api, assignment, student)
        if not notebooks:
            self.unreadable(student, assignment, "no notebook of this assignment was submitted: scored 0")
            return None
        specs = self._spec(assignment, list(notebooks)) if self.grading.trusted else None
        if specs is not None:  # what the student's saved outputs claim, to compare with the verdicts
            self._shown[(student, assignment)] = {
                name: tampering.saved_results(text)
                for name, text in nbgrader_steps.submitted_notebooks(self.api, assignment, student).items()}
        return Task(student, assignment, notebooks,
                    nbgrader_steps.assignment_files(self.api, assignment, student), self.execute_config,
                    trusted=specs, limits=self.grading.notebook_limits(),
                    kernel_limits=self.grading.kernel_limits(), sandbox=self.grading.sandbox)

    def _timed(self, student: str, assignment: str, phase: str):
        return self._phases.setdefault((student, assignment), Phases()).timed(phase)

    def _spec(self, assignment: str, names: list[str]) -> dict[str, trusted_spec.Spec]:
        """Trusted specs of the assignment's notebooks, from the course's source notebooks."""
        if assignment not in self._specs:
            folder = Path(self.api.coursedir.format_path(self.api.coursedir.source_directory, ".", assignment))
            self._specs[assignment] = {p.stem: trusted_spec.spec(p.read_text()) for p in folder.glob("*.ipynb")}
        return {name: self._specs[assignment][name] for name in names if name in self._specs[assignment]}

    async def _execute(self, execute, task: Task) -> Executed:
        """Run a task; a failure that is not the student's doing is tried again, ``grading.retries`` times."""
        retries = self.grading.retries
        for attempt in range(retries + 1):
            try:
                done = await execute(task)
            except Exception as error:  # noqa: BLE001 - a lost worker, a broken connection
                done = Executed(task.student, task.assignment, {}, 0.0, 0.0, infrastructure=_plain(error))
            if not done.infrastructure or attempt == retries:
                return done
            self.outcome.retried += 1
            log.info("%s/%s: %s; grading it again (retry %d of %d)", task.student, task.assignment,
                     done.infrastructure, attempt + 1, retries)
        return done

    def _store(self, done: Executed) -> None:
        key = (done.student, done.assignment)
        shown = self._shown.pop(key, {})
        for name, text in done.notebooks.items():
            graded = nbgrader_steps.read_notebook(text)
            if name in shown:
                hidden = {g for g, cell in self._specs[done.assignment][name].tests.items()
                          if self.hidden_tests_begin in cell.source}
                for report in tampering.disagreements(shown[name], tampering.trusted_results(graded), hidden):
                    self.outcome.problems.append(Problem(*key, report))
            with self._timed(*key, "finish"):
                nbgrader_steps.finish(self.api, done.assignment, done.student, name, graded)
        done.phases.update(self._phases.pop(key, {}))
        if done.error:
            self.outcome.problems.append(Problem(*key, f"graded, but {done.error}"))
        _write_journal(self.api, self.course, done, done.student, done.assignment, done.error)
        self.outcome.seconds[key] = done.seconds
        self.outcome.code_seconds[key] = done.code_seconds
        self.outcome.graded += 1

    async def _one(self, execute, gradebook: ThreadPoolExecutor, student: str, assignment: str) -> None:
        loop = asyncio.get_running_loop()
        task = await loop.run_in_executor(gradebook, self._prepare, student, assignment)
        if task is None:
            return
        done = await self._execute(execute, task)
        if done.infrastructure:
            self.failed(student, assignment, f"{done.infrastructure} (tried {self.grading.retries + 1} times)")
            return
        try:
            await loop.run_in_executor(gradebook, self._store, done)
        except Exception as error:  # noqa: BLE001 - the gradebook refused the scores: run again
            self.failed(student, assignment, f"the scores could not be stored ({_plain(error)})")

    async def _run(self, todo: list[tuple[str, str]], execute) -> None:
        queue = list(todo)
        bar = _progress_bar(len(todo), self.progress)

        async def slot(gradebook: ThreadPoolExecutor):
            while queue:
                await self._one(execute, gradebook, *queue.pop(0))
                bar.update(1)

        try:
            with ThreadPoolExecutor(1, thread_name_prefix="gradebook") as gradebook:  # the one writer
                await asyncio.gather(*(slot(gradebook) for _ in range(max(1, self.workers))))
        finally:
            bar.close()

    def run(self, todo: list[tuple[str, str]]) -> None:
        if not todo:
            return
        if self.dask_address:
            asyncio.run(self._run_on_dask(todo))
            return
        from autograde.engine.fork_server import kept_servers

        with kept_servers(min(self.workers, len(todo)), self.grading.sandbox, self.grading.kernel_limits()) as servers:
            pool = list(servers)  # one fork server per slot: one sandbox user per slot

            async def execute(task: Task) -> Executed:
                server = pool.pop()
                try:
                    return await run_task(server, task)
                finally:
                    pool.append(server)

            asyncio.run(self._run(todo, execute))

    async def _run_on_dask(self, todo: list[tuple[str, str]]) -> None:
        from distributed import Client

        async with Client(self.dask_address, asynchronous=True) as client:
            threads = sum((await client.nthreads()).values()) if hasattr(client, "nthreads") else self.workers
            self.workers = max(self.workers, threads)

            async def execute(task: Task) -> Executed:
                return await client.submit(run_task_here, task, pure=False)

            await self._run(todo, execute)


def _plain(error: BaseException) -> str:
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}".rstrip(": ")


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    live = sys.stderr.isatty()  # in a log file, a line every few seconds instead of a moving bar
    return tqdm(total=total, unit="submission", desc="grading", disable=not enabled, file=sys.stderr,
                dynamic_ncols=live, ncols=None if live else 100, mininterval=0.1 if live else 5,
                smoothing=0.1)


def grade(api, course: Path, pairs: list[tuple[str, str]], settings, grading: Grader, unreadable=(),
          read_results: bool = True) -> Outcome:
    """Grade each (student, assignment) pair; skip those already graded unless ``settings.regrade``.

    ``settings`` is a `autograde.pipeline.Settings` (which pairs, Dask, progress); ``grading`` the
    course's settings with the command line's on top: trusted checks (default) run the test cells
    outside the student's kernel (`autograde.trusted`), otherwise in it as plain nbgrader does.
    ``unreadable`` are (student, assignment, why) that intake refused: they score 0. The results
    are read from the gradebook afterwards (`attach_results`) unless ``read_results`` is false (the
    caller reads the whole gradebook anyway): then ``outcome.keys`` says whose to attach."""
    coordinator = Coordinator(api, course, grading, settings.dask, settings.progress)
    outcome = coordinator.outcome
    for student, assignment, why in unreadable:
        coordinator.unreadable(student, assignment, why)
    todo = []
    for student, assignment in pairs:
        entry = None if settings.regrade else already_graded(api, course, student, assignment)
        if entry is None:
            todo.append((student, assignment))
        else:
            outcome.resumed += 1
            outcome.seconds[(student, assignment)] = entry.get("seconds", 0.0)
            outcome.code_seconds[(student, assignment)] = entry.get("code_seconds", 0.0)
            if entry.get("note"):
                outcome.problems.append(Problem(student, assignment, entry["note"]))
                if not entry.get("seconds"):
                    outcome.unreadable[(student, assignment)] = entry["note"]
    started = time.perf_counter()
    coordinator.run(todo)
    outcome.db_url = api.coursedir.db_url
    outcome.wall = time.perf_counter() - started
    outcome.keys = list(dict.fromkeys([*pairs, *((s, a) for s, a, _ in unreadable)]))
    if read_results:
        attach_results(outcome, read_many(course, outcome.keys, api.coursedir.db_url))
    return outcome


def attach_results(outcome: Outcome, found: list[SubmissionResult]) -> None:
    """The results of ``outcome.keys`` (read from the gradebook, in that order), each with why it
    could not be graded when it could not."""
    outcome.results = found
    for result in outcome.results:
        key = (result.student, result.assignment)
        result.error = outcome.failed.get(key) or outcome.unreadable.get(key) or result.error
