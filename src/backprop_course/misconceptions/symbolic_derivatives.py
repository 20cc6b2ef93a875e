"""Known wrong answers for 02_symbolic_derivatives: σ, tanh, their derivatives and the partials of x² + xy + y².

Wrong formulas that reveal nothing are stored directly (``1/(1 + e^{+x})``, ``1 − t``).
Wrong answers that coincide with some correct quantity (σ itself given as σ', the two
partial derivatives swapped) are built by functions from the oracle that the test cell
computes, so this module holds no correct answer.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..checks import Mistake

x, s, t = sp.symbols("x s t", real=True)

#: Advice for check_call(..., no_warnings=True) on sigmoid, sigmoid_prime and tanh_prime.
STABLE_SIGMOID_HINT = (
    "An intermediate value overflowed: e^(−z) is larger than any float64 once z < −709. "
    "Only ever exponentiate a number ≤ 0: with u = exp(−|z|), σ(z) = 1/(1 + u) for z ≥ 0 "
    "and u/(1 + u) for z < 0 (np.where evaluates both branches, so feed it exp(−|z|), not exp(−z))."
)
STABLE_SIGMOID_PRIME_HINT = (
    "An intermediate value overflowed while computing σ'(z): e^(−z) is larger than any float64 once "
    "z < −709, so the quotient-rule form e^(−z)/(1 + e^(−z))² becomes inf/inf. Compute the slope from "
    "the output instead, σ'(z) = s(1 − s) with s = sigmoid(z) from your stable sigmoid, or use "
    "e^(−|z|)/(1 + e^(−|z|))², which is the same slope because σ' is even."
)
STABLE_TANH_HINT = (
    "An intermediate value overflowed: cosh(z) and e^z exceed float64 once |z| > 710. "
    "Write the derivative with np.tanh, which stays between −1 and 1 for every input."
)

# --- hints, shared by the symbolic and the NumPy checks ---------------------------------
_SIGMOID_SIGN = ("This is 1/(1 + e^(+x)): it decreases from 1 to 0, the mirror image σ(−x) = 1 − σ(x). "
                 "The sigmoid has e^(−x) in its denominator, so that it rises from 0 to 1.")
_NOT_INVERTED = "You wrote the denominator only: σ(x) is ONE divided by (1 + e^(−x))."
_TANH_SCALE = ("(1 + tanh(x))/2 is the sigmoid of 2x. The identity is σ(x) = (1 + tanh(x/2))/2: "
               "halve the argument of tanh.")
_DERIVATIVE_SIGN = ("Your derivative is negative, but σ and tanh increase everywhere, so their slopes are "
                    "positive. The minus from the quotient rule and the −1 from the chain rule "
                    "(d/dx of −x) cancel; keep both or neither.")
_SIGMA_PLUS = "It is σ(1 − σ), not σ(1 + σ): the second factor is 1 − σ, which tends to 0 as σ → 1."
_QUOTIENT_SQUARE = ("This is e^(−x)/(1 + e^(−x)) = 1 − σ: the quotient rule divides by the SQUARE of "
                    "the denominator, (1 + e^(−x))².")
_MISSING_FACTOR = "You kept only 1 − s. The derivative is the product of the output and one minus the output."
_SIGMA_NOT_PRIME = ("This is σ itself, not its derivative. Differentiate: the slope is largest (1/4) at 0 "
                    "and vanishes for large |x|.")
_PRIME_OF_INPUT = ("You applied the output formula to the input. In g'(z) = s(1 − s) or 1 − t², "
                   "s and t are the OUTPUTS σ(z) and tanh(z), not z itself: compute them first.")
_TANH_MISSING_SQUARE = "The derivative of tanh is 1 − tanh², with tanh SQUARED, not 1 − tanh."
_TANH_SIGN = "It is 1 − tanh², not 1 + tanh²: the slope of tanh falls from 1 at 0 towards 0 for large |x|."
_SECH_NOT_SQUARED = "d tanh/dx = 1/cosh²: the hyperbolic cosine is squared."
_SIGMOID_FORM_FOR_TANH = ("t(1 − t) is the sigmoid's pattern. For tanh the quotient rule gives "
                          "1 − t² (one minus the output squared).")
_NAN = ("Your result contains NaN. That happens when e^z overflows to inf and the formula then "
        "computes inf/inf or inf − inf. Only exponentiate numbers ≤ 0 (use exp(−|z|)).")
_TAIL = {  # {what} is σ(z) or σ'(z); the true values are e^z/(1 + e^z) and e^z/(1 + e^z)² for these z < 0
    "overflow-silenced": ("Your {what} at z = −710 is 0, but the true value, about 4.48e−309, is a float64 "
                          "(a subnormal one). Your formula computes e^(−z) = e^710, which overflows to inf, and "
                          "1/(1 + inf) is 0: silencing the warning (np.errstate) hides the overflow but not its "
                          "result. Only exponentiate −|z|: for z < 0 use e^z/(1 + e^z)."),
    "tail-cancellation": ("Your {what} is 0 already at z = −40, where the true value is about 4.2e−18: "
                          "½(1 + tanh(z/2)) (or 1 − σ(−z)) adds two numbers close to ∓1, and for z below about −38 "
                          "tanh(z/2) rounds to exactly −1, so every digit cancels. Compute the tail directly: "
                          "for z < 0 use e^z/(1 + e^z), built on exp(−|z|)."),
    "clipped-input": ("Your {what} at z = −710 is far larger than the true value, about 4.48e−309: clipping z "
                      "(to ±500, say) avoids the overflow but replaces {what} by its value at the clip for every "
                      "z beyond it. Exponentiate −|z| instead of clipping: e^(−|z|) never overflows."),
}


def _has_nan(got) -> bool:
    return bool(np.any(np.isnan(got)))


# --- SymPy answers -----------------------------------------------------------------------
SIGMOID_EXPR_MISTAKES = [
    Mistake("sigmoid-sign", _SIGMOID_SIGN, value=1 / (1 + sp.exp(x))),
    Mistake("sigmoid-not-inverted", _NOT_INVERTED, value=1 + sp.exp(-x)),
    Mistake("tanh-form-scale", _TANH_SCALE, value=(1 + sp.tanh(x)) / 2),
]


def sigmoid_derivative_mistakes(sigma: sp.Expr) -> list[Mistake]:
    """Wrong forms of dσ/dx in x, built from the test's own σ(x) expression ``sigma``."""
    var = sorted(sigma.free_symbols, key=str)[0]
    return [
        Mistake("derivative-sign", _DERIVATIVE_SIGN, value=-sigma * (1 - sigma)),
        Mistake("sigma-plus", _SIGMA_PLUS, value=sigma * (1 + sigma)),
        Mistake("quotient-square", _QUOTIENT_SQUARE, value=1 - sigma),
        Mistake("sigma-instead-of-prime", _SIGMA_NOT_PRIME, value=sigma),
        Mistake("prime-of-input", _PRIME_OF_INPUT, value=var * (1 - var)),
    ]


