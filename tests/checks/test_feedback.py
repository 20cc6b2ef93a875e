"""Unit tests of backprop_course.checks.feedback: what a failed check says, and passed()."""
import dataclasses
import re

import numpy as np
import pytest

from backprop_course.checks import CheckFailure, Mistake, passed
from backprop_course.checks.feedback import GENERIC_TAG, describe_call, fail, fail_plain, short_repr


def first_tag(message: str) -> str:
    """The first ``[tag]`` in a failure message."""
    found = re.search(r"\[([A-Za-z0-9_-]+)\]", message)
    assert found, f"no [tag] in {message!r}"
    return found.group(1)


# --- CheckFailure ------------------------------------------------------------------------

def test_check_failure_is_an_assertion_error_so_nbgrader_scores_it_as_a_failed_test():
    assert issubclass(CheckFailure, AssertionError)


def test_check_failure_default_tag_is_wrong_value():
    assert GENERIC_TAG == "wrong-value"
    assert CheckFailure("message").tag == "wrong-value"


# --- fail / fail_plain -------------------------------------------------------------------

def test_fail_message_states_the_call_what_came_back_what_was_expected_and_the_tag():
    with pytest.raises(CheckFailure) as info:
        fail("df(8.0)", "-12.0", "12.0", "gradient-sign", "Differentiate, do not negate.")
    message = str(info.value)
    assert message.splitlines()[0] == "df(8.0) returned -12.0"
    assert "  expected: 12.0" in message
    assert "[gradient-sign] Differentiate, do not negate." in message
    assert info.value.tag == "gradient-sign" == first_tag(message)


def test_fail_on_a_name_not_a_call_says_is_rather_than_returned():
    with pytest.raises(CheckFailure) as info:
        fail("max_stable_learning_rate", "3.0", "a float below 1")
    assert str(info.value).startswith("max_stable_learning_rate is 3.0")


def test_fail_without_hint_gives_generic_advice_and_the_wrong_value_tag():
    with pytest.raises(CheckFailure) as info:
        fail("f(1.0)", "2.0", "3.0")
    assert info.value.tag == "wrong-value" == first_tag(str(info.value))
    assert "Compare your code with the formula" in str(info.value)


def test_fail_plain_puts_the_tag_in_the_message_and_on_the_exception():
    with pytest.raises(CheckFailure) as info:
        fail_plain("something odd happened.", "odd-thing")
    assert str(info.value) == "something odd happened.\n[odd-thing]"
    assert info.value.tag == "odd-thing"


# --- short_repr / describe_call ------------------------------------------------------------

def test_short_repr_of_an_array_names_shape_and_dtype():
    text = short_repr(np.array([1.0, 2.0]))
    assert text.startswith("array([1., 2.]")
    assert "shape=(2,)" in text and "dtype=float64" in text


def test_short_repr_is_one_line_and_truncated_to_the_limit():
    text = short_repr(list(range(1000)), limit=30)
    assert len(text) == 30 and text.endswith("…")
    assert "\n" not in short_repr(np.eye(5))


def test_short_repr_survives_an_object_whose_repr_raises():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr")

    assert short_repr(Broken()) == "<Broken object>"


def test_describe_call_shows_arguments_and_keyword_arguments():
    assert describe_call("f", (1.0, np.array([2.0])), {"h": 0.5}) == "f(1.0, array([2.]), h=0.5)"
    assert describe_call("g") == "g()"


# --- Mistake -----------------------------------------------------------------------------

def test_mistake_is_frozen_so_a_misconception_module_cannot_be_changed_by_a_test_cell():
    mistake = Mistake("sigmoid-sign", "hint", value=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mistake.tag = "other"


# --- passed ------------------------------------------------------------------------------

def test_passed_says_hidden_tests_run_at_grading_time_and_returns_none(capsys):
    result = passed("df")
    out, err = capsys.readouterr()
    assert result is None  # a test cell must never end with a number
    assert err == ""
    assert out.count("\n") == 1
    assert "df" in out and "passed" in out
    assert "Hidden tests" in out and "graded" in out


def test_passed_without_hidden_tests_does_not_mention_them(capsys):
    assert passed("df", hidden=False) is None
    out = capsys.readouterr().out
    assert "df" in out and "Hidden" not in out


def test_defined_returns_the_value_or_tells_the_student_to_run_the_answer_cell():
    from backprop_course.checks import defined

    assert defined("rate", {"rate": 0.5}) == 0.5
    with pytest.raises(CheckFailure, match="rate is not defined yet") as failure:
        defined("rate", {})
    assert failure.value.tag == "not-implemented"


def test_functions_passed_as_arguments_are_shown_by_name():
    def cube(v):
        return v ** 3

    assert describe_call("numerical_gradient", (cube, np.array([1.0]))) == "numerical_gradient(cube, array([1.]))"
    assert describe_call("gradient_descent", (lambda x: x, 8.0)) == "gradient_descent(a lambda, 8.0)"
