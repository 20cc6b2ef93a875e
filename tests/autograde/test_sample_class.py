"""The README's main job: the bundled sample class graded end to end by the real nbgrader."""
from __future__ import annotations

import pytest

from autograde import report, sample_class, submissions
from autograde.grade import autograde


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    course = sample_class.prepare_course(tmp_path_factory.mktemp("sample") / "course")
    count = sample_class.place_submissions(course)
    return count, {(r.student, r.assignment): r for r in autograde(course)}


def test_every_planned_submission_is_graded(graded_class):
    count, results = graded_class
    planned = {(s["id"], a) for s in sample_class.students() for a in s["assignments"]}
    assert count == len(planned) and set(results) == planned


@pytest.mark.parametrize("student", sample_class.students(), ids=lambda s: s["id"])
def test_each_sample_student_scores_as_their_profile_says(graded_class, student):
    _, results = graded_class
    for assignment, plan in student["assignments"].items():
        result = results[(student["id"], assignment)]
        assert not result.error, result.error
        expect = plan["expect"]
        if expect == "full":
            assert result.auto_score == result.auto_max, [c.message for c in result.failed()]
        elif expect == "zero":
            assert result.auto_score == 0
        else:
            assert 0 < result.auto_score < result.auto_max, f"{student['id']}/{assignment}: {result.auto_score}"
        for name in plan.get("answers", {}):
            if expect != "full":
                assert result.failed(f"test_{name}"), f"{student['id']}: {name} should lose points"


def test_score_table_lists_every_student(graded_class):
    _, results = graded_class
    table = report.score_table(list(results.values()))
    assert all(s["id"] in table for s in sample_class.students())


def test_a_submission_naming_an_unknown_answer_cell_is_refused():
    assignment = next(iter(sample_class.students()[0]["assignments"]))
    with pytest.raises(KeyError, match="no answer cell named nonexistent"):
        submissions.build(assignment, "untouched", {"nonexistent": "x = 1"})
