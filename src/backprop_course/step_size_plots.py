"""Plots and printed comparisons for 03_numerical_checks: error against step size, float32, gradient checks.

Thin layers over the functions a student passes in (`forward_difference`,
`central_difference`, `relative_error`, `numerical_gradient`) and over the exact
derivatives the notebook gives: nothing here computes a difference quotient, a relative
error or a gradient itself. While a student function is still a stub, every helper prints a
short message instead of raising.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from .figure_style import BLUE, GUIDE, VERMILLION, describe_figure, drawn, sci
from .student_code import failure_message, quiet

#: The steps of the lesson: 10⁻¹, 10⁻², …, 10⁻¹⁵.
STEPS = np.logspace(-1, -15, 15)
#: Errors below this are drawn at this height (a log axis cannot show 0).
FLOOR = 1e-17
#: The course's reading of a relative error: (upper bound, verdict).
VERDICTS = ((1e-7, "right: trust it"), (1e-4, "look closer"), (np.inf, "wrong: a bug (or float32)"))


def verdict(error: float) -> str:
    """The course's reading of a relative error."""
    for bound, text in VERDICTS:
        if error < bound:
            return text
    return VERDICTS[-1][1]  # NaN


def step_errors(difference: Callable, relative_error: Callable, f: Callable, x0, exact: float,
                steps: Sequence[float] = STEPS) -> Optional[np.ndarray]:
    """relative_error(difference(f, x0, h), exact) for every h, or None (with a message) on failure."""
    try:
        with quiet():
            return np.array([float(relative_error(difference(f, x0, h), exact)) for h in steps])
    except Exception as error:  # the student's code: turn any failure into a message  # noqa: BLE001
        print(failure_message(error))
        return None


def _in_float32(f: Callable) -> Callable:
    """f evaluated in single precision: its argument is rounded to float32 first."""
    def f32(z):
        return f(np.asarray(z, dtype=np.float32))
    return f32


def plot_step_errors(forward_difference: Callable, central_difference: Callable, relative_error: Callable,
                     f: Callable, x0: float, exact: float, steps: Sequence[float] = STEPS,
                     float32: bool = False, ax=None, name: str = "σ'", guides: bool = True):
    """Log–log plot of the relative error of both differences against h; returns (Axes, errors) or None.

    ``exact`` is the true derivative at ``x0``. With ``float32=True`` f is evaluated in
    single precision (dashed lines). With ``guides``, grey lines show the slopes 1, 2
    (truncation) and −1 (round-off).
    """
    import matplotlib.pyplot as plt

    steps = np.asarray(steps, dtype=float)
    g = _in_float32(f) if float32 else f
    start = np.float32(x0) if float32 else x0
    errors = {}
    for label, difference in (("forward", forward_difference), ("central", central_difference)):
        found = step_errors(difference, relative_error, g, start, exact, steps)
        if found is None:
            return None
        errors[label] = found
    created = ax is None
    if created:
        _, ax = plt.subplots(figsize=(7.5, 4.8))
    style = "--" if float32 else "-"
    precision = "float32" if float32 else "float64"
    for label, colour, marker in (("forward", BLUE, "o"), ("central", VERMILLION, "s")):
        ax.loglog(steps, np.maximum(errors[label], FLOOR), style, marker=marker, markersize=4, color=colour,
                  label=f"{label} difference ({precision})")
    if guides:
        _draw_guides(ax, steps, errors, float32)
    ax.set_ylim(FLOOR / 2, 10.0)
    ax.set_xlabel("step h")
    ax.set_ylabel(f"relative error of the estimate of {name}")
    ax.set_title(f"Finite-difference error against step size ({precision})")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="lower left")
    lowest = {label: int(np.argmin(found)) for label, found in errors.items()}
    describe_figure(f"log–log plot of the relative error of the estimate of {name} at x = {x0:g} ({precision}, "
                    f"{'dashed' if float32 else 'solid'} lines) against the step h from {steps[0]:.0e} to {steps[-1]:.0e}: "
                    + "; ".join(f"{label} difference ({'circles' if label == 'forward' else 'squares'}) smallest, "
                                f"{sci(errors[label][k])}, at h = {steps[k]:.0e}, and {sci(errors[label][-1])} at "
                                f"h = {steps[-1]:.0e}" for label, k in lowest.items()) + ".", ax.figure if created else None)
    return ax, errors


def _draw_guides(ax, steps, errors: dict, float32: bool) -> None:
    """Grey reference lines of slope 1 and 2 through the errors at the largest h, and ε/h."""
    big, small = steps[0], steps[-1]
    ax.loglog([big, big * 1e-6], [errors["forward"][0], errors["forward"][0] * 1e-6], ":", color=GUIDE,
              label="slope 1: truncation ∝ h")
    ax.loglog([big, big * 1e-4], [errors["central"][0], errors["central"][0] * 1e-8], "-.", color=GUIDE,
              label="slope 2: truncation ∝ h²")
    eps = float(np.finfo(np.float32 if float32 else np.float64).eps)
    ax.loglog([small, small * 1e8], [eps / small, eps / small * 1e-8], linestyle=(0, (6, 2, 1, 2, 1, 2)), color=GUIDE,
              label="slope −1: round-off ≈ ε/h")


