"""Unit tests of backprop_course.checks.symbolic: SymPy answers are evaluated expressions in the
allowed symbols, equal to the oracle on a domain with negative values, decided in bounded time."""
import math
import re
import signal
import threading
import time

import numpy as np
import pytest
import sympy as sp

from failures import failure

from backprop_course.checks import (Mistake, as_expression, check_expression, check_symbols,
                                    check_tuple, equivalent)
from backprop_course.checks import symbolic
from backprop_course.checks.symbolic import numeric_counterexample

x, y, s = sp.symbols("x y s", real=True)
SIGMA = 1 / (1 + sp.exp(-x))
DSIGMA = sp.diff(SIGMA, x)  # exp(-x)/(1 + exp(-x))**2, computed by SymPy from the definition

SIGN = Mistake("sigmoid-sign", "σ(x) is 1/(1 + e^(-x)): check the sign in the exponent.",
               value=1 / (1 + sp.exp(x)))




def check_sigma(got, **kwargs):
    kwargs.setdefault("allowed", [x])
    return check_expression(got, SIGMA, "sigma", **kwargs)


def slow_simplify(expr, *args, **kwargs):
    time.sleep(10)
    return expr


# --- equivalent forms pass ------------------------------------------------------------------------

@pytest.mark.parametrize("form", [
    1 / (1 + sp.exp(-x)),
    sp.exp(x) / (1 + sp.exp(x)),
    (1 + sp.tanh(x / 2)) / 2,
    sp.exp(x / 2) / (sp.exp(x / 2) + sp.exp(-x / 2)),
    1 - 1 / (1 + sp.exp(x)),
], ids=["definition", "exp-ratio", "tanh", "half-exponents", "one-minus"])
def test_equivalent_forms_of_sigma_pass(form):
    assert check_sigma(form) == form  # returns the expression as written


def test_sigma_written_with_tanh_passes_although_simplify_of_the_difference_is_not_zero():
    tanh_form = (1 + sp.tanh(x / 2)) / 2
    assert (sp.simplify(tanh_form - SIGMA) == 0) is False
    check_sigma(tanh_form)


def test_asinh_as_a_logarithm_passes_although_simplify_cannot_prove_it():
    log_form = sp.log(x + sp.sqrt(x ** 2 + 1))
    assert (sp.simplify(sp.asinh(x) - log_form) == 0) is False
    check_expression(log_form, sp.asinh(x), "asinh", allowed=[x])


def test_sech_squared_equals_one_minus_tanh_squared():
    check_expression(sp.sech(x) ** 2, 1 - sp.tanh(x) ** 2, "dtanh", allowed=[x])
    check_expression(1 - sp.tanh(x) ** 2, sp.sech(x) ** 2, "dtanh", allowed=[x])


def test_sigma_times_one_minus_sigma_equals_the_derivative_of_sigma():
    check_expression(SIGMA * (1 - SIGMA), DSIGMA, "dsigma", allowed=[x])


def test_forms_with_plain_symbols_pass_too():
    z = sp.Symbol("z")
    check_expression((1 + sp.tanh(z / 2)) / 2, 1 / (1 + sp.exp(-z)), "sigma", allowed=[z])


def test_integer_answer_equal_to_a_constant_oracle_passes():
    check_expression(0, sp.diff(sp.Integer(3), x), "d3", allowed=[x])


# --- how equivalent() decides --------------------------------------------------------------------

def test_equivalent_reports_structure_for_identical_forms():
    assert equivalent(SIGMA, 1 / (1 + sp.exp(-x))) == (True, "structure")


def test_equivalent_reports_structure_for_forms_equal_after_rewriting_in_exponentials():
    assert equivalent(sp.tanh(x), sp.tanh(x).rewrite(sp.exp)) == (True, "structure")


def test_equivalent_reports_simplify_when_simplify_proves_equality():
    assert equivalent(sp.exp(x) / (1 + sp.exp(x)), SIGMA) == (True, "simplify")
    assert equivalent((1 + sp.tanh(x / 2)) / 2, SIGMA) == (True, "simplify")


def test_equivalent_reports_numeric_when_only_the_sampled_values_agree():
    assert equivalent(sp.log(x + sp.sqrt(x ** 2 + 1)), sp.asinh(x)) == (True, "numeric")


def test_equivalent_reports_counterexample_for_unequal_forms():
    assert equivalent(1 / (1 + sp.exp(x)), SIGMA) == (False, "counterexample")
    assert equivalent(x, sp.Abs(x)) == (False, "counterexample")


