"""The bundled sample class: one synthetic term described in samples/class.toml, built from the
released notebooks and the answer bank, placed where nbgrader looks for submissions.

A term, not a batch: written answers that vary (model, brief, wrong, empty) for hand grading,
submission times around the deadlines of samples/deadlines.toml (nbgrader's timestamp.txt; some
late, one within an extension, one with only the file's modification time), a roster with names
and LMS ids for the export, and two planted near-copies for the similarity report.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import tomllib
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from autograde import bundled
from autograde.course import deadlines, roster
from autograde.samples import answer_bank, submissions

CLASS_FILE = bundled.SAMPLES / "class.toml"
DEADLINES_FILE = bundled.SAMPLES / deadlines.FILE

#: How a plan's ``damage`` breaks the handed-in file, the way students really break them.
DAMAGES = {
    "empty-file": "the notebook is 0 bytes",
    "invalid-json": "the notebook's JSON text is cut off halfway",
    "renamed": "the notebook is saved as Untitled.ipynb in the assignment folder",
    "no-notebook": "the assignment folder holds only a notes.txt",
}
RENAMED_AS = "Untitled.ipynb"
NOTES_FILE = "notes.txt"
#: What a plan's ``written`` may pick for a written answer; "model" is the default on a solved notebook.
WRITTEN = ("model", "brief", "wrong", "empty")
#: nbgrader's placeholder in a written answer cell as handed out.
EMPTY_ANSWER = "YOUR ANSWER HERE"
#: The exchange's timestamp format (nbgrader's `Exchange.timestamp_format`).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
PLAN_DEFAULTS = {"base": "solution", "answers": {}, "code": {}, "written": {}, "damage": None, "submitted": None,
                 "timestamp": True, "late_percent": 0, "copy_of": None, "renames": {}}
#: Plan keys a copy takes from the plan it copies (the rest: when and how it was handed in, its own).
COPIED = ("base", "answers", "code", "written")


def _document(class_file: Path = CLASS_FILE) -> dict:
    return tomllib.loads(Path(class_file).read_text(encoding="utf-8"))


def students(class_file: Path = CLASS_FILE) -> list[dict]:
    return _document(class_file)["student"]


def written_texts(class_file: Path = CLASS_FILE) -> dict[str, dict[str, str]]:
    """grade_id of a written answer → {"brief": text, "wrong": text}."""
    return _document(class_file).get("written", {})


def expected(class_file: Path = CLASS_FILE) -> dict[tuple[str, str], dict]:
    """(student, assignment) → that submission's plan, every key of PLAN_DEFAULTS filled in
    (damage None for a healthy file); a copy carries the copied plan's answers. Assignments a
    student skipped have no entry."""
    plans = {}
    for student in students(class_file):
        for assignment, plan in student.get("assignments", {}).items():
            plans[(student["id"], assignment)] = {**PLAN_DEFAULTS, **plan}
    for (student, assignment), plan in plans.items():
        if plan["copy_of"]:
            source = plans[(plan["copy_of"], assignment)]
            plan.update({key: source[key] for key in COPIED})
    return plans


def prepare_course(target: Path, root: Path = bundled.ROOT) -> Path:
    """A fresh nbgrader course folder at ``target``: the config and solutions/ of the course in
    ``root`` (the bundled one by default) and the sample deadlines (no student data), with an
    exchange of its own in ``target``/exchange, so release, collect and the formgrader work at once."""
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy(root / "nbgrader_config.py", target)
    shutil.copytree(root / "solutions", target / "solutions")
    shutil.copy(DEADLINES_FILE, target / deadlines.FILE)
    (target / "exchange").mkdir()
    with open(target / "nbgrader_config.py", "a") as config:
        config.write(f"\n# This course's own exchange (autograde/samples/sample_class.py), not the machine-wide one.\n"
                     f"c.Exchange.root = {str((target / 'exchange').resolve())!r}\n")
    return target


def damage(notebook: Path, how: str) -> Path:
    """Break a written submission as ``how`` (a key of DAMAGES) says; return the file left behind."""
    notebook = Path(notebook)
    if how == "empty-file":
        notebook.write_bytes(b"")
    elif how == "invalid-json":
        text = notebook.read_text()
        notebook.write_text(text[: len(text) // 2])
    elif how == "renamed":
        notebook = notebook.rename(notebook.with_name(RENAMED_AS))
    elif how == "no-notebook":
        notebook.unlink()
        notebook = notebook.with_name(NOTES_FILE)
        notebook.write_text("Couldn't get Jupyter to save my notebook, will email it to you. Sorry!\n")
    else:
        raise ValueError(f"unknown damage {how!r}; known: {', '.join(DAMAGES)}")
    return notebook


def disguise(code: str, renames: dict[str, str]) -> str:
    """A near-copy of ``code`` as a student hides one: identifiers renamed (whole words), then the
    top-level blocks (functions and what follows each) in reverse order."""
    if renames:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(renames, key=len, reverse=True))) + r")\b")
        code = pattern.sub(lambda m: renames[m.group(1)], code)
    blocks = re.split(r"\n(?=\S)", code.strip("\n"))
    return "\n\n\n".join(block.strip("\n") for block in reversed(blocks)) + "\n"


def answer_sources(assignment: str, plan: dict, class_file: Path = CLASS_FILE) -> dict[str, str]:
    """grade_id → what the student typed in that answer cell, for the cells the plan changes."""
    sources = {name: answer_bank.find(assignment, name, label).code for name, label in plan["answers"].items()}
    for name, code in plan["code"].items():
        sources[name] = disguise(code, plan["renames"]) if plan["copy_of"] else code.strip("\n") + "\n"
    texts = written_texts(class_file)
    for grade_id, label in plan["written"].items():
        if label not in WRITTEN:
            raise ValueError(f"written answer {grade_id}: unknown label {label!r}; known: {', '.join(WRITTEN)}")
        if label == "empty":
            sources[grade_id] = EMPTY_ANSWER
        elif label != "model":
            sources[grade_id] = texts[grade_id][label].strip("\n")
    return sources


def submission_time(plan: dict, student: str, assignment: str, due: dict[str, datetime]) -> datetime:
    """When the submission was handed in (aware UTC): the plan's ``submitted`` offset from the due
    date, or a few hours to three days early, the same for the same student and assignment."""
    deadline = due[assignment].replace(tzinfo=timezone.utc)
    if plan["submitted"]:
        return deadline + _offset(plan["submitted"])
    early = 1 + zlib.crc32(f"{student}/{assignment}".encode()) % 70
    return deadline - timedelta(hours=early, minutes=zlib.crc32(student.encode()) % 60)


def _offset(text: str) -> timedelta:
    """"+2d6h", "-5h", "+35m" → a timedelta."""
    match = re.fullmatch(r"([+-])(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?", text.replace(" ", ""))
    if not match or not any(match.groups()[1:]):
        raise ValueError(f"cannot read the submission time {text!r}: write e.g. \"+1d3h\" or \"-5h\"")
    sign, days, hours, minutes = match.groups()
    delta = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0))
    return delta if sign == "+" else -delta


def _stamp(folder: Path, when: datetime, write_timestamp: bool) -> None:
    """Date the submission: nbgrader's timestamp.txt (unless told not to) and the files' times."""
    if write_timestamp:
        (folder / "timestamp.txt").write_text(when.strftime(TIMESTAMP_FORMAT))
    for path in folder.iterdir():
        os.utime(path, (when.timestamp(), when.timestamp()))


def place_submissions(course: Path, class_file: Path = CLASS_FILE, root: Path = bundled.ROOT,
                      students: list[str] | None = None, keys: set[tuple[str, str]] | None = None) -> int:
    """Write every sample student's notebooks (or only those of ``students``, or only the
    (student, assignment) ``keys``) into ``course``/submitted, dated and broken as the plans say,
    built from the solutions/ and released course/ in ``root`` (`submissions.build`); return how
    many submission folders were written."""
    due = deadlines.load_file(DEADLINES_FILE).due
    count = 0
    for (student, assignment), plan in expected(class_file).items():
        if (students and student not in students) or (keys is not None and (student, assignment) not in keys):
            continue
        nb = submissions.build(assignment, plan["base"], answer_sources(assignment, plan, class_file), root)
        path = submissions.write(nb, course, student, assignment)
        if plan["damage"]:
            damage(path, plan["damage"])
        _stamp(path.parent, submission_time(plan, student, assignment, due), plan["timestamp"])
        count += 1
    return count


def roster_people(class_file: Path = CLASS_FILE) -> list[roster.Person]:
    """The class as the LMS lists it: every student in the roster, then those only enrolled; LMS
    user numbers, SIS ids and e-mail addresses made up from the order."""
    document = _document(class_file)
    listed = [s for s in document["student"] if s.get("in_roster", True)] + document.get("enrolled", [])
    return [roster.Person(id=entry["id"], first_name=entry["first_name"], last_name=entry["last_name"],
                          email=f"{entry['id']}@students.example.edu", lms_user_id=str(70101 + n),
                          sis_user_id=f"2026{n + 1:04d}", sis_login_id=entry["id"], section=entry["section"])
            for n, entry in enumerate(listed)]


def write_roster(course: Path, class_file: Path = CLASS_FILE) -> Path:
    """The sample roster as ``course``/roster.csv, in the format autograde/course/roster.py reads."""
    path = Path(course) / "roster.csv"
    columns = ["id", "first_name", "last_name", "email", "lms_user_id", "sis_user_id", "sis_login_id", "section"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([getattr(person, c) for c in columns] for person in roster_people(class_file))
    return path
