"""One figure of the three activations of the course (σ, tanh, identity) and their derivatives.

A thin layer over the functions a student passes in: it only evaluates and draws them.
tanh comes from NumPy and the identity is z itself; everything about σ and the two
derivatives comes from the student's code, so the figure shows exactly what they wrote.
"""
from __future__ import annotations

from typing import Callable, Optional

import matplotlib.pyplot as plt
import numpy as np

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

    Curves whose function still raises NotImplementedError are left out, and a message
    names them instead of failing.
    """
    z = np.linspace(*Z_RANGE, 401)
    missing: list[str] = []
    curves = [  # (label, values, colour, line style)
        ("σ(z)", _curve(sigmoid, z, "sigmoid", missing), "tab:blue", "-"),
        ("σ'(z)", _curve(sigmoid_prime, z, "sigmoid_prime", missing), "tab:blue", "--"),
        ("tanh(z)", np.tanh(z), "tab:green", "-"),
        ("tanh'(z)", _curve(tanh_prime, z, "tanh_prime", missing), "tab:green", "--"),
        ("identity z", z, "tab:red", "-"),
        ("identity' = 1", np.ones_like(z), "tab:red", "--"),
    ]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for label, values, colour, style in curves:
        if values is not None:
            ax.plot(z, values, color=colour, linestyle=style, label=label)
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
    return ax