def test_numeric_counterexample_is_seeded_and_returns_the_point_and_both_values():
    first = numeric_counterexample(x + 1, x)
    assert first == numeric_counterexample(x + 1, x)
    point, mine, right = first
    assert set(point) == {x} and abs(mine - right - 1) < 1e-12
    assert numeric_counterexample(x + 1, x + 1) is None


# --- wrong forms fail ----------------------------------------------------------------------------

def test_sign_error_in_sigma_fails_with_the_tag_and_hint_of_the_matching_mistake():
    error = failure(check_sigma, 1 / (1 + sp.exp(x)), mistakes=[SIGN])
    assert error.tag == "sigmoid-sign"
    assert "[sigmoid-sign] σ(x) is 1/(1 + e^(-x))" in str(error)


def test_mistake_matches_an_equivalent_rewriting_of_the_wrong_form():
    error = failure(check_sigma, sp.exp(-x) / (1 + sp.exp(-x)), mistakes=[SIGN])
    assert error.tag == "sigmoid-sign"


def test_when_predicate_mistake_matches_the_expression():
    has_tanh = Mistake("uses-tanh", "No tanh here.", when=lambda e: e.has(sp.tanh))
    error = failure(check_sigma, sp.tanh(x), mistakes=[SIGN, has_tanh])
    assert error.tag == "uses-tanh" and "No tanh here." in str(error)


def test_when_predicate_that_raises_is_ignored():
    broken = Mistake("broken", "x", when=lambda e: 1 / 0)
    assert failure(check_sigma, sp.tanh(x), mistakes=[broken]).tag == "wrong-value"


def test_wrong_form_without_matching_mistake_fails_with_wrong_value_and_a_counterexample():
    error = failure(check_sigma, 1 / (1 + sp.exp(-2 * x)), mistakes=[SIGN], hint="Read the definition again.",
                    expected_text="1/(1 + exp(-x))")
    message = str(error)
    assert error.tag == "wrong-value"
    assert message.startswith(f"sigma is {1 / (1 + sp.exp(-2 * x))!r}\n")
    assert re.search(r"at x = -?[0-9.]+ your expression gives [0-9.]+, the correct one gives [0-9.]+", message)
    assert "expected: 1/(1 + exp(-x))" in message
    assert "[wrong-value] Read the definition again." in message


def test_wrong_form_failure_is_deterministic():
    messages = {str(failure(check_sigma, sp.tanh(x))) for _ in range(2)}
    assert len(messages) == 1


# --- the domain includes negative values ----------------------------------------------------------

def test_answer_equal_to_the_oracle_only_for_positive_x_fails():
    abs_form = 1 / (1 + sp.exp(-sp.Abs(x)))
    error = failure(check_sigma, abs_form)
    assert error.tag == "wrong-value"
    assert re.search(r"at x = -[0-9.]+", str(error))  # the counterexample is a negative x


def test_same_answer_passes_on_a_positive_only_domain_so_the_default_domain_matters():
    check_sigma(1 / (1 + sp.exp(-sp.Abs(x))), domain={x: (0.1, 4.0)})


def test_relu_written_as_x_fails_against_max_on_the_default_domain():
    failure(check_expression, x, sp.Max(0, x), "relu", allowed=[x])


# --- unevaluated derivatives and integrals never get credit --------------------------------------

def test_unevaluated_derivative_fails_even_though_its_value_is_right():
    error = failure(check_expression, sp.Derivative(SIGMA, x), DSIGMA, "dsigma", allowed=[x])
    assert error.tag == "unevaluated-derivative"
    assert "doit" in str(error)


def test_expression_containing_an_unevaluated_derivative_fails():
    error = failure(check_expression, 0 * x + sp.Derivative(SIGMA, x) + 0, DSIGMA, "dsigma", allowed=[x])
    assert error.tag == "unevaluated-derivative"


def test_unevaluated_integral_fails():
    t = sp.Symbol("t", real=True)
    error = failure(check_expression, sp.Integral(DSIGMA.subs(x, t), (t, 0, x)), SIGMA - sp.Rational(1, 2),
                    "area", allowed=[x])
    assert error.tag == "unevaluated-derivative"


def test_unevaluated_subs_and_limit_fail():
    h = sp.Symbol("h")
    assert failure(check_expression, sp.Subs(x ** 2, x, y), y ** 2, "sq", allowed=[y]).tag == \
        "unevaluated-derivative"
    assert failure(check_expression, sp.Limit((sp.exp(x + h) - sp.exp(x)) / h, h, 0), sp.exp(x), "d",
                   allowed=[x]).tag == "unevaluated-derivative"


