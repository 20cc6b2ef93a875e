"""Intake of hand-ins: submitted/ read without following links and staged for nbgrader in intake/,
LMS zip downloads placed.

Real zip files, real notebooks, real links, FIFOs and sockets in tmp_path; timestamps read back by
nbgrader itself.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import stat
import warnings
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.coursedir import CourseDirectory

from autograde.engine import coordinator
from autograde.intake.staging import (MAX_MEMBER_BYTES, STAGED_DIRECTORY, Problem, collect_lms, fingerprint, handed_in,
                              safe_student_id, scan_submitted)

GD = "01_gradient_descent"
ASSIGNMENTS = [GD, "02_symbolic_derivatives"]
MARCH_1 = (2026, 3, 1, 12, 0, 0)
MARCH_2 = (2026, 3, 2, 9, 30, 0)


def _meta(grade_id: str, **flags) -> dict:
    return {"nbgrader": {"grade": False, "locked": False, "solution": False, "task": False, "schema_version": 3,
                         "grade_id": grade_id, **flags}}


def released() -> nbformat.NotebookNode:
    """A small released notebook as nbgrader generates one: an answer, a test, a written answer."""
    return new_notebook(cells=[
        new_markdown_cell("# Gradient descent\nWrite `f`.", id="intro"),
        new_code_cell("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                      metadata=_meta("f", solution=True), id="answer"),
        new_code_cell("assert f(2) == 4", metadata=_meta("test_f", grade=True, locked=True, points=1), id="test"),
        new_markdown_cell("### Written question\nWhy?", id="question"),
        new_markdown_cell("YOUR ANSWER HERE", metadata=_meta("written", grade=True, solution=True, points=2),
                          id="written"),
    ])


def notebook(text: str = "x = 1") -> bytes:
    """The released notebook with its answer cell holding `text`, as a student saves it."""
    nb = released()
    nb.cells[1].source = text
    return nbformat.writes(nb).encode()


def make_zip(path: Path, members: dict[str, bytes], when: tuple = MARCH_1) -> Path:
    """A real zip holding `members` (name → bytes), every member dated `when`."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def submit(course: Path, student: str, name: str, data: bytes | None = None, assignment: str = GD) -> Path:
    """Write a file into course/submitted/<student>/<assignment>/ (a notebook unless data is given)."""
    path = course / "submitted" / student / assignment / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(notebook() if data is None else data)
    return path


def placed(course: Path, student: str, assignment: str = GD) -> Path:
    return course / "submitted" / student / assignment / f"{assignment}.ipynb"


def staged(course: Path, student: str, assignment: str = GD) -> Path:
    return course / STAGED_DIRECTORY / student / assignment / f"{assignment}.ipynb"


def messages(problems: list[Problem], student: str | None = None) -> str:
    return "\n".join(p.message for p in problems if student is None or p.student == student)


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root as lstat sees it (kind, size, mtime, inode) and its bytes or link target."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        data = os.readlink(path) if path.is_symlink() else path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
        found[path.relative_to(root).as_posix()] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns,
                                                    st.st_ino, data)
    return found


@pytest.fixture
def course(tmp_path):
    """A course folder with a released notebook for each assignment (what intake repairs against)."""
    root = tmp_path / "course"
    for assignment in ASSIGNMENTS:
        (root / "course" / assignment).mkdir(parents=True)
        nbformat.write(released(), root / "course" / assignment / f"{assignment}.ipynb")
    return root


@pytest.fixture
def downloads(tmp_path):
    (tmp_path / "downloads").mkdir()
    return tmp_path / "downloads"


# ---- safe_student_id --------------------------------------------------------------------------

@pytest.mark.parametrize("raw, safe", [
    ("alice", "alice"), ("Ab-C.d_1", "Ab-C.d_1"), ("José Müller", "Jose_Muller"),
    ("Jose\u0301", "Jose"), ("a;b$c'd\"e", "a_b_c_d_e"), (".hidden", "hidden"), ("  bob  ", "bob"),
])
def test_safe_student_id_keeps_safe_characters_and_case_and_maps_the_rest(raw, safe):
    assert safe_student_id(raw) == safe


@pytest.mark.parametrize("raw", ["", "..", ".", "   ", "张伟", "../..", "\udcff"])
def test_safe_student_id_is_never_empty_dot_or_dotdot_and_stable(raw):
    safe = safe_student_id(raw)
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", safe) and safe not in (".", "..")
    assert safe == safe_student_id(raw) and safe_student_id(safe) == safe


def test_safe_student_id_tells_apart_names_without_latin_letters():
    assert safe_student_id("张伟") != safe_student_id("李娜")


# ---- scan_submitted: the staged copy ---------------------------------------------------------

