"""Unit tests of backprop_course.checks.numeric (and backprop_course.seeding).

Coercion to plain float64, dtype/shape checks, NaN/inf comparison, call() on student
functions (stubs, exceptions, mutated inputs, warnings), Mistakes and failure messages.
"""
import sys
import warnings

import numpy as np
import pytest

from failures import failure

from backprop_course.checks import (CheckFailure, Mistake, as_float, as_float_array, call, check_call,
                                    check_value, close)
from backprop_course.seeding import COURSE_SEED, rng




# --- objects that lie about themselves ------------------------------------------------------

class AlwaysEqual:
    """Says it equals anything, is close to anything, and converts to whatever is wanted."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __sub__(self, other):
        return 0.0

    __rsub__ = __sub__

    def __abs__(self):
        return 0.0

    def __float__(self):
        return 0.5

    def __array__(self, dtype=None, copy=None):
        return np.full(3, 0.5)


class LyingFloat(float):
    """A float subclass whose comparison and conversion dunders all claim the expected 0.5."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__

    def __sub__(self, other):
        return 0.0

    def __rsub__(self, other):
        return 0.0

    def __abs__(self):
        return 0.0

    def __float__(self):
        return 0.5


class LyingInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__

    def __float__(self):
        return 0.5

    def __index__(self):
        return 7  # int.__index__ is what the library must use, not this


class LyingArray(np.ndarray):
    """An ndarray subclass whose == and - claim equality with anything."""

    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)

    def __sub__(self, other):
        return np.zeros(self.shape)

    def __abs__(self):
        return np.zeros(self.shape)


# --- coercion: nothing a student returns compares itself --------------------------------------

def test_object_whose_eq_always_says_true_fails_check_value_as_not_a_float():
    error = failure(check_value, AlwaysEqual(), 0.5, "f(1.0)")
    assert error.tag == "not-a-float"


def test_object_whose_eq_always_says_true_fails_check_value_for_arrays():
    error = failure(check_value, AlwaysEqual(), np.full(3, 0.5), "f(x)", kind="array")
    assert error.tag == "not-an-array"


def test_object_whose_eq_always_says_true_fails_check_call():
    error = failure(check_call, lambda x: AlwaysEqual(), 1.0, expected=0.5, name="f")
    assert error.tag == "not-a-float"


def test_float_subclass_overriding_eq_sub_abs_float_is_compared_by_its_real_value():
    error = failure(check_value, LyingFloat(3.0), 0.5, "f(1.0)")
    assert error.tag == "wrong-value"
    assert "f(1.0) returned 3.0" in str(error)


def test_float_subclass_with_the_right_value_passes_and_comes_back_as_plain_float64():
    result = check_value(LyingFloat(0.5), 0.5, "f(1.0)")
    assert type(result) is np.ndarray and result.dtype == np.float64 and float(result) == 0.5


def test_int_subclass_overriding_eq_float_and_index_is_compared_by_its_real_value():
    assert as_float(LyingInt(3), "n") == 3.0
    error = failure(check_value, LyingInt(3), 0.5, "n")
    assert error.tag == "wrong-value"


def test_ndarray_subclass_overriding_eq_fails_check_value_with_its_real_values():
    lying = np.array([1.0, 2.0, 3.0]).view(LyingArray)
    assert bool(np.all(lying == np.zeros(3)))  # the object really does lie
    error = failure(check_value, lying, np.zeros(3), "f(x)", kind="array")
    assert error.tag == "wrong-value"
    assert "1., 2., 3." in str(error)


def test_ndarray_subclass_overriding_eq_fails_check_call():
    error = failure(check_call, lambda x: np.asarray(x + 1.0).view(LyingArray), np.zeros(2),
                    expected=np.zeros(2), kind="array", name="f")
    assert error.tag == "wrong-value"


def test_ndarray_subclass_with_right_values_comes_back_as_a_plain_ndarray_copy():
    got = np.array([1.0, 2.0]).view(LyingArray)
    result = check_value(got, np.array([1.0, 2.0]), "f(x)", kind="array")
    assert type(result) is np.ndarray and result.dtype == np.float64
    result[0] = 99.0
    assert got[0] == 1.0  # a fresh copy, not a view of what the student returned


def test_list_is_rejected_for_kind_array():
    error = failure(check_value, [1.0, 2.0], np.array([1.0, 2.0]), "f(x)", kind="array")
    assert error.tag == "not-an-array"
    assert "list" in str(error)