SIGMOID_OUTPUT_MISTAKES = [
    Mistake("derivative-sign", _DERIVATIVE_SIGN, value=s * (s - 1)),
    Mistake("sigma-plus", _SIGMA_PLUS, value=s * (1 + s)),
    Mistake("missing-factor", _MISSING_FACTOR, value=1 - s),
    Mistake("sigma-instead-of-prime", _SIGMA_NOT_PRIME, value=s),
]

TANH_DERIVATIVE_MISTAKES = [
    Mistake("tanh-missing-square", _TANH_MISSING_SQUARE, value=1 - sp.tanh(x)),
    Mistake("tanh-sign", _TANH_SIGN, value=1 + sp.tanh(x) ** 2),
    Mistake("derivative-sign", _DERIVATIVE_SIGN, value=sp.tanh(x) ** 2 - 1),
    Mistake("sech-not-squared", _SECH_NOT_SQUARED, value=1 / sp.cosh(x)),
    Mistake("sigmoid-form-for-tanh", _SIGMOID_FORM_FOR_TANH, value=sp.tanh(x) * (1 - sp.tanh(x))),
    Mistake("prime-of-input", _PRIME_OF_INPUT, value=1 - x ** 2),
]

TANH_OUTPUT_MISTAKES = [
    Mistake("tanh-missing-square", _TANH_MISSING_SQUARE, value=1 - t),
    Mistake("tanh-sign", _TANH_SIGN, value=1 + t ** 2),
    Mistake("derivative-sign", _DERIVATIVE_SIGN, value=t ** 2 - 1),
    Mistake("sigmoid-form-for-tanh", _SIGMOID_FORM_FOR_TANH, value=t * (1 - t)),
]