def test_a_well_formed_submission_is_staged_as_it_is_without_problems(course):
    original = submit(course, "alice", f"{GD}.ipynb")
    submit(course, "alice", "timestamp.txt", b"2026-03-01 12:00:00.000000 UTC")
    submit(course, "alice", "data/points.csv", b"x,y\n1,2\n")
    assert scan_submitted(course, ASSIGNMENTS) == ([("alice", GD)], [])
    assert staged(course, "alice").read_bytes() == original.read_bytes()
    assert files_under(course / STAGED_DIRECTORY / "alice" / GD) == files_under(original.parent)
    stamp = CourseDirectory().get_existing_timestamp(str(staged(course, "alice").parent))
    assert stamp == datetime(*MARCH_1)


def test_no_submitted_folder_means_nothing_to_grade(course):
    assert scan_submitted(course, ASSIGNMENTS) == ([], [])


@pytest.mark.parametrize("name", ["Untitled.ipynb", f"{GD} (1).ipynb", f"work/{GD}.ipynb"])
def test_a_notebook_under_another_name_is_graded_from_a_copy_and_the_original_is_kept(course, name):
    submit(course, "alice", name, notebook("mine"))
    submit(course, "alice", f".ipynb_checkpoints/{GD}-checkpoint.ipynb", notebook("old"))
    before = snapshot(course / "submitted")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("alice", GD)]
    assert b"mine" in staged(course, "alice").read_bytes()
    assert snapshot(course / "submitted") == before and not placed(course, "alice").exists()
    assert [(p.student, p.assignment) for p in problems] == [("alice", GD)]
    assert f"named {name!r}: graded as '{GD}.ipynb' (a copy; the student's file is left as it is)" \
        in problems[0].message
    assert not any(".ipynb_checkpoints" in path for path in files_under(course / STAGED_DIRECTORY))


def test_with_several_notebooks_the_expected_name_is_graded(course):
    submit(course, "alice", f"{GD}.ipynb", notebook("right"))
    submit(course, "alice", "scratch.ipynb")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("alice", GD)] and b"right" in staged(course, "alice").read_bytes()
    assert "2 notebooks" in messages(problems) and "the expected name" in messages(problems)
    assert not (staged(course, "alice").parent / "scratch.ipynb").exists()


def test_with_several_notebooks_none_expected_the_most_recent_is_graded(course):
    old = submit(course, "alice", "draft.ipynb", notebook("old"))
    new = submit(course, "alice", "final.ipynb", notebook("new"))
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_800_000_000, 1_800_000_000))
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("alice", GD)] and b"new" in staged(course, "alice").read_bytes()
    assert "graded 'final.ipynb', the most recently modified" in messages(problems)
    assert old.exists() and new.exists()


def test_a_submission_without_a_notebook_is_not_gradable(course):
    submit(course, "alice", f".ipynb_checkpoints/{GD}-checkpoint.ipynb")
    submit(course, "alice", "notes.txt", b"hello")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [] and not (course / STAGED_DIRECTORY / "alice").exists()
    assert problems == [Problem("alice", GD, "no notebook in the submission: nothing to grade")]
    assert handed_in(course, "alice", GD) and not handed_in(course, "alice", ASSIGNMENTS[1])


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"{not json", "does not appear to be JSON"),
    (json.dumps({"cells": 5, "nbformat": 4}).encode(), ""),
    (b"[]", ""),
    (b"\xff\xfe{}", "utf-8"),
], ids=["empty", "invalid-json", "json-not-notebook", "json-list", "not-utf8"])
def test_an_unreadable_notebook_is_reported_and_not_graded(course, data, reason):
    submit(course, "alice", f"{GD}.ipynb", data)
    submit(course, "bob", f"{GD}.ipynb")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("bob", GD)] and not staged(course, "alice").exists()
    assert len(problems) == 1 and problems[0].student == "alice"
    assert problems[0].message.startswith("not a readable notebook: ") and reason in problems[0].message


def test_an_nbformat_v3_notebook_stays_gradable(course):
    old = nbformat.convert(released(), 3)
    submit(course, "alice", f"{GD}.ipynb", nbformat.writes(old, version=3).encode())
    assert scan_submitted(course, ASSIGNMENTS) == ([("alice", GD)], [])


def test_an_unknown_assignment_folder_is_skipped(course):
    submit(course, "alice", f"{GD}.ipynb")
    submit(course, "alice", "hw9.ipynb", assignment="hw9")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("alice", GD)]
    assert problems == [Problem("alice", "hw9", "unknown assignment folder 'hw9': skipped")]


