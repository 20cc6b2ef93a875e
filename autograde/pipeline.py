"""The instructor's one command: collect, grade the whole class (or some assignments, or some
students), and write every output.

Outputs, all in the course folder: the nbgrader gradebook (so the formgrader and
`nbgrader export` keep working), `grades.csv` (nbgrader's own CSV export),
`feedback/<student>/<assignment>/<notebook>.html` (no hidden-test code), and
`reports/class-report.html` with its PNGs. Whatever was asked for, the report, the totals and
grades.csv cover the whole gradebook: every assignment of the course and every submission graded
so far. Late penalties follow ``deadlines.toml`` (autograde/course/deadlines.py) and are brought up to date
after each run, so points given by hand in the formgrader are penalised like the rest. The grader's
settings come from the course's nbgrader_config.py (``c.Grader``, `autograde.settings`); `Settings`
values that are not None override them, as command-line flags do.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from autograde.course import deadlines, release
from autograde.engine import coordinator
from autograde.intake import staging
from autograde.course.nbgrader_app import api as nbgrader_api
from autograde.outputs.results import NOT_IN_GRADEBOOK, Course, SubmissionResult, read_course
from autograde.settings import Grader, configured


@dataclass
class Settings:
    assignments: list[str] | None = None  # None: every assignment of the course
    students: list[str] | None = None  # None: every student; else only these, graded again
    lms: Path | None = None  # a folder of LMS zip downloads (one assignment, or a subfolder each)
    workers: int | None = None  # submissions in flight (None: c.Grader.workers, else the number of cores)
    regrade: bool = False  # grade again what an earlier run already graded
    dask: str | None = None  # address of an existing Dask scheduler to run the notebooks on
    db_url: str | None = None  # a gradebook other than the course's gradebook.db (e.g. PostgreSQL)
    release: bool = False  # run nbgrader generate_assignment for every assignment first
    trusted: bool | None = None  # test cells checked outside the student's kernel (None: c.Grader.trusted)
    sandbox: bool | None = None  # student code in a sandbox where this machine allows one (None: c.Grader.sandbox)
    progress: bool = True
    feedback: bool = True
    report: bool = True


@dataclass
class Outcome(coordinator.Outcome):
    """A run's outcome, with the whole gradebook as it stands after the run (totals, report)."""
    course: Course | None = None


def _known_assignments(grader) -> set[str]:
    from nbgrader.api import Gradebook

    with Gradebook(grader.coursedir.db_url, grader.coursedir.course_id) as gb:
        return {a.name for a in gb.assignments}


def _collect_lms(folder: Path, course: Path, ids: list[str]) -> list[staging.Problem]:
    """LMS downloads: ``folder/<assignment>/*.zip`` for several, or ``folder/*.zip`` for one."""
    folder = Path(folder)
    per_assignment = [a for a in ids if (folder / a).is_dir()]
    if per_assignment:
        return [p for a in per_assignment for p in staging.collect_lms(folder / a, course, a)]
    if len(ids) != 1:
        return [staging.Problem("", "", f"{folder} holds no folder named after an assignment; name one "
                                       "assignment to collect a flat folder of zips for it")]
    return staging.collect_lms(folder, course, ids[0])


def _unreadable(course: Path, ids: list[str], pairs, problems) -> list[tuple[str, str, str]]:
    """Submission folders intake refused (no notebook, not a notebook), with why: they score 0."""
    gradable = set(pairs)
    keys = sorted({(p.student, p.assignment) for p in problems
                   if p.assignment in ids and (p.student, p.assignment) not in gradable
                   and staging.handed_in(course, p.student, p.assignment)})
    return [(s, a, "; ".join(p.message for p in problems if (p.student, p.assignment) == (s, a))) for s, a in keys]


class GradingError(Exception):
    """Grading cannot start; nothing was changed. One line for the user and an exit code."""

    def __init__(self, message: str, exit_code: int = 3):
        super().__init__(message)
        self.exit_code = exit_code


