"""Intake of hand-ins: nbgrader's submitted/ tree repaired or reported, LMS zip downloads placed.

Real zip files and real notebooks in tmp_path; timestamps read back by nbgrader itself.
"""
from __future__ import annotations

import io
import json
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbgrader.coursedir import CourseDirectory

from autograde.intake import MAX_MEMBER_BYTES, Problem, collect_lms, safe_student_id, scan_submitted

GD = "01_gradient_descent"
ASSIGNMENTS = [GD, "02_symbolic_derivatives"]
MARCH_1 = (2026, 3, 1, 12, 0, 0)
MARCH_2 = (2026, 3, 2, 9, 30, 0)


def notebook(text: str = "x = 1") -> bytes:
    """A minimal valid v4 notebook whose one code cell holds `text`."""
    buffer = io.StringIO()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)]), buffer)
    return buffer.getvalue().encode()


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


def messages(problems: list[Problem], student: str | None = None) -> str:
    return "\n".join(p.message for p in problems if student is None or p.student == student)


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def course(tmp_path):
    (tmp_path / "course").mkdir()
    return tmp_path / "course"


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


# ---- scan_submitted ---------------------------------------------------------------------------

def test_a_well_formed_submission_is_gradable_without_problems(course):
    submit(course, "alice", f"{GD}.ipynb")
    assert scan_submitted(course, ASSIGNMENTS) == ([("alice", GD)], [])


def test_no_submitted_folder_means_nothing_to_grade(course):
    assert scan_submitted(course, ASSIGNMENTS) == ([], [])


@pytest.mark.parametrize("name", ["Untitled.ipynb", f"{GD} (1).ipynb", f"work/{GD}.ipynb"])
def test_a_notebook_under_another_name_is_renamed_and_checkpoints_are_ignored(course, name):
    submit(course, "alice", name, notebook("mine"))
    submit(course, "alice", f".ipynb_checkpoints/{GD}-checkpoint.ipynb", notebook("old"))
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("alice", GD)]
    assert b"mine" in placed(course, "alice").read_bytes()
    assert [(p.student, p.assignment) for p in problems] == [("alice", GD)]
    assert f"named {name!r}: renamed to '{GD}.ipynb'" in problems[0].message


def test_with_several_notebooks_the_expected_name_is_graded(course):
    submit(course, "alice", f"{GD}.ipynb", notebook("right"))
    submit(course, "alice", "scratch.ipynb")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("alice", GD)] and b"right" in placed(course, "alice").read_bytes()
    assert "2 notebooks" in messages(problems) and "the expected name" in messages(problems)


def test_with_several_notebooks_none_expected_the_most_recent_is_renamed(course):
    old = submit(course, "alice", "draft.ipynb", notebook("old"))
    new = submit(course, "alice", "final.ipynb", notebook("new"))
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_800_000_000, 1_800_000_000))
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("alice", GD)] and b"new" in placed(course, "alice").read_bytes()
    assert "renamed 'final.ipynb', the most recently modified" in messages(problems)


def test_a_submission_without_a_notebook_is_not_gradable(course):
    submit(course, "alice", f".ipynb_checkpoints/{GD}-checkpoint.ipynb")
    submit(course, "alice", "notes.txt", b"hello")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == []
    assert problems == [Problem("alice", GD, "no notebook in the submission: nothing to grade")]


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"{not json", "does not appear to be JSON"),
    (json.dumps({"cells": 5, "nbformat": 4}).encode(), ""),
    (b"[]", ""),
], ids=["empty", "invalid-json", "json-not-notebook", "json-list"])
def test_an_unreadable_notebook_is_reported_and_not_graded(course, data, reason):
    submit(course, "alice", f"{GD}.ipynb", data)
    submit(course, "bob", f"{GD}.ipynb")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("bob", GD)]
    assert len(problems) == 1 and problems[0].student == "alice"
    assert problems[0].message.startswith("not a readable notebook: ") and reason in problems[0].message


def test_an_nbformat_v3_notebook_stays_gradable(course):
    old = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[nbformat.v3.new_code_cell("1")])])
    submit(course, "alice", f"{GD}.ipynb", nbformat.v3.writes_json(old).encode())
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
def test_a_student_folder_with_odd_characters_is_renamed_to_its_safe_id(course, folder, safe):
    submit(course, folder, f"{GD}.ipynb")
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [(safe, GD)] and placed(course, safe).is_file()
    assert not (course / "submitted" / folder).exists()
    assert problems == [Problem(safe, "", f"student folder {folder!r} renamed to {safe!r} "
                                          "(characters unsafe in file names or nbgrader ids)")]


def test_a_renamed_student_folder_that_would_collide_is_refused(course):
    submit(course, "ana_b", f"{GD}.ipynb", notebook("first"))
    submit(course, "ana b", f"{GD}.ipynb", notebook("second"))
    gradable, problems = scan_submitted(course, ASSIGNMENTS)
    assert gradable == [("ana_b", GD)] and b"first" in placed(course, "ana_b").read_bytes()
    assert (course / "submitted" / "ana b").is_dir()
    assert "'ana b' would become 'ana_b', which already exists: not graded" in messages(problems, "ana b")


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
    assert [p.message for p in problems] == ([] if student == "smithjane" else
                                             ["LMS id 'Jane Doe_4711' stored as 'Jane_Doe_4711' "
                                              "(characters unsafe in file names or nbgrader ids)"])


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
    assert messages(problems, "alice") == messages(problems, "bob") == messages(problems, "dora") == ""
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
