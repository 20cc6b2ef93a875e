"""Command line for instructors: `python -m autograde release | demo | grade | export`.

`release`, `grade` and `export` work on a course folder: the current one, or --course. `demo`
builds the sample class from the course this package bundles (`autograde.bundled`) in
build/sample-class under the current folder, so it also runs from an installed wheel in an empty
folder. The score table and the summary are printed; what the grader does on the way (fork servers
started, retries, repairs, kernel restarts, the sandbox level) goes to the log, logger `autograde`,
on stderr from `--log-level` up (default WARNING, as nbgrader's)."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from autograde import bundled, pipeline
from autograde.course import release
from autograde.outputs import export, report
from autograde.samples import sample_class

SAMPLE_COURSE = Path("build") / "sample-class"  # under the current folder


EXIT_CODES = """exit codes: 0 every submission was graded; 1 some could not be graded for a reason that is not
the student's (nothing was stored for them: run again); 2 wrong usage or not a course folder;
3 the gradebook or the Dask scheduler cannot be reached (nothing was changed); 4 every submission
was graded, but some were unreadable (the student's files) and scored 0."""


def summary(outcome) -> str:
    """What a run did, and every student whose grading failed or needed attention, in plain words."""
    lines = [f"{outcome.graded} submissions graded in {outcome.wall:.1f} s"
             + (f", {outcome.resumed} already graded by an earlier run (--regrade grades them again)"
                if outcome.resumed else "")
             + (f"; {outcome.retried} attempts repeated after failures that were not the students'"
                if outcome.retried else "")]
    listed = set(outcome.failed) | set(outcome.unreadable)
    notes = [p for p in outcome.problems if (p.student, p.assignment) not in listed]
    if outcome.failed:
        lines.append(f"\ngrading failed for {len(outcome.failed)} submission(s), not by the students' doing; "
                     "nothing was stored for them: run the command again")
        lines += [f"  {student} / {assignment}: {why}" for (student, assignment), why in sorted(outcome.failed.items())]
    if outcome.unreadable:
        lines.append(f"\nunreadable: {len(outcome.unreadable)} submission(s) could not be read; they score 0:")
        lines += [f"  {student} / {assignment}: {why}"
                  for (student, assignment), why in sorted(outcome.unreadable.items())]
    if notes:
        lines.append("\nnotes:")
        lines += [f"  {p.student or '-'} / {p.assignment or '-'}: {p.message}" for p in notes]
    lines.append("")
    if outcome.isolation:
        lines.append(f"isolation:  {outcome.isolation}")
    lines.append(f"gradebook:  {outcome.db_url}")
    lines.append(f"grades CSV: {outcome.csv}")
    if outcome.feedback:
        lines.append(f"feedback:   {len(outcome.feedback)} HTML files under {outcome.feedback[0].parents[2]}")
    if outcome.report:
        lines.append(f"report:     {outcome.report}")
    return "\n".join(lines)


def _settings(args) -> pipeline.Settings:
    return pipeline.Settings(
        assignments=args.assignments or None, students=getattr(args, "student", None) or None,
        lms=Path(args.lms) if args.lms else None,
        workers=args.workers, regrade=args.regrade, dask=args.dask, db_url=args.db_url,
        progress=not args.no_progress, feedback=not args.no_feedback,
        trusted=False if args.in_kernel else None, sandbox=False if args.no_sandbox else None)


def _print(outcome) -> None:
    """The whole course's table from the gradebook (every assignment, every student), then the run."""
    course = outcome.course
    print(report.score_table(course.submissions, failures=False, points=course.points, students=course.students))
    print()
    print(summary(outcome))


def _course(folder: str) -> Path:
    """The course folder an instructor releases from: nbgrader_config.py and solutions/ in it."""
    course = Path(folder).resolve()
    if not ((course / "nbgrader_config.py").is_file() and (course / "solutions").is_dir()):
        raise pipeline.GradingError(f"{course} is not a course folder (it needs nbgrader_config.py and "
                                       "solutions/); pass --course", 2)
    return course


def _release(args) -> int:
    ids = release.generate(_course(args.course), args.assignments or None)
    print(f"generated course/ from solutions/ with nbgrader: {', '.join(ids)}")
    return 0


def _grade(args) -> int:
    outcome = pipeline.run(Path(args.course), _settings(args))
    _print(outcome)
    return outcome.exit_code


def _demo(args) -> int:
    started = time.perf_counter()
    if not bundled.SOLUTIONS.is_dir():
        raise pipeline.GradingError("this installation carries no course to build the sample class from "
                                       "(it was built for students: BACKPROP_STUDENT_IMAGE)", 2)
    course = sample_class.prepare_course(SAMPLE_COURSE.resolve())
    ids = release.generate(course)
    print(f"1. made the course folder {course} from the bundled solutions/ ({bundled.ROOT}) and generated "
          f"its course/ with nbgrader: {', '.join(ids)}")
    count = sample_class.place_submissions(course, root=course, students=args.student)
    print(f"2. placed {count} submissions of {len(args.student or sample_class.students())} sample students in "
          f"{course / 'submitted'}, dated around the due dates of {course / 'deadlines.toml'} "
          "(some late; a few files are broken on purpose; written answers wait for hand grading)")
    print("3. grading the class: nbgrader's gradebook, a fresh kernel per notebook, all cores …", flush=True)
    outcome = pipeline.run(course, _settings(args))
    print()
    _demo_outputs(course, outcome)
    print(f"\ndone in {time.perf_counter() - started:.0f} s. The sample class is a complete nbgrader course: "
          f"cd {course} && jupyter lab  (Nbgrader → Formgrader)")
    return 1 if outcome.failed else 0  # the sample class has unreadable files on purpose


def _print_export(done: export.Exported) -> None:
    print(f"wrote {done.path} ({done.students} students)")
    for warning in done.warnings:
        print(f"  warning: {warning}")


def _export(args) -> int:
    try:
        done = export.export(Path(args.course), args.format, Path(args.roster) if args.roster else None,
                             Path(args.out) if args.out else None, args.db_url)
    except export.ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _print_export(done)
    return 0


def _demo_outputs(course: Path, outcome) -> None:
    """The graded sample class: its table (late submissions named), the run, and the LMS files."""
    _print(outcome)
    roster_file = sample_class.write_roster(course)
    print(f"\n4. grades out to the LMS (python -m autograde export), names and ids from the sample roster "
          f"{roster_file}:")
    for fmt in export.FORMATS:
        _print_export(export.export(course, fmt, roster_file))


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class _StderrLog(logging.StreamHandler):
    """The command line's log: stderr, each record as nbgrader writes its own."""

    def __init__(self):
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("[%(name)s | %(levelname)s] %(message)s"))