def test_derivative_of_the_doit_form_passes():
    check_expression(sp.Derivative(SIGMA, x).doit(), DSIGMA, "dsigma", allowed=[x])


# --- only SymPy expressions ----------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    "1/(1 + exp(-x))",
    lambda x: 1 / (1 + math.exp(-x)),
    math.exp,
    sp.exp,  # the function class, not an expression
    None,
    True,
    [SIGMA],
    sp.Eq(x, 1),
    sp.Matrix([SIGMA]),
    np.float32(0.5),
], ids=["string", "lambda", "math-function", "sympy-class", "none", "bool", "list", "equation", "matrix",
        "float32"])
def test_non_expressions_fail_with_not_sympy(answer):
    error = failure(check_sigma, answer)
    assert error.tag == "not-sympy"
    assert "a SymPy expression" in str(error)


def test_python_float_from_math_fails_with_not_sympy():
    value_at_one = 1 / (1 + math.exp(-1.0))
    error = failure(check_expression, value_at_one, SIGMA.subs(x, 1), "sigma_at_1", allowed=[x])
    assert error.tag == "not-sympy"


# --- allowed symbols --------------------------------------------------------------------------------

def test_symbol_outside_allowed_fails_with_wrong_symbols_naming_it():
    error = failure(check_sigma, 1 / (1 + sp.exp(-y)))
    assert error.tag == "wrong-symbols"
    assert "using y" in str(error) and "in x only" in str(error)


def test_check_symbols_accepts_a_subset_and_names_every_extra_symbol():
    check_symbols(x * y, [x, y, s], "e")
    error = failure(check_symbols, x * y * s, [x], "e")
    assert "s, y" in str(error)
    assert "no symbols" in str(failure(check_symbols, x, [], "c"))


# --- substitute -----------------------------------------------------------------------------------

def test_expression_in_s_equal_to_dsigma_after_substituting_sigma_passes():
    assert check_expression(s * (1 - s), DSIGMA, "dsigma_in_s", allowed=[s], substitute={s: SIGMA}) == s * (1 - s)


def test_wrong_expression_in_s_fails_after_substitution():
    error = failure(check_expression, s * (1 + s), DSIGMA, "dsigma_in_s", allowed=[s], substitute={s: SIGMA})
    assert error.tag == "wrong-value"


def test_substitute_mistakes_are_compared_with_the_answer_as_written():
    plus = Mistake("sigmoid-derivative-sign", "It is s(1 - s).", value=s * (1 + s))
    error = failure(check_expression, s + s ** 2, DSIGMA, "dsigma_in_s", allowed=[s], substitute={s: SIGMA},
                    mistakes=[plus])
    assert error.tag == "sigmoid-derivative-sign"


def test_answer_in_x_fails_when_only_s_is_allowed():
    error = failure(check_expression, DSIGMA, DSIGMA, "dsigma_in_s", allowed=[s], substitute={s: SIGMA})
    assert error.tag == "wrong-symbols"


# --- simplify is time-bounded --------------------------------------------------------------------

@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="SIGALRM needs main thread")
def test_a_simplify_that_hangs_is_cut_off_and_the_numeric_path_decides(monkeypatch):
    monkeypatch.setattr(symbolic.sp, "simplify", slow_simplify)
    start = time.monotonic()
    assert check_sigma((1 + sp.tanh(x / 2)) / 2) is not None
    assert time.monotonic() - start < 4.0
    start = time.monotonic()
    assert equivalent((1 + sp.tanh(x / 2)) / 2, SIGMA) == (True, "numeric")
    assert time.monotonic() - start < 4.0


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="SIGALRM needs main thread")
def test_a_wrong_answer_with_a_hanging_simplify_still_fails_quickly(monkeypatch):
    monkeypatch.setattr(symbolic.sp, "simplify", slow_simplify)
    start = time.monotonic()
    assert failure(check_sigma, 1 / (1 + sp.exp(x)), mistakes=[SIGN]).tag == "sigmoid-sign"
    assert time.monotonic() - start < 4.0


def test_the_alarm_handler_and_timer_are_restored_after_a_check(monkeypatch):
    monkeypatch.setattr(symbolic.sp, "simplify", slow_simplify)
    before = signal.getsignal(signal.SIGALRM)
    equivalent((1 + sp.tanh(x / 2)) / 2, SIGMA, seconds=0.2)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_outside_the_main_thread_simplify_is_skipped_and_the_numeric_path_decides(monkeypatch):
    monkeypatch.setattr(symbolic.sp, "simplify", slow_simplify)
    results = []
    worker = threading.Thread(target=lambda: results.append(equivalent((1 + sp.tanh(x / 2)) / 2, SIGMA)))
    start = time.monotonic()
    worker.start()
    worker.join(8)
    assert results == [(True, "numeric")]
    assert time.monotonic() - start < 4.0