@pytest.mark.parametrize("folder, safe", [
    ("Ana María", "Ana_Maria"), ("bob;rm -rf", "bob_rm_-rf"), ("$carl", "_carl"), ("d'o\"q", "d_o_q"),
])
def test_a_student_folder_with_odd_characters_is_graded_under_its_safe_id_and_kept(course, folder, safe):
    submit(course, folder, f"{GD}.ipynb")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [(safe, GD)] and staged(course, safe).is_file()
    assert placed(course, folder).is_file() and not (course / "submitted" / safe).exists()
    assert problems == [Problem(safe, "", f"student folder {folder!r} graded as {safe!r} (characters unsafe "
                                          "in file names or nbgrader ids); submitted/ is left as it is")]
    assert handed_in(course, safe, GD)


def test_a_student_folder_that_would_collide_is_refused(course):
    submit(course, "ana_b", f"{GD}.ipynb", notebook("first"))
    submit(course, "ana b", f"{GD}.ipynb", notebook("second"))
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("ana_b", GD)] and b"first" in staged(course, "ana_b").read_bytes()
    assert "'ana b' would be graded as 'ana_b', which is another folder" in messages(problems, "ana b")


def test_two_odd_folders_with_one_safe_id_are_both_refused(course):
    submit(course, "ana b", f"{GD}.ipynb")
    submit(course, "ana;b", f"{GD}.ipynb")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [] and not (course / STAGED_DIRECTORY / "ana_b").exists()
    assert [p.student for p in problems] == ["ana b", "ana;b"]


def test_scanning_never_changes_submitted_and_restages_from_scratch(course):
    submit(course, "José", "Untitled.ipynb", notebook("v1"))
    submit(course, "bob", f"{GD}.ipynb")
    before = snapshot(course / "submitted")
    first = scan_submitted(course, ASSIGNMENTS)
    assert snapshot(course / "submitted") == before
    assert scan_submitted(course, ASSIGNMENTS) == first
    (course / "submitted" / "bob" / GD / f"{GD}.ipynb").unlink()
    submit(course, "José", "Untitled.ipynb", notebook("v2"))
    gradable, _ = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("Jose", GD)] and b"v2" in staged(course, "Jose").read_bytes()
    assert not (course / STAGED_DIRECTORY / "bob").exists()


def test_staging_some_assignments_keeps_the_copies_of_the_others(course):
    submit(course, "alice", f"{GD}.ipynb")
    submit(course, "alice", "x.ipynb", assignment=ASSIGNMENTS[1])
    scan_submitted(course, ASSIGNMENTS)
    assert scan_submitted(course, [GD]) == ([("alice", GD)], [])
    assert staged(course, "alice", ASSIGNMENTS[1]).is_file()


# ---- links, FIFOs, sockets, devices: never followed ----------------------------------------

def _plant_links(course: Path) -> dict[str, bytes]:
    """alice's submission with every kind of link a hand-placed folder can hold; returns the secret
    contents of their targets."""
    secrets = {"solution": b"SOLUTION-SECRET", "gradebook": b"GRADEBOOK-SECRET", "bob": b"BOB-SECRET",
               "outside": b"HARDLINK-SECRET"}
    (course / "solutions" / GD).mkdir(parents=True)
    (course / "solutions" / GD / f"{GD}.ipynb").write_bytes(secrets["solution"])
    (course / "gradebook.db").write_bytes(secrets["gradebook"])
    submit(course, "bob", f"{GD}.ipynb", notebook("# " + secrets["bob"].decode()))
    (course.parent / "outside.txt").write_bytes(secrets["outside"])
    folder = submit(course, "alice", f"{GD}.ipynb", notebook("mine")).parent
    (folder / "solution.ipynb").symlink_to(course / "solutions" / GD / f"{GD}.ipynb")
    (folder / "gradebook.db").symlink_to("../../../gradebook.db")
    (folder / "bob.ipynb").symlink_to(course / "submitted" / "bob" / GD / f"{GD}.ipynb")
    (folder / "sub").mkdir()
    (folder / "sub" / "answers").symlink_to(course / "solutions", target_is_directory=True)
    os.link(course.parent / "outside.txt", folder / "data.txt")
    (folder / "mine.txt").write_bytes(b"MINE")
    os.link(folder / "mine.txt", folder / "sub" / "mine-again.txt")  # a hard link inside: kept
    os.mkfifo(folder / "pipe")
    here = os.getcwd()
    os.chdir(folder)  # a socket's path must be short
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind("sock")
    finally:
        os.chdir(here)
    return secrets


