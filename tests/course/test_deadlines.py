"""Deadlines, extensions and late penalties: the deadlines file, the policy, and nbgrader's own
late-penalty machinery on a real (tiny) course: on time, late, late with an extension, no timestamp."""
from __future__ import annotations

import csv
import tomllib
import os
from datetime import datetime, timedelta, timezone

import pytest
from support.tiny_course import ASSIGNMENT, copy_course, make_course, submit

from autograde import pipeline
from autograde.course import deadlines
from autograde.course.nbgrader_app import api

DUE = "2026-03-01T12:00:00Z"
DEADLINES = f"""
[due]
{ASSIGNMENT} = {DUE}

[extensions.extended]
{ASSIGNMENT} = "2 days"

[extensions.extended_late]
{ASSIGNMENT} = {{ days = 1 }}
"""
#: student → (nbgrader's timestamp.txt, or None for none; the share of the points the policy takes)
HANDED_IN = {
    "on_time": ("2026-03-01 11:59:00.000000 UTC", 0),
    "late": ("2026-03-02 14:00:00.000000 UTC", 20),  # 26 hours: two days begun
    "extended": ("2026-03-02 14:00:00.000000 UTC", 0),  # within two days' extension
    "extended_late": ("2026-03-02 18:00:00.000000 UTC", 10),  # 6 hours past a one-day extension
    "unstamped": (None, 0),  # the notebook's modification time: before the due date
    "unstamped_late": (None, 100),  # modified 12 days after the due date
}
FILE_TIMES = {"unstamped": datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc),
              "unstamped_late": datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc)}


# ---- the file and the policy ----------------------------------------------------------------

def test_due_dates_are_read_in_the_files_time_zone_and_stored_as_nbgraders_naive_utc():
    parsed = deadlines.parse(tomllib.loads(
        'timezone = "Europe/Berlin"\n[due]\na = 2026-02-13T23:59:00\nb = 2026-07-01\nc = 2026-02-13T23:59:00Z\n'))
    assert parsed.due == {"a": datetime(2026, 2, 13, 22, 59), "b": datetime(2026, 7, 1, 21, 59, 59),
                          "c": datetime(2026, 2, 13, 23, 59)}


@pytest.mark.parametrize("text, expected", [
    ('"3 days"', timedelta(days=3)), ('"36 hours"', timedelta(hours=36)),
    ('"2 days 12 hours"', timedelta(days=2, hours=12)), ('"1 week, 2 days"', timedelta(days=9)),
    ("{ days = 2, hours = 12 }", timedelta(days=2, hours=12)), ('"90 minutes"', timedelta(minutes=90)),
])
def test_extensions_are_written_as_people_write_them(text, expected):
    parsed = deadlines.parse(tomllib.loads(f"[extensions.ana]\na = {text}\n"))
    assert parsed.extension("ana", "a") == expected and parsed.extension("ana", "b") is None


@pytest.mark.parametrize("text, said", [
    ('[due]\na = "next friday"', "due.a must be a TOML date-time"),
    ('[extensions.ana]\na = "a fortnight"', "extensions.ana.a: cannot read 'a fortnight'"),
    ('[policy]\npercent_per_day = 150', "policy.percent_per_day must be a number from 0 to 100"),
    ('timezone = "Mars/Olympus"', "unknown timezone 'Mars/Olympus'"),
    ('[deadline]\na = 2026-01-01', "unknown section or key deadline"),
])
def test_a_bad_deadlines_file_is_one_clear_line(tmp_path, text, said):
    (tmp_path / deadlines.FILE).write_text(text)
    with pytest.raises(deadlines.DeadlineError, match=said) as caught:
        deadlines.load(tmp_path)
    assert str(tmp_path / deadlines.FILE) in str(caught.value) and "\n" not in str(caught.value)


def test_the_default_policy_takes_ten_percent_of_the_points_per_day_begun_and_at_most_all():
    policy = deadlines.Deadlines()
    hour = 3600
    assert policy.penalty(8.0, 0) == 0
    assert policy.penalty(8.0, 1) == pytest.approx(0.8)
    assert policy.penalty(8.0, 24 * hour) == pytest.approx(0.8)
    assert policy.penalty(8.0, 24 * hour + 1) == pytest.approx(1.6)
    assert policy.penalty(8.0, 30 * 24 * hour) == pytest.approx(8.0)
    assert deadlines.Deadlines(percent_per_day=25, max_percent=50).penalty(8.0, 5 * 24 * hour) == pytest.approx(4.0)


def test_a_canvas_late_mark_and_the_zip_entry_time_are_read_from_an_lms_file():
    when, late = deadlines.lms_entry_time("bulk/smithjane_LATE_1234_5678_01_gradient_descent.ipynb", (2026, 3, 2, 9, 30, 0))
    assert (when, late) == (datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc), True)
    assert deadlines.lms_entry_time("smithjane_1234_5678_01_gradient_descent.ipynb", (2026, 3, 2, 9, 30, 0))[1] is False
    assert deadlines.lms_entry_time("Jane Doe_4711_assignsubmission_file_/LATE_hw.ipynb", (2026, 3, 2, 9, 30, 0))[1] is False
    note = deadlines.lms_late_note(True, when, due=datetime(2026, 3, 3, 0, 0))
    assert "LMS marked this submission late" in note and "before the due date" in note
    assert deadlines.lms_late_note(False, when, due=None) is None


# ---- on a real course --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("tiny") / "course")


