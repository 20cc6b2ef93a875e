"""The training lab of 07_training_lab: sliders that retrain a one-hidden-layer network and redraw it.

Thin layers over functions passed in (the notebook's `train` and `forward`): nothing here runs a
forward pass, a backward pass or a training step itself. The heavy work sits in pure functions
(`lab_update` retrains and renders one frame to PNG bytes, so a benchmark can time it without a
browser); the widget only wires sliders to it. While the functions passed in are unfinished,
every helper reports a short message instead of raising.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

import numpy as np
from PIL import Image as PILImage
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .figure_style import CLASS_LOOKS, HATCHES, OUTPUT_CMAP, SERIES, VERMILLION, describe_figure, drawn, sci, series
from .network_plots import run_training
from .student_code import failure_message, quiet

#: The learning-rate slider's range, as powers of ten: 10⁻³ … 10^0.5 ≈ 3.16.
RATE_EXPONENTS = (-3.0, 0.5)
RATE_RANGE = (10 ** RATE_EXPONENTS[0], 10 ** RATE_EXPONENTS[1])
#: The slider settings the lab opens with.
DEFAULTS = {"learning_rate": 0.5, "n_hidden": 8, "n_epochs": 300, "activation": "tanh"}
#: The fixed loss range of the loss panel, so that runs compare at a glance; larger losses leave the top.
LOSS_RANGE = (5e-3, 5.0)


def describe_losses(losses: np.ndarray, target: Optional[float] = None) -> str:
    """A sentence on how a run behaved, read from its losses (before each epoch and after the last)."""
    losses = np.asarray(losses, dtype=float)
    finite = np.isfinite(losses)
    if not np.all(finite) or losses[-1] > losses[0]:
        where = int(np.argmin(finite)) if not np.all(finite) else None
        return ("diverges: the loss grows instead of falling" +
                (f" and overflows at epoch {where}." if where is not None else "."))
    with np.errstate(all="ignore"):
        rises = int(np.sum(np.diff(losses) > 1e-12))
    reached = target is not None and losses[-1] < target
    if rises > len(losses) // 20:
        verdict = f"oscillates: the loss went up at {rises} of {len(losses) - 1} steps"
        return verdict + (", yet it ends below the target." if reached else ", and it ends above the target.")
    if reached:
        return "reaches the target loss."
    return "falls steadily but too slowly to reach the target in these epochs." if target is not None else "falls."


def _grid(X: np.ndarray, resolution: int, pad: float = 0.5):
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return gx, gy, np.column_stack([gx.ravel(), gy.ravel()])


@dataclass
class LabView:
    """One figure for the lab, built once: a loss panel and a decision-boundary panel whose
    artists are updated in place by `lab_update`."""

    figure: Figure
    canvas: FigureCanvasAgg
    loss_axes: object
    boundary_axes: object
    loss_line: object
    target_line: object
    shading: object
    grid: tuple
    animated: list = field(default_factory=list)
    contours: list = field(default_factory=list)
    background: dict = field(default_factory=dict)


def lab_view(X: np.ndarray, T: np.ndarray, target: Optional[float] = None, resolution: int = 60,
             dpi: int = 72) -> LabView:
    """Build the lab's figure for the data (X, T): axes, labels, data points and empty curves."""
    X, labels = np.asarray(X, dtype=float), np.asarray(T, dtype=float).ravel()
    figure = Figure(figsize=(10.0, 3.9), dpi=dpi)
    canvas = FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.91, wspace=0.22)  # fixed: no layout engine
    loss_line, = left.plot([], [], color=VERMILLION, lw=1.5, label="loss E")
    target_line = left.axhline(target if target is not None else np.nan, color="black", ls="--", lw=1,
                               label=f"target {target:g}" if target is not None else "target")
    left.set(yscale="log", ylim=LOSS_RANGE, xlabel="epoch", ylabel="loss E (log scale)", title="Loss during training")
    left.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    left.grid(alpha=0.3)
    left.legend(loc="upper right", fontsize=8)
    gx, gy, points = _grid(X, resolution)
    extent = (gx.min(), gx.max(), gy.min(), gy.max())
    shading = right.imshow(np.full(gx.shape, 0.5), origin="lower", extent=extent, aspect="auto",
                           cmap=OUTPUT_CMAP, vmin=-0.25, vmax=1.25, alpha=0.35, interpolation="bilinear")
    zeros, ones = (right.scatter(*X[labels == value].T, s=12, color=colour, marker=marker, edgecolor="white",
                                 linewidth=0.3, label=f"t = {value}") for value, (colour, marker) in enumerate(CLASS_LOOKS))
    right.plot([], [], color="black", lw=1.5, label="boundary y = ½")
    right.set(xlim=extent[:2], ylim=extent[2:], xlabel="input x₁", ylabel="input x₂",
              title="Network output y and decision boundary y = ½")
    legend = right.legend(loc="lower right", fontsize=8)
    # Blitting: the frame, ticks and labels are drawn once into a background; only these are redrawn.
    for artist in (loss_line, shading, zeros, ones, legend):
        artist.set_animated(True)
    return LabView(figure, canvas, left, right, loss_line, target_line, shading, (gx, gy, points),
                   animated=[zeros, ones, legend])