def _log_to_stderr(level: str) -> None:
    """The grader's log records (logger `autograde` and its children) from ``level`` up, on stderr."""
    logger = logging.getLogger("autograde")
    logger.setLevel(level)
    if not any(isinstance(h, _StderrLog) for h in logger.handlers):
        logger.addHandler(_StderrLog())


class _HelpAll(argparse.Action):
    """``--help-all``: this help, then every setting of the grader as `nbgrader --help-all` lists
    nbgrader's own (which lists nbgrader's classes only)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show this help and every setting of the grader (c.Grader.* in nbgrader_config.py)")

    def __call__(self, parser, namespace, values, option_string=None):
        from autograde.settings import Grader

        parser.print_help()
        print("\nThe grader's settings, set in the course's nbgrader_config.py as c.Grader.<name> = value"
              "\n(docs/grading.md has them in one table):\n")
        print(Grader.class_get_help())
        parser.exit()


def _grading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=None,
                   help="submissions graded at once (default: c.Grader.workers, else one per core)")
    p.add_argument("--regrade", action="store_true", help="grade again what an earlier run already graded")
    p.add_argument("--lms", metavar="DIR", help="collect LMS zip downloads from DIR first (docs/lms-zips.md)")
    p.add_argument("--dask", metavar="ADDRESS", help="run the notebooks on this Dask scheduler")
    p.add_argument("--db-url", metavar="URL", help="gradebook URL, e.g. postgresql://user@host/db")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")
    p.add_argument("--in-kernel", action="store_true",
                   help="run the test cells in the student's kernel as plain nbgrader does (not tamper-proof)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run student code without the sandbox (only resource limits; for measuring)")
    p.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, default="WARNING",
                   help="log what the grader does from this level up, on stderr (default: WARNING)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde", description=__doc__, epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--help-all", action=_HelpAll)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate course/ from solutions/ (nbgrader generate_assignment)")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--course", default=".", help="nbgrader course folder (default: the current folder)")
    p.set_defaults(run=_release)
    p = sub.add_parser("demo", help=f"grade the bundled sample class end to end in ./{SAMPLE_COURSE.as_posix()}")
    p.add_argument("assignments", nargs="*", help="grade only these assignments (default: all)")
    p.add_argument("--student", action="append", metavar="ID",
                   help="hand in and grade only this student's notebooks; repeat for several")
    _grading_options(p)
    p.set_defaults(run=_demo)
    p = sub.add_parser("grade", help="grade every submission of a course (or of some assignments)",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("assignments", nargs="*")
    p.add_argument("--course", default=".", help="nbgrader course folder (default: the current folder)")
    p.add_argument("--student", action="append", metavar="ID",
                   help="grade (again) and write feedback for this student only; repeat for several")
    _grading_options(p)
    p.set_defaults(run=_grade)
    p = sub.add_parser("export", help="write the gradebook's grades as a file the LMS imports (Canvas, Moodle, CSV)",
                       description=export.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", choices=export.FORMATS, default="csv", help="the LMS's import format (default: csv)")
    p.add_argument("--roster", metavar="FILE", help=f"the class roster CSV (default: {export.ROSTER} in the course)")
    p.add_argument("--out", metavar="FILE", help="where to write (default: exports/<format>-grades.csv in the course)")
    p.add_argument("--course", default=".", help="nbgrader course folder (default: the current folder)")
    p.add_argument("--db-url", metavar="URL", help="gradebook URL, e.g. postgresql://user@host/db")
    p.set_defaults(run=_export)
    args = parser.parse_args(argv)
    _log_to_stderr(getattr(args, "log_level", "WARNING"))
    try:
        return args.run(args)
    except pipeline.GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
