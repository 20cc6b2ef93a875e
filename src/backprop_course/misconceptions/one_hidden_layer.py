"""Known wrong answers for 06_one_hidden_layer: Z1 = X W1 + b1, A1 = g(Z1), Y = A1 W2 + b2, E = 1/(2N) Σ(Y − T)².

Nothing here runs a correct forward pass, backward pass or training loop. Wrong results that
differ from a correct one by a single slip (the output squashed, the slope taken of the
activation, the hidden error pulled back without the transpose, W2 updated too early) are
built by factory functions from quantities the test cell computes itself from first
principles (finite differences of the loss it writes out, or its own reference loop).

Ratio mistakes of the gradients (a flipped sign, a missing or doubled 1/N, a missing ½) are
named by `backprop_course.checks.check_gradients`; the mistakes here are the ones no constant
factor explains.
"""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np

from ..checks import Mistake, call, close
from ..checks.feedback import fail_plain


def _always(_got) -> bool:
    return True


def _squash(activation: str) -> Callable:
    """The hidden nonlinearity g named by ``activation`` (used only to build wrong results)."""
    if activation == "sigmoid":
        return lambda z: 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))
    return np.tanh


# --- hints ---------------------------------------------------------------------------------
_BIAS_SHAPE = ("Your bias has shape {got}, a 2-D row or column. The contract stores every bias as a 1-D "
               "array of shape ({n},): np.zeros(n) (not np.zeros((1, n))); broadcasting adds it to every row.")
_NONZERO_BIAS = ("Your biases are not zero. Only the weights need random values to break symmetry; "
                 "start every bias at 0 (np.zeros(n)).")
_TRANSPOSED_WEIGHTS = ("Your weight matrix is transposed. W1 maps D inputs to H hidden units, so it has shape "
                       "(D, H) (rows = inputs, columns = units), and W2 has shape (H, K); then X @ W1 works.")
_ZERO_INIT = ("Your weights are all zero. Every hidden unit then computes the same thing and receives the "
              "same gradient, so they stay identical forever (and with tanh the weights do not move at all). "
              "Draw them at random from a seeded generator and scale by 1/√fan-in.")
_SYMMETRIC_INIT = ("All your weights are equal. Identical weights mean identical hidden units, which receive "
                   "identical gradients and never become different: draw each weight at random.")
_UNSCALED_INIT = ("Your weights are far too large: their spread grows like √fan-in. Multiply the random "
                  "numbers by 1/√fan-in (1/√n_in for W1, 1/√n_hidden for W2) so that every pre-activation "
                  "starts with a spread of about 1 and tanh/σ do not saturate.")
_INIT_SCALE = ("The spread of your weights does not match 1/√fan-in. fan-in is the number of inputs INTO "
               "the layer: n_in for W1 and n_hidden for W2 (the number of rows). std(W) · √fan-in should be "
               "about 1 (a uniform draw on ±1/√fan-in gives about 0.58, which is fine too).")
_UNSEEDED = ("Calling init_params twice with the same seed gave different weights: the generator is not "
             "seeded by the argument seed. Create one with np.random.default_rng(seed) (or "
             "backprop_course.seeding.rng(seed)) and draw from it.")
_IGNORES_SEED = ("Different seeds gave the same weights: your generator ignores the argument seed "
                 "(a fixed seed such as 0 written inside the function?). Seed it with seed.")

_OUTPUT_ACTIVATION = ("You passed the output through g as well. This network's output unit is the identity: "
                      "Y = A1 W2 + b2, with no squashing, so Y can take any real value.")
_MISSING_OUTPUT_BIAS = "Your output ignores b2: Y = A1 W2 + b2, with b2 added to every row."
_MISSING_HIDDEN_BIAS = "Your hidden layer ignores b1: Z1 = X W1 + b1, with b1 added to every row."
_IGNORES_ACTIVATION = ("Your forward pass used the other nonlinearity: read the argument activation "
                       "(\"tanh\" → np.tanh, \"sigmoid\" → the provided sigmoid) instead of a fixed choice.")
_SIGMOID_SIGN = ("Your hidden units compute 1/(1 + e^(+z)) = 1 − σ(z), the sign-flipped sigmoid. Use the "
                 "provided sigmoid(z) = 1/(1 + e^(−z)).")
_NO_HIDDEN_ACTIVATION = ("Your hidden layer is linear: you used Z1 where A1 = g(Z1) belongs. Without g two "
                         "layers collapse into one linear map and XOR cannot be learned.")

