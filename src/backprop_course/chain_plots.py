"""The comparison table, timing plot and vanishing-gradient plot of 05_single_path_backprop.

Thin layers over the functions the notebook passes in (the student's `chain_gradient`, the
notebook's own SymPy and finite-difference gradients): nothing here runs a forward pass or
computes a derivative itself. While those functions are still stubs, every helper prints a
short message instead of raising.
"""
from __future__ import annotations

import time
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from .student_code import failure_message, quiet


def _evaluate(function: Callable, *args, report: Callable[[str], None] = print) -> Optional[np.ndarray]:
    """``function(*args)`` as a 1-D float64 array, or None after a message to ``report``."""
    try:
        with quiet():
            return np.asarray(function(*args), dtype=float).ravel()
    except Exception as error:  # the student's code: any failure becomes a message
        report(failure_message(error))
        return None


def comparison_table(methods: Mapping[str, Callable], x: float, y: float, thetas) -> Optional[dict]:
    """Print ∂J/∂θ_l from every method side by side, then the largest gap between each pair.

    ``methods`` maps a column title to a function of (x, y, thetas) returning the gradient.
    Returns the columns as a dict of arrays, or None when a method failed (after a message).
    """
    thetas = np.asarray(thetas, dtype=float)
    columns = {}
    for title, method in methods.items():
        values = _evaluate(method, x, y, thetas.copy())
        if values is None:
            return None
        if values.shape != thetas.shape:
            print(f"{title} gave {values.size} numbers for {thetas.size} weights; its tests above say more.")
            return None
        columns[title] = values
    titles = list(columns)
    width = max(22, *(len(t) + 2 for t in titles))
    print(f"{'':>10}" + "".join(f"{t:>{width}}" for t in titles))
    for l in range(thetas.size):
        print(f"{f'∂J/∂θ_{l + 1}':>10}" + "".join(f"{columns[t][l]:>{width}.15f}" for t in titles))
    print()
    for i, first in enumerate(titles):
        for second in titles[i + 1:]:
            gap = float(np.max(np.abs(columns[first] - columns[second])))
            print(f"largest |{first} − {second}| = {gap:.1e}")
    return columns


def _seconds(function: Callable, args: tuple, repeats: int) -> float:
    """The shortest of ``repeats`` wall-clock times of ``function(*args)``."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - start)
    return best


def plot_timing(methods: Mapping[str, Callable], lengths: Sequence[int], make_thetas: Callable[[int], np.ndarray],
                x: float = 1.0, y: float = 0.0, repeats: int = 3, ax=None):
    """Time every method (a function of x, y, thetas) on chains of each length; log-log plot.

    Each time is the best of ``repeats`` runs. Dotted grey lines of slope 1 and 2 show how
    a time proportional to L and to L² grows. Returns the Axes, or None after a message.
    """
    import matplotlib.pyplot as plt

    lengths = np.asarray(lengths, dtype=int)
    times = {}
    for title, method in methods.items():
        try:
            with quiet():
                times[title] = np.array([_seconds(method, (x, y, make_thetas(int(n))), repeats) for n in lengths])
        except Exception as error:  # the student's code
            print(failure_message(error))
            return None
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    for title, seconds in times.items():
        ax.loglog(lengths, seconds, "o-", label=title)
    anchor = min(float(t[0]) for t in times.values())
    for power, style in ((1, ":"), (2, "--")):
        ax.loglog(lengths, anchor * (lengths / lengths[0]) ** power, style, color="0.6",
                  label=f"grows like L{'²' if power == 2 else ''}")
    ax.set(xlabel="number of units L", ylabel="seconds (best of %d runs)" % repeats,
           title="Time to compute all L derivatives")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    for title, seconds in times.items():
        print(f"{title}: {seconds[-1] / seconds[0]:.0f} times slower at L = {lengths[-1]} than at L = {lengths[0]}")
    return ax


def plot_vanishing(chain_gradient: Callable, depths: Sequence[int], theta: float = 1.0, x: float = 1.0,
                   y: float = 0.0, ax=None):
    """|∂J/∂θ_1| and |∂J/∂θ_L| against the depth L, all weights equal to ``theta``; semilog plot.

    A dashed line shows the size (1/4)^(L−1) that the slope bound σ' ≤ ¼ allows when
    |θ| = 1. Returns the Axes, or None after a message.
    """
    import matplotlib.pyplot as plt

    depths = np.asarray(depths, dtype=int)
    first, last = [], []
    for depth in depths:
        gradient = _evaluate(chain_gradient, x, y, np.full(int(depth), float(theta)))
        if gradient is None:
            return None
        if gradient.shape != (depth,):
            print(f"chain_gradient gave {gradient.size} numbers for L = {depth}; its tests above say more.")
            return None
        first.append(abs(gradient[0]))
        last.append(abs(gradient[-1]))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    ax.semilogy(depths, first, "o-", label="|∂J/∂θ₁| (first unit)")
    ax.semilogy(depths, last, "s-", label="|∂J/∂θ_L| (output unit)")
    ax.semilogy(depths, first[0] * 0.25 ** (depths - depths[0]), "--", color="0.5",
                label="shrinking by ¼ per unit")
    ax.set(xlabel="depth L (number of units)", ylabel="size of the derivative",
           title=f"Vanishing gradients in a sigmoid chain (all θ = {theta:g}, x = {x:g}, y = {y:g})")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return ax
