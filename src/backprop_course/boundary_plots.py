"""Decision boundaries of a two-input classifier: evaluate it on a grid, shade its output, draw the ½ contour."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .figure_style import CLASS_LOOKS, OUTPUT_CMAP
from .student_code import failure_message, quiet


def plot_boundary(classify: Callable, X: np.ndarray, labels: np.ndarray, *, ax=None, title: str,
                  output_name: str, class_name: str, pad: float = 0.5, resolution: int = 120,
                  levels=np.linspace(0, 1, 11)):
    """Shade ``classify(points)`` (an (M, 2) array → M outputs) over the data's range, draw its ½ contour
    and the data, one colour and marker shape per class (circles for 0, triangles for 1). Returns the Axes, or None (after a message) while the student's
    code behind ``classify`` cannot be evaluated."""  # noqa: E501
    import matplotlib.pyplot as plt

    X, labels = np.asarray(X, dtype=float), np.asarray(labels, dtype=float).ravel()
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    gx, gy = np.meshgrid(xs, ys)
    try:
        with quiet():
            shade = np.asarray(classify(np.column_stack([gx.ravel(), gy.ravel()])), dtype=float).reshape(gx.shape)
    except Exception as error:  # the student's code  # noqa: BLE001
        print(failure_message(error))
        return None
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    filled = ax.contourf(gx, gy, np.clip(shade, levels[0], levels[-1]), levels=levels, cmap=OUTPUT_CMAP, alpha=0.35)
    ax.figure.colorbar(filled, ax=ax, label=f"{output_name}")
    ax.contour(gx, gy, shade, levels=[0.5], colors="black", linewidths=1.5)
    ax.plot([], [], color="black", label=f"decision boundary {output_name.split()[-1]} = ½")
    for value, (colour, marker) in enumerate(CLASS_LOOKS):
        ax.scatter(*X[labels == value].T, s=20, color=colour, marker=marker, edgecolor="white", linewidth=0.4,
                   label=f"{class_name} = {value} ({'circles' if marker == 'o' else 'triangles'})")
    ax.set(xlabel="input x₁", ylabel="input x₂", title=title)
    ax.legend(loc="lower right", fontsize="small")
    return ax