_LOSS_HALF = ("Your loss is twice too large: E = 1/(2N) Σ_n Σ_k (Y − T)² has a factor ½ (it cancels the 2 "
              "that differentiating the square brings down).")
_LOSS_SUM = "Your loss is N times too large: divide the total of the squared errors by 2N."
_LOSS_MEAN_ALL = ("You averaged over all N·K entries of the array. E is an average over the N samples only: "
                  "within one sample the squared errors of its K outputs are added up, not averaged. Count "
                  "what you divide by.")
_LOSS_DOUBLE_MEAN = "Your loss is N times too small: you divided by N twice."
_LOSS_ROOT = "You took a square root. E is half the mean (over samples) of the summed squared errors, not an RMS."
_LOSS_ABS = "You used |Y − T|: square the errors instead."

_BIAS_AXIS = ("The gradient of a bias has one entry per UNIT, the same shape as the bias: sum the error "
              "signals over the samples, i.e. over the rows: delta.sum(axis=0). Summing over axis=1 (or over "
              "everything) mixes units together.")
_BIAS_GRADIENT_SHAPE = ("Your bias gradient is 2-D ({got}). The bias is 1-D, so its gradient must be too: "
                        "delta.sum(axis=0) without keepdims=True.")
_TRANSPOSED_GRADIENT = ("Your weight gradient is transposed. dW must have the shape of W: dW2 = A1ᵀ Δ2 is "
                        "(H, N)(N, K) = (H, K) and dW1 = Xᵀ Δ1 is (D, N)(N, H) = (D, H).")
_MISSING_SLOPE = ("Your hidden gradient has no g'(Z1). δ_j = g'(z_j) Σ_k w_jk δ_k: after pulling the output "
                  "errors back through W2ᵀ, multiply elementwise by the slope of the hidden activation.")
_SLOPE_OF_ACTIVATION = ("You evaluated g' at the activation A1 instead of at the pre-activation Z1 (for example "
                        "tanh_prime(A1) = 1 − tanh(A1)²). The slope in terms of the cached OUTPUT is 1 − A1² for "
                        "tanh and A1(1 − A1) for the sigmoid: apply these formulas to A1, do not apply g' to it.")
_WRONG_SLOPE = ("You used the slope of the other activation: tanh' = 1 − A1² belongs to tanh, σ' = A1(1 − A1) "
                "to the sigmoid. backward must read which activation forward used from the cache.")
_ACTIVATION_NOT_SLOPE = "You multiplied by g(Z1) = A1 itself where the chain rule needs its SLOPE g'(Z1)."
_MISSING_TRANSPOSE = ("You pulled the output errors back through W2 instead of W2ᵀ. Unit j collects "
                      "Σ_k w_jk δ_k: (N, K) errors times W2ᵀ (K, H) give (N, H). With non-square layers "
                      "Δ2 @ W2 does not even have matching shapes.")

_HISTORY_SHORT = ("Your losses have n_epochs entries, one short. Record the loss before every epoch AND once "
                  "more after the last: n_epochs + 1 entries, starting with the loss at the initial params.")
_HISTORY_LONG = "Your losses have n_epochs + 2 entries, one too many: take exactly n_epochs steps."
_WRONG_START = ("The first loss is not the loss of init_params(D, n_hidden, K, seed): train must start from "
                "those parameters (D = X.shape[1], K = T.shape[1], and the seed passed to train).")
_LOSS_IN_TRAIN = "The losses you record are {factor} the loss E = 1/(2N) Σ(Y − T)²: {advice}"
_UPDATE_ORDER = ("Your run drifts away from gradient descent: you changed W2 before computing the hidden "
                 "error signal, so δ_j = g'(z_j) Σ_k w_jk δ_k used the NEW W2. Compute all four gradients "
                 "at the current parameters (grads = backward(T, params, cache)) and only then update.")
_ASCENT = ("Your loss goes up: you added learning_rate × gradient. Gradient descent subtracts it: "
           "W ← W − learning_rate · dW, for all four parameters.")
_TRAIN_ACTIVATION = ("Your run used tanh although activation=\"sigmoid\" was asked for: pass the argument "
                     "activation on to forward.")
