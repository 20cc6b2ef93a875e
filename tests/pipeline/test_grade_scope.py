"""Grading some students or some assignments: only those are graded again, yet the totals, the
report and grades.csv cover the whole gradebook, and the totals are the formgrader's."""
from __future__ import annotations

import csv
import json
import shutil

import nbformat
import pytest
from support.tiny_course import ASSIGNMENT, make_course, submit

from autograde import cli, pipeline
from autograde.course import release
from autograde.engine import coordinator
from autograde.course.nbgrader_app import api

SECOND = "tiny_b"


def settings(**kw) -> pipeline.Settings:
    return pipeline.Settings(progress=False, workers=2, **kw)


def _add_second_assignment(course):
    """A second assignment, the same notebook under another name."""
    source = course / "solutions" / SECOND
    source.mkdir(parents=True)
    shutil.copy(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", source / f"{SECOND}.ipynb")
    release.generate(course, [SECOND])


def _submit_second(course, student):
    nb = nbformat.read(course / "course" / SECOND / f"{SECOND}.ipynb", as_version=4)
    folder = course / "submitted" / student / SECOND
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{SECOND}.ipynb")  # handed in untouched: 0 points


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """ana and ben handed in both assignments; dana only the first (as dana in the sample class)."""
    course = make_course(tmp_path_factory.mktemp("scope") / "course")
    _add_second_assignment(course)
    for student in ("ana", "ben", "dana"):
        submit(course, student)
    for student in ("ana", "ben"):
        _submit_second(course, student)
    first = pipeline.run(course, settings())
    return course, first


def _journal(course, student, assignment):
    return json.loads((course / "autograded" / student / assignment / coordinator.JOURNAL).read_text())


def test_a_student_with_one_submission_of_two_counts_zero_for_the_other(graded, capsys):
    course, outcome = graded
    cli._print(outcome)
    table = capsys.readouterr().out
    dana = next(line for line in table.splitlines() if line.startswith("dana"))
    assert dana.split() == ["dana", "3/3", "—", "3/6"]


def test_cli_totals_equal_the_formgraders_and_grades_csv(graded, capsys):
    course, outcome = graded
    formgrader = {s["id"]: (s["score"], s["max_score"]) for s in api(course).get_students()}
    exported: dict[str, list[float]] = {}
    for row in csv.DictReader((course / "grades.csv").open()):
        exported.setdefault(row["student_id"], [0.0, 0.0])
        exported[row["student_id"]][0] += float(row["score"])
        exported[row["student_id"]][1] += float(row["max_score"])
    cli._print(outcome)
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:5]}
    for student, (score, max_score) in formgrader.items():
        assert lines[student][-1] == f"{score:g}/{max_score:g}"
        assert exported[student] == [score, max_score]
    assert set(formgrader) == {"ana", "ben", "dana"}


def test_naming_students_regrades_only_them_and_writes_only_their_feedback(graded, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(graded[0], course)
    before = {s: _journal(course, s, ASSIGNMENT) for s in ("ana", "ben")}
    (course / "feedback").exists() and shutil.rmtree(course / "feedback")
    outcome = pipeline.run(course, settings(students=["ben"]))
    assert sorted((r.student, r.assignment) for r in outcome.results) == [("ben", ASSIGNMENT), ("ben", SECOND)]
    assert outcome.graded == 2 and outcome.resumed == 0  # graded again although nothing changed
    assert sorted(p.parent.parent.name for p in outcome.feedback) == ["ben", "ben"]
    assert _journal(course, "ana", ASSIGNMENT) == before["ana"]
    assert {r.student for r in outcome.course.submissions} == {"ana", "ben", "dana"}


def test_an_unknown_student_is_said_and_nothing_else_is_graded(graded, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(graded[0], course)
    outcome = pipeline.run(course, settings(students=["zoe"], report=False, feedback=False))
    assert outcome.graded == 0 and not outcome.results
    assert [(p.student, p.message) for p in outcome.problems] == [
        ("zoe", "no submission from this student under submitted/ for the assignments asked for: nothing graded")]


def test_grading_one_assignment_keeps_the_report_and_totals_whole(graded, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(graded[0], course)
    outcome = pipeline.run(course, settings(assignments=[ASSIGNMENT], regrade=True))
    assert {r.assignment for r in outcome.results} == {ASSIGNMENT}
    assert not [p for p in outcome.problems if "unknown assignment folder" in p.message]
    assert set(outcome.course.points) == {ASSIGNMENT, SECOND}
    page = outcome.report.read_text()
    assert SECOND in page and ASSIGNMENT in page
    rows = list(csv.DictReader((course / "grades.csv").open()))
    assert {row["assignment"] for row in rows} == {ASSIGNMENT, SECOND}


def test_a_real_unknown_folder_is_still_named(graded, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(graded[0], course)
    (course / "submitted" / "ana" / "homework9").mkdir()
    outcome = pipeline.run(course, settings(assignments=[ASSIGNMENT], report=False, feedback=False))
    assert [p.message for p in outcome.problems if p.student == "ana"] == ["unknown assignment folder 'homework9': skipped"]


def test_asking_for_an_assignment_the_course_lacks_is_one_line(graded):
    with pytest.raises(pipeline.GradingError, match="no assignment named 'homework9' in solutions/") as caught:
        pipeline.run(graded[0], settings(assignments=["homework9"]))
    assert caught.value.exit_code == 2