def render(view: LabView) -> bytes:
    """Draw the lab's animated artists over its cached background; return the frame as PNG bytes
    (b"" while grading with figures off: `figure_style.drawn`)."""
    if not drawn():
        return b""
    key = view.loss_axes.get_xlim()
    if view.background.get("key") != key:
        view.canvas.draw()
        view.background.update(key=key, pixels=view.canvas.copy_from_bbox(view.figure.bbox))
    view.canvas.restore_region(view.background["pixels"])
    view.loss_axes.draw_artist(view.loss_line)
    view.boundary_axes.draw_artist(view.shading)
    for contour in view.contours:
        view.boundary_axes.draw_artist(contour)
    for artist in view.animated:
        view.boundary_axes.draw_artist(artist)
    buffer = io.BytesIO()
    PILImage.fromarray(np.asarray(view.canvas.buffer_rgba())).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def lab_update(view: LabView, train: Callable, forward: Callable, X: np.ndarray, T: np.ndarray,
               learning_rate: float, n_hidden: int, n_epochs: int, activation: str, seed: int = 0,
               target: Optional[float] = None) -> tuple[Optional[bytes], str]:
    """Retrain with these settings and redraw ``view``: (PNG bytes of the frame, a sentence on the run).

    The bytes are None (and the sentence says why) while ``train`` or ``forward`` fails.
    """
    messages: list[str] = []
    trained = run_training(train, X, T, n_hidden, learning_rate, n_epochs, activation, seed, messages.append)
    if trained is None:
        return None, messages[0]
    params, losses = trained
    gx, gy, points = view.grid
    try:
        with quiet():
            output = np.asarray(forward(points, params, activation=activation)[0], dtype=float)[:, 0].reshape(gx.shape)
    except Exception as error:  # the notebook's forward  # noqa: BLE001
        return None, failure_message(error)
    with quiet():
        shown = np.where(np.isfinite(losses) & (losses > 0) & (losses < 1e6), losses, np.nan)
        view.loss_line.set_data(np.arange(losses.size), shown)
        view.loss_axes.set_xlim(0, max(1, n_epochs))
        usable = bool(np.all(np.isfinite(output)))
        view.shading.set_data(np.clip(output, -0.25, 1.25) if usable else np.full(gx.shape, np.nan))
        for contour in view.contours:
            contour.remove()
        view.contours.clear()
        if usable and output.min() < 0.5 < output.max():
            contour = view.boundary_axes.contour(gx, gy, output, levels=[0.5], colors="black", linewidths=1.5)
            contour.set_animated(True)
            view.contours.append(contour)
    png = render(view)
    last = sci(losses[-1]) if np.isfinite(losses[-1]) else "overflow"
    sentence = (f"learning rate {learning_rate:.3g}, {n_hidden} hidden units, {n_epochs} epochs, g = {activation}: "
                f"loss {sci(losses[0])} → {last}; the run {describe_losses(losses, target)}")
    return png, sentence


def training_lab(train: Callable, forward: Callable, X: np.ndarray, T: np.ndarray,
                 target: Optional[float] = None, seed: int = 0):
    """Sliders for the learning rate (log scale), hidden units and epochs, and a choice of activation.

    Each change calls `lab_update` once (retrain, redraw); creating the widget draws the first frame
    at `DEFAULTS`, and the status line says in words what the picture shows. Returns the widget, which
    also carries its first frame for readers without a live kernel (`FramedBox`).
    """
    import ipywidgets as widgets

    from .widget_frames import FramedBox, first_frame_text, picture_html

    wide = {"description_width": "initial"}
    rate = widgets.FloatLogSlider(value=DEFAULTS["learning_rate"], base=10, min=RATE_EXPONENTS[0],
                                  max=RATE_EXPONENTS[1], step=0.05, description="learning rate",
                                  readout_format=".3f", continuous_update=False, style=wide,
                                  layout=widgets.Layout(width="380px"))
    hidden = widgets.IntSlider(value=DEFAULTS["n_hidden"], min=1, max=32, description="hidden units",
                               continuous_update=False, style=wide, layout=widgets.Layout(width="300px"))
    epochs = widgets.IntSlider(value=DEFAULTS["n_epochs"], min=10, max=1000, step=10, description="epochs",
                               continuous_update=False, style=wide, layout=widgets.Layout(width="300px"))
    activation = widgets.ToggleButtons(options=["tanh", "sigmoid"], value=DEFAULTS["activation"],
                                       description="activation g", style={"button_width": "70px", **wide})
    image = widgets.HTML()  # the picture, as <img alt="…">
    frames: dict = {}
    status = widgets.HTML()
    view = lab_view(X, T, target)

    def redraw(_change=None) -> None:
        png, sentence = lab_update(view, train, forward, X, T, rate.value, hidden.value, epochs.value,
                                   activation.value, seed, target)
        status.value = sentence if png is not None else f"<b>{sentence}</b>"
        if png is not None:
            frames["png"] = png
            image.value = picture_html(png, f"Figure: loss per epoch and decision boundary; {sentence}") if png else ""

    for control in (rate, hidden, epochs, activation):
        control.observe(redraw, names="value")
    redraw()
    first_frame = first_frame_text(frames, "the lab's loss per epoch (left, log axis, target dashed) and the network "
                                           f"output with its boundary y = ½ over the data (right); {status.value}",
                                   status.value)
    return FramedBox([widgets.HBox([rate, hidden]), widgets.HBox([epochs, activation]), status, image],
                     frame_png=frames.get("png"), frame_text=first_frame, figure=view.figure)


