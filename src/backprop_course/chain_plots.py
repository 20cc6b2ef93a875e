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

from .figure_style import GUIDE, SERIES, describe_figure, drawn, note_not_drawn, plain_numbers, sci
from .student_code import failure_message, quiet


def _evaluate(function: Callable, *args, report: Callable[[str], None] = print) -> Optional[np.ndarray]:
    """``function(*args)`` as a 1-D float64 array, or None after a message to ``report``."""
    try:
        with quiet():
            return np.asarray(function(*args), dtype=float).ravel()
    except Exception as error:  # the student's code: any failure becomes a message  # noqa: BLE001
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
    for l in range(thetas.size):  # noqa: E741
        print(f"{f'∂J/∂θ_{l + 1}':>10}" + "".join(f"{columns[t][l]:>{width}.15f}" for t in titles))
    print()
    for i, first in enumerate(titles):
        for second in titles[i + 1:]:
            gap = float(np.max(np.abs(columns[first] - columns[second])))
            print(f"largest |{first} − {second}| = {gap:.1e}")
    return columns


def _seconds(function: Callable, args: tuple, repeats: int, least: float = 0.01) -> float:
    """The CPU time of one call of ``function(*args)``: the least, over ``repeats`` rounds, of a round's
    time divided by its calls, each round calling often enough to take at least ``least`` seconds.

    CPU time of this process (not wall-clock time) and the least of several rounds: other programs on
    a shared machine then add little, and a slow first call (caches, imports) does not count."""
    calls, best = 1, np.inf
    while True:  # how many calls make one round long enough to time reliably
        start = time.process_time()
        for _ in range(calls):
            function(*args)
        spent = time.process_time() - start
        if spent >= least or calls >= 2 ** 16:
            break
        calls *= 2
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            function(*args)
        best = min(best, (time.process_time() - start) / calls)
    return best


def fitted_slope(lengths: Sequence[int], seconds: Sequence[float]) -> float:
    """The slope of the least-squares line through (log L, log seconds): the p in time ∝ L^p."""
    return float(np.polyfit(np.log(np.asarray(lengths, dtype=float)), np.log(np.asarray(seconds, dtype=float)), 1)[0])


def plot_timing(methods: Mapping[str, Callable], lengths: Sequence[int], make_thetas: Callable[[int], np.ndarray],
                x: float = 1.0, y: float = 0.0, repeats: int = 5, ax=None):
    """Time every method (a function of x, y, thetas) on chains of each length; log-log plot.

    Each time is the least CPU time per call over ``repeats`` rounds (`_seconds`). Grey lines of
    slope 1 and 2 show how a time proportional to L and to L² grows. Prints the fitted slope of each
    method. Returns the Axes, or None after a message. While the grader runs with figures off
    (`figure_style.drawn`), nothing is timed: each method runs once per length and the note says so.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    lengths = np.asarray(lengths, dtype=int)
    if not drawn():  # grading: the times only make a picture; each method still runs once per length
        try:
            with quiet():
                for method in methods.values():
                    for n in lengths:
                        method(x, y, make_thetas(int(n)))
        except Exception as error:  # the student's code  # noqa: BLE001
            print(failure_message(error))
            return None
        note_not_drawn()
        describe_figure("log-log plot of the time for all L derivatives against L = "
                        + ", ".join(str(n) for n in lengths) + "; not timed while grading")
        return None
    times = {}
    for title, method in methods.items():
        try:
            with quiet():
                times[title] = np.array([_seconds(method, (x, y, make_thetas(int(n))), repeats) for n in lengths])
        except Exception as error:  # the student's code  # noqa: BLE001
            print(failure_message(error))
            return None
    created = ax is None
    if created:
        _, ax = plt.subplots(figsize=(6.5, 4))
    for (title, seconds), look in zip(times.items(), SERIES):
        ax.loglog(lengths, seconds, label=title, **look)
    anchor = min(float(t[0]) for t in times.values())
    for power, style in ((1, ":"), (2, "--")):
        ax.loglog(lengths, anchor * (lengths / lengths[0]) ** power, style, color=GUIDE,
                  label=f"grows like L{'²' if power == 2 else ''} (slope {power})")
    ax.xaxis.set_major_locator(FixedLocator(lengths))  # one label per measured length, none in between
    ax.xaxis.set_major_formatter(plain_numbers())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="number of units L", ylabel="CPU seconds per call (least of %d rounds)" % repeats,
           title="Time to compute all L derivatives")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    slopes = {title: fitted_slope(lengths, seconds) for title, seconds in times.items()}
    describe_figure("log-log plot of the time for all L derivatives against L = "
                    + ", ".join(str(n) for n in lengths) + "; "
                    + "; ".join(f"{title}: {seconds[0]:.2g} s → {seconds[-1]:.2g} s, slope {slopes[title]:.1f}"
                                for title, seconds in times.items()), ax.figure if created else None)
    for title, seconds in times.items():
        print(f"{title}: {seconds[-1] / seconds[0]:.0f} times slower at L = {lengths[-1]} than at L = {lengths[0]}; "
              f"fitted slope {slopes[title]:.2f}")
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
    created = ax is None
    if created:
        _, ax = plt.subplots(figsize=(6.5, 4))
    ax.semilogy(depths, first, label="|∂J/∂θ₁| (first unit)", **SERIES[0])
    ax.semilogy(depths, last, label="|∂J/∂θ_L| (output unit)", **SERIES[1])
    ax.semilogy(depths, first[0] * 0.25 ** (depths - depths[0]), "--", color=GUIDE,
                label="shrinking by ¼ per unit")
    ax.set(xlabel="depth L (number of units)", ylabel="size of the derivative",
           title=f"Vanishing gradients in a sigmoid chain (all θ = {theta:g}, x = {x:g}, y = {y:g})")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    shrink = (first[-1] / first[0]) ** (1 / max(1, depths[-1] - depths[0])) if first[0] > 0 else float("nan")
    describe_figure(f"semilog plot against the depth L = {depths[0]} … {depths[-1]}: |∂J/∂θ₁| falls from "
                    f"{sci(first[0])} to {sci(first[-1])} (a factor {1 / shrink:.2g} per added unit, the dashed "
                    f"¼-per-unit bound just above it), while |∂J/∂θ_L| stays between {sci(min(last))} and "
                    f"{sci(max(last))}.", ax.figure if created else None)
    return ax