def check_reachable(grader, settings: Settings) -> None:
    """The gradebook and the Dask scheduler answer, before anything is written."""
    from nbgrader.api import Gradebook

    url = grader.coursedir.db_url
    try:
        with Gradebook(url, grader.coursedir.course_id):
            pass
    except Exception as error:  # noqa: BLE001 - SQLAlchemy's errors: one line is enough
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise GradingError(f"cannot open the gradebook at {_safe_url(url)} ({reason}); check that the database "
                           "server runs and that the URL, user and password are right; nothing was graded")
    if settings.dask:
        from distributed import Client

        try:
            Client(settings.dask, timeout=10).close()
        except Exception as error:  # noqa: BLE001
            raise GradingError(f"cannot reach the Dask scheduler at {settings.dask} ({type(error).__name__}); check "
                               "that `dask scheduler` runs there and that this machine can reach its port; "
                               "nothing was graded") from None


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


def _isolation(grading: Grader, dask: str | None) -> str:
    """What protects the grade and the course files from student code, in one honest sentence."""
    from autograde.engine import sandbox

    checks = ("test cells were checked outside the students' kernels (trusted grading)" if grading.trusted
              else "WARNING: test cells ran inside the students' kernels (--in-kernel, or c.Grader.trusted = False): "
              "not tamper-proof")
    if not grading.sandbox:
        return (f"{checks}; WARNING: no sandbox (--no-sandbox, or c.Grader.sandbox = False): "
                "student code could read every file this user can")
    if dask:
        return f"{checks}; on the Dask workers, student code is sandboxed as each worker's machine allows"
    return f"{checks}; {sandbox.describe(disk_bytes=grading.disk_bytes)}"


def export_csv(grader, path: Path) -> Path:
    """nbgrader's own CSV export of the gradebook (what `nbgrader export` writes)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    with Gradebook(grader.coursedir.db_url, grader.coursedir.course_id) as gb:
        CsvExportPlugin(to=str(path)).export(gb)
    return path


#: The nbgrader API object the feedback processes inherit (they are forked after it is set).
_feedback_grader = None


def _pages(submission: tuple[str, str]) -> tuple[list[Path], str]:
    """One submission's feedback pages, in a feedback process: (pages, "" or why there are none)."""
    from autograde.outputs.feedback_pages import write_pages

    try:
        return write_pages(_feedback_grader, *submission), ""
    except RuntimeError as error:  # one student's page must not stop the others' or the report
        return [], str(error)


def write_feedback(grader, course: Path, results, workers: int = 1) -> list[Path]:
    """Each graded submission's pages, by nbgrader's GenerateFeedback as the formgrader writes them,
    in ``workers`` processes at once (forked: each page is a second of nbconvert's CPU)."""
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    global _feedback_grader
    todo = [(r.student, r.assignment) for r in results if not r.error and r.cells]
    _feedback_grader = grader
    try:
        if workers > 1 and len(todo) > 1:
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context("fork")) as pool:
                done = list(pool.map(_pages, todo))
        else:
            done = [_pages(submission) for submission in todo]
    finally:
        _feedback_grader = None
    for _, problem in done:
        if problem:
            print(f"WARNING: {problem}", file=sys.stderr)
    return [page for pages, _ in done for page in pages]


def _requested(asked: list[str] | None, course_ids: list[str]) -> list[str]:
    unknown = [a for a in asked or [] if a not in course_ids]
    if unknown:
        raise GradingError(f"no assignment named {', '.join(map(repr, unknown))} in solutions/ "
                           f"(the course has {', '.join(course_ids)})", 2)
    return list(asked or course_ids)


def _chosen(pairs, problems, ids: list[str], course_ids: list[str], students: list[str] | None):
    """The pairs and problems of the assignments and students asked for. Intake scans every
    assignment of the course, so a real assignment that was not asked for is never "unknown"."""
    def wanted_student(student: str) -> bool:
        return not students or not student or student in students

    pairs = [(s, a) for s, a in pairs if a in ids and wanted_student(s)]
    problems = [p for p in problems if wanted_student(p.student)
                and not (p.assignment in course_ids and p.assignment not in ids)]
    for student in students or []:
        if not any(s == student for s, _ in pairs) and not any(p.student == student for p in problems):
            problems.append(staging.Problem(student, "", "no submission from this student under submitted/ "
                                                        "for the assignments asked for: nothing graded"))
    return pairs, problems


