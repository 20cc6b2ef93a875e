"""Known wrong answers for 03_numerical_checks: finite differences, relative error, gradients, step sizes.

Nothing here computes a finite difference or a relative error correctly. Wrong results that
are simple transformations of a correct quantity (half the forward difference, the central
difference in place of the forward one, twice the gradient) are built by factory functions
from values the test cell computes itself; wrong relative-error formulas are stored as
formulas, each with its deliberate slip.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..checks import Mistake
from ..checks.numeric import close


def _near(reference, rtol: float = 1e-6, atol: float = 1e-8) -> Callable:
    """A `when` predicate: the result agrees with ``reference`` within the given tolerance."""
    target = np.asarray(reference, dtype=np.float64)
    return lambda got: got.shape == target.shape and close(got, target, rtol, atol)


def _has_nan(got) -> bool:
    return bool(np.any(np.isnan(got)))


# --- hints ------------------------------------------------------------------------------
_FORWARD_OVER_2H = ("Your estimate is half the forward difference: a forward difference spans ONE step "
                    "(from x to x + h), so divide by h. The 2h belongs to the central difference.")
_CENTRAL_OVER_H = ("Your estimate is twice too large: the central difference spans from x − h to x + h, "
                   "a distance of 2h, so divide by 2h, not by h.")
_DIFFERENCE_SIGN = ("Your estimate has the wrong sign: subtract in the order of the step, the value at the "
                    "larger point minus the value at the smaller one (f(x + h) first).")
_CENTRAL_NOT_FORWARD = ("You computed a central difference here. The forward difference uses f(x + h) and "
                        "f(x) only, divided by h.")
_BACKWARD_NOT_FORWARD = ("You stepped backwards (f(x) − f(x − h)). The forward difference steps to x + h.")
_FORWARD_NOT_CENTRAL = ("That is a one-sided (forward or backward) difference. The central difference "
                        "steps both ways, f(x + h) − f(x − h), and divides by 2h.")
_IGNORES_H = ("Your result is (almost) the exact derivative, but the test passed a large step h on "
              "purpose: use the argument h in your formula instead of a step of your own.")
_NAN_RELATIVE = ("Your result is NaN. Where a and b are both 0 the ratio is 0/0; the definition counts "
                 "those entries as 0 (they agree perfectly). Divide only where max(|a|, |b|) > 0.")
_NO_ABS = ("Take the absolute value of the difference: without it, an estimate that is too small "
           "gives a negative error and the largest entry is not the worst one.")
_ONE_SIDED_DENOMINATOR = ("You divided by the size of one argument only. The definition divides by "
                          "max(|a|, |b|), so that relative_error(a, b) == relative_error(b, a).")
_MIN_DENOMINATOR = ("You divided by the smaller of |a| and |b|. Divide by the LARGER one, max(|a|, |b|): "
                    "that keeps the error between 0 and 1 when a and b have the same sign.")
_SUM_DENOMINATOR = ("You divided by |a| + |b|. relative_error divides each entry by max(|a|, |b|), which is "
                    "twice as strict when a and b are close.")
_NOT_ELEMENTWISE = ("You compared whole arrays through their norms (or sums). The metric is elementwise: "
                    "compute |a − b| / max(|a|, |b|) for every entry and return the largest one, so one "
                    "small wrong entry beside large right ones is not hidden.")
_MEAN_NOT_MAX = ("You averaged the elementwise errors. Return the LARGEST one: a check must fail when a "
                 "single entry is wrong.")
_FLATTENED = ("Your gradient has the right number of entries but the wrong shape: return an array shaped "
              "like x (for example np.zeros_like(x) filled entry by entry, or reshape to x.shape).")
_ONE_SIDED_GRADIENT = ("Your gradient is a forward (or backward) difference, accurate only to O(h). Use "
                       "the central difference (f(x + h·e_i) − f(x − h·e_i)) / (2h) for every entry.")
_ALL_AT_ONCE = ("Every entry of your gradient is the same number: you moved all entries of x at once. "
                "Perturb ONE entry at a time, leaving the others at their values, and repeat for each entry.")
_ALIASED = ("Your gradient is half the right size and one-sided: `x_plus = x` does not copy an array, so "
            "the − h undid the + h on the same array. Make real copies (x.copy()).")
_SEED_STEP = ("1e-13 is the step of the source text this notebook corrects. Below about 1e-6, round-off "
              "(≈ ε/h) grows faster than truncation shrinks: read the minimum off your plot.")
_FORWARD_OPTIMUM = ("About 1e-8 is the best step for a FORWARD difference (≈ √ε). The question asks for the "
                    "central difference, whose truncation error falls like h²: its best step is larger.")
_LARGEST_STEP = ("With h = 0.1 the truncation error (about h²·|f'''|/6) is still large. best_step is the h "
                 "whose estimate is closest to σ'(1): read the minimum off your plot.")
_SMALLEST_STEP = ("A smaller step is not always better: below the optimum, round-off error (about ε/h) "
                  "grows again, and this step gives one of the largest errors. Pick the h with the "
                  "smallest error, not the smallest h.")
_ABSOLUTE_ERROR = ("That is the absolute error |estimate − σ'(0)|. Divide by max(|estimate|, |σ'(0)|) to "
                   "get the relative error, the course's elementwise metric (your relative_error does it).")
_SIGNED_ERROR = ("Your error is negative: a relative error is a size, |a − b| / max(|a|, |b|).")
_PERCENT = ("That is the relative error in percent. Give it as a plain fraction (0.01 means 1 %).")
_ESTIMATE_NOT_ERROR = ("That is the forward-difference estimate itself, not its relative error against "
                       "σ'(0) = 1/4.")
_WRONG_STEP = ("That is the error for a different step. The question is about the source text's "
               "h = 1e-13 (0.0000000000001).")
_WRONG_POINT = ("That is the error at another point. The question asks for x = 0, where σ'(0) = 1/4.")


# --- forward_difference and central_difference -------------------------------------------

def forward_difference_mistakes(forward, central, backward, derivative) -> list[Mistake]:
    """Wrong results of forward_difference, from the test's own values at the same f, x and h.

    ``forward``, ``central`` and ``backward`` are the three difference quotients the test
    computed, ``derivative`` the exact f'(x); a result near the latter means h was ignored.
    """
    forward = np.asarray(forward, dtype=np.float64)
    return [
        Mistake("forward-over-2h", _FORWARD_OVER_2H, value=forward / 2),
        Mistake("difference-sign", _DIFFERENCE_SIGN, value=-forward),
        Mistake("central-not-forward", _CENTRAL_NOT_FORWARD, value=central),
        Mistake("backward-not-forward", _BACKWARD_NOT_FORWARD, value=backward),
        Mistake("ignores-h", _IGNORES_H, when=_near(derivative, rtol=1e-2)),
    ]


def central_difference_mistakes(central, forward, backward, derivative) -> list[Mistake]:
    """Wrong results of central_difference, from the test's own values at the same f, x and h."""
    central = np.asarray(central, dtype=np.float64)
    return [
        Mistake("central-over-h", _CENTRAL_OVER_H, value=2 * central),
        Mistake("difference-sign", _DIFFERENCE_SIGN, value=-central),
        Mistake("forward-not-central", _FORWARD_NOT_CENTRAL, value=forward),
        Mistake("forward-not-central", _FORWARD_NOT_CENTRAL, value=backward),
        Mistake("ignores-h", _IGNORES_H, when=_near(derivative, rtol=1e-2)),
    ]