def test_tuple_and_number_are_rejected_for_kind_array():
    assert failure(check_value, (1.0, 2.0), np.array([1.0, 2.0]), "f(x)", kind="array").tag == "not-an-array"
    assert failure(check_value, 1.0, np.array([1.0]), "f(x)", kind="array").tag == "not-an-array"


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_])
def test_float32_int_and_bool_arrays_fail_with_not_float64(dtype):
    error = failure(check_value, np.ones(3, dtype=dtype), np.ones(3), "f(x)", kind="array")
    assert error.tag == "not-float64"
    assert "dtype float64" in str(error) and np.dtype(dtype).name in str(error)


@pytest.mark.parametrize("values", [np.ones(2, dtype=complex), np.array([1.0, "a"], dtype=object),
                                    np.array(["1.0", "2.0"])])
def test_complex_object_and_string_arrays_fail_with_not_a_number(values):
    assert failure(as_float_array, values, "f(x)").tag == "not-a-number"


def test_wrong_shape_fails_with_wrong_shape_naming_both_shapes():
    error = failure(check_value, np.ones((3, 1)), np.ones(3), "f(x)", kind="array")
    assert error.tag == "wrong-shape"
    assert "(3, 1)" in str(error) and "(3,)" in str(error)


def test_explicit_shape_argument_is_enforced():
    assert failure(as_float_array, np.ones(4), "W", shape=(2, 2)).tag == "wrong-shape"
    assert as_float_array(np.ones((2, 2)), "W", shape=(2, 2)).shape == (2, 2)


def test_same_size_different_shape_is_not_broadcast_into_a_pass():
    assert not close(np.ones((2, 1)), np.ones((1, 2)))
    assert not close(np.ones(1), np.ones(()))


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_bools_are_rejected_where_floats_are_expected(value):
    error = failure(check_value, value, float(value), "is_converged")
    assert error.tag == "not-a-float"


@pytest.mark.parametrize("value", [np.array(0.5), np.float64(0.5), 0.5, np.float32(0.5)])
def test_zero_d_float64_arrays_and_numpy_scalars_are_accepted_as_floats(value):
    result = check_value(value, 0.5, "f(1.0)")
    assert type(result) is np.ndarray and result.dtype == np.float64 and result.shape == ()
    assert float(result) == 0.5


def test_python_int_is_accepted_as_a_float():
    assert as_float(3, "n") == 3.0 and type(as_float(3, "n")) is float


def test_one_element_array_is_not_a_float_and_the_hint_suggests_float():
    error = failure(check_value, np.array([0.5]), 0.5, "f(1.0)")
    assert error.tag == "not-a-float"
    assert "float(...)" in str(error)


def test_string_is_not_a_float():
    assert failure(check_value, "0.5", 0.5, "f(1.0)").tag == "not-a-float"


def test_unknown_kind_is_an_authoring_error_not_a_student_failure():
    with pytest.raises(ValueError):
        check_value(0.5, 0.5, "f", kind="integer")


# --- comparison: NaN, infinities, tolerance ----------------------------------------------------

def test_nan_returned_where_a_number_is_expected_fails():
    assert failure(check_value, float("nan"), 1.0, "f(1.0)").tag == "wrong-value"
    assert failure(check_value, np.array([1.0, np.nan]), np.array([1.0, 2.0]), "f(x)",
                   kind="array").tag == "wrong-value"


def test_number_returned_where_nan_is_expected_fails():
    assert failure(check_value, 1.0, float("nan"), "f(1.0)").tag == "wrong-value"


def test_nan_equals_nan():
    check_value(float("nan"), float("nan"), "f(1.0)")
    check_value(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), "f(x)", kind="array")


def test_matching_infinities_pass():
    check_value(float("inf"), float("inf"), "f(1.0)")
    check_value(np.array([-np.inf, np.inf]), np.array([-np.inf, np.inf]), "f(x)", kind="array")


def test_infinity_returned_where_a_finite_number_is_expected_fails():
    assert failure(check_value, float("inf"), 5.0, "f(1.0)").tag == "wrong-value"


def test_minus_infinity_does_not_match_plus_infinity():
    assert not close(-np.inf, np.inf)


def test_finite_value_returned_where_infinity_is_expected_fails():
    with pytest.raises(CheckFailure):
        check_value(0.0, float("inf"), "f(1000.0)")


def test_values_within_relative_tolerance_pass_and_beyond_fail():
    check_value(1.0 + 1e-9, 1.0, "f(1.0)")
    assert failure(check_value, 1.0 + 1e-5, 1.0, "f(1.0)").tag == "wrong-value"
    check_value(1.0 + 1e-5, 1.0, "f(1.0)", rtol=1e-3)


