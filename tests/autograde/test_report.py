"""Score tables say who scored what, and name every failed grading."""
from __future__ import annotations

from autograde.report import score_table, write_csv
from autograde.results import CellResult, SubmissionResult


def _result(student, assignment, score, written_pending=0, error=""):
    cells = [CellResult("test_a", score, 3.0, False)]
    cells += [CellResult(f"written_{i}", None, 2.0, True) for i in range(written_pending)]
    return SubmissionResult(student, assignment, cells, error)


def test_table_has_a_row_per_student_and_a_column_per_assignment():
    table = score_table([_result("ada", "01_a", 3.0, 1), _result("ada", "02_b", 1.0), _result("ben", "01_a", 0.0)])
    lines = table.splitlines()
    assert lines[0].split() == ["student", "01_a", "02_b", "total"]
    assert lines[2].split() == ["ada", "3/3", "+1w", "1/3", "4/6"]
    assert lines[3].split() == ["ben", "0/3", "—", "0/3"]


def test_failed_grading_is_named_under_the_table():
    table = score_table([SubmissionResult("cat", "01_a", [], "the notebook is not valid JSON")])
    assert "cat" in table and "error" in table
    assert "grading failed for cat / 01_a: the notebook is not valid JSON" in table


def test_csv_has_one_row_per_submission(tmp_path):
    path = write_csv([_result("ada", "01_a", 3.0, 2)], tmp_path / "scores.csv")
    assert path.read_text().splitlines() == [
        "student,assignment,auto_score,auto_max,written_pending,error", "ada,01_a,3.0,3.0,2,"]
