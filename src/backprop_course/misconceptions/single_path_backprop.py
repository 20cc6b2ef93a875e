"""Known wrong answers for 05_single_path_backprop: a chain of scalar units and its error signals.

Nothing here runs a forward pass or the backward recursion. Every wrong result is derived
from correct quantities that the test cell computes itself from the definition (the
pre-activations z, the activations a, the error signals δ, the gradient) by the one
transformation a slip causes. The backward recursion is linear in δ_L and multiplies one
factor per unit, so a slip in the factor of unit k rescales δ_1 … δ_k by the ratio of the
wrong factor to the right one (`_rescaled`). The wrong SymPy costs are written out in full
only when they reveal no correct answer; the others are built from the test's own oracle.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import sympy as sp

from ..checks import Mistake
from ..checks.gradients import telling_ratio

x, y = sp.symbols("x y", real=True)
theta1, theta2, theta3 = sp.symbols("theta1 theta2 theta3", real=True)

# --- hints ------------------------------------------------------------------------------
_OUTPUT_ACTIVATION = ("You applied σ at the output unit too. The last unit is the identity: a_L = z_L, "
                      "so the prediction can take any real value. Only units 1 … L − 1 use σ.")
_MISSING_ACTIVATION = ("Your hidden units pass z on unchanged: a_l = σ(z_l) for l < L. Only the output "
                       "unit is the identity.")
_MISSING_INPUT = ("Your activations leave out a_0 = x. `a` has L + 1 entries: a[0] = x, then a[l] for "
                  "every unit l = 1 … L, so that a[l - 1] is always the input of unit l.")
_Z_OFF_BY_ONE = ("Your z has a wrong number of entries. There is one pre-activation per unit: z has L "
                 "entries, z[l - 1] = z_l = θ_l · a_{l-1}.")
_OUTPUT_SLOPE = ("Your error signals carry an extra slope σ'(z_L) (or a_L(1 − a_L)) at the output. The "
                 "output unit is the identity, whose slope is 1: δ_L = a_L − y, nothing more.")
_PRIME_OF_INPUT = ("You put the pre-activation into the output form of σ': z_l (1 − z_l). The form "
                   "s (1 − s) needs the unit's OUTPUT s = a_l = σ(z_l): use a_l (1 − a_l).")
_PRIME_OF_ACTIVATION = ("You evaluated σ' at the activation: σ(a_l)(1 − σ(a_l)). The slope belongs to the "
                        "unit's input z_l: σ'(z_l) = σ(z_l)(1 − σ(z_l)) = a_l (1 − a_l).")
_THETA_OFF_BY_ONE = ("Your recursion multiplies by the wrong weight. Going from z_l to z_{l+1} crosses the "
                     "weight of unit l + 1: δ_l = δ_{l+1} · θ_{l+1} · σ'(z_l). In 0-based arrays that "
                     "is thetas[l] next to deltas[l] and a[l] for δ_l = deltas[l - 1].")
_MISSING_THETA = ("Your recursion leaves out the weight: z_{l+1} = θ_{l+1} a_l, so ∂z_{l+1}/∂a_l = θ_{l+1}. "
                  "δ_l = δ_{l+1} · θ_{l+1} · σ'(z_l).")
_MISSING_SLOPE = ("Your recursion leaves out the slope of the sigmoid unit: ∂a_l/∂z_l = σ'(z_l) = a_l (1 − a_l). "
                  "δ_l = δ_{l+1} · θ_{l+1} · σ'(z_l).")
_REVERSED = ("Your error signals are in reverse order. Entry l − 1 holds δ_l: the first entry belongs to "
             "unit 1 (nearest the input), the last one to the output unit, δ_L = a_L − y.")
_ACTIVATION_OFF_BY_ONE = ("You multiplied δ_l by the unit's own output a_l. θ_l multiplies the unit's INPUT: "
                          "z_l = θ_l · a_{l-1}, so ∂J/∂θ_l = δ_l · a_{l-1}, which is a[l - 1] in the array.")
_MISSING_INPUT_FACTOR = ("Your gradient is the error signals alone. ∂z_l/∂θ_l = a_{l-1}, the input of unit "
                         "l, so ∂J/∂θ_l = δ_l · a_{l-1}. (A source text of this course drops this factor x "
                         "too.)")
_PRE_ACTIVATION_FACTOR = ("You multiplied δ_l by a pre-activation. θ_l multiplies the activation of the "
                          "unit before it: ∂J/∂θ_l = δ_l · a_{l-1}, with a_0 = x.")
_DELTA_OFF_BY_ONE = ("You paired the input a_{l-1} with the error signal of the next unit. The weight θ_l "
                     "feeds z_l, so its gradient uses δ_l: ∂J/∂θ_l = δ_l · a_{l-1}.")
_COST_HALF = ("Your cost has no factor ½. J = ½ (a_L − y)²: the ½ cancels the 2 that differentiating the "
              "square brings down, so that δ_L = a_L − y.")
_COST_SQUARE = "The cost squares the error: J = ½ (a_L − y)²."
_COST_SIGN = ("Your σ has e^(+u) in the denominator: that is σ(−u) = 1 − σ(u), a falling curve. "
              "σ(u) = 1/(1 + e^(−u)).")
_COST_MISSING_INPUT = ("The first unit multiplies the input: z_1 = θ_1 · x. Your cost never uses x.")

#: Said when a chain of one unit fails although a chain of three passed.
SINGLE_UNIT_HINT = ("With L = 1 the only unit is the output unit (the identity): z = [θ_1 x], a = [x, θ_1 x], "
                    "δ = [a_1 − y], ∂J/∂θ_1 = δ_1 x. Your code assumes at least one hidden unit: check "
                    "every index such as [-2] or [L - 2] and every loop bound for L = 1.")
#: Said when the number of forward passes grows with the length of the chain.
RECOMPUTE_HINT = ("Your chain_gradient runs more forward passes (or σ evaluations) the longer the chain, so "
                  "its time grows like L². Run the forward pass once, then compute every δ_l from δ_{l+1} "
                  "on the way back: each step reuses the one before.")
#: Said when the time of chain_gradient grows much faster than the length of the chain.
QUADRATIC_TIME_HINT = ("Its work grows like L²: it recomputes each product along the chain from scratch. Reuse "
                       "δ_{l+1} to get δ_l with one multiplication per unit, so that each added unit costs the "
                       "same.")


def _sigma(u):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(u, dtype=np.float64)))


def _rescaled(deltas, ratios) -> np.ndarray:
    """δ after a slip in the factor of each hidden unit: δ_l times the product of ratios[k] for k ≥ l.

    ``ratios[k - 1]`` is (wrong factor)/(right factor) of hidden unit k = 1 … L − 1.
    """
    deltas = np.asarray(deltas, dtype=np.float64)
    with np.errstate(all="ignore"):
        tail = np.cumprod(np.asarray(ratios, dtype=np.float64)[::-1])[::-1]
        return deltas * np.append(tail, 1.0)


def ratio_mistakes(reference) -> list[Mistake]:
    """A wrong sign or a wrong factor ½ or 2, told by the ratio to the test's ``reference`` values."""
    reference = np.asarray(reference, dtype=np.float64)

    def ratio_is(tag: str) -> Callable:
        def matches(got) -> bool:
            told = telling_ratio(np.asarray(got, dtype=np.float64), reference)
            return told is not None and told[0] == tag
        return matches

    return [Mistake("gradient-sign", "Your values have the opposite sign: the error at the output is "
                    "a_L − y (prediction minus target), and every factor along the chain keeps its sign.",
                    when=ratio_is("gradient-sign")),
            Mistake("missing-half", "Your values are twice too large: " + _COST_HALF, when=ratio_is("missing-half")),
            Mistake("extra-half", "Your values are half the right size: the 2 from differentiating the square "
                    "cancels the ½ of J, do not halve again.", when=ratio_is("extra-half"))]


