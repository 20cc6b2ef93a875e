"""Red team: the trusted checker has limits too. An answer that makes a check allocate gigabytes or
compute for ever inside a C function costs that check only (at most one cell timeout, at most
512 MB of the checker's memory) and never the next student's grade on the same slot."""
from __future__ import annotations

import time

import pytest
from support.tiny_course import ASSIGNMENT, make_course, submit

from autograde import pipeline

# Test cells of the instructor's, run by the checker. The convolution is instant for a right
# square(3) (arrays of one entry) and takes many minutes for the attacker's (10**12 products in one
# NumPy C loop, where no alarm reaches); the allocation asks for 2 GiB when square(4) says so.
EXTRA = (("test_power", "import numpy as np\n_n = abs(square(3) - 9) + 1\n"
                        "np.convolve(np.ones(_n), np.ones(_n))\nassert _n == 1, 'power'"),
         ("test_memory", "_size = square(4) - 16\n_hog = bytearray(_size)\nassert _size == 0, 'memory'"))
STUCK = "def square(x):\n    return 10**6 + 9 if x == 3 else x * x"
GREEDY = "def square(x):\n    return (2 << 30) + 16 if x == 4 else x * x"
CELL_TIMEOUT = 3
CHECK_TIME_FACTOR = 2  # the course's (the default is 4): the stuck check computes until it is stopped


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("limits") / "course", cell_timeout=CELL_TIMEOUT, extra_tests=EXTRA,
                         check_time_factor=CHECK_TIME_FACTOR)
    submit(course, "a_stuck", STUCK)
    submit(course, "b_honest")
    submit(course, "c_greedy", GREEDY)
    submit(course, "d_honest")
    started = time.perf_counter()
    outcome = pipeline.run(course, pipeline.Settings(progress=False, feedback=False, report=False, workers=1))
    return outcome, time.perf_counter() - started


def _result(outcome, student):
    return next(r for r in outcome.results if (r.student, r.assignment) == (student, ASSIGNMENT))


def test_a_check_stuck_in_c_code_costs_that_cell_only(graded):
    outcome, _ = graded
    stuck = _result(outcome, "a_stuck")
    assert {c.grade_id for c in stuck.failed()} == {"test_three", "test_power"}, [
        (c.grade_id, c.message) for c in stuck.failed()]
    assert f"ran longer than {CELL_TIMEOUT * CHECK_TIME_FACTOR:g} s and was stopped" in stuck.cell("test_power").message
    assert outcome.seconds[("a_stuck", ASSIGNMENT)] < 4 * (CELL_TIMEOUT * CHECK_TIME_FACTOR + 5) + 30


def test_a_check_that_would_allocate_gigabytes_meets_the_checkers_memory_limit(graded):
    outcome, _ = graded
    greedy = _result(outcome, "c_greedy")
    assert {c.grade_id for c in greedy.failed()} == {"test_memory"}
    assert "MemoryError" in greedy.cell("test_memory").message


@pytest.mark.parametrize("student", ["b_honest", "d_honest"])
def test_the_honest_student_after_it_on_the_same_slot_keeps_full_marks(graded, student):
    outcome, _ = graded
    result = _result(outcome, student)
    assert (result.auto_score, result.error) == (5, ""), [(c.grade_id, c.message) for c in result.failed()]
    assert outcome.failed == {}
