"""Deadlines, extensions and the late-penalty policy of a course, from one plain file, applied by
nbgrader's own late-penalty machinery.

The file is ``deadlines.toml`` at the course root (format in docs/grading.md)::

    timezone = "Europe/Berlin"           # due times written without an offset are in this zone (default UTC)

    [policy]                             # optional; these are the defaults
    percent_per_day = 10                 # of the points the submission earned, per day or part of a day late
    max_percent = 100                    # never more than this share of the points

    [due]
    01_gradient_descent = 2026-02-13T23:59:00
    02_symbolic_derivatives = 2026-02-20 # a date alone: 23:59:59 that day

    [extensions.nora]                    # a student id
    05_single_path_backprop = "3 days"   # or "36 hours", "2 days 12 hours", { days = 2, hours = 12 }

How it reaches the grades: nbgrader's `AssignLatePenalties` preprocessor (in every autograde route:
`python -m autograde grade`, `nbgrader autograde`, the formgrader's button) asks the configured
`LateSubmissionPlugin` for each late notebook's penalty. `LatePenalty` is that plugin
(``c.AssignLatePenalties.plugin_class`` in nbgrader_config.py). When nbgrader creates it for a
submission, it first writes the file's due date into the gradebook's assignment
(`Gradebook.update_or_create_assignment(name, duedate=...)`) and the student's extension into
nbgrader's own `SubmittedAssignment.extension` (the file is the truth: no entry, no extension), so
nbgrader's ``total_seconds_late``, the formgrader and ``nbgrader export`` all see them. Without a
file it writes nothing, and its default policy applies to due dates set in nbgrader itself.
nbgrader computes a penalty once, when it autogrades; written answers graded by hand later are not
in it, so `reapply` runs the same preprocessor again over every submission (``python -m autograde
grade`` and ``export`` do it).

A submission's time is nbgrader's ``timestamp.txt`` (written by ``nbgrader collect`` and by the LMS
intake from the zip entry's date); without one, when its assignment has a due date, the newest
notebook file's modification time stands in, and `timestamp_notes` says so for the summary.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Unicode

FILE = "deadlines.toml"
DAY = 86400.0
#: The default policy: 10 % of the points earned per day or part of a day late, at most all of them.
PERCENT_PER_DAY = 10.0
MAX_PERCENT = 100.0
_UNITS = {"minute": "minutes", "hour": "hours", "day": "days", "week": "weeks"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(minute|hour|day|week)s?\b")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?\s*(?:minute|hour|day|week)s?(?:\s*,\s*|\s+and\s+|\s+|$))+")
#: Canvas's bulk download names a late file <login>_LATE_<userid>_<submissionid>_<name> (docs/lms-zips.md).
_CANVAS_LATE = re.compile(r"^[^_/]+_LATE_\d+_\d+_")


class DeadlineError(ValueError):
    """The deadlines file cannot be used; the message is one line naming the file and the entry."""


@dataclass
class Deadlines:
    due: dict[str, datetime] = field(default_factory=dict)  # assignment → due date, naive UTC (as nbgrader)
    extensions: dict[tuple[str, str], timedelta] = field(default_factory=dict)  # (student, assignment)
    percent_per_day: float = PERCENT_PER_DAY
    max_percent: float = MAX_PERCENT

    def extension(self, student: str, assignment: str) -> timedelta | None:
        return self.extensions.get((student, assignment))

    def penalty(self, score: float, seconds_late: float) -> float:
        """Points taken from ``score`` for a submission ``seconds_late`` after its (extended) due date."""
        if seconds_late <= 0 or score <= 0:
            return 0.0
        percent = min(self.max_percent, self.percent_per_day * math.ceil(seconds_late / DAY))
        return score * percent / 100.0


def load(course: Path) -> Deadlines | None:
    """The course's deadlines file, or None when it has none; `DeadlineError` when it is unusable."""
    return load_file(Path(course) / FILE)