# --- chain_forward(x, thetas) -------------------------------------------------------------

def forward_mistakes(x: float, thetas, z, a) -> tuple[list[Mistake], list[Mistake]]:
    """(mistakes for z, mistakes for a), from the test's own pre-activations ``z`` and activations ``a``."""
    thetas, z, a = (np.asarray(v, dtype=np.float64) for v in (thetas, z, a))
    sigmoid_output = a.copy()
    sigmoid_output[-1] = _sigma(z[-1])
    linear = float(x) * np.cumprod(thetas)  # every unit the identity
    z_mistakes = [
        Mistake("missing-activation", _MISSING_ACTIVATION, value=linear) if len(thetas) > 1 else None,
        Mistake("z-off-by-one", _Z_OFF_BY_ONE, when=lambda got: got.shape != z.shape),
    ]
    a_mistakes = [
        Mistake("output-activation", _OUTPUT_ACTIVATION, value=sigmoid_output),
        Mistake("missing-activation", _MISSING_ACTIVATION, value=np.append(float(x), linear))
        if len(thetas) > 1 else None,
        Mistake("missing-input-activation", _MISSING_INPUT, when=lambda got: got.shape == (len(z),)),
    ]
    return [m for m in z_mistakes if m], [m for m in a_mistakes if m]


# --- chain_deltas(x, y, thetas) --------------------------------------------------------------

