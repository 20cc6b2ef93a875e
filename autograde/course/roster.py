"""The class roster: who is enrolled and under which ids the LMS knows them.

A CSV file with a header row, UTF-8 (Excel's byte-order mark is fine). Its columns are nbgrader's
own student columns, so ``nbgrader db student import roster.csv`` reads the same file, plus the
LMS's ids and the section:

| column | meaning |
|---|---|
| ``id`` (required; or ``student_id``) | the student's nbgrader id: the folder name under submitted/ |
| ``first_name``, ``last_name`` or ``name`` | the name as the LMS shows it |
| ``email`` | the e-mail address (Moodle can match students by it) |
| ``lms_user_id`` (or ``lms_id``) | the LMS's own user number (Canvas's "ID") |
| ``sis_user_id`` (or ``sis_id``, ``idnumber``) | the institution's id (Canvas's "SIS User ID", Moodle's "ID number") |
| ``sis_login_id`` (or ``login_id``) | the login (Canvas's "SIS Login ID") |
| ``section`` | the course section |

Other columns are ignored. Names may repeat (two people called Maria García); ids may not.
An id as the LMS spells it ("José Müller_4711") also matches the safe id intake stored it under
("Jose_Muller_4711", `intake.safe_student_id`).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

ALIASES = {"student_id": "id", "lms_id": "lms_user_id", "sis_id": "sis_user_id", "idnumber": "sis_user_id",
           "login_id": "sis_login_id"}
COLUMNS = ("id", "first_name", "last_name", "name", "email", "lms_user_id", "sis_user_id", "sis_login_id", "section")


class RosterError(ValueError):
    """The roster cannot be used; the message is one line naming the file and the row."""


@dataclass(frozen=True)
class Person:
    id: str
    first_name: str = ""
    last_name: str = ""
    name: str = ""
    email: str = ""
    lms_user_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    @property
    def full_name(self) -> str:
        """"First Last", or the name column, or the id when the roster gives no name."""
        return self.name or " ".join(p for p in (self.first_name, self.last_name) if p) or self.id

    @property
    def sortable_name(self) -> str:
        """"Last, First" as Canvas sorts and exports names, when the roster splits them."""
        if self.last_name and self.first_name:
            return f"{self.last_name}, {self.first_name}"
        return self.full_name


def load(path: Path) -> list[Person]:
    """The roster's people in file order; `RosterError` on a missing id column, an empty or repeated id."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(f"{path}: cannot read the roster ({error})") from None
    reader = csv.DictReader(text.splitlines())
    header = [_column(name) for name in reader.fieldnames or []]
    if "id" not in header:
        raise RosterError(f"{path}: the roster needs an 'id' column (the nbgrader student id); it has "
                          f"{', '.join(reader.fieldnames or []) or 'no header'}")
    people, seen = [], {}
    for line, row in enumerate(reader, start=2):
        values = {_column(k): (v or "").strip() for k, v in row.items() if k is not None}
        person = Person(**{k: values.get(k, "") for k in COLUMNS})
        if not person.id:
            raise RosterError(f"{path}, line {line}: the id is empty")
        if person.id in seen:
            raise RosterError(f"{path}, line {line}: the id {person.id!r} is already on line {seen[person.id]}")
        seen[person.id] = line
        people.append(person)
    return people


def _column(name: str) -> str:
    key = name.strip().lower().replace(" ", "_")
    return ALIASES.get(key, key)


def match(people: list[Person], student_ids: list[str]) -> tuple[dict[str, Person], list[str]]:
    """({gradebook student id: person}, gradebook ids with nobody in the roster). A roster id
    matches exactly, or through the safe id intake makes of it."""
    from autograde.intake.staging import safe_student_id

    exact = {p.id: p for p in people}
    safe = {}
    for person in people:
        safe.setdefault(safe_student_id(person.id), person)
    found, strangers = {}, []
    for student in student_ids:
        person = exact.get(student) or safe.get(student)
        if person is None:
            strangers.append(student)
        else:
            found[student] = person
    return found, strangers