def test_array_failure_names_the_index_of_the_largest_difference():
    error = failure(check_value, np.array([1.0, 2.0, 30.0]), np.array([1.0, 2.0, 3.0]), "f(x)", kind="array")
    assert "largest difference at index 2: 30 instead of 3" in str(error)


# --- nothing reaches stderr ---------------------------------------------------------------------

def stable_sigmoid_big(x):
    """Correct at x = 1000 but passes through overflow (exp) and invalid (inf/inf) warnings."""
    big = np.exp(x)
    ratio = big / (1.0 + big)
    return np.where(np.isinf(big), 1.0, ratio)


@pytest.fixture
def warnings_print_to_stderr():
    """Make every warning that escapes print to sys.stderr (pytest would otherwise record it)."""
    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield


def test_control_the_overflowing_function_does_write_to_stderr_when_called_directly(
        capfd, warnings_print_to_stderr):
    stable_sigmoid_big(np.array([1000.0]))
    assert "RuntimeWarning" in capfd.readouterr().err  # so the next tests can fail


def test_check_call_on_a_function_that_overflows_writes_nothing_to_stderr(capfd, warnings_print_to_stderr):
    result = check_call(stable_sigmoid_big, np.array([1000.0]), expected=np.array([1.0]), kind="array",
                        name="sigmoid")
    out, err = capfd.readouterr()
    assert err == "" and out == ""
    assert result.tolist() == [1.0]


def test_check_call_failing_on_an_overflowing_function_writes_nothing_to_stderr(capfd, warnings_print_to_stderr):
    failure(check_call, stable_sigmoid_big, np.array([1000.0]), expected=np.array([0.5]), kind="array",
            name="sigmoid")
    assert capfd.readouterr().err == ""


def test_no_warnings_turns_an_overflow_into_an_overflow_warning_failure(capfd, warnings_print_to_stderr):
    error = failure(check_call, stable_sigmoid_big, np.array([1000.0]), expected=np.array([1.0]),
                    kind="array", name="sigmoid", no_warnings=True, warning_hint="Use the stable form.")
    assert error.tag == "overflow-warning"
    assert "sigmoid(array([1000.]))" in str(error) and "RuntimeWarning" in str(error)
    assert "overflow" in str(error) and "Use the stable form." in str(error)
    assert capfd.readouterr().err == ""


def test_no_warnings_passes_a_function_that_does_not_warn():
    check_call(np.tanh, np.array([1000.0]), expected=np.array([1.0]), kind="array", no_warnings=True)


def test_python_warnings_raised_by_the_student_are_captured_too(capfd, warnings_print_to_stderr):
    def noisy(x):
        warnings.warn("careful", UserWarning)
        return x

    check_call(noisy, 1.0, expected=1.0)
    assert capfd.readouterr().err == ""
    assert failure(check_call, noisy, 1.0, expected=1.0, no_warnings=True).tag == "overflow-warning"


def test_warning_filters_and_numpy_error_state_are_restored_after_checks():
    np.seterr(all="ignore")
    try:
        filters, state, show = list(warnings.filters), np.geterr(), warnings.showwarning
        check_call(stable_sigmoid_big, np.array([1000.0]), expected=np.array([1.0]), kind="array")
        failure(check_call, stable_sigmoid_big, np.array([1000.0]), expected=np.array([1.0]), kind="array",
                no_warnings=True)
        failure(check_call, stable_sigmoid_big, np.array([1000.0]), expected=np.array([0.0]), kind="array")
        assert list(warnings.filters) == filters
        assert np.geterr() == state
        assert warnings.showwarning is show
    finally:
        np.seterr(all="warn")


# --- call() --------------------------------------------------------------------------------------

def test_stub_raising_not_implemented_fails_with_not_implemented_and_says_it_is_the_stub():
    def df(x):
        raise NotImplementedError()

    error = failure(call, df, 8.0)
    assert error.tag == "not-implemented"
    assert "df(8.0)" in str(error) and "stub" in str(error) and "NotImplementedError" in str(error)


def test_other_exception_fails_with_raised_error_naming_the_exception():
    def df(x):
        raise ZeroDivisionError("division by zero")

    error = failure(call, df, 8.0)
    assert error.tag == "raised-error"
    assert "df(8.0) raised ZeroDivisionError: division by zero" in str(error)


def test_check_call_reports_exceptions_the_same_way():
    assert failure(check_call, lambda x: [][1], 1.0, expected=1.0, name="f").tag == "raised-error"


