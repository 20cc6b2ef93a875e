"""Grades out to the LMS, checked against the import rules the LMSs publish:

- Canvas's gradebook importer (canvas-lms lib/gradebook_importer.rb): the header's first columns
  must read Student, ID (then SIS User ID, SIS Login ID) and end with Section; a row whose first
  cell holds "Points Possible" sets each assignment's points; an assignment column is matched by
  title, or by "Title (id)"; a blank cell or "-" is no score; the delimiter is guessed from the
  field counts of the first lines, so every row has as many fields as the header.
- Moodle's CSV grade import (grade/import/csv): one header row; users are found by the column
  mapped to id, idnumber, e-mail or username (a row whose user cell is empty is skipped, an unknown
  user stops the import); '' or '-' is no grade; grades above 100 are refused by default.

The gradebook is nbgrader's, filled through nbgrader's own API; the roster has real-looking names
(accents, spaces, a comma, a repeated name) and an id as Moodle spells it."""
from __future__ import annotations

import csv
import io
import shutil
from datetime import datetime

import pytest
from support.tiny_course import ASSIGNMENT, make_course

from autograde import cli
from autograde.course import release, roster
from autograde.outputs import export
from autograde.course.nbgrader_app import api

SECOND = "tiny_b"
ROSTER = """id,first_name,last_name,email,lms_user_id,sis_user_id,sis_login_id,section
garciam,María José,García López,mj.garcia@uni.example,1001,S0001,garciam,"Lab A, Tuesday"
garcia2,María José,García López,mj.garcia2@uni.example,1002,S0002,garcia2,Lab B
José Müller_4711,José,Müller,jose.mueller@uni.example,1003,S0003,jmueller,Lab A
obrien,Seán,O'Brien,sean.obrien@uni.example,1004,S0004,obrien,Lab B
nguyen,Nguyễn Thị,Minh Khai,minh.khai@uni.example,1005,S0005,nguyen,Lab A
king,Martin,"King, Jr.",mking@uni.example,,,,Lab B
"""
#: (student, assignment) → (autograded points of the three 1-point cells, handed in at)
GRADES = {
    ("garciam", ASSIGNMENT): ((1, 1, 1), "2026-03-01 10:00:00 UTC"),
    ("garcia2", ASSIGNMENT): ((1, 1, 0), "2026-03-02 11:00:00 UTC"),  # 23 hours late: 10 % of 2
    ("Jose_Muller_4711", ASSIGNMENT): ((1, 1, 1), "2026-03-01 09:00:00 UTC"),
    ("Jose_Muller_4711", SECOND): ((1, 0, 0), "2026-03-01 09:00:00 UTC"),
    ("obrien", SECOND): ((1, 1, 1), "2026-03-01 09:00:00 UTC"),
    ("king", ASSIGNMENT): ((0, 1, 1), "2026-03-01 09:00:00 UTC"),
    ("zed", ASSIGNMENT): ((1, 0, 0), "2026-03-01 09:00:00 UTC"),  # not in the roster
}
FINAL = {"garciam": {ASSIGNMENT: "3", SECOND: ""}, "garcia2": {ASSIGNMENT: "1.8", SECOND: ""},
         "José Müller_4711": {ASSIGNMENT: "3", SECOND: "1"}, "obrien": {ASSIGNMENT: "", SECOND: "3"},
         "nguyen": {ASSIGNMENT: "", SECOND: ""}, "king": {ASSIGNMENT: "2", SECOND: ""}}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course whose gradebook nbgrader's API filled as autograding would."""
    from nbgrader.api import Gradebook

    folder = make_course(tmp_path_factory.mktemp("export") / "course")
    (folder / "solutions" / SECOND).mkdir()
    (folder / "solutions" / SECOND / f"{SECOND}.ipynb").write_bytes(
        (folder / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes())
    release.generate(folder, [SECOND])
    (folder / "deadlines.toml").write_text(f"[due]\n{ASSIGNMENT} = 2026-03-01T12:00:00Z\n")
    with Gradebook(api(folder).coursedir.db_url) as gb:
        for (student, assignment), (points, when) in GRADES.items():
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(assignment, student, timestamp=when)
            grades = sorted(submission.notebooks[0].grades, key=lambda g: g.name)
            for grade, point in zip(grades, points):
                grade.auto_score = point
        gb.db.commit()
    (folder / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return folder


def _rows(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_canvas_file_follows_canvas_import_rules(course):
    done = export.export(course, "canvas")
    rows = _rows(done.path)
    header, points, students = rows[0], rows[1], rows[2:]
    assert "Student" in header[0] and "ID" in header[1]
    assert header[2:5] == ["SIS User ID", "SIS Login ID", "Section"]  # the importer's student columns
    assert header[5:] == [ASSIGNMENT, SECOND]
    assert not set(header[5:]) & {"Current Score", "Final Score", "Current Points", "Final Points", "Student", "ID"}
    assert "Points Possible" in points[0] and points[5:] == ["3", "3"]
    assert {len(row) for row in rows} == {len(header)}  # the same field count on every line
    by_login = {row[3]: row for row in students}
    assert [row[0] for row in students] == ["García López, María José", "García López, María José", "Müller, José",
                                            "O'Brien, Seán", "Minh Khai, Nguyễn Thị", "King, Jr., Martin"]
    assert by_login["garciam"][1:5] == ["1001", "S0001", "garciam", "Lab A, Tuesday"]
    for person, row in zip(roster.load(course / "roster.csv"), students):  # in roster order
        assert row[5:] == [FINAL[person.id][ASSIGNMENT], FINAL[person.id][SECOND]], person.id
    assert all(cell == "" or 0 <= float(cell) <= 3 for row in students for cell in row[5:])


def test_a_stranger_is_named_and_left_out_an_enrolled_student_without_work_gets_empty_cells(course):
    done = export.export(course, "canvas")
    assert any("not in the roster" in w and "zed" in w for w in done.warnings)
    assert any("Canvas will match them by name only" in w and "king" in w for w in done.warnings)
    rows = _rows(done.path)
    assert not any("zed" in row for row in rows)
    nguyen = next(row for row in rows if row[3] == "nguyen")
    assert nguyen[5:] == ["", ""]
    assert done.students == 6


def test_moodle_file_follows_moodle_import_rules(course):
    done = export.export(course, "moodle")
    rows = _rows(done.path)
    assert rows[0] == ["Full name", "ID number", "Email address", "Username", ASSIGNMENT, SECOND]
    assert {len(row) for row in rows} == {6}
    people = {row[2]: row for row in rows[1:]}
    assert people["mj.garcia2@uni.example"] == ["María José García López", "S0002", "mj.garcia2@uni.example",
                                               "garcia2", "1.8", ""]
    assert people["jose.mueller@uni.example"][4:] == ["3", "1"]
    assert all(cell == "" or 0 <= float(cell) <= 100 for row in rows[1:] for cell in row[4:])
    assert all(row[1] or row[2] for row in rows[1:])  # every row can be mapped to a Moodle user
    assert not any("zed" in cell for row in rows for cell in row)


def test_plain_csv_keeps_everyone_and_counts_missing_work_as_zero(course, tmp_path):
    done = export.export(course, "csv", out=tmp_path / "grades.csv")
    rows = list(csv.DictReader(io.StringIO(done.path.read_text(encoding="utf-8"))))
    by_id = {row["student_id"]: row for row in rows}
    assert by_id["garcia2"][ASSIGNMENT] == "1.8" and by_id["garcia2"]["total"] == "1.8"
    assert by_id["José Müller_4711"]["total"] == "4" and by_id["José Müller_4711"]["max_score"] == "6"
    assert by_id["zed"]["total"] == "1" and by_id["zed"]["name"] == "zed"
    assert by_id["nguyen"]["total"] == "0" and by_id["nguyen"][ASSIGNMENT] == ""
    assert any("zed" in w for w in done.warnings) and not any("left out" in w for w in done.warnings)


def test_late_penalty_in_the_export_is_nbgraders(course):
    from nbgrader.api import Gradebook

    export.export(course, "csv")
    with Gradebook(api(course).coursedir.db_url) as gb:
        submission = gb.find_submission(ASSIGNMENT, "garcia2")
        assert submission.assignment.duedate == datetime(2026, 3, 1, 12, 0)
        assert submission.late_submission_penalty == pytest.approx(0.2)


def test_without_a_roster_the_nbgrader_ids_are_used_and_said(course, tmp_path):
    folder = tmp_path / "course"
    shutil.copytree(course, folder)
    (folder / "roster.csv").unlink()
    done = export.export(folder, "canvas")
    assert any("no roster" in w and "SIS Login IDs" in w for w in done.warnings)
    assert sorted(row[3] for row in _rows(done.path)[2:]) == sorted({s for s, _ in GRADES})


@pytest.mark.parametrize("text, said", [
    ("name,email\nAna,ana@x\n", "the roster needs an 'id' column"),
    ("id,name\nana,Ana\nana,Ana B\n", "line 3: the id 'ana' is already on line 2"),
    ("id,name\n,Ana\n", "line 2: the id is empty"),
])
def test_a_bad_roster_is_one_line_from_the_command(course, tmp_path, capsys, text, said):
    bad = tmp_path / "roster.csv"
    bad.write_text(text)
    assert cli.main(["export", "--course", str(course), "--format", "moodle", "--roster", str(bad)]) == 2
    error = capsys.readouterr().err
    assert said in error and error.count("\n") == 1


def test_the_command_names_the_file_it_wrote(course, tmp_path, capsys):
    out = tmp_path / "canvas.csv"
    assert cli.main(["export", "--course", str(course), "--format", "canvas", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (6 students)" in printed and "warning:" in printed and out.is_file()


def test_an_empty_gradebook_is_one_line(tmp_path, capsys):
    shutil.copy(release.REPO / "nbgrader_config.py", tmp_path)
    assert cli.main(["export", "--course", str(tmp_path), "--format", "canvas"]) == 2
    assert "holds no assignment yet: grade first" in capsys.readouterr().err
