"""Every notebook graded by the real nbgrader: solutions full marks, untouched zero; the answer
bank's correct variants keep full marks and its wrong answers lose points with the misconception
named. The bank is graded at the checker level (`support.checked_bank`); a sample of it is graded by
the whole pipeline as well and must score the same, cell by cell."""
from __future__ import annotations

import pytest
from conftest import full_run_sample
from grading_checks import assert_full_marks, assert_loses_with_tag, assert_zero

from autograde.samples import answer_bank
from autograde.course.release import assignments
from autograde.samples.submissions import solution_sources

ASSIGNMENTS = assignments()
ANSWERS = [a for aid in ASSIGNMENTS for a in answer_bank.load(aid)]
SAMPLED = [a for aid in ASSIGNMENTS for a in full_run_sample(aid)]
#: The least number of plausible wrong answers each notebook's bank must hold (set by its issue).
MIN_WRONG = {"01": 5, "02": 5, "03": 8, "04": 8, "05": 10, "06": 10, "07": 6}
full_run = pytest.mark.xdist_group("full-run")  # one worker grades the whole-pipeline sample once


def _id(answer: answer_bank.Answer) -> str:
    return f"{answer.assignment}-{answer.name}-{answer.label}"


@full_run
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_score_full_marks(graded, assignment):
    assert_full_marks(graded.result(assignment, "solution"))


@full_run
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_student_notebook_scores_zero(graded, assignment):
    assert_zero(graded.result(assignment, "untouched"))


@full_run
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_leave_written_answers_to_the_formgrader(graded, assignment):
    result = graded.result(assignment, "solution")
    written = [c for c in result.cells if c.written]
    assert written and all(c.score is None for c in written), "written answers must await manual grading"


@full_run
@pytest.mark.parametrize("answer", SAMPLED, ids=_id)
def test_the_checker_level_scores_a_bank_entry_as_the_whole_pipeline_does(graded, checked, answer):
    whole, checker = graded.of(answer), checked(answer)
    assert not whole.error, whole.error
    by_cell = {c.grade_id: (c.score, c.max_score, c.tags) for c in whole.cells if not c.written}
    cells = [c for c in checker.cells if not c.written]
    assert cells and all(by_cell[c.grade_id] == (c.score, c.max_score, c.tags) for c in cells), \
        [(c.grade_id, by_cell[c.grade_id], (c.score, c.max_score, c.tags)) for c in cells]
    if answer.kind == "right":
        assert_full_marks(whole)
    else:
        assert_loses_with_tag(whole, answer)


@pytest.mark.parametrize("answer", [a for a in ANSWERS if a.kind == "right"], ids=_id)
def test_alternative_correct_answer_keeps_full_marks(checked, answer):
    assert_full_marks(checked(answer))


@pytest.mark.parametrize("answer", [a for a in ANSWERS if a.kind == "wrong"], ids=_id)
def test_wrong_answer_loses_points_naming_the_mistake(checked, answer):
    assert_loses_with_tag(checked(answer), answer)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_answer_bank_covers_every_graded_name(assignment):
    bank = answer_bank.load(assignment)
    names = {n for n in solution_sources(assignment) if not n.startswith("written_")}
    wrong = [a for a in bank if a.kind == "wrong"]
    least = MIN_WRONG.get(assignment[:2], 5)
    assert len(wrong) >= least, f"{assignment}: only {len(wrong)} wrong answers in the bank (at least {least})"
    uncovered = names - {a.name for a in wrong}
    assert not uncovered, f"{assignment}: no wrong answer in the bank for {sorted(uncovered)}"


#: Graded names whose answer is a number: a visible test can only check its form, so it is worth 0 points.
VALUE_ANSWERS = {"max_stable_learning_rate", "best_step", "seed_step_error", "worked_delta", "good_learning_rate"}


@pytest.mark.parametrize("answer", [a for a in ANSWERS if a.kind == "wrong" and a.name in VALUE_ANSWERS], ids=_id)
def test_a_wrong_value_earns_nothing(checked, answer):
    cells = [c for c in checked(answer).cells if c.grade_id.startswith(f"test_{answer.name}")]
    assert cells and sum(c.score or 0 for c in cells) == 0, [(c.grade_id, c.score) for c in cells]


@pytest.mark.skipif("06_one_hidden_layer" not in ASSIGNMENTS, reason="no notebook 06")
def test_an_unseeded_init_params_is_named_in_the_train_test_not_train(checked):
    answer = answer_bank.find("06_one_hidden_layer", "init_params", "unseeded")
    failed = checked(answer).failed("test_train")
    assert failed, "a correct train after an unseeded init_params should still fail its start check"
    tags = {t for c in failed for t in c.tags}
    assert tags == {"unseeded-init"}, [c.message for c in failed]
    assert all("init_params" in c.message for c in failed)