def test_links_fifos_and_sockets_are_skipped_named_and_never_staged(course):
    secrets = _plant_links(course)
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert sorted(gradable) == [("alice", GD), ("bob", GD)]
    said = [p.message for p in problems if p.student == "alice"]
    expected = {"solution.ipynb": "a symbolic link to", "gradebook.db": "a symbolic link to '../../../gradebook.db'",
                "bob.ipynb": "a symbolic link to", "sub/answers": "a symbolic link to",
                "data.txt": "a hard link to a file outside the submission", "pipe": "a FIFO (named pipe)",
                "sock": "a socket"}
    for name, words in expected.items():
        lines = [m for m in said if m.startswith(f"skipped {name!r}, ")]
        assert len(lines) == 1 and words in lines[0], (name, said)
    assert len(said) == len(expected)
    copy = files_under(course / STAGED_DIRECTORY / "alice" / GD)
    assert sorted(copy) == [f"{GD}.ipynb", "mine.txt", "sub/mine-again.txt"]
    assert not any(secret in data for data in copy.values() for secret in secrets.values())


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device file needs root")
def test_a_device_file_is_skipped_and_named(course):
    folder = submit(course, "alice", f"{GD}.ipynb").parent
    os.mknod(folder / "zero", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("alice", GD)]
    assert problems == [Problem("alice", GD, "skipped 'zero', a character device: never opened")]


def test_a_linked_notebook_is_never_graded(course):
    (course.parent / "theirs.ipynb").write_bytes(notebook("theirs"))
    folder = submit(course, "alice", "notes.txt", b"hi").parent
    (folder / f"{GD}.ipynb").symlink_to(course.parent / "theirs.ipynb")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == []
    assert [p.message.split(",")[0] for p in problems] == [f"skipped '{GD}.ipynb'", "no notebook in the submission: nothing to grade"]  # noqa: E501


def test_linked_student_and_assignment_folders_are_not_graded(course):
    submit(course, "bob", f"{GD}.ipynb")
    (course / "submitted" / "mallory").symlink_to(course / "submitted" / "bob", target_is_directory=True)
    (course / "submitted" / "eve").mkdir()
    (course / "submitted" / "eve" / GD).symlink_to("../bob/" + GD, target_is_directory=True)
    os.mkfifo(course / "submitted" / "trudy")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("bob", GD)]
    assert sorted(problems, key=lambda p: p.student) == [
        Problem("eve", GD, "the assignment folder is a symbolic link to '../bob/01_gradient_descent': "
                           "not graded (links are never followed)"),
        Problem("mallory", "", f"student folder 'mallory' is a symbolic link to "
                               f"'{course / 'submitted' / 'bob'}': not graded (links are never followed)"),
        Problem("trudy", "", "student folder 'trudy' is a FIFO (named pipe): not graded (never opened)"),
    ]
    assert sorted(p.name for p in (course / STAGED_DIRECTORY).iterdir()) == ["bob"]
    assert handed_in(course, "eve", GD) and not handed_in(course, "mallory", GD)


# ---- the journal's fingerprint ---------------------------------------------------------------

def test_the_fingerprint_is_the_journals_hash_of_plain_files(course):
    submit(course, "alice", f"{GD}.ipynb")
    submit(course, "alice", "a-b/x.txt", b"1")
    submit(course, "alice", "a/b.txt", b"2")
    submit(course, "alice", ".ipynb_checkpoints/old.ipynb", b"3")
    assert fingerprint(course, "alice", GD) == coordinator.fingerprint(course, "alice", GD)


def test_the_fingerprint_follows_the_original_folder_of_a_renamed_student(course):
    path = submit(course, "Zoë", "Untitled.ipynb", notebook("v1"))
    empty = hashlib.sha256().hexdigest()
    first = fingerprint(course, "Zoe", GD)
    assert first not in (empty, fingerprint(course, "Zoe", ASSIGNMENTS[1]))
    path.write_bytes(notebook("v2"))
    assert fingerprint(course, "Zoe", GD) != first


def test_the_fingerprint_reads_no_link_target(course):
    target = course.parent / "target.txt"
    target.write_bytes(b"one")
    folder = submit(course, "alice", f"{GD}.ipynb").parent
    (folder / "link.txt").symlink_to(target)
    os.mkfifo(folder / "pipe")  # opening it would block the grader
    first = fingerprint(course, "alice", GD)
    target.write_bytes(b"two")
    assert fingerprint(course, "alice", GD) == first
    (folder / "link.txt").unlink()
    (folder / "link.txt").symlink_to(course.parent / "elsewhere.txt")
    assert fingerprint(course, "alice", GD) != first


# ---- warnings while reading ------------------------------------------------------------------

def test_nbformat_warnings_are_notes_of_the_student_and_never_printed(course):
    nb = json.loads(notebook("mine"))
    nb["cells"][2]["id"] = nb["cells"][1]["id"]  # a duplicated cell id
    submit(course, "alice", f"{GD}.ipynb", json.dumps(nb).encode())
    del nb["cells"][3]["id"]  # and a missing one
    submit(course, "bob", f"{GD}.ipynb", json.dumps(nb).encode())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gradable, problems = scan_submitted(course, ASSIGNMENTS)
        for student in ("alice", "bob"):
            nbformat.read(staged(course, student), as_version=4)  # what nbgrader reads next
    assert caught == []
    assert gradable == [("alice", GD), ("bob", GD)]
    assert problems == [
        Problem("alice", GD, "1 cell(s) had the id of another cell (nbformat's DuplicateCellId): "
                             "given new ids in the graded copy"),
        Problem("bob", GD, "1 cell(s) had no cell id (nbformat's MissingIDFieldWarning): given ids in the graded copy"),
        Problem("bob", GD, "1 cell(s) had the id of another cell (nbformat's DuplicateCellId): "
                           "given new ids in the graded copy"),
    ]


