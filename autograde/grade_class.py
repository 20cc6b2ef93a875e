"""The instructor's one command: collect, grade the whole class, and write every output.

Outputs, all in the course folder: the nbgrader gradebook (so the formgrader and
`nbgrader export` keep working), `grades.csv` (nbgrader's own CSV export),
`feedback/<student>/<assignment>/<notebook>.html` (no hidden-test code), and
`reports/class-report.html` with its PNGs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import batch, intake, release
from .nbgrader_app import api as nbgrader_api


@dataclass
class Settings:
    assignments: list[str] | None = None  # None: every assignment of the course
    lms: Path | None = None  # a folder of LMS zip downloads (one assignment, or a subfolder each)
    workers: int | None = None  # submissions in flight (default: the number of cores)
    regrade: bool = False  # grade again what an earlier run already graded
    dask: str | None = None  # address of an existing Dask scheduler to run the notebooks on
    db_url: str | None = None  # a gradebook other than the course's gradebook.db (e.g. PostgreSQL)
    release: bool = False  # run nbgrader generate_assignment for every assignment first
    trusted: bool = True  # test cells checked outside the student's kernel (False: in it, like nbgrader)
    sandbox: bool = True  # student code in a sandbox where this machine allows one
    progress: bool = True
    feedback: bool = True
    report: bool = True


def _known_assignments(grader) -> set[str]:
    from nbgrader.api import Gradebook

    with Gradebook(grader.coursedir.db_url, grader.coursedir.course_id) as gb:
        return {a.name for a in gb.assignments}


def _collect_lms(folder: Path, course: Path, ids: list[str]) -> list[intake.Problem]:
    """LMS downloads: ``folder/<assignment>/*.zip`` for several, or ``folder/*.zip`` for one."""
    folder = Path(folder)
    per_assignment = [a for a in ids if (folder / a).is_dir()]
    if per_assignment:
        return [p for a in per_assignment for p in intake.collect_lms(folder / a, course, a)]
    if len(ids) != 1:
        return [intake.Problem("", "", f"{folder} holds no folder named after an assignment; name one "
                                       "assignment to collect a flat folder of zips for it")]
    return intake.collect_lms(folder, course, ids[0])


def _unreadable(course: Path, ids: list[str], pairs, problems) -> list[tuple[str, str]]:
    """Submission folders intake refused (no notebook, not a notebook): they score 0."""
    gradable = set(pairs)
    return sorted({(p.student, p.assignment) for p in problems
                   if p.assignment in ids and (p.student, p.assignment) not in gradable
                   and intake.handed_in(course, p.student, p.assignment)})


def _isolation(settings: Settings) -> str:
    """What protects the grade and the course files from student code, in one honest sentence."""
    from . import sandbox

    checks = ("test cells were checked outside the students' kernels (trusted grading)" if settings.trusted
              else "WARNING: test cells ran inside the students' kernels (--in-kernel): not tamper-proof")
    if settings.dask:
        return f"{checks}; on the Dask workers, student code is sandboxed as each worker's machine allows"
    if not settings.sandbox:
        return f"{checks}; WARNING: no sandbox (--no-sandbox): student code could read every file this user can"
    return f"{checks}; {sandbox.describe()}"


def export_csv(grader, path: Path) -> Path:
    """nbgrader's own CSV export of the gradebook (what `nbgrader export` writes)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    with Gradebook(grader.coursedir.db_url, grader.coursedir.course_id) as gb:
        CsvExportPlugin(to=str(path)).export(gb)
    return path


def write_feedback(grader, course: Path, results) -> list[Path]:
    from .feedback import write_feedback as render

    written = []
    for result in results:
        if result.error or not result.cells:
            continue
        autograded = Path(grader.coursedir.format_path(grader.coursedir.autograded_directory,
                                                       result.student, result.assignment))
        released = Path(grader.coursedir.format_path(grader.coursedir.release_directory, ".",
                                                     result.assignment))
        for notebook in sorted(autograded.glob("*.ipynb")):
            out = Path(grader.coursedir.format_path(grader.coursedir.feedback_directory, result.student,
                                                    result.assignment)) / f"{notebook.stem}.html"
            written.append(render(result, notebook, released / notebook.name, out))
    return written


def run(course: Path, settings: Settings) -> batch.Outcome:
    course = Path(course).resolve()
    overrides = {"CourseDirectory.db_url": settings.db_url} if settings.db_url else {}
    grader = nbgrader_api(course, **overrides)
    ids = settings.assignments or release.assignments(course)
    missing = [a for a in ids if a not in _known_assignments(grader)]
    if settings.release or missing:  # before intake: it repairs cells against the released notebooks
        release.generate(course, ids if settings.release else missing, **overrides)
    problems = _collect_lms(settings.lms, course, ids) if settings.lms else []
    pairs, found = intake.scan_submitted(course, ids, grader.coursedir.release_directory)
    problems += found
    outcome = batch.grade(grader, course, pairs, settings.workers, settings.regrade, settings.dask,
                          settings.progress, settings.trusted, settings.sandbox)
    for student, assignment in _unreadable(course, ids, pairs, problems):
        batch.record_zero(grader, student, assignment)
        result = batch.read(course, assignment, student, grader.coursedir.db_url)
        result.error = "; ".join(p.message for p in problems if (p.student, p.assignment) == (student, assignment))
        outcome.failed[(student, assignment)] = result.error
        outcome.results.append(result)
    outcome.problems = problems + outcome.problems
    outcome.isolation = _isolation(settings)
    outcome.csv = export_csv(grader, course / "grades.csv")
    outcome.feedback = write_feedback(grader, course, outcome.results) if settings.feedback else []
    if settings.report:
        from .class_report import write_class_report

        outcome.report = write_class_report(outcome.results, course / "reports", outcome.seconds)
    return outcome