def _load_deadlines(course: Path) -> deadlines.Deadlines | None:
    try:
        return deadlines.load(course)
    except deadlines.DeadlineError as error:
        raise GradingError(f"{error}; nothing was graded", 2) from None


def _journal_seconds(grader, keys) -> dict[tuple[str, str], float]:
    """Wall time of each earlier grading, from its journal (for the report's slowest gradings)."""
    found = {}
    for student, assignment in keys:
        folder = Path(grader.coursedir.format_path(grader.coursedir.autograded_directory, student, assignment))
        try:
            found[(student, assignment)] = float(json.loads((folder / coordinator.JOURNAL).read_text())["seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def _whole_class(outcome: Outcome) -> list:
    """Every submission in the gradebook, with this run's grading failures attached."""
    ran = {(r.student, r.assignment): r for r in outcome.results}
    whole = []
    for result in outcome.course.submissions:
        key = (result.student, result.assignment)
        result.error = ran.pop(key).error if key in ran else result.error
        whole.append(result)
    return whole + [r for r in ran.values() if r.error]  # failed before anything reached the gradebook


def run(course: Path, settings: Settings) -> Outcome:
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").is_file():
        raise GradingError(f"{course} is not a course folder (it has no nbgrader_config.py); pass --course", 2)
    dates = _load_deadlines(course)
    overrides = {"CourseDirectory.db_url": settings.db_url} if settings.db_url else {}
    grader = nbgrader_api(course, **overrides)
    grading = configured(grader.config, workers=settings.workers, trusted=settings.trusted, sandbox=settings.sandbox)
    check_reachable(grader, settings)
    course_ids = release.assignments(course)
    ids = _requested(settings.assignments, course_ids)
    missing = [a for a in course_ids if a not in _known_assignments(grader)]
    # Before intake (it repairs cells against the released notebooks), and every assignment in the
    # gradebook: totals count each one's points.
    if settings.release or missing:
        release.generate(course, course_ids if settings.release else missing, **overrides)
    problems = _collect_lms(settings.lms, course, ids) if settings.lms else []
    pairs, found = staging.scan_submitted(course, course_ids, grader.coursedir.release_directory)
    pairs, problems = _chosen(pairs, problems + found, ids, course_ids, settings.students)
    graded = coordinator.grade(grader, course, pairs, replace(settings, regrade=settings.regrade or bool(settings.students)),
                               grading, _unreadable(course, ids, pairs, problems), read_results=False)
    outcome = Outcome(**{f.name: getattr(graded, f.name) for f in fields(graded)})
    notes = [staging.Problem(*note) for note in deadlines.timestamp_notes(course, dates, pairs)]
    outcome.problems = problems + outcome.problems + notes
    outcome.isolation = _isolation(grading, settings.dask)
    deadlines.reapply(grader)
    outcome.csv = export_csv(grader, course / "grades.csv")
    outcome.course = read_course(course, grader.coursedir.db_url)  # late penalties as reapplied
    read = outcome.course.by_key()  # copied: the course's own results carry no grading error
    coordinator.attach_results(outcome, [replace(read[key]) if key in read else
                                         SubmissionResult(*key, error=NOT_IN_GRADEBOOK) for key in outcome.keys])
    outcome.feedback = (write_feedback(grader, course, outcome.results, grading.workers or os.cpu_count() or 1)
                        if settings.feedback else [])
    if settings.report:
        from autograde.outputs.class_report import write_class_report

        whole = _whole_class(outcome)
        seconds = {**_journal_seconds(grader, [(r.student, r.assignment) for r in whole]), **outcome.seconds}
        outcome.report = write_class_report(whole, course / "reports", seconds, course=course, db_url=outcome.db_url)
    return outcome
