"""Unit tests of the misconception helpers that issue 12 added: the left tail of σ and σ' caught by its
value, a train test that names an unseeded init_params, hints that name the idea and not the line."""
import mpmath
import numpy as np
import pytest
from failures import failure

from backprop_course.checks import check_call
from backprop_course.misconceptions import one_hidden_layer, symbolic_derivatives
from backprop_course.misconceptions.symbolic_derivatives import LEFT_TAIL, left_tail_mistakes

TAIL = [float(1 / (1 + mpmath.exp(-z))) for z in LEFT_TAIL]
SLOPE_TAIL = [float(mpmath.exp(z) / (1 + mpmath.exp(z)) ** 2) for z in LEFT_TAIL]


def _stable(z):
    u = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + u), u / (1 + u))


def _silenced(z):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _tail(function, expected, what="σ(z)"):
    return check_call(np.errstate(under="ignore")(function), np.array(LEFT_TAIL), expected=expected, kind="array",
                      rtol=1e-9, atol=0.0, name="sigmoid", mistakes=left_tail_mistakes(what, expected), no_warnings=True)


def test_the_stable_sigmoid_and_its_slope_keep_the_left_tail():
    _tail(_stable, TAIL)
    _tail(lambda z: _stable(z) * (1 - _stable(z)), SLOPE_TAIL, "σ'(z)")


@pytest.mark.parametrize("function, tag", [
    (_silenced, "overflow-silenced"),
    (lambda z: 0.5 * (1 + np.tanh(0.5 * z)), "tail-cancellation"),
    (lambda z: 1 / (1 + np.exp(-np.clip(z, -500, 500))), "clipped-input"),
])
def test_a_sigmoid_that_loses_the_left_tail_is_named_by_its_value(function, tag):
    error = failure(_tail, function, TAIL)
    assert error.tag == tag and ("4.48e−309" in str(error) or "4.2e−18" in str(error))


def test_the_slope_hints_speak_of_the_slope():
    error = failure(_tail, lambda z: _silenced(z) * (1 - _silenced(z)), SLOPE_TAIL, "σ'(z)")
    assert error.tag == "overflow-silenced" and "σ'(z) at z = −710" in str(error)
    assert "σ'(z)" in symbolic_derivatives.STABLE_SIGMOID_PRIME_HINT and "s(1 − s)" in symbolic_derivatives.STABLE_SIGMOID_PRIME_HINT  # noqa: E501


def _seeded(n_in, n_hidden, n_out, seed=0):
    draw = np.random.default_rng(seed)
    return {"W1": draw.normal(size=(n_in, n_hidden)), "b1": np.zeros(n_hidden),
            "W2": draw.normal(size=(n_hidden, n_out)), "b2": np.zeros(n_out)}


def test_a_train_test_names_an_unseeded_init_params_instead_of_train():
    start = one_hidden_layer.check_reproducible_start(_seeded, 2, 3, 1, seed=5)
    assert np.array_equal(start["W1"], _seeded(2, 3, 1, seed=5)["W1"])

    def unseeded(n_in, n_hidden, n_out, seed=0):
        return _seeded(n_in, n_hidden, n_out, seed=None)

    error = failure(one_hidden_layer.check_reproducible_start, unseeded, 2, 3, 1, seed=5)
    assert error.tag == "unseeded-init" and "init_params(2, 3, 1, seed=5)" in str(error)


def test_the_loss_hint_points_at_the_idea_not_at_the_solution_line():
    hint = one_hidden_layer._LOSS_MEAN_ALL
    assert "np.sum" not in hint and "/ (2 * N)" not in hint and "samples" in hint


def test_a_run_whose_loss_ever_rises_is_not_blamed_on_a_rate_too_small():
    from backprop_course.misconceptions.training_lab import rate_mistake

    falling = 0.2 * np.exp(-np.arange(301) / 400)
    rising_twice = falling.copy()
    rising_twice[[50, 200]] *= 1.01  # two small overshoots, as learning rate 1.3 gives on the lab's data
    assert rate_mistake(falling).tag == "lr-too-small"
    assert rate_mistake(rising_twice).tag == "lr-too-large"
