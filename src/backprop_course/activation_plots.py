"""One figure of the three activations of the course (σ, tanh, identity) and their derivatives.

A thin layer over the functions a student passes in: it only evaluates and draws them.
tanh comes from NumPy and the identity is z itself; everything about σ and the two
derivatives comes from the student's code, so the figure shows exactly what they wrote.
"""
from __future__ import annotations

from typing import Callable, Optional

import matplotlib.pyplot as plt
import numpy as np

from .figure_style import BLUE, GREEN, VERMILLION, describe_figure

Z_RANGE = (-5.0, 5.0)


def _curve(function: Callable, z: np.ndarray, name: str, missing: list) -> Optional[np.ndarray]:
    """``function(z)`` as a float array, or None (and ``name`` noted) while it is still a stub."""
    try:
        return np.asarray(function(z.copy()), dtype=float)
    except NotImplementedError:
        missing.append(name)
        return None


def plot_activations(sigmoid: Callable, sigmoid_prime: Callable, tanh_prime: Callable, ax=None):
    """Draw σ, tanh and the identity (solid) with their derivatives (dashed) on one axes; return it.

    Each activation has its own colour and marker (circles σ, squares tanh, triangles the identity), so
    the curves part without colour. Curves whose function still raises NotImplementedError are left
    out, and a message names them instead of failing. Prints the figure's text alternative.
    """
    z = np.linspace(*Z_RANGE, 401)
    missing: list[str] = []
    curves = [  # (label, values, colour, line style, marker)
        ("σ(z)", _curve(sigmoid, z, "sigmoid", missing), BLUE, "-", "o"),
        ("σ'(z)", _curve(sigmoid_prime, z, "sigmoid_prime", missing), BLUE, "--", "o"),
        ("tanh(z)", np.tanh(z), VERMILLION, "-", "s"),
        ("tanh'(z)", _curve(tanh_prime, z, "tanh_prime", missing), VERMILLION, "--", "s"),
        ("identity z", z, GREEN, "-", "^"),
        ("identity' = 1", np.ones_like(z), GREEN, "--", "^"),
    ]
    created = ax is None
    if created:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for label, values, colour, style, marker in curves:
        if values is not None:
            ax.plot(z, values, color=colour, linestyle=style, marker=marker, markevery=(20, 50), markersize=5,
                    label=label)
    ax.axhline(0.0, color="0.75", linewidth=0.8)
    ax.axvline(0.0, color="0.75", linewidth=0.8)
    ax.set_xlim(*Z_RANGE)
    ax.set_ylim(-1.25, 1.25)
    ax.set_title("Activations (solid) and their derivatives (dashed)")
    ax.set_xlabel("pre-activation z")
    ax.set_ylabel("value")
    ax.legend(loc="lower right", ncol=3, fontsize="small")
    if missing:
        print(f"Not drawn yet: {', '.join(missing)} still raise NotImplementedError. "
              "Write them above, run their cells, then run this cell again.")
    drawn = [f"{label} {_shape(values, z)}" for label, values, *_ in curves if values is not None]
    describe_figure(f"activations (solid) and their derivatives (dashed) for z from {Z_RANGE[0]:g} to "
                    f"{Z_RANGE[1]:g}: " + "; ".join(drawn) + ".", ax.figure if created else None)
    return ax


def _shape(values: np.ndarray, z: np.ndarray) -> str:
    """A few words on one curve: its range, and where it peaks when it has an inner peak."""
    high, peak = float(values.max()), int(np.argmax(values))
    if np.ptp(values) < 1e-12:
        return f"is {high:.3g} everywhere"
    if 0 < peak < values.size - 1:
        return f"peaks at {high:.3g} at z = {z[peak]:.3g} and falls to {min(values[0], values[-1]):.2g} at the ends"
    rising = values[-1] > values[0]
    return f"{'rises' if rising else 'falls'} from {values[0]:.3g} to {values[-1]:.3g}"
