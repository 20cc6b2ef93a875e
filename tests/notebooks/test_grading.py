"""Every notebook graded by the real nbgrader: solutions full marks, untouched zero, the answer
bank's correct variants full marks, its wrong answers lose points with the misconception named."""
from __future__ import annotations

import pytest
from conftest import by_assignment, chunk_of
from grading_checks import assert_full_marks, assert_loses_with_tag, assert_zero

from autograde import answer_bank
from autograde.release import assignments
from autograde.submissions import solution_sources

ASSIGNMENTS = assignments()
ANSWERS = [a for aid in ASSIGNMENTS for a in answer_bank.load(aid)]
#: The least number of plausible wrong answers each notebook's bank must hold (set by its issue).
MIN_WRONG = {"01": 5, "02": 5, "03": 8, "04": 8, "05": 10, "06": 10, "07": 6}


@pytest.mark.parametrize("assignment", [by_assignment(a) for a in ASSIGNMENTS])
def test_solutions_score_full_marks(graded, assignment):
    assert_full_marks(graded(assignment).result("solution"))


@pytest.mark.parametrize("assignment", [by_assignment(a) for a in ASSIGNMENTS])
def test_untouched_student_notebook_scores_zero(graded, assignment):
    assert_zero(graded(assignment).result("untouched"))


@pytest.mark.parametrize("assignment", [by_assignment(a) for a in ASSIGNMENTS])
def test_solutions_leave_written_answers_to_the_formgrader(graded, assignment):
    result = graded(assignment).result("solution")
    written = [c for c in result.cells if c.written]
    assert written and all(c.score is None for c in written), "written answers must await manual grading"


def _bank(kind: str) -> list:
    return [by_assignment(a.assignment, a, chunk=chunk_of(a), id=f"{a.assignment}-{a.name}-{a.label}")
            for a in ANSWERS if a.kind == kind]


@pytest.mark.parametrize("assignment, answer", _bank("right"))
def test_alternative_correct_answer_keeps_full_marks(graded, assignment, answer):
    assert_full_marks(graded(assignment, chunk_of(answer)).of(answer))


@pytest.mark.parametrize("assignment, answer", _bank("wrong"))
def test_wrong_answer_loses_points_naming_the_mistake(graded, assignment, answer):
    assert_loses_with_tag(graded(assignment, chunk_of(answer)).of(answer), answer)


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


@pytest.mark.parametrize("assignment, answer", [
    by_assignment(a.assignment, a, chunk=chunk_of(a), id=f"{a.assignment}-{a.name}-{a.label}")
    for a in ANSWERS if a.kind == "wrong" and a.name in VALUE_ANSWERS])
def test_a_wrong_value_earns_nothing(graded, assignment, answer):
    result = graded(assignment, chunk_of(answer)).of(answer)
    cells = [c for c in result.cells if c.grade_id.startswith(f"test_{answer.name}")]
    assert cells and sum(c.score or 0 for c in cells) == 0, [(c.grade_id, c.score) for c in cells]


@pytest.mark.parametrize("assignment", [by_assignment("06_one_hidden_layer", chunk=chunk_of(
    answer_bank.find("06_one_hidden_layer", "init_params", "unseeded")))] if "06_one_hidden_layer" in ASSIGNMENTS else [])
def test_an_unseeded_init_params_is_named_in_the_train_test_not_train(graded, assignment):
    answer = answer_bank.find(assignment, "init_params", "unseeded")
    failed = graded(assignment, chunk_of(answer)).of(answer).failed("test_train")
    assert failed, "a correct train after an unseeded init_params should still fail its start check"
    tags = {t for c in failed for t in c.tags}
    assert tags == {"unseeded-init"}, [c.message for c in failed]
    assert all("init_params" in c.message for c in failed)
