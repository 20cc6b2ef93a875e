"""Loss curves and decision boundaries for 06_one_hidden_layer.

Thin layers over what the student passes in (their `train` and `forward`, or the arrays those
returned): nothing here runs a forward pass, a backward pass or a training step itself. While
those functions are still stubs, every helper prints a short message instead of raising.
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional

import numpy as np
from matplotlib.ticker import FuncFormatter, NullFormatter

from .boundary_plots import plot_boundary
from .figure_style import sci, series, show_figure
from .student_code import failure_message, quiet

#: Loss curves are drawn down to this fraction of their largest value (a perfect fit would reach 1e-30).
FLOOR = 1e-6


def _two_three_five(value: float, _position) -> str:
    """Label a minor log tick only at 2, 3 and 5 times a power of ten, so labels do not overlap."""
    if value <= 0:
        return ""
    leading = round(value / 10 ** np.floor(np.log10(value)))
    return f"{value:g}" if leading in (2, 3, 5) else ""


def run_training(train: Callable, X: np.ndarray, T: np.ndarray, n_hidden: int, learning_rate: float,
                 n_epochs: int, activation: str = "tanh", seed: int = 0,
                 report: Callable[[str], None] = print) -> Optional[tuple[dict, np.ndarray]]:
    """``train(X, T, n_hidden, learning_rate, n_epochs, activation, seed)`` as (params, losses), or None.

    When the call raises or returns losses of the wrong length, ``report`` receives a message.
    """
    try:
        with quiet():
            params, losses = train(X.copy(), T.copy(), n_hidden, learning_rate, n_epochs,
                                   activation=activation, seed=seed)
            losses = np.asarray(losses, dtype=float).ravel()
    except Exception as error:  # the student's code: any failure becomes a message  # noqa: BLE001
        report(failure_message(error))
        return None
    if losses.shape != (n_epochs + 1,):
        report(f"train returned {losses.size} losses; expected n_epochs + 1 = {n_epochs + 1}. "
               "Its tests above say more.")
        return None
    return params, losses


def plot_losses(histories: Mapping[str, np.ndarray], ax=None, title: str = "Loss during training"):
    """One curve per entry of ``histories`` (label → losses before each epoch and after the last)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    for index, (label, losses) in enumerate(histories.items()):
        losses = np.asarray(losses, dtype=float)
        ax.plot(np.arange(losses.size), losses, label=f"{label} (last: {sci(losses[-1])})",
                **series(index, losses.size))
    ax.set(xlabel="epoch (full-batch gradient-descent step)", ylabel="loss E", title=title, yscale="log")
    lowest = min(float(np.min(np.asarray(h, dtype=float))) for h in histories.values())
    highest = max(float(np.max(np.asarray(h, dtype=float))) for h in histories.values())
    ax.set_ylim(max(lowest, highest * FLOOR) / 1.5, highest * 1.5)
    plain = FuncFormatter(lambda value, _: f"{value:g}")  # plain labels: fast, no mathtext
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(_two_three_five) if highest < 100 * lowest else NullFormatter())
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_decision_boundary(forward: Callable, params: dict, X: np.ndarray, T: np.ndarray,
                           activation: str = "tanh", ax=None, title: str = "Decision boundary"):
    """The data (one marker per class), the network's output y as shading and its y = ½ contour.

    Returns the Axes, or None (after a message) while ``forward`` cannot be evaluated.
    """
    def first_output(points):
        output, _ = forward(points, params, activation=activation)
        return np.asarray(output, dtype=float)[:, 0]

    return plot_boundary(first_output, X, T, ax=ax, title=title, output_name="network output y",
                         class_name="target t", resolution=100, levels=np.linspace(-0.25, 1.25, 13))


def show_training(train: Callable, forward: Callable, problems, activations=("tanh", "sigmoid"), seed: int = 0):
    """Train on each problem once per activation; draw one row per problem in a single figure: the loss
    curves beside the decision boundary of the first activation.

    ``problems`` is a list of dicts with the keys name, X, T, n_hidden, learning_rate and n_epochs.
    Returns {name: {activation: (params, losses)}}, or None (after a message) while train or forward
    is unfinished.
    """
    import matplotlib.pyplot as plt

    runs = {}
    for problem in problems:
        runs[problem["name"]] = {}
        for activation in activations:
            trained = run_training(train, problem["X"], problem["T"], problem["n_hidden"], problem["learning_rate"],
                                   problem["n_epochs"], activation, seed)
            if trained is None:
                return None
            runs[problem["name"]][activation] = trained
    first = activations[0]
    fig, axes = plt.subplots(len(problems), 2, figsize=(11.5, 4.1 * len(problems)), squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.07, top=0.95, wspace=0.22, hspace=0.3)
    for (left, right), problem in zip(axes, problems):
        name, mine = problem["name"], runs[problem["name"]]
        plot_losses({f"g = {a}": losses for a, (_, losses) in mine.items()}, ax=left,
                    title=f"Loss on {name} ({problem['n_hidden']} hidden units, learning rate {problem['learning_rate']:g})")
        if plot_decision_boundary(forward, mine[first][0], problem["X"], problem["T"], first, ax=right,
                                  title=f"Decision boundary on {name}, g = {first}") is None:
            plt.close(fig)
            return None
    lines = []
    for problem in problems:
        said = []
        for activation, (params, losses) in runs[problem["name"]].items():
            with quiet():
                output = np.asarray(forward(problem["X"], params, activation=activation)[0], dtype=float)[:, 0]
            hits = np.mean((output >= 0.5) == (np.asarray(problem["T"]).ravel() == 1))
            said.append(f"g = {activation}: loss {sci(losses[0])} → {sci(losses[-1])} after {problem['n_epochs']} "
                        f"epochs, largest rise {_largest_rise(losses)}, {hits:.0%} of the points on the right side of y = ½")
        lines.append(f"Figure: {problem['name']}, loss per epoch on a log axis (left) and the decision boundary of "
                     f"the g = {first} network (right); " + "; ".join(said) + ".")
    show_figure(fig, " ".join(lines))
    print("\n".join(lines))
    return runs


def _largest_rise(losses: np.ndarray) -> str:
    """Where the loss curve climbs most, in words: the low before the climb, the peak, and their epochs."""
    with np.errstate(all="ignore"):
        running_low = np.minimum.accumulate(losses)
        ratio = losses / running_low
    if not np.any(np.isfinite(ratio)) or np.nanmax(ratio) < 1.5:
        return "none (it falls steadily)"
    peak = int(np.nanargmax(ratio))
    low = int(np.argmin(losses[: peak + 1]))
    return f"from {sci(losses[low])} at epoch {low} to {sci(losses[peak])} at epoch {peak}"
