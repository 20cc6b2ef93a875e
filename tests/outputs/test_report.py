"""Score tables say who scored what, counted as the formgrader counts (written answers and missing
work included), mark late penalties, and name every failed grading."""
from __future__ import annotations

from datetime import timedelta

from autograde.outputs.report import score_table, totals, write_csv
from autograde.outputs.results import CellResult, SubmissionResult


def _result(student, assignment, score, written_pending=0, error="", written_score=None, **late):
    cells = [CellResult("test_a", score, 3.0, False)]
    cells += [CellResult(f"written_{i}", None, 2.0, True) for i in range(written_pending)]
    if written_score is not None:
        cells.append(CellResult("written_graded", written_score, 2.0, True))
    return SubmissionResult(student, assignment, cells, error, **late)


def test_table_has_a_row_per_student_and_a_column_per_assignment():
    table = score_table([_result("ada", "01_a", 3.0, 1), _result("ada", "02_b", 1.0), _result("ben", "01_a", 0.0)])
    lines = table.splitlines()
    assert lines[0].split() == ["student", "01_a", "02_b", "total"]
    assert lines[2].split() == ["ada", "3/5", "+1w", "1/3", "4/8", "+1w"]
    assert lines[3].split() == ["ben", "0/3", "—", "0/8"]  # 01_a is worth 5 (ada's has a written answer)


def test_missing_assignments_count_zero_out_of_their_points():
    points = {"01_a": 5.0, "02_b": 3.0, "03_c": 10.0}
    table = score_table([_result("dana", "01_a", 3.0, written_score=1.5)], points=points, students=["dana", "eve"])
    lines = table.splitlines()
    assert lines[2].split() == ["dana", "4.5/5", "—", "—", "4.5/18"]
    assert lines[3].split() == ["eve", "—", "—", "—", "0/18"]
    assert totals([_result("dana", "01_a", 3.0, written_score=1.5)], points)["dana"].score == 4.5


def test_late_penalties_are_marked_listed_and_taken_off_in_their_own_total():
    late = _result("ben", "01_a", 3.0, late_penalty=0.6, seconds_late=26 * 3600.0, extension=timedelta(days=1))
    table = score_table([late, _result("ada", "01_a", 3.0)])
    lines = table.splitlines()
    assert lines[0].split() == ["student", "01_a", "total", "after", "late", "penalties"]
    assert lines[3].split() == ["ben", "3/3", "L", "3/3", "2.4/3"]
    assert "  ben / 01_a: 1.1 days late, after an extension of 1 day: −0.6 of 3 points" in lines


def test_failed_grading_is_named_under_the_table():
    table = score_table([SubmissionResult("cat", "01_a", [], "the notebook is not valid JSON")])
    assert "cat" in table and "not graded" in table
    assert "grading failed for cat / 01_a: the notebook is not valid JSON" in table


def test_csv_has_one_row_per_submission(tmp_path):
    path = write_csv([_result("ada", "01_a", 3.0, 2, late_penalty=0.3)], tmp_path / "scores.csv")
    assert path.read_text().splitlines() == [
        "student,assignment,auto_score,written_score,max_score,written_pending,late_penalty,final_score,error",
        "ada,01_a,3.0,0.0,7.0,2,0.3,2.7,"]