_INIT_NOT_REPRODUCIBLE = ("{call} gave different weights on two calls, so train cannot be checked against "
                          "the start it should use: train starts from init_params, and init_params is not seeded "
                          "by its seed argument. Fix init_params first (its test above says how); train itself "
                          "may be fine.")
_NOT_UPDATED = "With n_epochs = 0 no step is taken: return the parameters of init_params(D, n_hidden, K, seed) unchanged."


def _has_shape(*shapes) -> Callable:
    return lambda got: got.shape in shapes


# --- init_params(n_in, n_hidden, n_out, seed) -----------------------------------------------
def bias_mistakes(size: int) -> list[Mistake]:
    """For ``check_value(params["b1"], np.zeros(size), ..., kind="array")``: a 2-D or a non-zero bias."""
    return [
        Mistake("bias-shape", _BIAS_SHAPE.format(got=(1, size), n=size), when=_has_shape((1, size))),
        Mistake("bias-shape", _BIAS_SHAPE.format(got=(size, 1), n=size), when=_has_shape((size, 1))),
        Mistake("nonzero-bias", _NONZERO_BIAS, when=lambda got: got.shape == (size,) and bool(np.any(got != 0))),
    ]


def weight_shape_mistakes(fan_in: int, fan_out: int) -> list[Mistake]:
    """For a check of ``np.array(np.shape(W), dtype=float)`` against ``[fan_in, fan_out]``."""
    return [Mistake("transposed-weights", _TRANSPOSED_WEIGHTS,
                    when=lambda got: got.shape == (2,) and tuple(got) == (fan_out, fan_in))]


def weight_scale_mistakes(weights) -> list[Mistake]:
    """For ``check_value(std(W) · √fan-in, 1.0, rtol=0.6)``: why the spread of ``weights`` is off."""
    w = np.asarray(weights, dtype=np.float64)
    return [
        Mistake("zero-init", _ZERO_INIT, when=lambda got: not np.any(w)),
        Mistake("symmetric-init", _SYMMETRIC_INIT, when=lambda got: bool(np.all(w == w.flat[0]))),
        Mistake("unscaled-init", _UNSCALED_INIT, when=lambda got: float(got) > 4.5),
        Mistake("init-scale", _INIT_SCALE, when=_always),
    ]


#: For a second call with the same seed, checked against the first.
UNSEEDED = [Mistake("unseeded-init", _UNSEEDED, when=_always)]
#: For ``check_value(float(np.array_equal(W_seed_a, W_seed_b)), 0.0, ...)``.
IGNORES_SEED = [Mistake("ignores-seed", _IGNORES_SEED, when=_always)]


# --- forward(X, params, activation) ------------------------------------------------------------
def forward_mistakes(pre_hidden, output, params: dict, activation: str, output_other_activation) -> list[Mistake]:
    """Wrong outputs Y of ``forward``, from the test's own Z1 (``pre_hidden``), Y (``output``) and the
    Y it computed with the other activation."""
    g = _squash(activation)
    Z1, Y = np.asarray(pre_hidden, dtype=np.float64), np.asarray(output, dtype=np.float64)
    W2, b1, b2 = (np.asarray(params[k], dtype=np.float64) for k in ("W2", "b1", "b2"))
    mistakes = [
        Mistake("output-activation", _OUTPUT_ACTIVATION, value=g(Y)),
        Mistake("missing-bias", _MISSING_OUTPUT_BIAS, value=Y - b2),
        Mistake("missing-bias", _MISSING_HIDDEN_BIAS, value=g(Z1 - b1) @ W2 + b2),
        Mistake("ignores-activation", _IGNORES_ACTIVATION, value=np.asarray(output_other_activation, dtype=float)),
        Mistake("no-activation", _NO_HIDDEN_ACTIVATION, value=Z1 @ W2 + b2),
    ]
    if activation == "sigmoid":
        mistakes.append(Mistake("sigmoid-sign", _SIGMOID_SIGN, value=(1.0 - g(Z1)) @ W2 + b2))
    return mistakes


# --- mse_loss(Y, T) ---------------------------------------------------------------------------
def _squares(Y, T):
    Y, T = np.asarray(Y, dtype=np.float64), np.asarray(T, dtype=np.float64)
    return (Y - T) ** 2, Y.shape[0]


