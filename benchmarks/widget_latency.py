"""Median redraw time of the two slider widgets, without a browser (Agg backend).

- notebook 01: one learning-rate change of `descent_plots.learning_rate_explorer` (its redraw runs
  the descent and renders the frame); target 50 ms.
- notebook 07: one retrain-and-redraw of the training lab at its default settings
  (`lab_widgets.lab_update`); target 200 ms.

Both use solution code written here from the contract formulas. Each is measured RUNS times after
one warm-up; the median is reported. Usage: python benchmarks/widget_latency.py [RUNS]
"""
from __future__ import annotations

import statistics
import sys
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from backprop_course.datasets import two_moons  # noqa: E402
from backprop_course.descent_plots import learning_rate_explorer  # noqa: E402
from backprop_course.lab_widgets import DEFAULTS, lab_update, lab_view  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 25
TARGETS_MS = {"01 learning-rate slider": 50.0, "07 training lab (defaults)": 200.0}


# --- notebook 01: f(x) = x² − 4x + 6 ---------------------------------------------------------
def f(x):
    return x ** 2 - 4 * x + 6


def df(x):
    return 2 * x - 4


def gradient_descent(grad, x0, learning_rate, n_steps):
    iterates = np.empty(n_steps + 1)
    iterates[0] = x0
    for k in range(n_steps):
        iterates[k + 1] = iterates[k] - learning_rate * grad(iterates[k])
    return iterates


# --- notebook 07: the one-hidden-layer network of notebook 06 ----------------------------------
def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def init_params(n_in, n_hidden, n_out, seed=0):
    generator = np.random.default_rng(seed)
    return {"W1": generator.standard_normal((n_in, n_hidden)) / np.sqrt(n_in), "b1": np.zeros(n_hidden),
            "W2": generator.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden), "b2": np.zeros(n_out)}


def forward(X, params, activation="tanh"):
    A1 = X @ params["W1"] + params["b1"]
    A1 = np.tanh(A1) if activation == "tanh" else sigmoid(A1)
    Y = A1 @ params["W2"] + params["b2"]
    return Y, {"X": X, "A1": A1, "Y": Y, "activation": activation}


def train(X, T, n_hidden, learning_rate, n_epochs, activation="tanh", seed=0):
    params = init_params(X.shape[1], n_hidden, T.shape[1], seed)
    losses = np.zeros(n_epochs + 1)
    for epoch in range(n_epochs + 1):
        Y, cache = forward(X, params, activation)
        losses[epoch] = np.sum((Y - T) ** 2) / (2 * len(X))
        if epoch == n_epochs:
            break
        A1, delta2 = cache["A1"], (Y - T) / len(X)
        slope = 1.0 - A1 * A1 if activation == "tanh" else A1 * (1.0 - A1)
        delta1 = (delta2 @ params["W2"].T) * slope
        grads = {"W1": X.T @ delta1, "b1": delta1.sum(axis=0), "W2": A1.T @ delta2, "b2": delta2.sum(axis=0)}
        params = {name: params[name] - learning_rate * grads[name] for name in params}
    return params, losses


def median_ms(action, runs: int = RUNS) -> float:
    action(0)  # warm-up: first-draw caches, imports
    times = []
    for run in range(runs):
        started = time.perf_counter()
        action(run)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def descent_slider():
    explorer = learning_rate_explorer(gradient_descent, df, f, x0=8.0, n_steps=30)
    rate = explorer.children[0].children[0]
    values = (0.1, 0.12)

    def change(run: int) -> None:  # a slider move: the widget's observer retrains and redraws
        rate.value = values[run % 2]
    return change


def training_lab_update():
    X, T = two_moons(200, noise=0.15, seed=6)
    view = lab_view(X, T, target=0.03)

    def update(_run: int) -> None:
        png, _ = lab_update(view, train, forward, X, T, DEFAULTS["learning_rate"], DEFAULTS["n_hidden"],
                            DEFAULTS["n_epochs"], DEFAULTS["activation"], seed=0, target=0.03)
        assert png, "the lab drew no frame"
    return update


def main() -> None:
    results = {"01 learning-rate slider": median_ms(descent_slider()),
               "07 training lab (defaults)": median_ms(training_lab_update())}
    print(f"median over {RUNS} runs (Agg, no browser)")
    print(f"{'widget':<28} {'median ms':>10} {'target ms':>10}  verdict")
    for name, value in results.items():
        target = TARGETS_MS[name]
        print(f"{name:<28} {value:>10.1f} {target:>10.0f}  {'ok' if value <= target else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