def print_step_table(steps: Sequence[float], errors: dict) -> None:
    """A table of the errors ``plot_step_errors`` returned, one row per h."""
    print(f"{'h':>7}  {'forward':>10}  {'central':>10}")
    for k, h in enumerate(steps):
        print(f"{h:7.0e}  {errors['forward'][k]:10.2e}  {errors['central'][k]:10.2e}")


def plot_seed_derivative(forward_difference: Callable, relative_error: Callable, f: Callable,
                         fprime: Callable, seed_h: float, xs: Optional[np.ndarray] = None):
    """The source text's picture redrawn: σ and its forward difference with ``seed_h`` (left), and
    the pointwise relative error of that estimate against the exact ``fprime`` (right).

    Returns the relative errors (one per point of ``xs``), or None while a function is a stub.
    """
    import matplotlib.pyplot as plt

    xs = np.linspace(-10, 10, 1000) if xs is None else xs
    try:
        with quiet():
            estimate = np.asarray(forward_difference(f, xs, seed_h), dtype=float)
            pointwise = np.array([float(relative_error(e, d)) for e, d in zip(estimate, fprime(xs))])
    except Exception as error:  # the student's code  # noqa: BLE001
        print(failure_message(error))
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(xs, f(xs), color=BLUE, label="σ(x)")
    left.plot(xs, estimate, color=VERMILLION, lw=0.8, marker=".", markevery=25, label=f"forward difference, h = {seed_h:g}")
    left.plot(xs, fprime(xs), "--", color="black", lw=1, label="exact σ'(x)")
    left.set(xlabel="x", ylabel="value", title="The source text's plot, redrawn")
    left.legend(loc="upper left", fontsize="small")
    right.semilogy(xs, np.maximum(pointwise, FLOOR), ".", markersize=2, color=VERMILLION,
                   label=f"h = {seed_h:g}")
    right.axhline(1e-7, color="black", lw=1, label="1e-7: the bar a check must pass")
    right.set(xlabel="x", ylabel="relative error", title="How wrong that derivative is, point by point",
              ylim=(1e-8, 1e2))
    right.legend(loc="lower right", fontsize="small")
    if drawn():  # layout is for the picture only
        fig.tight_layout()
    centre = int(np.argmin(np.abs(xs)))
    describe_figure(f"left, σ, the forward difference with h = {seed_h:g} and the exact σ' for x from {xs[0]:g} to "
                    f"{xs[-1]:g}: the estimate follows σ' closely by eye. Right, its relative error point by point on a "
                    f"log axis: {np.mean(pointwise > 1e-7):.0%} of the points are above the 1e-7 bar; near x = 0 the "
                    f"error is about {sci(pointwise[centre])}, and {np.mean(pointwise > 0.99):.0%} of the points, all "
                    f"in the flat tails (|x| ≥ {np.min(np.abs(xs[pointwise > 0.99])) if np.any(pointwise > 0.99) else np.nan:.2g}), "  # noqa: E501
                    f"are wrong by 100 %.", fig)
    return pointwise


def check_derivative(numerical_gradient: Callable, relative_error: Callable, f: Callable,
                     derivative: Callable, z: np.ndarray, label: str, h: float = 1e-5) -> Optional[float]:
    """Gradient-check an elementwise ``derivative`` of ``f``: compare numerical_gradient of
    Σ f(z) with derivative(z), print the relative error and its verdict, return the error (or None)."""
    def total(v):
        return np.sum(f(v))

    try:
        with quiet():
            error = float(relative_error(numerical_gradient(total, z, h), derivative(z)))
    except Exception as failure:  # the student's code  # noqa: BLE001
        print(failure_message(failure))
        return None
    print(f"{label:<34} relative error {error:9.2e}   → {verdict(error)}")
    return error


def compare_precisions(numerical_gradient: Callable, relative_error: Callable, f: Callable,
                       derivative: Callable, z: np.ndarray, steps: Sequence[float] = (1e-5, 1e-3, 1e-2)):
    """The same gradient check of Σ f(z) in float64 and with f evaluated in float32, for a few steps.

    Prints a table and returns {(precision, h): relative error}, or None while a function is a stub.
    """
    results = {}
    for precision, g in (("float64", f), ("float32", _in_float32(f))):
        for h in steps:
            def total(v, g=g):
                return np.sum(g(v))
            try:
                with quiet():
                    results[precision, h] = float(relative_error(numerical_gradient(total, z, h), derivative(z)))
            except Exception as failure:  # the student's code  # noqa: BLE001
                print(failure_message(failure))
                return None
    print(f"{'precision':>9}  {'h':>6}  {'relative error':>14}  verdict")
    for (precision, h), error in results.items():
        print(f"{precision:>9}  {h:6.0e}  {error:14.2e}  {verdict(error)}")
    return results
