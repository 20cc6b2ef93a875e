"""The bundled sample class: synthetic students described in samples/class.toml, built from the
released notebooks and the answer bank, placed where nbgrader looks for submissions."""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from . import answer_bank, submissions
from .release import REPO

CLASS_FILE = REPO / "samples" / "class.toml"


def students(class_file: Path = CLASS_FILE) -> list[dict]:
    return tomllib.loads(Path(class_file).read_text())["student"]


def prepare_course(target: Path, root: Path = REPO) -> Path:
    """A fresh nbgrader course folder at ``target``: the course's config and solutions/ (no student data)."""
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy(root / "nbgrader_config.py", target)
    shutil.copytree(root / "solutions", target / "solutions")
    return target


def place_submissions(course: Path, class_file: Path = CLASS_FILE, root: Path = REPO) -> int:
    """Write every sample student's notebooks into ``course``/submitted; return how many."""
    count = 0
    for student in students(class_file):
        for assignment, plan in student.get("assignments", {}).items():
            answers = {name: answer_bank.find(assignment, name, label).code
                       for name, label in plan.get("answers", {}).items()}
            nb = submissions.build(assignment, plan.get("base", "solution"), answers, root)
            submissions.write(nb, course, student["id"], assignment)
            count += 1
    return count