def mutating_gradient(x):
    """Perturbs x in place and forgets to restore it."""
    x[0] += 1e-6
    return x * 2.0


def test_function_that_mutates_its_input_array_fails_with_mutates_input():
    error = failure(call, mutating_gradient, np.array([1.0, 2.0]))
    assert error.tag == "mutates-input"
    assert "mutating_gradient(" in str(error) and "in place" in str(error)


def test_check_call_catches_mutated_inputs_too():
    error = failure(check_call, mutating_gradient, np.array([1.0, 2.0]), expected=np.array([2.0, 4.0]),
                    kind="array")
    assert error.tag == "mutates-input"


def test_restoring_the_perturbed_entry_is_not_a_mutation_even_with_nan_inputs():
    def restores(x):
        saved = x[0]
        x[0] = 5.0
        x[0] = saved
        return x.copy()

    result = call(restores, np.array([np.nan, 1.0]))
    assert np.isnan(result[0]) and result[1] == 1.0


def test_callers_array_is_never_modified_because_copies_are_passed():
    original = np.array([1.0, 2.0])
    seen = []

    def grab(x):
        seen.append(x)
        x[:] = 0.0
        return 1.0

    call(grab, original, inputs_unchanged=False)
    assert original.tolist() == [1.0, 2.0]
    assert seen[0] is not original
    failure(call, grab, original)
    assert original.tolist() == [1.0, 2.0]


def test_arrays_nested_in_arguments_are_copied_too():
    params = {"W": np.ones(2)}

    def update(p):
        p["W"] -= 1.0
        return 0.0

    call(update, params)
    assert params["W"].tolist() == [1.0, 1.0]


def test_function_that_mutates_an_array_passed_as_keyword_fails_with_mutates_input():
    def step(x, *, grad):
        grad[0] = 0.0
        return x

    error = failure(call, step, 1.0, kwargs={"grad": np.array([1.0, 2.0])})
    assert error.tag == "mutates-input"


def test_keyword_arguments_are_passed_and_named_in_the_message():
    assert call(lambda x, *, h: x + h, 1.0, kwargs={"h": 0.5}) == 1.5
    error = failure(check_call, lambda x, *, h: x + h, 1.0, kwargs={"h": 0.5}, expected=1.0, name="f")
    assert "f(1.0, h=0.5) returned 1.5" in str(error)


def test_call_returns_what_the_function_returned_unchanged():
    marker = object()
    assert call(lambda: marker) is marker


@pytest.mark.parametrize("not_a_function", [None, 3.0, np.array([1.0]), "sigmoid"])
def test_non_callable_fails_with_not_a_function(not_a_function):
    error = failure(call, not_a_function, 1.0, name="sigmoid")
    assert error.tag == "not-a-function"
    assert "sigmoid should be a function" in str(error)


def test_check_call_on_a_non_callable_fails_with_not_a_function():
    assert failure(check_call, 0.25, 1.0, expected=0.25, name="df").tag == "not-a-function"


# --- Mistakes and the failure message ------------------------------------------------------------

def negated_df(x):
    """The derivative of (x - 2)^2 is 2x - 4; this one has the sign flipped."""
    return 4.0 - 2.0 * x


SIGN = Mistake("gradient-sign", "You negated the derivative.", value=lambda x: 4.0 - 2.0 * x)
FACTOR = Mistake("missing-factor", "Did you forget the 2 from the chain rule?", value=lambda x: x - 2.0)


def test_matching_callable_mistake_puts_its_tag_and_hint_in_the_message():
    error = failure(check_call, negated_df, 8.0, expected=12.0, mistakes=[FACTOR, SIGN])
    assert error.tag == "gradient-sign"
    assert "[gradient-sign] You negated the derivative." in str(error)


def test_callable_mistake_is_evaluated_with_the_same_arguments():
    seen = []

    def wrong(x):
        seen.append(x)
        return -12.0

    failure(check_call, negated_df, 8.0, expected=12.0, mistakes=[Mistake("t", "h", value=wrong)])
    assert seen == [8.0]


def test_matching_value_mistake_puts_its_tag_and_hint_in_the_message():
    error = failure(check_value, -12.0, 12.0, "df(8.0)",
                    mistakes=[Mistake("gradient-sign", "Sign!", value=-12.0)])
    assert error.tag == "gradient-sign" and "[gradient-sign] Sign!" in str(error)