# ---- repairs on the copy ----------------------------------------------------------------------

def test_damaged_metadata_is_repaired_on_the_copy_only(course):
    nb = json.loads(notebook("def f(x):\n    return x * x"))
    for cell in nb["cells"]:
        cell["metadata"].pop("nbgrader", None)
    nb["cells"][4]["source"] = "Because the slope shrinks."
    original = submit(course, "alice", f"{GD}.ipynb", json.dumps(nb).encode())
    before = original.read_bytes()
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("alice", GD)] and original.read_bytes() == before
    assert problems == [Problem("alice", GD, "nbgrader metadata restored from the released notebook: "
                                             "'f', 'test_f', 'written' (nbgrader metadata missing; matched by cell id)")]
    copy = nbformat.read(staged(course, "alice"), as_version=4)
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in copy.cells] == [None, "f", "test_f", None, "written"]
    assert copy.cells[4].source == "Because the slope shrinks."


def test_another_assignments_notebook_is_refused_with_a_clear_line(course):
    nb = released()
    for cell in nb.cells:
        cell.id = "other-" + cell.id
        if "nbgrader" in cell.metadata:
            cell.metadata.nbgrader["grade_id"] = "q_" + cell.metadata.nbgrader["grade_id"]
    submit(course, "alice", f"{GD}.ipynb", nbformat.writes(nb).encode())
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [] and handed_in(course, "alice", GD)
    assert problems == [Problem("alice", GD, f"the notebook does not match the released {GD}.ipynb: none of its "
                                             "graded cells ('q_f', 'q_test_f', 'q_written') and none of its cell "
                                             "ids is in the released notebook (is it another assignment's "
                                             "notebook?); not graded")]


def test_without_a_released_notebook_the_copy_is_staged_unrepaired_and_it_is_said(course, tmp_path):
    other = tmp_path / "other"
    submit(other, "alice", f"{GD}.ipynb")
    gradable, problems = scan_submitted(other, [GD])
    assert gradable == [("alice", GD)]
    assert [(p.student, p.assignment) for p in problems] == [("", GD)]
    assert "no released notebook to check the cells against" in problems[0].message


# ---- collect_lms ------------------------------------------------------------------------------

def test_one_zip_per_student_is_placed_with_a_timestamp_nbgrader_reads(course, downloads):
    make_zip(downloads / "alice.zip", {f"{GD}.ipynb": notebook("alice")}, when=MARCH_1)
    assert collect_lms(downloads, course, GD) == []
    assert b"alice" in placed(course, "alice").read_bytes()
    stamp = CourseDirectory().get_existing_timestamp(str(placed(course, "alice").parent))
    assert stamp == datetime(*MARCH_1)
    assert scan_submitted(course, ASSIGNMENTS) == ([("alice", GD)], [])


@pytest.mark.parametrize("zip_name, student", [
    ("smithjane_12345_67890_hw1.zip", "smithjane"),
    ("smithjane_LATE_12345_67890_my work.zip", "smithjane"),
    ("Jane Doe_4711_assignsubmission_file_.zip", "Jane_Doe_4711"),
])
def test_canvas_and_moodle_zip_names_give_the_student(course, downloads, zip_name, student):
    make_zip(downloads / zip_name, {f"{GD}.ipynb": notebook()})
    problems = collect_lms(downloads, course, GD)
    assert placed(course, student).is_file()
    late = ["the LMS marked this submission late (LATE_ in its file name)"] if "_LATE_" in zip_name else []
    assert [p.message for p in problems] == ([] if student == "smithjane" else
                                             ["LMS id 'Jane Doe_4711' stored as 'Jane_Doe_4711' "
                                              "(characters unsafe in file names or nbgrader ids)"]) + late


def test_a_canvas_bulk_zip_gives_each_student_their_notebook(course, downloads):
    inner = io.BytesIO()
    make_zip(inner, {f"dora/{GD}.ipynb": notebook("dora")})
    make_zip(downloads / "submissions.zip", {
        f"alice_1_11_{GD}.ipynb": notebook("alice"),
        f"bob_LATE_2_22_{GD}-1.ipynb": notebook("bob"),
        "carl_3_33_Untitled.ipynb": notebook("carl"),
        "dora_4_44_work.zip": inner.getvalue(),
        "stray.ipynb": notebook(),
        "alice_1_11_notes.txt": b"ignored",
    })
    problems = collect_lms(downloads, course, GD)
    for student in ("alice", "bob", "carl", "dora"):
        assert student.encode() in placed(course, student).read_bytes()
    assert messages(problems, "alice") == messages(problems, "dora") == ""
    assert messages(problems, "bob") == "the LMS marked this submission late (LATE_ in its file name)"
    assert "named 'Untitled.ipynb' (in submissions.zip): graded as" in messages(problems, "carl")
    assert "'stray.ipynb' is not named like an LMS submission: skipped" in messages(problems, "")


