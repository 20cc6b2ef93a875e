"""Known wrong answers for 04_single_neuron: ŷ = σ(Xw + b), C = 1/(2N) Σ(ŷ − y)², its gradient, training.

Wrong formulas that reveal nothing (the sign-flipped sigmoid, a cost without ½) are stored as
callables. Wrong answers that would need a correct quantity (the gradient without the input
factor equals ∂C/∂b spread over every weight; a wrong training run differs from the right one
only in the order of two lines) are built by factories from values the test cell computes
itself, so this module holds no correct prediction, cost, gradient or training loop.

Ratio mistakes of the gradient (a flipped sign, a missing or doubled 1/N, a missing ½) are
named by `backprop_course.checks.check_gradients`; the mistakes here are the ones no constant
factor explains.
"""
from __future__ import annotations

import numpy as np

from ..checks import Mistake, close

# --- hints ---------------------------------------------------------------------------------
_SIGMOID_SIGN = ("You used 1/(1 + e^(+z)), the sign-flipped sigmoid of one of the source texts. It "
                 "equals σ(−z) = 1 − σ(z) and falls where σ rises. Use the provided sigmoid(z), "
                 "which is 1/(1 + e^(−z)).")
_MISSING_BIAS = "Your predictions ignore the bias: the pre-activation is z = Xw + b, with b added to every sample."
_BIAS_OUTSIDE = ("You added the bias after the sigmoid, σ(Xw) + b. The bias belongs inside, in the "
                 "pre-activation: z = Xw + b, then ŷ = σ(z). Outside, it shifts the output past the range (0, 1) "
                 "instead of moving the decision boundary.")
_NO_ACTIVATION = ("You returned the pre-activation z = Xw + b. The neuron's output is σ(z): pass z "
                  "through the sigmoid so that every prediction lies between 0 and 1.")
_COST_HALF = ("Your cost is twice too large: C = 1/(2N) Σ(ŷ − y)² has a factor ½ (it cancels the 2 that "
              "differentiating the square brings down).")
_COST_SUM = "Your cost is N times too large: divide the sum of squares by 2N, i.e. take the mean and halve it."
_COST_DOUBLE_MEAN = "Your cost is N times too small: you divided by N twice (a mean of something already averaged)."
_COST_EXTRA_HALF = "Your cost is half the right size: C = 1/(2N) Σ(ŷ − y)² has ONE factor ½, not two."
_COST_ROOT = "You took a square root. C is the halved MEAN of the squared errors, not its root (that is the RMS error)."
_COST_ABS = "You averaged |ŷ − y|: square the errors instead, C = 1/(2N) Σ(ŷ − y)²."
_MISSING_X = ("Every entry of your ∂C/∂w equals ∂C/∂b: the input factor is missing. Since z = Σ_j w_j x_j + b, "
              "∂z/∂w_j = x_j, so each sample's error signal must be multiplied by ITS inputs: "
              "∂C/∂w = Xᵀ[(ŷ − y) ⊙ σ'(z)] / N. (One of the source texts writes ∂ŷ/∂w without this x.)")
_SEED_BOTH = ("This is the source text's formula exactly: the sigmoid with e^(+z) AND ∂ŷ/∂w without the input "
              "factor x. Use σ(z) = 1/(1 + e^(−z)) and multiply by the inputs: Xᵀ[(ŷ − y) ⊙ σ'(z)] / N.")
_SCALAR_DW = ("Your ∂C/∂w is a single number, but w has one entry per input, and so must its gradient. Most "
              "likely the input factor x is missing: ∂z/∂w_j = x_j, so ∂C/∂w = Xᵀ[(ŷ − y) ⊙ σ'(z)] / N, shape (D,).")
_GRADIENT_SIGN = ("Your gradient belongs to the sign-flipped sigmoid 1/(1 + e^(+z)) = σ(−z). Use the provided "
                  "sigmoid(z) for ŷ; its slope is σ'(z) = σ(z)(1 − σ(z)).")
_SIGMA_NOT_PRIME = ("You multiplied by σ(z) where the chain rule needs its SLOPE ∂ŷ/∂z = σ'(z) = σ(z)(1 − σ(z)).")
_HISTORY_SHORT = ("Your cost history has n_steps entries, one short. Record the cost before every step AND once "
                  "more after the last step: n_steps + 1 entries, starting with the cost at w = 0, b = 0.")
_HISTORY_LONG = "Your cost history has n_steps + 2 entries, one too many: take exactly n_steps steps."
_NONZERO_START = ("The first recorded cost is not the cost at w = 0, b = 0, so your run did not start there (a random "
                  "start?). Training starts from w = np.zeros(D) and b = 0.0; then every prediction is ½ and the "
                  "first cost is mean((½ − y)²)/2.")
_NONZERO_WEIGHTS = ("With n_steps = 0 no step is taken, so w and b must still be their starting values "
                    "w = np.zeros(D), b = 0.0.")