def delta_mistakes(thetas, z, a, deltas) -> list[Mistake]:
    """Wrong error signals, from the test's own z, a and correct error signals ``deltas``."""
    thetas, z, a, deltas = (np.asarray(v, dtype=np.float64) for v in (thetas, z, a, deltas))
    hidden_z, hidden_a = z[:-1], a[1:-1]  # units 1 … L − 1
    slope = hidden_a * (1.0 - hidden_a)
    with np.errstate(all="ignore"):
        wrong = [
            ("output-slope", _OUTPUT_SLOPE, deltas * _sigma(z[-1]) * (1.0 - _sigma(z[-1]))),
            ("output-slope", _OUTPUT_SLOPE, deltas * a[-1] * (1.0 - a[-1])),
            ("prime-of-input", _PRIME_OF_INPUT, _rescaled(deltas, hidden_z * (1.0 - hidden_z) / slope)),
            ("prime-of-activation", _PRIME_OF_ACTIVATION,
             _rescaled(deltas, _sigma(hidden_a) * (1.0 - _sigma(hidden_a)) / slope)),
            ("theta-off-by-one", _THETA_OFF_BY_ONE, _rescaled(deltas, thetas[:-1] / thetas[1:])),
            ("missing-theta", _MISSING_THETA, _rescaled(deltas, 1.0 / thetas[1:])),
            ("missing-slope", _MISSING_SLOPE, _rescaled(deltas, 1.0 / slope)),
        ]
    mistakes = [Mistake(tag, hint, value=value) for tag, hint, value in wrong]
    if len(deltas) > 1:
        mistakes.append(Mistake("reversed-order", _REVERSED, value=deltas[::-1]))
    return mistakes + ratio_mistakes(deltas)


# --- chain_gradient(x, y, thetas) ------------------------------------------------------------

def gradient_mistakes(thetas, z, a, deltas) -> list[Mistake]:
    """Wrong gradients, from the test's own z, a and correct error signals ``deltas``."""
    z, a, deltas = (np.asarray(v, dtype=np.float64) for v in (z, a, deltas))
    inputs = a[:-1]
    mistakes = [
        Mistake("activation-off-by-one", _ACTIVATION_OFF_BY_ONE, value=deltas * a[1:]),
        Mistake("missing-input-factor", _MISSING_INPUT_FACTOR, value=deltas),
        Mistake("pre-activation-factor", _PRE_ACTIVATION_FACTOR, value=deltas * np.append(a[0], z[:-1])),
    ]
    if len(deltas) > 1:
        mistakes.append(Mistake("delta-off-by-one", _DELTA_OFF_BY_ONE,
                                value=np.append(deltas[1:], 0.0) * inputs))
    # a slip in the error signals shows in the gradient, input by input
    for wrong in delta_mistakes(thetas, z, a, deltas):
        if wrong.value is not None:
            mistakes.append(Mistake(wrong.tag, wrong.hint, value=np.asarray(wrong.value) * inputs))
    return mistakes + ratio_mistakes(deltas * inputs)


# --- chain_cost_expr ----------------------------------------------------------------------

def _flipped(u):
    return 1 / (1 + sp.exp(u))


COST_EXPR_MISTAKES = [
    Mistake("sigmoid-sign", _COST_SIGN,
            value=sp.Rational(1, 2) * (theta3 * _flipped(theta2 * _flipped(theta1 * x)) - y) ** 2),
    Mistake("missing-input", _COST_MISSING_INPUT, when=lambda expr: x not in expr.free_symbols),
]


def cost_expr_mistakes(cost: sp.Expr, hidden_output: sp.Expr) -> list[Mistake]:
    """Wrong forms of J for L = 3, from the test's own ``cost`` and last hidden activation a_2."""
    sigma_out = 1 / (1 + sp.exp(-theta3 * hidden_output))
    return [
        Mistake("missing-half", _COST_HALF, value=2 * cost),
        Mistake("output-activation", _OUTPUT_ACTIVATION, value=sp.Rational(1, 2) * (sigma_out - y) ** 2),
        Mistake("missing-square", _COST_SQUARE, value=sp.Rational(1, 2) * (theta3 * hidden_output - y)),
        *COST_EXPR_MISTAKES,
    ]


def cost_value_mistakes(point: dict, cost: float, hidden_output: float) -> list[Mistake]:
    """Wrong values of J at ``point`` (symbol → number), from the test's own J and a_2 there."""
    theta, target = float(point[theta3]), float(point[y])
    return [
        Mistake("missing-half", _COST_HALF, value=2.0 * cost),
        Mistake("output-activation", _OUTPUT_ACTIVATION,
                value=0.5 * (float(_sigma(theta * hidden_output)) - target) ** 2),
        Mistake("missing-square", _COST_SQUARE, value=0.5 * (theta * hidden_output - target)),
        *(Mistake(m.tag, m.hint, value=float(m.value.subs(point))) for m in COST_EXPR_MISTAKES
          if m.value is not None),
    ]
