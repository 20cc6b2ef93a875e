"""Known wrong answers for 01_gradient_descent: f(x) = x² − 4x + 6, its slope, gradient descent on it.

Each `Mistake` holds a wrong result and a hint that says what to fix. The wrong iterates of
gradient descent are written in closed form for the affine gradients a·(x − c) the tests
use (slope and root are read from two calls of the gradient), so nothing here runs the
update rule, right or wrong.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..checks import Mistake

# --- df(x): the slope of f -------------------------------------------------------------

DF_MISTAKES = [
    Mistake("gradient-sign",
            "Your slope has the wrong sign everywhere: f rises to the right of its minimum, so "
            "the slope there must be positive. Differentiate x**2 - 4*x + 6 term by term and keep each sign.",
            value=lambda x: 4 - 2 * x),
    Mistake("missing-factor-2",
            "The derivative of x**2 is 2*x, not x: keep the factor 2 that the power rule brings down.",
            value=lambda x: x - 4),
    Mistake("function-not-derivative",
            "You returned f(x) itself. df must return the slope f'(x): differentiate each term of f.",
            value=lambda x: x ** 2 - 4 * x + 6),
    Mistake("missing-linear-term",
            "You left out the derivative of the term -4*x, which is the constant -4.",
            value=lambda x: 2 * x),
    Mistake("linear-term-sign",
            "The derivative of -4*x is -4, not +4: keep the minus sign of that term.",
            value=lambda x: 2 * x + 4),
]


# --- gradient_descent(grad, x0, learning_rate, n_steps) --------------------------------

def _affine(grad: Callable) -> tuple[float, float]:
    """Slope a and root c of a gradient of the form a·(x − c), read from grad(0) and grad(1)."""
    at_zero = float(grad(0.0))
    slope = float(grad(1.0)) - at_zero
    return slope, (-at_zero / slope if slope else 0.0)


def _wrong_iterates(rule: Callable) -> Callable:
    """Turn ``rule(a, c, x0, learning_rate, k)`` into a callable with gradient_descent's arguments.

    ``k`` is the array 0 … n_steps. Any error gives NaN, which matches no answer.
    """
    def wrong(grad, x0, learning_rate, n_steps):
        try:
            a, c = _affine(grad)
            return np.asarray(rule(a, c, float(x0), float(learning_rate), np.arange(n_steps + 1)), dtype=float)
        except Exception:  # noqa: BLE001
            return np.nan
    return wrong


DESCENT_MISTAKES = [
    Mistake("ascent",
            "Your iterates climb away from the minimum: you added learning_rate * grad(x). The "
            "gradient points uphill, so gradient descent subtracts it: x - learning_rate * grad(x).",
            value=_wrong_iterates(lambda a, c, x0, lr, k: c + (1 + lr * a) ** k * (x0 - c))),
    Mistake("ignores-grad",
            "Your steps follow the slope of f (df) whatever grad is passed in. Call the function "
            "given as the argument grad, so that gradient_descent works for any function.",
            value=_wrong_iterates(lambda a, c, x0, lr, k: 2 + (1 - 2 * lr) ** k * (x0 - 2))),
    Mistake("missing-x0",
            "Your array starts one step late: its first entry must be x0 itself, followed by x1, x2, …",
            value=_wrong_iterates(lambda a, c, x0, lr, k: c + (1 - lr * a) ** (k + 1) * (x0 - c))),
    Mistake("ignores-learning-rate",
            "Your steps ignore learning_rate: multiply grad(x) by learning_rate before subtracting it.",
            value=_wrong_iterates(lambda a, c, x0, lr, k: c + (1 - a) ** k * (x0 - c))),
    Mistake("hard-coded-learning-rate",
            "Your steps use the learning rate 0.1 of the worked example whatever learning_rate is "
            "passed in: use the argument learning_rate.",
            value=_wrong_iterates(lambda a, c, x0, lr, k: c + (1 - 0.1 * a) ** k * (x0 - c))),
    Mistake("stale-gradient",
            "Every step uses the slope at x0. Evaluate grad at the current point inside the loop: "
            "each step starts from the point the previous step reached.",
            value=_wrong_iterates(lambda a, c, x0, lr, k: x0 - k * lr * a * (x0 - c))),
    Mistake("no-update",
            "Every entry equals x0: the point never moves. Compute the new point from the current "
            "one, store it, and take the next step from it.",
            value=_wrong_iterates(lambda a, c, x0, lr, k: np.full(k.shape, x0))),
]

#: Wrong lengths of the returned array, for a check of ``len(gradient_descent(...))``.
STEP_COUNT_MISTAKES = [
    Mistake("off-by-one-steps",
            "Your array has n_steps entries. It must hold x0 and then one entry per step: "
            "n_steps + 1 entries in all. Did you leave out x0, or stop one step early?",
            value=lambda grad, x0, learning_rate, n_steps: n_steps),
    Mistake("off-by-one-steps",
            "Your array has n_steps + 2 entries: one step too many. Run the update exactly "
            "n_steps times and keep x0 as the first entry.",
            value=lambda grad, x0, learning_rate, n_steps: n_steps + 2),
]


# --- max_stable_learning_rate -----------------------------------------------------------

STABILITY_MISTAKES = [
    Mistake("stability-no-oscillation-bound",
            "That is where the iterates stop approaching the minimum from one side and start to "
            "jump across it. Jumping across is allowed as long as each jump is shorter than the "
            "last: find where the factor multiplying the error reaches -1.",
            value=0.5),
    Mistake("missing-curvature",
            "You solved |1 - learning_rate| < 1, as if f'' were 1. The error is multiplied by "
            "1 - learning_rate * f'' at every step: put in the curvature of this f.",
            value=2.0),
    Mistake("seed-learning-rate",
            "0.1 is the learning rate of the worked example: it converges, but it is not the "
            "largest rate that does. Use the error recursion to find the edge.",
            value=0.1),
    Mistake("not-a-learning-rate",
            "A learning rate is a positive number: gradient descent steps AGAINST the slope by "
            "learning_rate times it, and a rate of 0 or below never moves towards the minimum.",
            when=lambda got: not float(got) > 0),
]
