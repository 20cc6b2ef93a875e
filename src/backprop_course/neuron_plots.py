"""A two-class data set and the training plots of 04_single_neuron.

Thin layers over what the student passes in (their `train` and `predict`, or the arrays those
returned): nothing here computes a prediction, a cost or a gradient itself. While those
functions are still stubs, every helper prints a short message instead of raising.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .seeding import rng
from .boundary_plots import plot_boundary
from .figure_style import BLUE, describe_figure, drawn, sci
from .student_code import failure_message, quiet

#: Centres of the two blobs (class 0, class 1) and their common spread.
BLOB_CENTRES = ((-1.0, 1.5), (1.8, 0.2))
BLOB_SPREAD = 0.9


def two_blobs(n: int = 100, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: n points in the plane, half around each centre, labels 0.0 and 1.0, shuffled.

    X has shape (n, 2) and y shape (n,), both float64; the same seed gives the same data.
    """
    generator = rng(seed)
    counts = (n // 2, n - n // 2)
    X = np.vstack([generator.normal(centre, BLOB_SPREAD, size=(k, 2)) for centre, k in zip(BLOB_CENTRES, counts)])
    y = np.concatenate([np.zeros(counts[0]), np.ones(counts[1])])
    order = generator.permutation(n)
    return X[order], y[order]


def run_training(train: Callable, X: np.ndarray, y: np.ndarray, learning_rate: float, n_steps: int,
                 report: Callable[[str], None] = print) -> Optional[tuple[np.ndarray, float, np.ndarray]]:
    """``train(X, y, learning_rate, n_steps)`` as (w, b, costs), or None after a message to ``report``."""
    try:
        with quiet():
            w, b, costs = train(X.copy(), y.copy(), learning_rate, n_steps)
            w, b = np.asarray(w, dtype=float).ravel(), float(b)
            costs = np.asarray(costs, dtype=float).ravel()
    except Exception as error:  # the student's code: any failure becomes a message  # noqa: BLE001
        report(failure_message(error))
        return None
    if w.shape != (X.shape[1],) or costs.shape != (n_steps + 1,):
        report(f"train returned w of shape {w.shape} and {costs.size} costs; expected shape ({X.shape[1]},) "
               f"and n_steps + 1 = {n_steps + 1} costs. Its tests above say more.")
        return None
    return w, b, costs


def plot_cost_history(costs: np.ndarray, ax=None, title: str = "Cost during training"):
    """The cost before each step and after the last one, against the step number; return the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    costs = np.asarray(costs, dtype=float)
    ax.plot(np.arange(costs.size), costs, color=BLUE, label=f"C after k steps (last: {sci(costs[-1])})")
    ax.plot([0], costs[:1], "s", color="black", label=f"start w = 0, b = 0: C = {sci(costs[0])}")
    ax.set(xlabel="gradient-descent step k", ylabel="cost C", title=title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_decision_boundary(predict: Callable, w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray,
                           ax=None, title: str = "Decision boundary of the trained neuron"):
    """The data (one marker per class), ``predict``'s output as shading, and its ŷ = ½ contour.

    Returns the Axes, or None (after a message) while ``predict`` cannot be evaluated.
    """
    return plot_boundary(lambda points: predict(points, w, b), X, y, ax=ax, title=title,
                         output_name="prediction ŷ", class_name="class y", pad=0.8, resolution=160)


def show_training(train: Callable, predict: Callable, X: np.ndarray, y: np.ndarray, learning_rate: float,
                  n_steps: int):
    """Run the student's ``train`` and draw the cost history beside the decision boundary.

    Returns (w, b, costs), or None (after a message) while train or predict is unfinished.
    """
    import matplotlib.pyplot as plt

    trained = run_training(train, X, y, learning_rate, n_steps)
    if trained is None:
        return None
    w, b, costs = trained
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.3))
    plot_cost_history(costs, ax=left, title=f"Cost per step (learning rate {learning_rate:g})")
    if plot_decision_boundary(predict, w, b, X, y, ax=right) is None:
        plt.close(fig)
        return None
    if drawn():  # layout is for the picture only
        fig.tight_layout()
    with quiet():
        hits = np.mean((np.asarray(predict(X, w, b), dtype=float) >= 0.5) == (y == 1))
    describe_figure(f"left, the cost per step falls from {sci(costs[0])} to {sci(costs[-1])} in {n_steps} steps "
                    f"(learning rate {learning_rate:g}); right, the {len(y)} points (circles class 0, triangles "
                    f"class 1) over the neuron's output shaded from blue (0) to red (1), with the boundary ŷ = ½, "
                    f"the line w·x + b = 0 for w = {np.round(w, 3)}, b = {b:.3f}; {hits:.0%} of the points lie on "
                    "the right side of it.", fig)
    return trained
