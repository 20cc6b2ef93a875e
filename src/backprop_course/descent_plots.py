"""Tables, plots and a learning-rate slider for 01_gradient_descent.

Thin layers over functions passed in (the student's `gradient_descent` and `df`): nothing
here computes a derivative or takes a descent step itself. While those functions are still
stubs, every helper prints a short message instead of raising.
"""
from __future__ import annotations

import io
import math
from typing import Callable, Optional, Sequence

import numpy as np
from PIL import Image as PILImage
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullLocator

from .figure_style import BLUE, VERMILLION, describe_figure, drawn, sci
from .student_code import failure_message, quiet

#: The horizontal range shown for f; wide enough for paths that jump across the minimum.
VIEW = (-4.5, 8.5)
#: The fixed range of the slope panel, so that runs at different learning rates compare at a glance.
SLOPE_RANGE = (1e-16, 1e16)


def run_descent(gradient_descent: Callable, grad: Callable, x0: float, learning_rate: float,
                n_steps: int, report: Callable[[str], None] = print) -> Optional[np.ndarray]:
    """``gradient_descent(grad, x0, learning_rate, n_steps)`` as a float64 array, or None.

    When the call raises or returns something that is not n_steps + 1 numbers, ``report``
    receives a message saying so and None comes back.
    """
    try:
        with quiet():
            result = gradient_descent(grad, x0, learning_rate, n_steps)
            iterates = np.asarray(result, dtype=float).ravel()
    except Exception as error:  # the student's code: turn any failure into a message  # noqa: BLE001
        report(failure_message(error))
        return None
    if iterates.shape != (n_steps + 1,):
        report(f"gradient_descent returned {iterates.size} numbers; expected n_steps + 1 = "
               f"{n_steps + 1}. Its tests above say more.")
        return None
    return iterates


def worked_table(gradient_descent: Callable, grad: Callable, x0: float, learning_rate: float,
                 by_hand: Sequence[float]) -> Optional[np.ndarray]:
    """Print the iterates next to a column worked out by hand; return the iterates (or None)."""
    n_steps = len(by_hand) - 1
    iterates = run_descent(gradient_descent, grad, x0, learning_rate, n_steps)
    if iterates is None:
        return None
    print(f"{'k':>3}  {'x_k (computed)':>15}  {'rounded':>8}  {'by hand':>8}  {'by hand - rounded':>18}")
    for k, (exact, hand) in enumerate(zip(iterates, by_hand)):
        rounded = round(float(exact), 2)
        gap = f"{hand - rounded:+.2f}" if abs(hand - rounded) > 1e-9 else ""
        print(f"{k:>3}  {exact:>15.10f}  {rounded:>8.2f}  {hand:>8.2f}  {gap:>18}")
    return iterates