def partial_mistakes(other_partial: sp.Expr, variable: sp.Symbol) -> list[Mistake]:
    """Wrong forms of the partial derivative of x² + xy + y² with respect to ``variable``.

    ``other_partial`` is the test's oracle for the OTHER partial: a student who swapped the
    two gives it here.
    """
    return [
        Mistake("partials-swapped", "This is the partial derivative with respect to the other variable: "
                "the tuple is (∂f/∂x, ∂f/∂y), in that order.", value=other_partial),
        Mistake("missing-cross-term", "You dropped the cross term xy. Holding the other variable fixed, "
                "xy is a constant times your variable, so it contributes that constant.",
                value=2 * variable),
    ]


# --- NumPy functions ---------------------------------------------------------------------
NAN_OUTPUT = Mistake("nan-output", _NAN, when=_has_nan)

#: The left-tail inputs where overflow-prone and cancelling formulas lose their value (see `left_tail_mistakes`).
LEFT_TAIL = (-40.0, -710.0)


def left_tail_mistakes(what: str, exact) -> list[Mistake]:
    """Wrong values of sigmoid (``what`` = "σ(z)") or sigmoid_prime ("σ'(z)") at `LEFT_TAIL`, from the
    test's own exact values ``exact`` there: a silenced overflow gives 0 at −710 only, a cancelling
    tanh form gives 0 at −40 too, and a clipped input a value far too large at −710."""
    exact = np.asarray(exact, dtype=np.float64)
    return [
        NAN_OUTPUT,
        Mistake("tail-cancellation", _TAIL["tail-cancellation"].format(what=what),
                when=lambda got: got.shape == exact.shape and got[0] == 0.0),
        Mistake("overflow-silenced", _TAIL["overflow-silenced"].format(what=what),
                when=lambda got: got.shape == exact.shape and got[-1] == 0.0),
        Mistake("clipped-input", _TAIL["clipped-input"].format(what=what),
                when=lambda got: got.shape == exact.shape and got[-1] > 1e3 * exact[-1]),
    ]

SIGMOID_FUNCTION_MISTAKES = [
    NAN_OUTPUT,
    Mistake("sigmoid-sign", _SIGMOID_SIGN, value=lambda z: 1 / (1 + np.exp(z))),
    Mistake("tanh-form-scale", _TANH_SCALE, value=lambda z: (1 + np.tanh(z)) / 2),
]


def sigmoid_prime_mistakes(sigma_values) -> list[Mistake]:
    """Wrong results of sigmoid_prime, built from the test's exact σ values at the same inputs."""
    sig = np.asarray(sigma_values, dtype=np.float64)
    return [
        NAN_OUTPUT,
        Mistake("sigma-instead-of-prime", _SIGMA_NOT_PRIME, value=sig),
        Mistake("derivative-sign", _DERIVATIVE_SIGN, value=-sig * (1 - sig)),
        Mistake("sigma-plus", _SIGMA_PLUS, value=sig * (1 + sig)),
        Mistake("prime-of-input", _PRIME_OF_INPUT, value=lambda z: z * (1 - z)),
    ]


TANH_PRIME_MISTAKES = [
    NAN_OUTPUT,
    Mistake("tanh-missing-square", _TANH_MISSING_SQUARE, value=lambda z: 1 - np.tanh(z)),
    Mistake("tanh-sign", _TANH_SIGN, value=lambda z: 1 + np.tanh(z) ** 2),
    Mistake("derivative-sign", _DERIVATIVE_SIGN, value=lambda z: np.tanh(z) ** 2 - 1),
    Mistake("sech-not-squared", _SECH_NOT_SQUARED, value=lambda z: 1 / np.cosh(z)),
    Mistake("sigmoid-form-for-tanh", _SIGMOID_FORM_FOR_TANH, value=lambda z: np.tanh(z) * (1 - np.tanh(z))),
    Mistake("prime-of-input", _PRIME_OF_INPUT, value=lambda z: 1 - np.asarray(z) ** 2),
]