@pytest.fixture(scope="module")
def graded(tiny, tmp_path_factory):
    course = copy_course(tiny, tmp_path_factory.mktemp("late") / "course")
    (course / deadlines.FILE).write_text(DEADLINES)
    for student, (stamp, _) in HANDED_IN.items():
        notebook = submit(course, student)
        if stamp:
            (notebook.parent / "timestamp.txt").write_text(stamp)
        else:
            os.utime(notebook, (FILE_TIMES[student].timestamp(),) * 2)
    outcome = pipeline.run(course, pipeline.Settings(progress=False, workers=2, feedback=False, report=False))
    return course, outcome


def _submissions(course):
    from nbgrader.api import Gradebook

    with Gradebook(api(course).coursedir.db_url) as gb:
        return {s.student.id: (s.score, s.late_submission_penalty, s.extension, s.timestamp, s.assignment.duedate)
                for s in gb.find_assignment(ASSIGNMENT).submissions}


@pytest.mark.parametrize("student", HANDED_IN)
def test_nbgraders_gradebook_holds_the_penalty_the_policy_sets(graded, student):
    course, _ = graded
    score, penalty, _, _, duedate = _submissions(course)[student]
    assert score == 3 and duedate == datetime(2026, 3, 1, 12, 0)
    assert penalty == pytest.approx(score * HANDED_IN[student][1] / 100)


def test_extensions_are_nbgraders_own_and_file_times_stand_in_for_a_missing_timestamp(graded):
    course, outcome = graded
    found = _submissions(course)
    assert found["extended"][2] == timedelta(days=2) and found["late"][2] is None
    assert found["unstamped"][3] == FILE_TIMES["unstamped"].replace(tzinfo=None)
    notes = {p.student: p.message for p in outcome.problems}
    assert "no timestamp.txt" in notes["unstamped_late"] and "2026-03-13 09:00 UTC" in notes["unstamped_late"]
    assert "late" not in notes and "on_time" not in notes


def test_grades_csv_and_the_score_table_take_the_penalty_off(graded):
    course, outcome = graded
    rows = {row["student_id"]: row for row in csv.DictReader((course / "grades.csv").open())}
    assert {s: float(rows[s]["score"]) for s in HANDED_IN} == pytest.approx({s: 3 * (1 - pct / 100) for s, (_, pct) in HANDED_IN.items()})  # noqa: E501
    from autograde.outputs import report

    table = report.score_table(outcome.course.submissions, points=outcome.course.points)
    assert "after late penalties" in table.splitlines()[0]
    assert "late / tiny: 1.1 days late: −0.6 of 3 points" in table
    assert "extended_late / tiny: 6.0 h late, after an extension of 1 day: −0.3 of 3 points" in table
    assert "on_time / tiny" not in table and "extended / tiny" not in table


def test_nbgraders_own_autograde_applies_the_same_penalty(graded, tmp_path):
    """`nbgrader autograde` (here through NbGraderAPI, as the formgrader's button) uses the plugin too."""
    course = copy_course(graded[0], tmp_path / "course")
    (course / "gradebook.db").unlink()
    grader = api(course)
    from autograde.course import release

    release.generate(course, [ASSIGNMENT])
    result = grader.autograde(ASSIGNMENT, "extended_late", force=True, create=True)
    assert result["success"], result.get("log")
    assert _submissions(course)["extended_late"][1] == pytest.approx(0.3)


def test_penalties_follow_points_given_by_hand_and_a_changed_extension(graded, tmp_path):
    """nbgrader fixes a penalty when it autogrades; `reapply` brings it up to date later."""
    from nbgrader.api import Gradebook

    course = copy_course(graded[0], tmp_path / "course")
    grader = api(course)
    with Gradebook(grader.coursedir.db_url) as gb:
        grade = gb.find_submission(ASSIGNMENT, "late").notebooks[0].grades[0]
        grade.manual_score = 0  # the instructor takes a point away in the formgrader
        gb.db.commit()
    (course / deadlines.FILE).write_text(DEADLINES + f'\n[extensions.late]\n{ASSIGNMENT} = "1 day"\n')
    deadlines.reapply(grader)
    found = _submissions(course)
    assert found["late"][0] == 2 and found["late"][1] == pytest.approx(0.2)  # 2 h past the extension: 10 % of 2
    assert found["late"][2] == timedelta(days=1)


def test_an_earlier_due_date_and_a_withdrawn_extension_reach_submissions_that_had_no_penalty(graded, tmp_path):
    """`reapply` skips notebooks that are neither late nor penalised, but only after the file's dates
    are in the gradebook: a due date moved a day earlier makes "on_time" late, and "extended" loses
    its extension."""
    course = copy_course(graded[0], tmp_path / "course")
    assert _submissions(course)["on_time"][1] == 0 and _submissions(course)["extended"][1] == 0
    (course / deadlines.FILE).write_text(f"[due]\n{ASSIGNMENT} = 2026-02-28T12:00:00Z\n")
    deadlines.reapply(api(course))
    found = _submissions(course)
    assert found["on_time"][1] == pytest.approx(0.3)  # 24 h less 1 min late: one day begun, 10 % of 3
    assert found["extended"][2] is None and found["extended"][1] == pytest.approx(0.9)  # 50 h: three days begun


def test_a_broken_deadlines_file_stops_grading_before_anything_is_graded(tiny, tmp_path):
    course = copy_course(tiny, tmp_path / "course")
    (course / deadlines.FILE).write_text("[due]\ntiny = tomorrow\n")
    submit(course, "ana")
    with pytest.raises(pipeline.GradingError, match="not valid TOML") as caught:
        pipeline.run(course, pipeline.Settings(progress=False))
    assert caught.value.exit_code == 2 and not (course / "autograded").exists()