def test_a_moodle_bulk_zip_with_a_folder_per_student(course, downloads):
    make_zip(downloads / "course-hw1.zip", {
        f"Ana Lima_17_assignsubmission_file_/{GD}.ipynb": notebook("ana"),
        f"Bo_18_assignsubmission_file_{GD}.ipynb": notebook("bo"),
    })
    problems = collect_lms(downloads, course, GD)
    assert b"ana" in placed(course, "Ana_Lima_17").read_bytes()
    assert b"bo" in placed(course, "Bo_18").read_bytes()
    assert [p.student for p in problems] == ["Ana_Lima_17"]


def test_a_file_that_is_not_a_zip_is_reported_and_the_rest_collected(course, downloads):
    (downloads / "alice.zip").write_bytes(b"this is a PDF, really")
    make_zip(downloads / "bob.zip", {f"{GD}.ipynb": notebook()})
    problems = collect_lms(downloads, course, GD)
    assert placed(course, "bob").is_file() and not (course / "submitted" / "alice").exists()
    assert [(p.student, p.assignment) for p in problems] == [("alice", GD)]
    assert "alice.zip is not a readable zip file" in problems[0].message


def test_a_zip_without_a_notebook_is_reported(course, downloads):
    make_zip(downloads / "alice.zip", {"report.pdf": b"%PDF", f".ipynb_checkpoints/{GD}-checkpoint.ipynb": notebook()})
    problems = collect_lms(downloads, course, GD)
    assert not (course / "submitted").exists()
    assert problems == [Problem("alice", GD, "alice.zip holds no notebook (it holds 'report.pdf'): skipped")]


def test_the_only_notebook_under_another_name_is_accepted_and_noted(course, downloads):
    make_zip(downloads / "alice.zip", {"hw/Untitled.ipynb": notebook("mine")})
    problems = collect_lms(downloads, course, GD)
    assert b"mine" in placed(course, "alice").read_bytes()
    assert problems == [Problem("alice", GD, f"notebook was named 'Untitled.ipynb' (in alice.zip): graded as {GD}.ipynb")]


def test_several_notebooks_in_one_zip_prefer_the_expected_name(course, downloads):
    make_zip(downloads / "alice.zip", {"scratch.ipynb": notebook("scratch"), f"{GD}.ipynb": notebook("real")})
    problems = collect_lms(downloads, course, GD)
    assert b"real" in placed(course, "alice").read_bytes()
    assert "alice.zip holds 2 notebooks" in messages(problems) and "the expected name" in messages(problems)


def test_of_two_submissions_the_later_by_member_time_is_graded(course, downloads):
    make_zip(downloads / "a.zip", {f"{GD}.ipynb": notebook("later")}, when=MARCH_2)
    make_zip(downloads / "b.zip", {f"{GD}.ipynb": notebook("earlier")}, when=MARCH_1)
    os.rename(downloads / "a.zip", downloads / "alice_1_10_a.zip")
    os.rename(downloads / "b.zip", downloads / "alice_1_11_b.zip")
    problems = collect_lms(downloads, course, GD)
    assert b"later" in placed(course, "alice").read_bytes()
    assert CourseDirectory().get_existing_timestamp(str(placed(course, "alice").parent)) == datetime(*MARCH_2)
    assert problems == [Problem("alice", GD, "2 submissions (alice_1_11_b.zip 2026-03-01 12:00, "
                                             "alice_1_10_a.zip 2026-03-02 09:30): graded the later one, alice_1_10_a.zip")]


def test_of_two_submissions_with_equal_member_times_the_newer_download_is_graded(course, downloads):
    older = make_zip(downloads / "alice_1_10_x.zip", {f"{GD}.ipynb": notebook("older")})
    newer = make_zip(downloads / "alice_1_11_y.zip", {f"{GD}.ipynb": notebook("newer")})
    os.utime(older, (1_800_000_000, 1_800_000_000))
    os.utime(newer, (1_700_000_000, 1_700_000_000))
    problems = collect_lms(downloads, course, GD)
    assert b"older" in placed(course, "alice").read_bytes()
    assert "graded the later download (same date inside the zips), alice_1_10_x.zip" in messages(problems)