def load_file(path: Path) -> Deadlines | None:
    """A deadlines file, or None when it does not exist; `DeadlineError` when it is unusable."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise DeadlineError(f"{path}: not valid TOML ({error})") from None
    return parse(data, str(path))


def parse(data: dict, where: str = FILE) -> Deadlines:
    """Deadlines from the parsed TOML of a deadlines file (``where`` names it in errors)."""
    unknown = set(data) - {"timezone", "policy", "due", "extensions"}
    if unknown:
        raise DeadlineError(f"{where}: unknown section or key {', '.join(sorted(unknown))} "
                            "(known: timezone, policy, due, extensions)")
    zone = _zone(data.get("timezone", "UTC"), where)
    policy = data.get("policy", {})
    deadlines = Deadlines(percent_per_day=_percent(policy, "percent_per_day", PERCENT_PER_DAY, where),
                          max_percent=_percent(policy, "max_percent", MAX_PERCENT, where))
    for assignment, value in data.get("due", {}).items():
        deadlines.due[assignment] = _utc(value, zone, f"{where}: due.{assignment}")
    for student, granted in data.get("extensions", {}).items():
        if not isinstance(granted, dict):
            raise DeadlineError(f"{where}: extensions.{student} must be a table of assignment = extension")
        for assignment, value in granted.items():
            entry = f"{where}: extensions.{student}.{assignment}"
            deadlines.extensions[(student, assignment)] = _duration(value, entry)
    return deadlines


def _zone(name, where: str):
    try:
        return timezone.utc if name == "UTC" else ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise DeadlineError(f"{where}: unknown timezone {name!r} (an IANA name such as 'Europe/Berlin')") from None


def _percent(policy: dict, key: str, default: float, where: str) -> float:
    value = policy.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise DeadlineError(f"{where}: policy.{key} must be a number from 0 to 100, not {value!r}")
    return float(value)


def _utc(value, zone, where: str) -> datetime:
    """A TOML date or date-time as nbgrader stores times: naive UTC."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=zone)
    elif isinstance(value, date):
        aware = datetime.combine(value, time(23, 59, 59), tzinfo=zone)
    else:
        raise DeadlineError(f"{where} must be a TOML date-time such as 2026-02-13T23:59:00, not {value!r}")
    return aware.astimezone(timezone.utc).replace(tzinfo=None)


def _duration(value, where: str) -> timedelta:
    """An extension: "3 days", "36 hours", "2 days 12 hours", or {days = 2, hours = 12}."""
    if isinstance(value, dict):
        parts = value
    elif isinstance(value, str) and _DURATION.fullmatch(value.strip()):
        parts = {}
        for number, unit in _DURATION_PART.findall(value):
            parts[_UNITS[unit]] = parts.get(_UNITS[unit], 0) + float(number)
    elif isinstance(value, str):
        raise DeadlineError(f"{where}: cannot read {value!r}; write e.g. \"3 days\" or \"2 days 12 hours\"")
    else:
        raise DeadlineError(f"{where}: an extension is a text such as \"3 days\" or a table, not {value!r}")
    if set(parts) - set(_UNITS.values()) or not all(isinstance(v, (int, float)) and v >= 0 for v in parts.values()):
        raise DeadlineError(f"{where}: an extension table takes minutes, hours, days or weeks (numbers >= 0)")
    return timedelta(**parts)


# ---- into nbgrader's gradebook ---------------------------------------------------------------

def settle(gb, deadlines: Deadlines, submitted: Path, assignment: str, student: str) -> None:
    """Write the file's due date and this student's extension into nbgrader's gradebook, and, when
    the assignment has a due date but the submission no ``timestamp.txt``, take its time from the
    newest notebook's modification time. ``submitted`` is the submission's folder."""
    if assignment in deadlines.due:
        gb.update_or_create_assignment(assignment, duedate=deadlines.due[assignment])
    submission = gb.find_submission(assignment, student)
    submission.extension = deadlines.extension(student, assignment)
    if assignment in deadlines.due and not (submitted / "timestamp.txt").is_file():
        modified = file_time(submitted)
        if modified is not None:
            submission.timestamp = modified
    gb.db.commit()


def file_time(folder: Path) -> datetime | None:
    """The newest modification time of the notebooks in ``folder``, as naive UTC, or None."""
    times = [p.stat().st_mtime for p in Path(folder).glob("*.ipynb")]
    if not times:
        return None
    return datetime.fromtimestamp(max(times), tz=timezone.utc).replace(tzinfo=None)


def timestamp_notes(course: Path, deadlines: Deadlines | None, pairs) -> list[tuple[str, str, str]]:
    """(student, assignment, note) for each submission whose time comes from its file's modification time."""
    notes = []
    for student, assignment in pairs:
        folder = Path(course) / "submitted" / student / assignment
        if deadlines and assignment in deadlines.due and not (folder / "timestamp.txt").is_file():
            modified = file_time(folder)
            if modified is not None:
                notes.append((student, assignment, "no timestamp.txt: the submission time is the notebook "
                                                   f"file's modification time, {modified:%Y-%m-%d %H:%M} UTC"))
    return notes


