"""Intake end to end: one class graded by `pipeline.run` with the real nbgrader and kernels.

Links planted in a submission never reach the student's kernel (it lists and reads every file of
its working folder and finds none of their targets), damaged notebooks keep their honest marks,
written answers with stripped metadata reach hand grading, and submitted/ is never changed.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import warnings
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from support.tiny_course import ASSIGNMENT, HIDDEN_LINE, SOLUTION, make_course, submit

from autograde import pipeline
from autograde.course import release
from autograde.samples import submissions
from autograde.intake.staging import STAGED_DIRECTORY

pytestmark = pytest.mark.xdist_group("intake-grading")
GD = "01_gradient_descent"
HIDDEN_VALUE = HIDDEN_LINE.split("== ")[1].split(",")[0]  # in the solutions and in the gradebook
SECRETS = {"HONEST-MARKER", "HARDLINK-SECRET", HIDDEN_VALUE}
WRITTEN = "The steps overshoot once the learning rate passes 1, so the error grows."

# The answer cell of "linker": list and read every file of the kernel's working folder.
SPY = '''import os
for _root, _dirs, _files in os.walk("."):
    for _name in _dirs + _files:
        _path = os.path.join(_root, _name)
        try:
            _fd = os.open(_path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                print("SEEN", _path, os.read(_fd, 1 << 20))
            finally:
                os.close(_fd)
        except OSError as _error:
            print("SEEN", _path, type(_error).__name__)
''' + SOLUTION


def _damage(path: Path, edit) -> None:
    nb = json.loads(path.read_text())
    edit(nb)
    path.write_text(json.dumps(nb))


def _flip_flags(nb: dict) -> None:
    three, negative, hidden = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    three["metadata"]["nbgrader"]["grade"] = False
    negative["metadata"]["nbgrader"].update(solution=True, grade=False, locked=False)
    hidden["metadata"]["nbgrader"].update(locked=False, points=0)


def _duplicate_ids(nb: dict) -> None:
    nb["cells"][2]["id"] = nb["cells"][1]["id"]


def _plant_links(course: Path, outside: Path) -> None:
    folder = submit(course, "linker", SPY).parent
    (folder / "mine.txt").write_text("MINE-VISIBLE")  # a plain file of the student's: it must arrive
    (folder / "solution.ipynb").symlink_to(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (folder / "gradebook.db").symlink_to(course / "gradebook.db")
    (folder / "other.ipynb").symlink_to(course / "submitted" / "honest" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (folder / "answers").symlink_to(course / "solutions", target_is_directory=True)
    (outside / "secret.txt").write_text("HARDLINK-SECRET")
    os.link(outside / "secret.txt", folder / "data.txt")
    os.mkfifo(folder / "pipe")


def _listing(root: Path) -> dict[str, tuple]:
    return {p.relative_to(root).as_posix(): (stat.S_IFMT(p.lstat().st_mode), p.lstat().st_mtime_ns,
                                             p.read_bytes() if p.is_file() and not p.is_symlink() else b"")
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("intake-grading")
    course = make_course(folder / "course")
    shutil.copytree(release.REPO / "solutions" / GD, course / "solutions" / GD)
    release.generate(course, [GD])
    outside = folder / "outside"
    outside.mkdir()

    submit(course, "honest", SOLUTION + "\n# HONEST-MARKER")
    _plant_links(course, outside)
    (course / "submitted" / "mallory").symlink_to(course / "submitted" / "honest", target_is_directory=True)
    (course / "submitted" / "eve").mkdir()
    (course / "submitted" / "eve" / ASSIGNMENT).symlink_to(f"../honest/{ASSIGNMENT}", target_is_directory=True)
    _damage(submit(course, "flipped"), _flip_flags)
    _damage(submit(course, "dup_ids"), _duplicate_ids)
    odd = submit(course, "Zoë Ng")
    odd.rename(odd.with_name("Untitled.ipynb"))

    nb = submissions.build(GD, "solution", {"written_stability": WRITTEN})
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    submissions.write(nb, course, "stripped", GD)

    before = _listing(course / "submitted")
    settings = pipeline.Settings(progress=False, feedback=False, report=False, workers=2,
                                    assignments=[ASSIGNMENT, GD])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = pipeline.run(course, settings)
    return course, outcome, before, caught


def _result(outcome, student: str, assignment: str = ASSIGNMENT):
    return next(r for r in outcome.results if (r.student, r.assignment) == (student, assignment))


def _said(outcome, student: str) -> list[str]:
    return [p.message for p in outcome.problems if p.student == student]


def _printed(course: Path, student: str) -> str:
    nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return "".join(str(o.get("text", "")) for c in nb.cells for o in c.get("outputs", []))


def test_the_kernel_reads_none_of_the_link_targets(graded):
    course, outcome, _, _ = graded
    printed = _printed(course, "linker")
    assert "MINE-VISIBLE" in printed  # the kernel did list and read its folder
    assert not [secret for secret in SECRETS if secret in printed]
    seen = {line.split()[1].lstrip("./") for line in printed.splitlines() if line.startswith("SEEN ")}
    assert not seen & {"solution.ipynb", "gradebook.db", "other.ipynb", "answers", "data.txt", "pipe"}, seen
    staged = {p.name for p in (course / STAGED_DIRECTORY / "linker" / ASSIGNMENT).rglob("*")}
    assert staged == {f"{ASSIGNMENT}.ipynb", "mine.txt"}
    assert _result(outcome, "linker").auto_score == 3.0


def test_each_link_is_named_once_in_the_summary(graded):
    _, outcome, _, _ = graded
    said = _said(outcome, "linker")
    for name, what in [("solution.ipynb", "a symbolic link to"), ("gradebook.db", "a symbolic link to"),
                       ("other.ipynb", "a symbolic link to"), ("answers", "a symbolic link to"),
                       ("data.txt", "a hard link to a file outside the submission"), ("pipe", "a FIFO")]:
        assert len([m for m in said if m.startswith(f"skipped {name!r}, {what}")]) == 1, (name, said)
    assert len(said) == 6


def test_linked_student_and_assignment_folders_are_not_graded(graded):
    _, outcome, _, _ = graded
    assert not any(r.student == "mallory" for r in outcome.results)
    assert _said(outcome, "mallory") == [f"student folder 'mallory' is a symbolic link to "
                                         f"'{graded[0] / 'submitted' / 'honest'}': not graded (links are never followed)"]
    eve = _result(outcome, "eve")
    assert eve.auto_score == 0 and "symbolic link" in eve.error


def test_honest_and_damaged_right_answers_keep_full_marks(graded):
    _, outcome, _, _ = graded
    for student in ("honest", "flipped", "dup_ids", "Zoe_Ng"):
        result = _result(outcome, student)
        assert (result.auto_score, result.auto_max) == (3.0, 3.0), (student, result.error, _said(outcome, student))
    assert _said(outcome, "honest") == []
    assert [m.split(":")[0] for m in _said(outcome, "flipped")] == ["nbgrader metadata restored from the released "
                                                                    "notebook"]
    assert "DuplicateCellId" in " ".join(_said(outcome, "dup_ids"))
    assert any("'Zoë Ng' graded as 'Zoe_Ng'" in m for m in _said(outcome, "Zoe_Ng"))
    assert any("named 'Untitled.ipynb': graded as 'tiny.ipynb'" in m for m in _said(outcome, "Zoe_Ng"))


def test_no_nbformat_warning_reaches_the_terminal(graded):
    caught = graded[3]
    assert [w for w in caught if w.category.__name__ in ("DuplicateCellId", "MissingIDFieldWarning")] == []


def test_a_written_answer_with_stripped_metadata_reaches_hand_grading(graded):
    course, outcome, _, _ = graded
    result = _result(outcome, "stripped", GD)
    assert result.auto_max > 0 and result.auto_score == result.auto_max, result.error
    assert any(m.startswith("nbgrader metadata restored") for m in _said(outcome, "stripped"))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade("written_stability", GD, GD, "stripped")
        assert grade.needs_manual_grade
    nb = nbformat.read(course / "autograded" / "stripped" / GD / f"{GD}.ipynb", as_version=4)
    written = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "written_stability"]
    assert [c.source for c in written] == [WRITTEN]


def test_submitted_is_left_exactly_as_it_was(graded):
    course, _, before, _ = graded
    assert _listing(course / "submitted") == before
    assert (course / "submitted" / "Zoë Ng" / ASSIGNMENT / "Untitled.ipynb").is_file()