@pytest.mark.parametrize("zip_name, safe", [
    ("José Müller.zip", "Jose_Muller"), ("$(touch x);.zip", "__touch_x__"), ("张伟.zip", None),
])
def test_an_odd_student_id_becomes_its_safe_id(course, downloads, zip_name, safe):
    make_zip(downloads / zip_name, {f"{GD}.ipynb": notebook()})
    problems = collect_lms(downloads, course, GD)
    raw = zip_name[:-4]
    safe = safe or safe_student_id(raw)
    assert [p.name for p in (course / "submitted").iterdir()] == [safe] and placed(course, safe).is_file()
    assert problems == [Problem(safe, GD, f"LMS id {raw!r} stored as {safe!r} "
                                          "(characters unsafe in file names or nbgrader ids)")]


def test_two_lms_ids_with_one_safe_id_are_both_refused(course, downloads):
    make_zip(downloads / "ana b.zip", {f"{GD}.ipynb": notebook()})
    make_zip(downloads / "ana;b.zip", {f"{GD}.ipynb": notebook()})
    problems = collect_lms(downloads, course, GD)
    assert not (course / "submitted").exists()
    assert len(problems) == 2 and all("all become 'ana_b'" in p.message for p in problems)


def test_zip_slip_members_never_write_outside_the_course(tmp_path, course, downloads):
    evil = {"../../evil.ipynb": notebook("evil"), "/tmp/evil.ipynb": notebook("evil"),
            "..\\..\\evil.ipynb": notebook("evil"), f"{GD}.ipynb": notebook("good")}
    make_zip(downloads / "alice.zip", evil)
    make_zip(downloads / "bulk.zip", {"../bob_2_22_evil.ipynb": notebook("evil"), f"carl_3_33_{GD}.ipynb": notebook()})
    before = files_under(tmp_path)
    problems = collect_lms(downloads, course, GD)
    new = set(files_under(tmp_path)) - set(before)
    assert new == {f"course/submitted/{s}/{GD}/{name}" for s in ("alice", "carl")
                   for name in (f"{GD}.ipynb", "timestamp.txt")}
    assert b"good" in placed(course, "alice").read_bytes()
    assert not any(b"evil" in data for data in files_under(course).values())
    assert messages(problems, "alice").count("unsafe path") == 3
    assert "unsafe path" in messages(problems, "bob")


def test_a_huge_member_is_refused(course, downloads):
    make_zip(downloads / "alice.zip", {f"{GD}.ipynb": b" " * (MAX_MEMBER_BYTES + 1)})
    make_zip(downloads / "bob.zip", {f"{GD}.ipynb": notebook()})
    problems = collect_lms(downloads, course, GD)
    assert placed(course, "bob").is_file() and not (course / "submitted" / "alice").exists()
    assert "over the 50 MB limit: refused" in messages(problems, "alice")
    assert "holds no notebook" in messages(problems, "alice")


def test_loose_notebooks_named_like_bulk_members_are_collected(course, downloads):
    (downloads / f"alice_1_11_{GD}.ipynb").write_bytes(notebook("alice"))
    (downloads / "grades.csv").write_text("id,score\n")
    problems = collect_lms(downloads, course, GD)
    assert b"alice" in placed(course, "alice").read_bytes()
    assert problems == [Problem("", GD, "grades.csv: not a zip file or a notebook: skipped")]


def test_collecting_twice_is_idempotent(tmp_path, course, downloads):
    make_zip(downloads / "alice.zip", {"Untitled.ipynb": notebook()})
    make_zip(downloads / "bob_2_20_x.zip", {f"{GD}.ipynb": notebook("old")}, when=MARCH_1)
    make_zip(downloads / "bob_2_21_y.zip", {f"{GD}.ipynb": notebook("new")}, when=MARCH_2)
    (downloads / "carl.zip").write_bytes(b"broken")
    first = collect_lms(downloads, course, GD)
    after_first = files_under(tmp_path)
    assert collect_lms(downloads, course, GD) == first
    assert files_under(tmp_path) == after_first


def test_a_changed_download_replaces_the_placed_notebook_and_says_so(course, downloads):
    make_zip(downloads / "alice.zip", {f"{GD}.ipynb": notebook("v1")})
    collect_lms(downloads, course, GD)
    make_zip(downloads / "alice.zip", {f"{GD}.ipynb": notebook("v2")}, when=MARCH_2)
    problems = collect_lms(downloads, course, GD)
    assert b"v2" in placed(course, "alice").read_bytes()
    assert "replaced the different notebook already at submitted/alice/" in messages(problems)


def test_a_missing_download_folder_is_a_problem_not_a_crash(tmp_path, course):
    problems = collect_lms(tmp_path / "nowhere", course, GD)
    assert len(problems) == 1 and "does not exist" in problems[0].message