# --- the memo of verdicts the trusted grader shares between notebooks ------------------------------

def _counting_simplify(monkeypatch) -> list:
    calls, simplify = [], sp.simplify
    monkeypatch.setattr(symbolic.sp, "simplify", lambda expr, *a, **k: calls.append(expr) or simplify(expr, *a, **k))
    return calls


def test_without_a_memo_table_every_verdict_is_decided_afresh(monkeypatch):
    assert symbolic.decided is None  # the default: in a student's kernel and here
    calls = _counting_simplify(monkeypatch)
    for _ in range(2):
        assert equivalent(sp.exp(x) / (1 + sp.exp(x)), SIGMA) == (True, "simplify")
    assert len(calls) == 2


def test_with_a_memo_table_the_same_question_is_decided_once(monkeypatch):
    monkeypatch.setattr(symbolic, "decided", {})
    calls = _counting_simplify(monkeypatch)
    for _ in range(3):
        assert equivalent(sp.exp(x) / (1 + sp.exp(x)), SIGMA) == (True, "simplify")
        assert equivalent(1 / (1 + sp.exp(x)), SIGMA) == (False, "counterexample")
    assert len(calls) == 1
    assert sorted(symbolic.decided.values()) == [[False, "counterexample"], [True, "simplify"]]


def test_the_memo_tells_apart_other_domains_and_symbols_with_other_assumptions(monkeypatch):
    monkeypatch.setattr(symbolic, "decided", {})
    assert equivalent(sp.sqrt(x ** 2), x, {x: (0.5, 4.0)}) == (True, "numeric")  # √(x²) = x for x > 0 only
    assert equivalent(sp.sqrt(x ** 2), x, {x: (-4.0, 4.0)}) == (False, "counterexample")
    plain = sp.Symbol("x")  # another variable to SymPy than the real x, though printed alike
    assert str(plain) == str(x)
    assert symbolic._memo_key(plain ** 2, SIGMA, None, 0, 2.0) != symbolic._memo_key(x ** 2, SIGMA, None, 0, 2.0)


# --- as_expression / check_tuple ------------------------------------------------------------------

def test_as_expression_returns_the_expression_unchanged():
    assert as_expression(SIGMA, "sigma") is SIGMA


def test_check_tuple_returns_a_tuple_of_the_right_length():
    assert check_tuple((x, y), 2, "grads") == (x, y)
    assert check_tuple([x, y], 2, "grads") == (x, y)


@pytest.mark.parametrize("got", [(x,), (x, y, s), [], "ab", {x: 1, y: 2}, np.array([1.0, 2.0]), None, x],
                         ids=["too-short", "too-long", "empty", "string", "dict", "array", "none", "expr"])
def test_check_tuple_rejects_wrong_lengths_and_types(got):
    error = failure(check_tuple, got, 2, "grads")
    assert error.tag == "wrong-shape"
    assert "grads should be a tuple of 2 items" in str(error)


def test_the_simplify_time_limit_keeps_an_enclosing_timer_running():
    """The trusted checker bounds each check cell with ITIMER_REAL; a time-bounded simplify inside
    it must not cancel that bound, and must not outlast it."""
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(time.monotonic()))
    try:
        started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with symbolic._time_limit(5.0):
            assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 0.5  # the shorter outer bound rules
            signal.setitimer(signal.ITIMER_REAL, 0)  # the block ends early (no alarm inside it)
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 0.5  # the outer bound goes on
        while not fired and time.monotonic() - started < 3:
            time.sleep(0.01)
        assert fired and fired[0] - started < 1.0
        with pytest.raises(symbolic._OutOfTime):
            with symbolic._time_limit(0.05):
                time.sleep(1)
        assert signal.getitimer(signal.ITIMER_REAL)[0] == 0  # no enclosing bound: none left behind
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_symbol_redefined_with_other_assumptions_is_named_without_contradiction():
    plain_s = sp.Symbol("s")  # what `s = sp.Symbol("s")` in a student's cell gives: not the notebook's s
    error = failure(check_expression, plain_s * (1 - plain_s), DSIGMA, "answer", allowed=[s], substitute={s: SIGMA})
    assert error.tag == "redefined-symbol"
    assert "use the notebook's s; don't redefine it" in str(error).replace("Use", "use")
    assert "must not appear" not in str(error)
    assert failure(check_symbols, x * sp.Symbol("q"), [x], "e").tag == "wrong-symbols"  # a foreign name stays wrong-symbols
