"""The bundled sample class: synthetic students described in samples/class.toml, built from the
released notebooks and the answer bank, placed where nbgrader looks for submissions."""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from . import answer_bank, submissions
from .release import REPO

CLASS_FILE = REPO / "samples" / "class.toml"

#: How a plan's ``damage`` breaks the handed-in file, the way students really break them.
DAMAGES = {
    "empty-file": "the notebook is 0 bytes",
    "invalid-json": "the notebook's JSON text is cut off halfway",
    "renamed": "the notebook is saved as Untitled.ipynb in the assignment folder",
    "no-notebook": "the assignment folder holds only a notes.txt",
}
RENAMED_AS = "Untitled.ipynb"
NOTES_FILE = "notes.txt"


def students(class_file: Path = CLASS_FILE) -> list[dict]:
    return tomllib.loads(Path(class_file).read_text())["student"]


def expected(class_file: Path = CLASS_FILE) -> dict[tuple[str, str], dict]:
    """(student, assignment) → that submission's plan, with base, answers and damage filled in
    (damage None for a healthy file); assignments a student skipped have no entry."""
    plans = {}
    for student in students(class_file):
        for assignment, plan in student.get("assignments", {}).items():
            plans[(student["id"], assignment)] = {"base": "solution", "answers": {}, "damage": None, **plan}
    return plans


def prepare_course(target: Path, root: Path = REPO) -> Path:
    """A fresh nbgrader course folder at ``target``: the course's config and solutions/ (no student data),
    with an exchange of its own in ``target``/exchange, so release, collect and the formgrader work at once."""
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy(root / "nbgrader_config.py", target)
    shutil.copytree(root / "solutions", target / "solutions")
    (target / "exchange").mkdir()
    with open(target / "nbgrader_config.py", "a") as config:
        config.write(f"\n# This course's own exchange (autograde/sample_class.py), not the machine-wide one.\n"
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


def place_submissions(course: Path, class_file: Path = CLASS_FILE, root: Path = REPO) -> int:
    """Write every sample student's notebooks into ``course``/submitted, broken where a plan's
    ``damage`` says; return how many submission folders were written."""
    count = 0
    for (student, assignment), plan in expected(class_file).items():
        answers = {name: answer_bank.find(assignment, name, label).code
                   for name, label in plan["answers"].items()}
        nb = submissions.build(assignment, plan["base"], answers, root)
        path = submissions.write(nb, course, student, assignment)
        if plan["damage"]:
            damage(path, plan["damage"])
        count += 1
    return count