@pytest.mark.parametrize("assignment", ["../x", "a/b", ".."])
def test_an_assignment_that_is_not_a_plain_name_is_a_programming_error(course, downloads, assignment):
    with pytest.raises(ValueError):
        collect_lms(downloads, course, assignment)


def _link_member(archive: zipfile.ZipFile, name: str, target: str, mode: int = stat.S_IFLNK | 0o777) -> None:
    """A zip member as `zip --symlinks` stores a link: its data is the target, its mode says link."""
    info = zipfile.ZipInfo(name, date_time=MARCH_1)
    info.create_system = 3  # Unix
    info.external_attr = mode << 16
    archive.writestr(info, target)


def test_zip_members_that_are_links_are_refused_and_named(course, downloads):
    with zipfile.ZipFile(downloads / "alice.zip", "w") as archive:
        _link_member(archive, f"{GD}.ipynb", "/course/solutions/01_gradient_descent/01_gradient_descent.ipynb")
        _link_member(archive, "data.csv", "../../gradebook.db")
        _link_member(archive, "pipe.ipynb", "", mode=stat.S_IFIFO | 0o644)
        archive.writestr(zipfile.ZipInfo("work/Untitled.ipynb", date_time=MARCH_1), notebook("mine"))
    with zipfile.ZipFile(downloads / "bulk.zip", "w") as archive:
        _link_member(archive, f"bob_2_22_{GD}.ipynb", "/etc/passwd")
    problems = collect_lms(downloads, course, GD)
    assert b"mine" in placed(course, "alice").read_bytes()
    assert not (course / "submitted" / "bob").exists()
    assert messages(problems, "alice").splitlines() == [
        f"alice.zip: member '{GD}.ipynb' is a symbolic link: skipped (links are never followed)",
        "alice.zip: member 'data.csv' is a symbolic link: skipped (links are never followed)",
        "alice.zip: member 'pipe.ipynb' is a FIFO (named pipe): skipped (links are never followed)",
        f"notebook was named 'Untitled.ipynb' (in alice.zip): graded as {GD}.ipynb"]
    assert messages(problems, "bob") == (f"bulk.zip: member 'bob_2_22_{GD}.ipynb' is a symbolic link: skipped "
                                         "(links are never followed)")


def test_links_in_the_download_folder_are_not_read(course, downloads, tmp_path):
    make_zip(tmp_path / "elsewhere.zip", {f"{GD}.ipynb": notebook("elsewhere")})
    (downloads / "alice.zip").symlink_to(tmp_path / "elsewhere.zip")
    os.mkfifo(downloads / "bob.zip")  # reading it would block
    problems = collect_lms(downloads, course, GD)
    assert not (course / "submitted").exists()
    assert [p.message for p in problems] == [
        f"alice.zip is a symbolic link to '{tmp_path / 'elsewhere.zip'}': skipped (links are never followed)",
        "bob.zip is a FIFO (named pipe): skipped (links are never followed)"]


def test_collecting_writes_nothing_through_a_link_in_submitted(course, downloads, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (course / "submitted").mkdir(parents=True)
    (course / "submitted" / "alice").symlink_to(elsewhere, target_is_directory=True)
    (course / "submitted" / "bob" / GD).mkdir(parents=True)
    (course / "submitted" / "bob" / GD / f"{GD}.ipynb").symlink_to(tmp_path / "bob-target.ipynb")
    make_zip(downloads / "alice.zip", {f"{GD}.ipynb": notebook()})
    make_zip(downloads / "bob.zip", {f"{GD}.ipynb": notebook("bob")})
    problems = collect_lms(downloads, course, GD)
    assert list(elsewhere.iterdir()) == [] and not (tmp_path / "bob-target.ipynb").exists()
    assert problems == [
        Problem("alice", GD, f"submitted/alice is a symbolic link to '{elsewhere}', not a folder: "
                             "nothing collected (links are never followed)"),
        Problem("bob", GD, f"submitted/bob/{GD}/{GD}.ipynb is a symbolic link to '{tmp_path / 'bob-target.ipynb'}': "
                           "nothing collected (links are never followed)"),
    ]


def test_a_late_mark_that_the_deadlines_file_contradicts_is_named(course, downloads):
    """Canvas's LATE_ marker is kept as a note; when the zip entry's time is before the due date
    in deadlines.toml (the LMS and the course disagree), the note says to check both."""
    (course / "deadlines.toml").write_text(f'[due]\n{GD} = 2026-03-05T23:59:00\n')
    make_zip(downloads / "bulk.zip", {f"bob_LATE_2_22_{GD}.ipynb": notebook("bob")}, when=MARCH_1)
    note = messages(collect_lms(downloads, course, GD), "bob")
    assert note.startswith("the LMS marked this submission late (LATE_ in its file name); its zip entry time "
                           "2026-03-01")
    assert note.endswith("is before the due date in deadlines.toml: check both")