# --- relative_error(a, b) ------------------------------------------------------------------

def _sizes(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a, b, np.abs(a), np.abs(b)


def _no_abs(a, b):
    a, b, size_a, size_b = _sizes(a, b)
    return float(np.max((a - b) / np.maximum(size_a, size_b)))  # slip: the difference keeps its sign


def _over_first(a, b):
    a, b, size_a, _ = _sizes(a, b)
    return float(np.max(np.abs(a - b) / size_a))  # slip: one-sided denominator


def _over_second(a, b):
    a, b, _, size_b = _sizes(a, b)
    return float(np.max(np.abs(a - b) / size_b))  # slip: one-sided denominator


def _over_min(a, b):
    a, b, size_a, size_b = _sizes(a, b)
    return float(np.max(np.abs(a - b) / np.minimum(size_a, size_b)))  # slip: min, not max


def _over_sum(a, b):
    a, b, size_a, size_b = _sizes(a, b)
    return float(np.max(np.abs(a - b) / (size_a + size_b)))  # slip: sum of the sizes


def _norms(a, b):
    a, b, _, _ = _sizes(a, b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b)))  # slip: not elementwise


def _mean(a, b):
    a, b, size_a, size_b = _sizes(a, b)
    return float(np.nanmean(np.abs(a - b) / np.maximum(size_a, size_b)))  # slip: mean, not max


def _global(a, b):
    a, b, size_a, size_b = _sizes(a, b)
    return float(np.max(np.abs(a - b)) / max(np.max(size_a), np.max(size_b)))  # slip: not elementwise