_UPDATE_ORDER = ("Your run drifts away from gradient descent: you changed w before computing the bias gradient, "
                 "so ∂C/∂b was taken at a point where the model no longer is. Compute BOTH gradients at the "
                 "current (w, b), e.g. dw, db = gradients(X, y, w, b), and only then update w and b.")
_ASCENT = ("Your cost goes up: you added learning_rate × gradient. The gradient points uphill, so gradient "
           "descent subtracts it: w ← w − learning_rate · ∂C/∂w, and the same for b.")
_COST_IN_TRAIN = "The costs you record are {factor} the cost C = 1/(2N) Σ(ŷ − y)²: {advice}"
_DELTA_ROUNDED = ("That is the source text's 0.131: it cut ŷ = σ(−1.28) = 0.2176… to 0.21 before multiplying. "
                  "Compute ŷ with the sigmoid and keep every digit; round only what you print.")
_DELTA_SIGN = ("Your δ has the wrong sign. The worked example defines δ = (y − ŷ) σ'(z): the target 1 is above "
               "the prediction, and σ' > 0, so δ > 0.")
_DELTA_FLIPPED = ("You computed ŷ with 1/(1 + e^(+z)), which at z = −1.28 gives 0.78 instead of 0.22. Use "
                  "σ(z) = 1/(1 + e^(−z)) (the provided sigmoid).")
_DELTA_NO_SLOPE = "You left out σ'(z): δ = (y − ŷ) · σ'(z), the error times the slope of the sigmoid at z."
_DELTA_SIGMA = ("You multiplied the error by σ(z) instead of by its slope σ'(z) = σ(z)(1 − σ(z)) (or you kept "
                "only the slope and dropped the error y − ŷ).")


def _is_multiple(got: np.ndarray, reference, factor: float) -> bool:
    reference = np.asarray(reference, dtype=np.float64)
    return got.shape == reference.shape and not close(got, reference) and close(got, factor * reference, rtol=1e-6)


# --- predict(X, w, b) ----------------------------------------------------------------------
PREDICT_MISTAKES = [
    Mistake("sigmoid-sign", _SIGMOID_SIGN, value=lambda X, w, b: 1 / (1 + np.exp(X @ w + b))),
    Mistake("missing-bias", _MISSING_BIAS, value=lambda X, w, b: 1 / (1 + np.exp(-(X @ w)))),
    Mistake("bias-outside-sigmoid", _BIAS_OUTSIDE, value=lambda X, w, b: 1 / (1 + np.exp(-(X @ w))) + b),
    Mistake("no-activation", _NO_ACTIVATION, value=lambda X, w, b: X @ w + b),
]

# --- cost(y_hat, y) ------------------------------------------------------------------------
COST_MISTAKES = [
    Mistake("missing-half", _COST_HALF, value=lambda y_hat, y: np.mean((y_hat - y) ** 2)),
    Mistake("missing-mean-factor", _COST_SUM, value=lambda y_hat, y: np.sum((y_hat - y) ** 2) / 2),
    Mistake("double-mean-factor", _COST_DOUBLE_MEAN, value=lambda y_hat, y: np.mean((y_hat - y) ** 2) / (2 * len(y))),
    Mistake("extra-half", _COST_EXTRA_HALF, value=lambda y_hat, y: np.mean((y_hat - y) ** 2) / 4),
    Mistake("root-of-cost", _COST_ROOT, value=lambda y_hat, y: np.sqrt(np.mean((y_hat - y) ** 2) / 2)),
    Mistake("root-of-cost", _COST_ROOT, value=lambda y_hat, y: np.sqrt(np.mean((y_hat - y) ** 2))),
    Mistake("absolute-error", _COST_ABS, value=lambda y_hat, y: np.mean(np.abs(y_hat - y)) / 2),
]

# --- gradients(X, y, w, b) -----------------------------------------------------------------
#: For check_value(np.ndim(dw), 1, ...): a single number where one entry per weight is due.
SCALAR_WEIGHT_GRADIENT = [Mistake("missing-input-factor", _SCALAR_DW, value=0.0)]