def plot_function(f: Callable, minimum: Optional[float] = None, ax=None, view=VIEW,
                  title: str = "The function f"):
    """Plot f on ``view`` and mark ``minimum`` when given; return the Axes."""
    import matplotlib.pyplot as plt

    created = ax is None
    if created:
        _, ax = plt.subplots(figsize=(6, 3.8))
    xs = np.linspace(*view, 400)
    heights = f(xs)
    ax.plot(xs, heights, color=BLUE, label="f(x)")
    if minimum is not None:
        ax.plot([minimum], [f(minimum)], "o", color=VERMILLION, markersize=8, label=f"minimum at x = {minimum:g}")
    ax.set(xlabel="x", ylabel="f(x)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    lowest = f"; its lowest point, marked, is f({minimum:g}) = {sci(f(minimum))}" if minimum is not None else ""
    describe_figure(f"{title}: a curve over x from {view[0]:g} to {view[1]:g}, with values from "
                    f"{sci(heights.min())} to {sci(heights.max())}{lowest}.", ax.figure if created else None)
    return ax


def plot_descent(f: Callable, iterates: Optional[np.ndarray], ax=None, view=VIEW):
    """Plot f and the path of ``iterates`` on its graph; return the Axes (None without iterates)."""
    if iterates is None:
        print("No iterates to plot yet: finish gradient_descent (and df) first.")
        return None
    import matplotlib.pyplot as plt

    created = ax is None
    if created:
        _, ax = plt.subplots(figsize=(6, 3.8))
    iterates = np.asarray(iterates, dtype=float)
    xs = np.linspace(*view, 400)
    with quiet():
        heights = f(iterates)
    ax.plot(xs, f(xs), color=BLUE, label="f(x)")
    ax.plot(iterates, heights, "o--", color=VERMILLION, markersize=4, lw=1,
            label=f"{len(iterates) - 1} steps of gradient descent")
    ax.plot(iterates[:1], heights[:1], "s", color="black", markersize=7, label=f"start x0 = {iterates[0]:g}")
    ax.set_xlim(*view)
    ax.set_ylim(0, 1.05 * max(f(view[0]), f(view[1])))
    ax.set(xlabel="x", ylabel="f(x)", title="The path of gradient descent on f")
    ax.grid(alpha=0.3)
    ax.legend()
    with quiet():
        jumps = np.abs(np.diff(iterates))
    describe_figure(f"the graph of f with the path of {len(iterates) - 1} gradient-descent steps from x0 = "
                    f"{iterates[0]:g} (f = {sci(heights[0])}) to x = {sci(iterates[-1])} (f = {sci(heights[-1])}); "
                    + (f"the steps shrink from {sci(jumps[0])} to {sci(jumps[-1])}." if jumps.size else "no step taken."),
                    ax.figure if created else None)
    return ax


def describe_run(slopes: np.ndarray) -> str:
    """A sentence on how a run behaved, read from the slopes grad(x_k) along the path."""
    with np.errstate(all="ignore"):
        size = np.abs(slopes)
    if not np.all(np.isfinite(size)) or size[-1] > size[0] * (1 + 1e-9):
        return "diverges: each step lands further from the minimum than the one before."
    if size[0] == 0 or size[-1] <= 1e-6 * size[0]:
        verdict = "converges"
    elif size[-1] >= size[0] * (1 - 1e-9):
        return "never settles: it jumps back and forth between the same two points."
    elif size[-1] > 1e-2 * size[0]:
        verdict = "converges slowly: the slope is still " + f"{size[-1] / size[0]:.0%} of its starting size"
    else:
        verdict = "converges"
    moving = slopes[:-1][size[:-1] > 0]
    if moving.size > 1 and np.all(np.sign(moving[1:]) != np.sign(moving[:-1])):
        verdict += ", jumping across the minimum at every step"
    return verdict + "."


def learning_rate_explorer(gradient_descent: Callable, grad: Callable, f: Callable,
                           x0: float = 8.0, n_steps: int = 30):
    """A slider for the learning rate (log scale) and the number of steps, redrawing two panels.

    Left: the path on the graph of f. Right: the size of the slope |grad(x_k)| at each step,
    on a log scale (a straight line falling means steady convergence). The status line under the
    sliders says in words what the picture shows. Returns the widget, which also carries its first
    frame for readers without a live kernel (`FramedBox`).
    """
    import ipywidgets as widgets

    from .widget_frames import FramedBox, first_frame_text, picture_html

    rate = widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=math.log10(1.5), step=0.02,
                                  description="learning rate", readout_format=".3f",
                                  continuous_update=True, style={"description_width": "initial"},
                                  layout=widgets.Layout(width="420px"))
    steps = widgets.IntSlider(value=n_steps, min=1, max=100, description="steps",
                              continuous_update=False, layout=widgets.Layout(width="300px"))
    image = widgets.HTML()  # the picture, as <img alt="…">
    frames: dict = {}
    status = widgets.HTML()

    # Fixed margins (a layout engine would triple the drawing time); the axes, labels and f are
    # drawn once and only the two orange lines are redrawn on top of that background.
    fig = Figure(figsize=(9.5, 3.4), dpi=80)
    canvas = FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.28)
    xs = np.linspace(*VIEW, 300)
    left.plot(xs, f(xs), color=BLUE, label="f(x)")
    path, = left.plot([], [], "o--", color=VERMILLION, markersize=3, lw=1, label="iterates x_k")
    left.plot([x0], [f(x0)], "s", color="black", label=f"start x0 = {x0:g}")
    left.set(xlim=VIEW, ylim=(0, 1.05 * max(f(VIEW[0]), f(VIEW[1]))), xlabel="x", ylabel="f(x)",
             title="Path on the graph of f")
    left.legend(loc="upper center", fontsize=8)
    slope_line, = right.semilogy([], [], ".--", color=VERMILLION, label="|f'(x_k)|")
    right.set(ylim=SLOPE_RANGE, xlabel="step k", ylabel="size of the slope |f'(x_k)|", title="Size of the slope at each step")
    right.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0,), numticks=9))
    right.yaxis.set_minor_locator(NullLocator())
    right.grid(alpha=0.3)
    right.legend(loc="upper right", fontsize=8)
    path.set_animated(True)
    slope_line.set_animated(True)
    background: dict = {}

    def render(last_step: int) -> bytes:
        if not drawn():  # grading: no picture (b"")
            return b""
        right.set_xlim(0, max(1, last_step))
        if background.get("steps") != last_step:
            canvas.draw()
            background.update(steps=last_step, pixels=canvas.copy_from_bbox(fig.bbox))
        canvas.restore_region(background["pixels"])
        left.draw_artist(path)
        right.draw_artist(slope_line)
        buffer = io.BytesIO()
        PILImage.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def redraw(_change=None) -> None:
        messages: list[str] = []
        iterates = run_descent(gradient_descent, grad, x0, rate.value, steps.value, messages.append)
        if iterates is not None:
            try:
                with quiet():
                    slopes = np.array([float(grad(x)) for x in iterates])
            except Exception as error:  # the student's df  # noqa: BLE001
                messages.append(failure_message(error))
        if messages:
            status.value = f"<b>{messages[0]}</b>"
            return
        with quiet():
            path.set_data(iterates, f(iterates))
            size = np.abs(slopes)
            shown = np.where((size > 0) & np.isfinite(size), size, np.nan)
        slope_line.set_data(np.arange(len(iterates)), shown)
        frames["png"] = render(len(iterates) - 1)
        status.value = (f"learning rate {rate.value:.3f}: after {steps.value} steps x = {iterates[-1]:.6g}; "
                        f"the run {describe_run(slopes)}")
        image.value = picture_html(frames["png"], "Figure: the path on the graph of f and the size of the slope "
                                                  f"per step; {status.value}") if frames["png"] else ""

    rate.observe(redraw, names="value")
    steps.observe(redraw, names="value")
    redraw()
    first_frame = first_frame_text(frames, "the path of gradient descent on f (left) and the size of the slope per "
                                           f"step (right); {status.value}", status.value)
    return FramedBox([widgets.HBox([rate, steps]), status, image], frame_png=frames.get("png"),
                     frame_text=first_frame, figure=fig)
