"""Grades out to the LMS: a file the LMS imports as it is, one column per assignment.

Each cell is the submission's autograded plus hand-graded points less its late penalty (the
``score`` of `nbgrader export`), read from nbgrader's gradebook after the late penalties are brought
up to date (`deadlines.reapply`). An assignment a student did not hand in is an empty cell, so the
LMS's own missing-work policy applies. Students are listed as the roster lists them
(autograde/course/roster.py); one who handed in work but is not in the roster is named in a warning, and
left out of the Canvas and Moodle files (Moodle refuses a whole import over one unknown user).

- ``canvas``: Canvas's gradebook CSV. Header ``Student, ID, SIS User ID, SIS Login ID, Section``,
  then one column per assignment titled with its name (Canvas matches an existing assignment of
  that title, or of the form "Title (id)", and creates the others), then the "Points Possible" row.
  Canvas finds each student by ID, else SIS User ID, else SIS Login ID, else name.
- ``moodle``: Moodle's grade import CSV (Grades → Import → CSV file): ``Full name, ID number,
  Email address, Username``, then one column per assignment; at import, map users "from" the
  ID number or e-mail column and each assignment column to its grade item.
- ``csv``: a plain table: the roster's columns, one column per assignment, total and maximum.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from autograde.course import deadlines, roster
from autograde.outputs.report import num
from autograde.outputs.results import Course, read_course

FORMATS = ("canvas", "moodle", "csv")
DEFAULT_NAMES = {"canvas": "canvas-grades.csv", "moodle": "moodle-grades.csv", "csv": "grades-by-student.csv"}
ROSTER = "roster.csv"
CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "    Points Possible"
MOODLE_STUDENT_COLUMNS = ["Full name", "ID number", "Email address", "Username"]


class ExportError(ValueError):
    """The export cannot be written; one line for the user."""


@dataclass
class Exported:
    path: Path
    students: int  # rows written
    warnings: list[str] = field(default_factory=list)


def export(course: Path, fmt: str, roster_file: Path | None = None, out: Path | None = None,
           db_url: str | None = None) -> Exported:
    """Write the course's grades in ``fmt`` to ``out`` (default: exports/<format>-grades.csv)."""
    from autograde.course.nbgrader_app import api as nbgrader_api

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").is_file():
        raise ExportError(f"{course} is not a course folder (it has no nbgrader_config.py); pass --course")
    try:
        grader = nbgrader_api(course, **({"CourseDirectory.db_url": db_url} if db_url else {}))
        deadlines.load(course)
        deadlines.reapply(grader)
    except (deadlines.DeadlineError, roster.RosterError) as error:
        raise ExportError(str(error)) from None
    grades = read_course(course, grader.coursedir.db_url)
    if not grades.points:
        raise ExportError(f"the gradebook of {course} holds no assignment yet: grade first (python -m autograde grade)")
    roster_file = roster_file or (course / ROSTER if (course / ROSTER).is_file() else None)
    try:
        people = roster.load(roster_file) if roster_file else None
    except roster.RosterError as error:
        raise ExportError(str(error)) from None
    table = Table.build(grades, people, keep_strangers=fmt == "csv")
    path = Path(out) if out else course / "exports" / DEFAULT_NAMES[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = WRITERS[fmt](table)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return Exported(path, len(table.people), table.warnings(fmt, roster_file))


@dataclass
class Table:
    """Who is exported, in roster order, and each one's points per assignment (None: not handed in)."""
    points: dict[str, float]
    people: list[roster.Person]
    cells: dict[str, dict[str, float | None]]  # person id → assignment → final score
    pending: dict[str, int]  # person id → written answers still to grade by hand
    strangers: list[str]  # gradebook students with submissions but not in the roster
    no_roster: bool = False

    @classmethod
    def build(cls, grades: Course, people: list[roster.Person] | None, keep_strangers: bool) -> Table:
        handed_in = sorted({r.student for r in grades.submissions})
        no_roster = people is None
        people = list(people) if people is not None else [roster.Person(id=s) for s in handed_in]
        matched, strangers = roster.match(people, handed_in)
        by_person = {person.id: student for student, person in matched.items()}
        if keep_strangers:
            people += [roster.Person(id=s) for s in strangers]
            by_person.update({s: s for s in strangers})
        by_key = grades.by_key()
        cells, pending = {}, {}
        for person in people:
            mine = [by_key.get((by_person.get(person.id), a)) for a in grades.points]
            cells[person.id] = {a: (r.final_score if r else None) for a, r in zip(grades.points, mine)}
            pending[person.id] = sum(r.written_pending for r in mine if r)
        return cls(grades.points, people, cells, pending, strangers, no_roster)

    def scores(self, person: roster.Person) -> list[str]:
        return ["" if v is None else num(v) for v in self.cells[person.id].values()]

    def warnings(self, fmt: str, roster_file: Path | None) -> list[str]:
        said = []
        if self.no_roster:
            said.append(f"no roster (--roster FILE or {ROSTER} in the course folder): students are listed by their "
                        "nbgrader ids" + (", as SIS Login IDs" if fmt == "canvas" else ", as usernames"
                                          if fmt == "moodle" else ""))
        if self.strangers:
            left = "" if fmt == "csv" else "; left out of this file"
            said.append(f"handed in work but not in the roster {roster_file}: {', '.join(self.strangers)}{left}")
        waiting = {p: n for p, n in self.pending.items() if n}
        if waiting:
            said.append(f"{sum(waiting.values())} written answer(s) of {len(waiting)} student(s) are not graded by "
                        f"hand yet; their points are missing from this file: {_some(sorted(waiting))}")
        if fmt == "canvas" and not self.no_roster:
            unnamed = [p.id for p in self.people if not (p.lms_user_id or p.sis_user_id or p.sis_login_id)]
            if unnamed:
                said.append(f"no LMS id in the roster for {', '.join(unnamed)}: Canvas will match them by name only")
        if fmt == "moodle" and not self.no_roster:
            unnamed = [p.id for p in self.people if not (p.sis_user_id or p.email)]
            if unnamed:
                said.append(f"neither ID number nor e-mail in the roster for {', '.join(unnamed)}: Moodle skips them")
        return said


def canvas_rows(table: Table) -> list[list[str]]:
    """Canvas's gradebook CSV: header, Points Possible row, one row per student."""
    rows = [CANVAS_STUDENT_COLUMNS + list(table.points),
            [CANVAS_POINTS_ROW, "", "", "", ""] + [num(p) for p in table.points.values()]]
    for person in table.people:
        login = person.sis_login_id or (person.id if table.no_roster else "")
        rows.append([person.sortable_name, person.lms_user_id, person.sis_user_id, login, person.section]
                    + table.scores(person))
    return rows


def moodle_rows(table: Table) -> list[list[str]]:
    """Moodle's grade import CSV: a header, one row per student."""
    rows = [MOODLE_STUDENT_COLUMNS + list(table.points)]
    for person in table.people:
        username = person.sis_login_id or (person.id if table.no_roster else "")
        rows.append([person.full_name, person.sis_user_id, person.email, username] + table.scores(person))
    return rows


def plain_rows(table: Table) -> list[list[str]]:
    """One row per student: the roster's columns, each assignment, total (missing work counts 0) and maximum."""
    rows = [["student_id", "name", "email", "section", "lms_user_id", "sis_user_id", "sis_login_id",
             *table.points, "total", "max_score", "written_pending"]]
    for person in table.people:
        total = sum(v or 0.0 for v in table.cells[person.id].values())
        rows.append([person.id, person.full_name, person.email, person.section, person.lms_user_id,
                     person.sis_user_id, person.sis_login_id, *table.scores(person), num(total),
                     num(sum(table.points.values())), str(table.pending[person.id])])
    return rows


def _some(names: list[str], shown: int = 8) -> str:
    """A list of names for one line: the first few, then how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


WRITERS = {"canvas": canvas_rows, "moodle": moodle_rows, "csv": plain_rows}