def plot_regimes(train: Callable, forward: Callable, X: np.ndarray, T: np.ndarray, rates: Mapping[str, float],
                 n_hidden: int, n_epochs: int, activation: str = "tanh", target: Optional[float] = None,
                 seed: int = 0):
    """A static row per learning rate (label → rate): the loss curve beside the decision boundary.

    The same pictures the lab draws, for a notebook read without a live kernel. Returns
    {label: losses}, or None (after a message) while train or forward is unfinished.
    """
    import matplotlib.pyplot as plt

    histories = {}
    fig, axes = plt.subplots(len(rates), 2, figsize=(10.0, 3.3 * len(rates)), squeeze=False)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.06, top=0.95, wspace=0.22, hspace=0.45)
    X, labels = np.asarray(X, dtype=float), np.asarray(T, dtype=float).ravel()
    gx, gy, points = _grid(X, 60)
    for (left, right), (label, rate) in zip(axes, rates.items()):
        trained = run_training(train, X, T, n_hidden, rate, n_epochs, activation, seed)
        if trained is None:
            plt.close(fig)
            return None
        params, losses = trained
        histories[label] = losses
        with quiet():
            shown = np.where(np.isfinite(losses) & (losses > 0) & (losses < 1e6), losses, np.nan)
            try:
                output = np.asarray(forward(points, params, activation=activation)[0], dtype=float)[:, 0]
            except Exception as error:  # the notebook's forward  # noqa: BLE001
                print(failure_message(error))
                plt.close(fig)
                return None
        left.plot(np.arange(losses.size), shown, color=VERMILLION, label="loss E")
        if target is not None:
            left.axhline(target, color="black", ls="--", lw=1, label=f"target {target:g}")
        left.set(yscale="log", ylim=LOSS_RANGE, xlim=(0, n_epochs), xlabel="epoch", ylabel="loss E (log scale)",
                 title=f"{label}: learning rate {rate:g}")
        left.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        left.grid(alpha=0.3)
        left.legend(loc="upper right", fontsize=8)
        output = output.reshape(gx.shape)
        usable = bool(np.all(np.isfinite(output)))
        right.imshow(np.clip(output, -0.25, 1.25) if usable else np.full(gx.shape, np.nan), origin="lower",
                     extent=(gx.min(), gx.max(), gy.min(), gy.max()), aspect="auto", cmap=OUTPUT_CMAP,
                     vmin=-0.25, vmax=1.25, alpha=0.45)
        if usable and output.min() < 0.5 < output.max():
            right.contour(gx, gy, output, levels=[0.5], colors="black", linewidths=1.5)
        for value, (colour, marker) in enumerate(CLASS_LOOKS):
            right.scatter(*X[labels == value].T, s=10, color=colour, marker=marker, label=f"t = {value}")
        right.plot([], [], color="black", label="boundary y = ½")
        right.set(xlabel="input x₁", ylabel="input x₂",
                  title=f"{label}: output y" + ("" if usable else " (overflowed: no boundary)"))
        right.legend(loc="lower right", fontsize=7)
    with quiet():
        describe_figure("one row per learning rate, the loss per epoch on a log axis with the target dashed (left) and "
                    "the final decision boundary (right): " + "; ".join(
                        f"{label} ({rates[label]:g}): loss {sci(losses[0])} → "
                        f"{sci(losses[-1]) if np.isfinite(losses[-1]) else 'overflow'}, the run {describe_losses(losses, target).rstrip('.')}"  # noqa: E501
                        for label, losses in histories.items()) + ".", fig)
    return histories