MSE_MISTAKES = [
    Mistake("missing-half", _LOSS_HALF, value=lambda Y, T: _squares(Y, T)[0].sum() / _squares(Y, T)[1]),
    Mistake("missing-mean-factor", _LOSS_SUM, value=lambda Y, T: _squares(Y, T)[0].sum() / 2),
    Mistake("mean-over-outputs", _LOSS_MEAN_ALL, value=lambda Y, T: _squares(Y, T)[0].mean() / 2),
    Mistake("mean-over-outputs", _LOSS_MEAN_ALL, value=lambda Y, T: _squares(Y, T)[0].mean()),
    Mistake("double-mean-factor", _LOSS_DOUBLE_MEAN,
            value=lambda Y, T: _squares(Y, T)[0].sum() / (2 * _squares(Y, T)[1] ** 2)),
    Mistake("root-of-loss", _LOSS_ROOT, value=lambda Y, T: np.sqrt(_squares(Y, T)[0].sum() / (2 * _squares(Y, T)[1]))),
    Mistake("root-of-loss", _LOSS_ROOT, value=lambda Y, T: np.sqrt(_squares(Y, T)[0].mean())),
    Mistake("absolute-error", _LOSS_ABS,
            value=lambda Y, T: np.abs(np.asarray(Y, float) - np.asarray(T, float)).sum() / (2 * np.shape(Y)[0])),
]


# --- backward(T, params, cache) ---------------------------------------------------------------
def gradient_shape_mistakes(n_samples: int, shapes: dict) -> dict[str, list[Mistake]]:
    """Per gradient name ("dW1", …), the shape slips, for ``check_value(grads[name], reference[name], kind="array")``
    run when the shape is wrong. ``shapes`` maps each gradient name to its correct shape."""
    mistakes = {}
    for name, shape in shapes.items():
        shape = tuple(shape)
        if len(shape) == 1:
            mistakes[name] = [
                Mistake("bias-axis", _BIAS_AXIS, when=lambda got: got.ndim == 0 or got.shape == (n_samples,)),
                Mistake("bias-axis", _BIAS_AXIS, when=_has_shape((1, n_samples), (n_samples, 1))),
                Mistake("bias-shape", _BIAS_GRADIENT_SHAPE.format(got=(1,) + shape), when=_has_shape((1,) + shape)),
                Mistake("bias-shape", _BIAS_GRADIENT_SHAPE.format(got=shape + (1,)), when=_has_shape(shape + (1,))),
            ]
        else:
            mistakes[name] = [Mistake("transposed-gradient", _TRANSPOSED_GRADIENT, when=_has_shape(shape[::-1]))]
    return mistakes


def hidden_gradient_mistakes(X, hidden, upstream, output_error, W2, slope, activation: str) -> list[Mistake]:
    """Wrong dW1 of ``backward``, from the test's own pieces.

    ``hidden`` is A1, ``upstream`` the exact ∂E/∂A1, ``output_error`` the exact ∂E/∂Y and ``slope``
    the exact g'(Z1), all (N, ·) arrays the test cell computed (by finite differences). The
    missing transpose can only be written down when W2 is square (H = K); otherwise it fails
    with a shape error before any value exists.
    """
    X, A1 = np.asarray(X, dtype=np.float64), np.asarray(hidden, dtype=np.float64)
    G, dY = np.asarray(upstream, dtype=np.float64), np.asarray(output_error, dtype=np.float64)
    W2, slope = np.asarray(W2, dtype=np.float64), np.asarray(slope, dtype=np.float64)
    g = _squash(activation)
    if activation == "sigmoid":
        of_activation, other = g(A1) * (1.0 - g(A1)), 1.0 - A1 ** 2
    else:
        of_activation, other = 1.0 - np.tanh(A1) ** 2, A1 * (1.0 - A1)
    mistakes = [
        Mistake("missing-activation-slope", _MISSING_SLOPE, value=X.T @ G),
        Mistake("slope-of-activation", _SLOPE_OF_ACTIVATION, value=X.T @ (G * of_activation)),
        Mistake("wrong-activation-slope", _WRONG_SLOPE, value=X.T @ (G * other)),
        Mistake("activation-not-slope", _ACTIVATION_NOT_SLOPE, value=X.T @ (G * A1)),
    ]
    if W2.shape[0] == W2.shape[1]:
        mistakes.append(Mistake("missing-transpose", _MISSING_TRANSPOSE, value=X.T @ ((dY @ W2) * slope)))
    return mistakes