def test_matching_array_value_mistake_is_found():
    mistake = Mistake("transposed", "Check W versus W.T.", value=np.array([[1.0, 3.0], [2.0, 4.0]]))
    error = failure(check_value, np.array([[1.0, 3.0], [2.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]),
                    "grad_W", kind="array", mistakes=[mistake])
    assert error.tag == "transposed"


def test_matching_when_predicate_puts_its_tag_and_hint_in_the_message():
    seen = []

    def negative(got):
        seen.append(got)
        return bool(np.all(got < 0))

    error = failure(check_call, negated_df, 8.0, expected=12.0,
                    mistakes=[Mistake("negative", "Gradients here are positive.", when=negative)])
    assert error.tag == "negative" and "Gradients here are positive." in str(error)
    assert type(seen[0]) is np.ndarray and seen[0].dtype == np.float64  # the coerced value, not the raw one


def test_when_predicate_that_raises_is_skipped_and_the_next_mistake_can_match():
    def broken(got):
        raise KeyError("oops")

    error = failure(check_call, negated_df, 8.0, expected=12.0,
                    mistakes=[Mistake("broken", "x", when=broken), SIGN])
    assert error.tag == "gradient-sign"


def test_first_matching_mistake_wins():
    error = failure(check_value, -12.0, 12.0, "df(8.0)",
                    mistakes=[Mistake("first", "1", value=-12.0), Mistake("second", "2", value=-12.0)])
    assert error.tag == "first"


def test_no_matching_mistake_gives_wrong_value_and_the_check_hint():
    error = failure(check_call, lambda x: 100.0, 8.0, expected=12.0, mistakes=[SIGN, FACTOR], name="df",
                    hint="Differentiate (x - 2)^2 term by term.")
    assert error.tag == "wrong-value"
    assert "[wrong-value] Differentiate (x - 2)^2 term by term." in str(error)
    assert "gradient-sign" not in str(error) and "missing-factor" not in str(error)


def test_failure_message_states_what_was_called_what_came_back_and_what_was_expected():
    error = failure(check_call, negated_df, 8.0, expected=12.0, name="df")
    lines = str(error).splitlines()
    assert lines[0] == "df(8.0) returned -12.0"
    assert lines[1] == "  expected: 12.0"
    assert lines[2].startswith("[wrong-value]")


def test_array_failure_message_shows_the_returned_and_expected_arrays():
    error = failure(check_call, lambda x: x * 3.0, np.array([1.0, 2.0]), expected=np.array([2.0, 4.0]),
                    kind="array", name="grad")
    message = str(error)
    assert message.startswith("grad(array([1., 2.])) returned array([3., 6.], shape=(2,), dtype=float64)")
    assert "expected: array([2., 4.], shape=(2,), dtype=float64)" in message


def test_correct_answer_passes_even_when_mistakes_are_given():
    result = check_call(lambda x: 2.0 * x - 4.0, 8.0, expected=12.0, mistakes=[SIGN, FACTOR])
    assert float(result) == 12.0


def test_callable_mistake_that_cannot_be_evaluated_at_these_arguments_is_skipped():
    reciprocal = Mistake("reciprocal", "h", value=lambda x: 1.0 / x)
    error = failure(check_call, lambda x: 2.0 * x, 0.0, expected=1.0, mistakes=[reciprocal, SIGN])
    assert error.tag in {"wrong-value", "gradient-sign"}


# --- seeding -------------------------------------------------------------------------------------

def test_rng_with_the_same_seed_gives_the_same_numbers():
    assert rng(7).normal(size=5).tolist() == rng(7).normal(size=5).tolist()


def test_rng_with_different_seeds_gives_different_numbers():
    assert rng(7).normal(size=5).tolist() != rng(8).normal(size=5).tolist()


def test_rng_default_is_the_course_seed_and_a_fresh_generator_each_time():
    assert rng().random(3).tolist() == rng(COURSE_SEED).random(3).tolist()
    generator = rng()
    assert generator is not rng() and isinstance(generator, np.random.Generator)


def test_a_when_mistake_can_explain_a_wrong_shape():
    short = Mistake("off-by-one-steps", "one entry short", when=lambda got: got.shape == (3,))
    with pytest.raises(CheckFailure) as failure:
        check_value(np.zeros(3), np.zeros(4), "gradient_descent(g, 0.0, 0.1, 3)", kind="array", mistakes=[short])
    assert failure.value.tag == "off-by-one-steps" and "shape (3,)" in str(failure.value)
    with pytest.raises(CheckFailure) as failure:
        check_value(np.zeros(5), np.zeros(4), "g", kind="array", mistakes=[short])
    assert failure.value.tag == "wrong-shape"