def saturation_limit(slope: Callable, threshold: float, reach: float = 50.0) -> float:
    """The z > 0 where slope(z) falls to threshold · slope(0), found by bisection (σ' is even and falls for z > 0)."""
    with quiet():
        level = threshold * float(slope(np.array(0.0)))
        low, high = 0.0, reach
        for _ in range(60):
            middle = (low + high) / 2
            low, high = (middle, high) if float(slope(np.array(middle))) >= level else (low, middle)
    return (low + high) / 2


def plot_saturation(pre_activations: Mapping[str, np.ndarray], slope: Callable,
                    title: str = "sigmoid hidden units", threshold: float = 0.01):
    """Histograms of hidden pre-activations z (left) and of the slopes slope(z) (right, log axis), one
    colour, hatch and outline per stage (label → Z array, for example at the start and at the end of training).

    Dashed lines mark the saturation limits: ±z* on the left, where slope(z*) = threshold · slope(0),
    and threshold · slope(0) on the right; entries beyond them barely learn. The slope bins are spaced
    evenly on a log scale, so that the tiny slopes left of the limit are resolved, not lumped into one bin.
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 3.6))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.88, wspace=0.22)
    stages = {label: np.asarray(Z, dtype=float).ravel() for label, Z in pre_activations.items()}
    reach = max(1.0, max(float(np.max(np.abs(z))) for z in stages.values()))
    z_bins = np.linspace(-reach, reach, 41)
    with quiet():
        peak = float(slope(np.array(0.0)))
        slopes = {label: np.asarray(slope(z), dtype=float) for label, z in stages.items()}
    smallest = max(1e-12, min(float(np.min(found[found > 0], initial=peak)) for found in slopes.values()))
    s_bins = np.logspace(np.log10(min(smallest, threshold * peak / 10)), np.log10(peak * 1.02), 41)
    limit = saturation_limit(slope, threshold)
    for index, (label, z) in enumerate(stages.items()):
        look = {"color": SERIES[index]["color"], "alpha": 0.45, "hatch": HATCHES[index % len(HATCHES)],
                "edgecolor": SERIES[index]["color"], "linestyle": SERIES[index]["linestyle"], "linewidth": 1.2}
        left.hist(z, bins=z_bins, label=label, **look)
        right.hist(np.maximum(slopes[label], s_bins[0]), bins=s_bins, label=label, **look)
    for sign in (-1, 1):
        left.axvline(sign * limit, color="black", ls="--", lw=1, label=f"|z| = {limit:.2f}" if sign > 0 else None)
    right.axvline(threshold * peak, color="black", ls="--", lw=1, label=f"{threshold:g} · σ'(0) = {threshold * peak:g}")
    right.set_xscale("log")
    left.set(xlabel="pre-activation z of a hidden unit", ylabel="count (samples × units)",
             title=f"Pre-activations, {title}")
    right.set(xlabel="slope σ'(z) (log scale)", ylabel="count (samples × units)", title=f"Slopes σ'(z), {title}")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    describe_figure(f"histograms of the hidden pre-activations z (left, saturation limits ±{limit:.2f} dashed) and of "
                    f"their slopes σ'(z) on a log axis (right, the limit {threshold * peak:g} dashed): " + "; ".join(
                        f"{label} (hatch {'none' if not HATCHES[i % len(HATCHES)] else HATCHES[i % len(HATCHES)]}): "
                        f"z from {sci(z.min())} to {sci(z.max())}, {np.mean(np.abs(z) > limit):.1%} of the entries "
                        f"beyond ±{limit:.2f}, smallest slope {sci(slopes[label].min())}"
                        for i, (label, z) in enumerate(stages.items())) + ".", fig)


def plot_activation_race(histories: Mapping[str, np.ndarray], title: str, target: Optional[float] = None):
    """Loss curves of several runs (label → losses) on one log-scale panel, with the target line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for index, (label, losses) in enumerate(histories.items()):
        losses = np.asarray(losses, dtype=float)
        ax.plot(np.arange(losses.size), losses, label=f"{label} (last: {sci(losses[-1])})", **series(index, losses.size))
    if target is not None:
        ax.axhline(target, color="black", ls="--", lw=1, label=f"target {target:g}")
    ax.set(yscale="log", xlabel="epoch", ylabel="loss E (log scale)", title=title)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    describe_figure(f"{title}, loss per epoch on a log axis" + (f", target {target:g} dashed" if target is not None else "")
                    + ": " + "; ".join(f"{label}: {sci(np.asarray(losses)[0])} → {sci(np.asarray(losses)[-1])}"
                                       + ("" if target is None else (", below the target" if np.asarray(losses)[-1] < target
                                                                     else ", above the target"))
                                       for label, losses in histories.items()) + ".", fig)