class LatePenalty(LateSubmissionPlugin):
    """nbgrader's late-submission plugin for this course: the policy and dates of ``deadlines.toml``.

    nbgrader's `AssignLatePenalties` creates it for each notebook (after setting the assignment,
    student and gradebook it works on) and asks it for the penalty only when the submission is late.
    """

    deadlines_file = Unicode(FILE, help="The deadlines file, relative to the course root.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from nbgrader.api import Gradebook
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        found = load_file(Path(coursedir.root) / self.deadlines_file)
        self.deadlines = found or Deadlines()  # no file: the default policy, for due dates set in nbgrader
        parent = self.parent
        if found and getattr(parent, "db_url", None) and getattr(parent, "assignment_id", None):
            submitted = Path(coursedir.format_path(coursedir.submitted_directory, parent.student_id,
                                                   parent.assignment_id))
            with Gradebook(parent.db_url) as gb:
                settle(gb, found, submitted, parent.assignment_id, parent.student_id)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        penalty = self.deadlines.penalty(score, total_seconds_late)
        self.log.info("%s is %.0f s late: penalty %.2f of %.2f points", student_id, total_seconds_late,
                      penalty, score)
        return penalty


def reapply(api) -> None:
    """Run nbgrader's `AssignLatePenalties`, as configured for the course, over every late or
    penalised submitted notebook in the gradebook: due dates, extensions and penalties follow the
    deadlines file and the current scores, written answers graded by hand included (about 0.1 s
    per notebook). First the file's dates go into the gradebook, as `LatePenalty` does for each
    notebook; then a notebook that is not late and holds no penalty is skipped: the preprocessor
    would set its penalty to None, which it is."""
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties

    db_url, found = api.coursedir.db_url, load(api.coursedir.root)
    with Gradebook(db_url, api.coursedir.course_id) as gb:
        if found is None and not any(a.duedate for a in gb.assignments):
            return  # no due date anywhere: nothing can be late
        if found is not None:
            for s in [s for a in gb.assignments for s in a.submissions]:
                submitted = Path(api.coursedir.format_path(api.coursedir.submitted_directory, s.student.id,
                                                           s.assignment.name))
                settle(gb, found, submitted, s.assignment.name, s.student.id)
        notebooks = [(s.student.id, s.assignment.name, nb.name)
                     for a in gb.assignments for s in a.submissions for nb in s.notebooks
                     if s.total_seconds_late > 0 or nb.late_submission_penalty is not None]
    empty = nbformat.v4.new_notebook()
    for student, assignment, notebook in notebooks:
        resources = {"nbgrader": {"student": student, "assignment": assignment, "notebook": notebook,
                                  "db_url": db_url}}
        AssignLatePenalties(parent=api, config=api.config).preprocess(empty, resources)


# ---- LMS downloads ---------------------------------------------------------------------------

def marked_late(name: str) -> bool:
    """Whether an LMS download's file name marks it late (Canvas: ``<login>_LATE_<userid>_<submissionid>_<name>``)."""
    return bool(_CANVAS_LATE.match(PurePosixPath(name.replace("\\", "/")).name))


def lms_entry_time(name: str, date_time: tuple, zone=timezone.utc) -> tuple[datetime, bool]:
    """(when, marked_late) for a file in an LMS zip: the entry's date (zips store no time zone;
    taken in ``zone``, UTC by default) as an aware UTC datetime, and whether the LMS marked the
    file late in its name (Canvas: ``<login>_LATE_<userid>_<submissionid>_<name>``)."""
    when = datetime(*date_time, tzinfo=zone).astimezone(timezone.utc)
    return when, marked_late(name)


def lms_late_note(marked_late: bool, when: datetime, due: datetime | None) -> str | None:
    """A line for the summary when the LMS marked a file late, or when its mark and the deadlines
    file disagree (``due`` naive UTC, as in `Deadlines.due`)."""
    if not marked_late:
        return None
    note = "the LMS marked this submission late (LATE_ in its file name)"
    if due is not None and when.astimezone(timezone.utc).replace(tzinfo=None) <= due:
        note += f"; its zip entry time {when:%Y-%m-%d %H:%M} UTC is before the due date in {FILE}: check both"
    return note
