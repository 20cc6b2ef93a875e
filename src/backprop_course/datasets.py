"""Small two-class data sets made in code (no download), for the network notebooks.

Every function returns ``(X, T)``: inputs of shape (N, 2) and targets of shape (N, 1) holding
0.0 and 1.0, both float64. Random ones are seeded through `backprop_course.seeding.rng`, so the
same arguments always give the same points.
"""
from __future__ import annotations

import numpy as np

from .seeding import rng


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four corners of the unit square; the target is 1 where exactly one input is 1."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    T = np.array([[0.0], [1.0], [1.0], [0.0]])
    return X, T


def _shuffled(generator: np.random.Generator, X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = generator.permutation(len(labels))
    return X[order], labels[order].reshape(-1, 1).astype(float)


def two_moons(n: int = 200, noise: float = 0.1, seed: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles: class 0 on the upper arc, class 1 on the lower, shifted one.

    ``noise`` is the standard deviation of the Gaussian jitter added to every point.
    """
    generator = rng(seed)
    counts = (n // 2, n - n // 2)
    upper = np.linspace(0.0, np.pi, counts[0])
    lower = np.linspace(0.0, np.pi, counts[1])
    X = np.vstack([np.column_stack([np.cos(upper), np.sin(upper)]),
                   np.column_stack([1.0 - np.cos(lower), 0.5 - np.sin(lower)])])
    X = X + generator.normal(0.0, noise, size=X.shape)
    labels = np.concatenate([np.zeros(counts[0]), np.ones(counts[1])])
    return _shuffled(generator, X, labels)


def spiral(n: int = 200, noise: float = 0.2, turns: float = 1.25, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Two arms winding out from the origin, ``turns`` revolutions each, one per class."""
    generator = rng(seed)
    counts = (n // 2, n - n // 2)
    arms = []
    for arm, k in enumerate(counts):
        radius = np.linspace(0.2, 1.0, k)
        angle = 2 * np.pi * turns * radius + arm * np.pi
        arms.append(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]) * 3.0)
    X = np.vstack(arms) + generator.normal(0.0, noise, size=(n, 2))
    labels = np.concatenate([np.zeros(counts[0]), np.ones(counts[1])])
    return _shuffled(generator, X, labels)