def gradient_mistakes(X, y, predictions, reference: dict, reference_at_negated: dict) -> list[Mistake]:
    """Wrong ∂C/∂w that no constant factor explains, for a check of ``gradients(X, y, w, b)[0]``.

    The test cell passes its own oracle: ``predictions`` = σ(Xw + b), ``reference`` = the exact
    gradient {"w", "b"} at (w, b) and ``reference_at_negated`` = the exact gradient at (−w, −b).
    The sign-flipped sigmoid gives σ(−z), so a gradient written with it is the exact gradient at
    (−w, −b) (when the slope is written as s(1 − s) of the flipped s, as the source does) or its
    negative (when the flipped curve is differentiated consistently).
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    s = np.asarray(predictions, dtype=np.float64)
    n_inputs = X.shape[1]
    flipped_w = np.asarray(reference_at_negated["w"], dtype=np.float64)
    return [
        Mistake("missing-input-factor", _MISSING_X, value=np.full(n_inputs, float(reference["b"]))),
        Mistake("missing-input-factor", _SEED_BOTH, value=np.full(n_inputs, float(reference_at_negated["b"]))),
        Mistake("missing-input-factor", _SEED_BOTH, value=np.full(n_inputs, -float(reference_at_negated["b"]))),
        Mistake("sigmoid-sign", _GRADIENT_SIGN, value=flipped_w),
        Mistake("sigmoid-sign", _GRADIENT_SIGN, value=-flipped_w),
        Mistake("sigma-instead-of-prime", _SIGMA_NOT_PRIME, value=X.T @ ((s - y) * s) / len(y)),
        Mistake("sigma-instead-of-prime", _SIGMA_NOT_PRIME, value=X.T @ ((s - y) * s) / (2 * len(y))),
        Mistake("sigma-instead-of-prime", _SIGMA_NOT_PRIME, value=X.T @ ((s - y) * s)),
    ]


# --- train(X, y, learning_rate, n_steps) ----------------------------------------------------
def history_mistakes(n_steps: int, zero_start_cost: float, n_samples: int,
                     update_order_costs=None, ascent_costs=None) -> list[Mistake]:
    """Wrong cost histories of ``train(X, y, learning_rate, n_steps)``.

    ``zero_start_cost`` is the cost at w = 0, b = 0 (every prediction ½); ``update_order_costs``
    and ``ascent_costs`` are the histories of the two wrong loops (w updated before the bias
    gradient; steps added instead of subtracted), computed by the test cell when it has them.
    """
    def first_is(factor):
        return lambda got: got.ndim == 1 and got.size > 0 and _is_multiple(got[:1], [zero_start_cost], factor)

    mistakes = [
        Mistake("history-one-short", _HISTORY_SHORT, when=lambda got: got.shape == (n_steps,)),
        Mistake("history-one-long", _HISTORY_LONG, when=lambda got: got.shape == (n_steps + 2,)),
        Mistake("missing-half", _COST_IN_TRAIN.format(factor="twice", advice="keep the ½ of the cost."),
                when=first_is(2.0)),
        Mistake("missing-mean-factor", _COST_IN_TRAIN.format(factor="N times", advice="divide by 2N."),
                when=first_is(float(n_samples))),
    ]
    if update_order_costs is not None:
        mistakes.append(Mistake("update-order", _UPDATE_ORDER, value=np.asarray(update_order_costs, dtype=float)))
    if ascent_costs is not None:
        mistakes.append(Mistake("gradient-sign", _ASCENT, value=np.asarray(ascent_costs, dtype=float)))
    mistakes.append(Mistake("nonzero-start", _NONZERO_START,
                            when=lambda got: got.ndim == 1 and got.size > 0 and not close(got[0], zero_start_cost)))
    return mistakes


#: For a check of w and b after n_steps = 0: anything but zeros is a non-zero start.
NONZERO_START = [Mistake("nonzero-start", _NONZERO_WEIGHTS, when=lambda got: bool(np.any(got != 0)))]


def update_order_mistake(stale_values) -> list[Mistake]:
    """The final w or b of the loop that updates w before computing the bias gradient (from the test cell)."""
    return [Mistake("update-order", _UPDATE_ORDER, value=np.asarray(stale_values, dtype=float))]


def stale_bias_mistake(gradients, X, y, learning_rate: float, w_after_first_step) -> list[Mistake]:
    """b after ONE step when the bias gradient was taken after w moved, using the student's own ``gradients``.

    Evaluated lazily: while ``gradients`` is a stub this mistake simply does not match.
    """
    def stale(*_args, **_kwargs):
        return -learning_rate * float(gradients(X.copy(), y.copy(), np.array(w_after_first_step, dtype=float), 0.0)[1])
    return [Mistake("update-order", _UPDATE_ORDER, value=stale)]


# --- worked_delta ----------------------------------------------------------------------------
def _near(target: float, tolerance: float = 5e-4):
    return lambda got: abs(float(got) - target) <= tolerance


WORKED_DELTA_MISTAKES = [
    Mistake("seed-rounding", _DELTA_ROUNDED, when=_near(0.79 * 0.21 * 0.79)),
    Mistake("gradient-sign", _DELTA_SIGN, when=lambda got: float(got) < 0),
    Mistake("sigmoid-sign", _DELTA_FLIPPED, when=_near(0.0370, 2e-4)),
    Mistake("sigma-instead-of-prime", _DELTA_SIGMA, when=_near(0.1702, 2e-4)),
    Mistake("missing-slope", _DELTA_NO_SLOPE, when=_near(0.7824, 2e-4)),
    Mistake("out-of-range", "δ = (y − ŷ) σ'(z) with |y − ŷ| ≤ 1 and σ' ≤ 1/4 is at most 1/4.",
            when=lambda got: float(got) > 0.25),
]
