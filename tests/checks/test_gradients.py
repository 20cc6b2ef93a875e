"""The gradient-check assertion names the wrong parameter and the telling ratio's misconception."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_course.checks import CheckFailure, check_gradients, gradient_error, telling_ratio

REFERENCE = {"w": np.array([0.12, -0.3, 0.05]), "b": 0.4}


def _scaled(factor: float) -> dict:
    return {"w": factor * REFERENCE["w"], "b": factor * REFERENCE["b"]}


def test_matching_gradients_pass_and_report_each_parameters_error():
    errors = check_gradients(_scaled(1.0), REFERENCE, "gradients(X, y, w, b)")
    assert errors == {"w": 0.0, "b": 0.0}


@pytest.mark.parametrize("factor, tag", [(-1.0, "gradient-sign"), (7.0, "missing-mean-factor"),
                                         (1 / 7, "double-mean-factor"), (2.0, "missing-half"),
                                         (0.5, "extra-half")])
def test_a_telling_constant_ratio_names_its_misconception(factor, tag):
    with pytest.raises(CheckFailure) as failure:
        check_gradients(_scaled(factor), REFERENCE, "gradients(X, y, w, b)", n_samples=7)
    assert failure.value.tag == tag and f"[{tag}]" in str(failure.value)
    assert "gradient for w" in str(failure.value)


def test_the_first_wrong_parameter_is_named():
    got = {"w": REFERENCE["w"].copy(), "b": 0.9}
    with pytest.raises(CheckFailure, match="gradient for b is wrong") as failure:
        check_gradients(got, REFERENCE, "backward(T, params, cache)")
    assert failure.value.tag == "wrong-value"


def test_without_n_the_mean_factor_ratios_are_not_claimed():
    with pytest.raises(CheckFailure) as failure:
        check_gradients(_scaled(7.0), REFERENCE, "g")
    assert failure.value.tag == "wrong-value"


def test_a_ratio_that_is_not_constant_is_not_telling():
    got = REFERENCE["w"] * np.array([-1.0, 1.0, -1.0])
    assert telling_ratio(got, REFERENCE["w"], 3) is None


def test_missing_keys_wrong_shapes_and_non_dicts_fail_clearly():
    with pytest.raises(CheckFailure, match="no gradient for b"):
        check_gradients({"w": REFERENCE["w"]}, REFERENCE, "g")
    with pytest.raises(CheckFailure, match="shape"):
        check_gradients({"w": REFERENCE["w"][:2], "b": 0.4}, REFERENCE, "g")
    with pytest.raises(CheckFailure, match="dict of gradients"):
        check_gradients((REFERENCE["w"], 0.4), REFERENCE, "g")


def test_gradient_error_is_symmetric_and_zero_for_two_zero_gradients():
    a, b = np.array([1.0, 2.0]), np.array([1.5, 2.0])
    assert gradient_error(a, b) == pytest.approx(gradient_error(b, a)) == pytest.approx(0.5 / (np.hypot(1, 2) + np.hypot(1.5, 2)))
    assert gradient_error(np.zeros(3), np.zeros(3)) == 0.0
