"""The sample course with all seven assignments released, made once per test session.

`nbgrader generate_assignment` of the seven notebooks takes about 20 s; every grading test used
to pay it again (a course's first grading releases whatever the gradebook lacks). The release is
made once, in the session's shared temporary folder under a lock (pytest-xdist's workers share
it), and each test gets a fresh course folder with a copy of the released notebooks and the
gradebook that records them: what `pipeline.run` would have built, byte for byte.
"""
from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

from autograde.course import release
from autograde.samples import sample_class

RELEASED = ("course", "gradebook.db")  # what generate_assignment adds to a prepared course


def template(shared_tmp: Path) -> Path:
    """The released sample course in ``shared_tmp`` (made by the first caller, reused by the rest)."""
    folder = Path(shared_tmp) / "released-sample-course"
    with open(Path(shared_tmp) / "released-sample-course.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)
            course = sample_class.prepare_course(folder)
            release.generate(course, release.assignments(course))
            (folder / ".complete").touch()
    return folder


def copy(template_folder: Path, target: Path) -> Path:
    """A fresh course at ``target`` (`sample_class.prepare_course`) with the template's release."""
    course = sample_class.prepare_course(target)
    for name in RELEASED:
        source = Path(template_folder) / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, course / name)
    return course


def limit_cells(course: Path, seconds: float) -> None:
    """The course's cell limit (``c.Execute.timeout`` in its nbgrader_config.py) set to ``seconds``."""
    with (Path(course) / "nbgrader_config.py").open("a") as config:
        config.write(f"\nc.Execute.timeout = {seconds}\n")