# --- train(X, T, n_hidden, learning_rate, n_epochs, activation, seed) ------------------------
def _is_multiple(got: np.ndarray, reference: float, factor: float) -> bool:
    return (got.ndim == 1 and got.size > 0 and not close(got[0], reference)
            and close(got[0], factor * reference, rtol=1e-6))


def history_mistakes(n_epochs: int, start_loss: float, n_samples: int, update_order=None, ascent=None,
                     other_activation=None) -> list[Mistake]:
    """Wrong loss histories of ``train``.

    ``start_loss`` is the loss at init_params(D, n_hidden, K, seed); ``update_order``, ``ascent`` and
    ``other_activation`` are the histories of known wrong runs, computed by the test cell.
    """
    mistakes = [
        Mistake("history-one-short", _HISTORY_SHORT, when=_has_shape((n_epochs,))),
        Mistake("history-one-long", _HISTORY_LONG, when=_has_shape((n_epochs + 2,))),
        Mistake("missing-half", _LOSS_IN_TRAIN.format(factor="twice", advice="keep the ½ of the loss."),
                when=lambda got: _is_multiple(got, start_loss, 2.0)),
        Mistake("missing-mean-factor", _LOSS_IN_TRAIN.format(factor="N times", advice="divide by 2N."),
                when=lambda got: _is_multiple(got, start_loss, float(n_samples))),
    ]
    for tag, hint, wrong in (("update-order", _UPDATE_ORDER, update_order), ("gradient-sign", _ASCENT, ascent),
                             ("ignores-activation", _TRAIN_ACTIVATION, other_activation)):
        if wrong is not None:
            mistakes.append(Mistake(tag, hint, value=np.asarray(wrong, dtype=float)))
    mistakes.append(Mistake("wrong-start", _WRONG_START,
                            when=lambda got: got.ndim == 1 and got.size > 0 and not close(got[0], start_loss)))
    return mistakes


def trained_param_mistakes(update_order=None, ascent=None, other_activation=None) -> list[Mistake]:
    """Wrong final values of one parameter after training, from the test's own wrong runs."""
    mistakes = []
    for tag, hint, wrong in (("update-order", _UPDATE_ORDER, update_order), ("gradient-sign", _ASCENT, ascent),
                             ("ignores-activation", _TRAIN_ACTIVATION, other_activation)):
        if wrong is not None:
            mistakes.append(Mistake(tag, hint, value=np.asarray(wrong, dtype=float)))
    return mistakes


def check_reproducible_start(init_params: Callable, *args, seed: int) -> dict:
    """``init_params(*args, seed=seed)``, after checking that a second call gives the same weights.

    A train test compares the student's run with one started from init_params; an unseeded init_params
    would make a correct train look wrong, so the failure names init_params instead (tag unseeded-init).
    """
    __tracebackhide__ = True
    what = f"init_params({', '.join(map(str, args))}, seed={seed})"
    first = call(init_params, *args, kwargs={"seed": seed}, name="init_params")
    again = call(init_params, *args, kwargs={"seed": seed}, name="init_params")
    for key in ("W1", "W2"):
        try:
            same = np.array_equal(np.asarray(first[key], dtype=float), np.asarray(again[key], dtype=float))
        except Exception:  # not a dict of arrays: the init_params test names that  # noqa: BLE001
            same = True
        if not same:
            fail_plain(_INIT_NOT_REPRODUCIBLE.format(call=what), "unseeded-init")
    return first


#: For the parameters returned after n_epochs = 0, checked against init_params(D, n_hidden, K, seed).
NOT_UPDATED = [Mistake("wrong-start", _NOT_UPDATED, when=_always)]


def stale_update_mistake(backward: Callable, T, params: dict, cache, learning_rate: float, moved_W2,
                         name: str) -> list[Mistake]:
    """``name`` ("W1" or "b1") after ONE epoch when W2 was updated before the hidden gradient, using the
    student's own ``backward`` (fed the moved W2 and the cache of the starting point).

    Evaluated lazily: while ``backward`` is unfinished this mistake simply does not match.
    """
    def stale(*_args, **_kwargs):
        early = {key: np.array(value, dtype=float) for key, value in params.items()}
        early["W2"] = np.array(moved_W2, dtype=float)
        grads = backward(np.array(T, dtype=float), early, copy.deepcopy(cache))
        return np.asarray(params[name], dtype=float) - learning_rate * np.asarray(grads["d" + name], dtype=float)
    return [Mistake("update-order", _UPDATE_ORDER, value=stale)]