def relative_error_mistakes(symmetric: bool) -> list[Mistake]:
    """Wrong relative-error formulas. ``symmetric`` says whether the student's function gave the same
    value with its arguments exchanged: dividing by the smaller size is symmetric, dividing by
    |a| (or |b|) only is not, although for one pair the two can give the same number."""
    smaller = [Mistake("relative-error-min", _MIN_DENOMINATOR, value=_over_min)]
    one_sided = [Mistake("relative-error-one-sided", _ONE_SIDED_DENOMINATOR, value=_over_first),
                 Mistake("relative-error-one-sided", _ONE_SIDED_DENOMINATOR, value=_over_second)]
    return [
        Mistake("zero-over-zero", _NAN_RELATIVE, when=_has_nan),
        Mistake("relative-error-no-abs", _NO_ABS, value=_no_abs),
        *(smaller + one_sided if symmetric else one_sided + smaller),
        Mistake("relative-error-sum", _SUM_DENOMINATOR, value=_over_sum),
        Mistake("relative-error-not-elementwise", _NOT_ELEMENTWISE, value=_norms),
        Mistake("relative-error-not-elementwise", _NOT_ELEMENTWISE, value=_global),
        Mistake("relative-error-mean", _MEAN_NOT_MAX, value=_mean),
    ]


# --- numerical_gradient(f, x, h) -----------------------------------------------------------

def numerical_gradient_mistakes(gradient, second_derivatives, h: float,
                                step_result: Optional[np.ndarray] = None) -> list[Mistake]:
    """Wrong results of numerical_gradient, from the test's exact gradient of f at x.

    ``second_derivatives`` holds ∂²f/∂x_i² for every entry (it sets the O(h) error of a
    one-sided difference), ``h`` the step the test passed. When the test passed a large h,
    ``step_result`` is unused and a result near the exact ``gradient`` means h was ignored.
    """
    g = np.asarray(gradient, dtype=np.float64)
    d2 = np.asarray(second_derivatives, dtype=np.float64)
    shape = g.shape
    mistakes = [
        Mistake("flattened-gradient", _FLATTENED,
                when=lambda got: got.shape != shape and got.size == g.size),
        Mistake("one-sided-gradient", _ONE_SIDED_GRADIENT, when=_near(g + h / 2 * d2)),
        Mistake("one-sided-gradient", _ONE_SIDED_GRADIENT, when=_near(g - h / 2 * d2)),
        Mistake("aliased-copy", _ALIASED, when=_near(g / 2 + h / 4 * d2)),
        Mistake("central-over-h", _CENTRAL_OVER_H, when=_near(2 * g)),
        Mistake("difference-sign", _DIFFERENCE_SIGN, when=_near(-g)),
        Mistake("perturbs-all-at-once", _ALL_AT_ONCE, when=_near(np.full(shape, g.sum()), rtol=1e-5)),
    ]
    if h > 1e-4:
        mistakes.append(Mistake("ignores-h", _IGNORES_H, when=_near(g, rtol=1e-5, atol=1e-7)))
    return mistakes


# --- best_step and seed_step_error -----------------------------------------------------------

BEST_STEP_MISTAKES = [
    Mistake("seed-step", _SEED_STEP, value=1e-13),
    Mistake("forward-optimum", _FORWARD_OPTIMUM, value=1e-8),
    Mistake("forward-optimum", _FORWARD_OPTIMUM, value=1e-7),
    Mistake("smallest-step", _SMALLEST_STEP, value=1e-15),
    Mistake("smallest-step", _SMALLEST_STEP, value=1e-14),
    Mistake("largest-step", _LARGEST_STEP, value=1e-1),
    Mistake("not-a-step", "best_step must be one of the steps 1e-1, 1e-2, …, 1e-15 that the question lists.",
            when=lambda got: not (1e-15 * (1 - 1e-9) <= float(got) <= 0.1 * (1 + 1e-9))
            or abs(np.log10(float(got)) - round(np.log10(float(got)))) > 1e-6),
]


def seed_step_mistakes(error: float, estimate: float, exact: float, slips) -> list[Mistake]:
    """Wrong values of seed_step_error, from the test's own relative ``error``, forward-difference
    ``estimate`` and exact σ'(0).

    ``slips`` lists (tag, wrong value) pairs for the slips "central-not-forward", "wrong-step"
    and "wrong-point", with the values the test computed for them.
    """
    hints = {"central-not-forward": _CENTRAL_NOT_FORWARD, "wrong-step": _WRONG_STEP,
             "wrong-point": _WRONG_POINT}
    mistakes = [
        Mistake("absolute-error", _ABSOLUTE_ERROR, value=abs(estimate - exact)),
        Mistake("signed-error", _SIGNED_ERROR, when=lambda got: float(got) < 0),
        Mistake("percent-not-fraction", _PERCENT, value=100 * error),
        Mistake("estimate-not-error", _ESTIMATE_NOT_ERROR, value=estimate),
    ]
    for tag, wrong in slips:
        mistakes.append(Mistake(tag, hints[tag], when=_near(wrong, rtol=1e-3, atol=0.0)))
    return mistakes
