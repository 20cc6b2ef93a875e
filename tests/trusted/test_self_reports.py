"""Red team: nothing the student's process says about itself decides a grade.

05's complexity check times chain_gradient and counts its calls to chain_forward. The time is
the kernel's CPU clock read by the checker from outside the kernel, and the count is kept by the
checker's own function that the student's code calls back, so a kernel that rewrites
`time.process_time` or hides calls gains nothing; a check that wraps a student's function works
the same in trusted and in-kernel grading. An honest student graded after the attacker on the
same slot keeps full marks.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import released_course

from autograde import pipeline
from autograde.samples import answer_bank, submissions

ASSIGNMENT = "05_single_path_backprop"
QUADRATIC = answer_bank.find(ASSIGNMENT, "chain_gradient", "product-from-scratch").code
PER_WEIGHT = answer_bank.find(ASSIGNMENT, "chain_gradient", "forward-pass-per-weight").code
LIES_ABOUT_TIME = "import time\ntime.process_time = lambda: 0.0\ntime.perf_counter = lambda: 0.0\n\n" + QUADRATIC
STUDENTS = {"a_time_liar": LIES_ABOUT_TIME, "b_solution": None, "c_quadratic": QUADRATIC,
            "d_per_weight": PER_WEIGHT}


@pytest.fixture(scope="module")
def template(tmp_path_factory, released):
    course = released(tmp_path_factory.mktemp("self-reports"))
    # The liar's clock stops the notebook's own timing demonstration from ever finishing: it waits
    # out the cell limit, which proves nothing at 30 s that it does not at 12 (honest: about 2 s).
    released_course.limit_cells(course, 12)
    for student, code in STUDENTS.items():
        answers = {"chain_gradient": code} if code else {}
        submissions.write(submissions.build(ASSIGNMENT, "solution", answers), course, student, ASSIGNMENT)
    return course


def _grade(template, folder, trusted: bool, students=STUDENTS) -> dict:
    course = folder / "course"
    shutil.copytree(template, course, ignore=lambda where, names: [n for n in names if Path(where).name == "submitted"
                                                                    and n not in students])
    outcome = pipeline.run(course, pipeline.Settings(progress=False, feedback=False, report=False,
                                                           workers=1, trusted=trusted))
    return {r.student: r for r in outcome.results}


@pytest.fixture(scope="module")
def trusted(template, tmp_path_factory):
    return _grade(template, tmp_path_factory.mktemp("trusted"), True)


@pytest.fixture(scope="module")
def in_kernel(template, tmp_path_factory):
    """The honest answers only: what in-kernel grading makes of the liar proves nothing here."""
    return _grade(template, tmp_path_factory.mktemp("in-kernel"), False, [s for s in STUDENTS if s != "a_time_liar"])


def test_lying_about_cpu_time_gains_nothing(trusted):
    liar, honest_content = trusted["a_time_liar"], trusted["c_quadratic"]
    assert liar.auto_score <= honest_content.auto_score < honest_content.auto_max
    assert "[quadratic-time]" in liar.cell("test_chain_gradient_hidden").message


def test_the_honest_student_after_the_liar_keeps_full_marks(trusted):
    solution = trusted["b_solution"]
    assert solution.auto_score == solution.auto_max, [(c.grade_id, c.message[:200]) for c in solution.failed()]


def test_a_check_that_counts_calls_to_a_students_function_counts_them_in_trusted_grading(trusted):
    message = trusted["d_per_weight"].cell("test_chain_gradient_hidden").message
    assert "ran chain_forward 10, 20 and 40 times" in message, message


def test_trusted_and_in_kernel_grading_give_the_honest_answers_the_same_cells(trusted, in_kernel):
    for student in ("b_solution", "c_quadratic", "d_per_weight"):
        ours = {c.grade_id: c.score for c in trusted[student].cells}
        theirs = {c.grade_id: c.score for c in in_kernel[student].cells}
        assert ours == theirs, student
