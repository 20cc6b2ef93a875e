"""What every figure of the course must satisfy, checked on the matplotlib Figure itself.

- no two pieces of text overlap, and none sticks out of the figure (titles, axis labels, tick
  labels, legend entries, colour-bar labels), measured with the renderer's own text extents;
- colours come from the course's colour-blind-safe palette (figure_style) or are grey, and shading
  uses a colour-blind-safe colour map;
- no information by colour alone: the legend entries of one axes differ in line style, marker or
  hatch, not only in colour.

`install()` runs inside a notebook kernel: through `figure_style.figure_hooks` (the course's figures)
and a text/plain formatter (a figure shown with plt.show()), every figure a notebook displays carries
the result of these checks in its output, as ``FIGURE-CHECK {json}``, where a test reads it back.
"""
from __future__ import annotations

import itertools
import json

import numpy as np
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.colors import to_hex, to_rgba
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from backprop_course.figure_style import OKABE_ITO

MARKER = "FIGURE-CHECK "
#: Colour maps that stay readable with the common colour-vision deficiencies.
SAFE_CMAPS = {"RdBu", "RdBu_r", "cividis", "viridis", "Greys", "PuOr", "PuOr_r"}
#: Pixels two text boxes may share (anti-aliasing, descenders) before they count as overlapping.
SLACK = 1.0


def _texts(fig: Figure) -> list[tuple[str, object]]:
    """(description, Text artist) for every visible, non-empty piece of text in ``fig``."""
    found = []
    if fig._suptitle is not None:
        found.append(("suptitle", fig._suptitle))
    found += [("figure text", t) for t in fig.texts]
    for number, ax in enumerate(fig.axes):
        where = f"axes {number} ({ax.get_title() or ax.get_ylabel() or 'untitled'})"
        for key in ("left", "center", "right"):
            found.append((f"{where} {key} title", ax._left_title if key == "left" else
                          ax.title if key == "center" else ax._right_title))
        found.append((f"{where} x label", ax.xaxis.label))
        found.append((f"{where} y label", ax.yaxis.label))
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            for tick in axis._update_ticks():  # the ticks matplotlib draws: those inside the view
                found += [(f"{where} {name} tick {label.get_text()!r}", label) for label in (tick.label1, tick.label2)]
        found += [(f"{where} text {t.get_text()!r}", t) for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            found += [(f"{where} legend {t.get_text()!r}", t) for t in legend.get_texts()]
            if legend.get_title().get_text():
                found.append((f"{where} legend title", legend.get_title()))
    return [(what, t) for what, t in found if t.get_visible() and t.get_text().strip()]


def text_problems(fig: Figure, saved_tight: bool = False) -> list[str]:
    """Pairs of overlapping text, and text outside the figure, in plain words.

    ``saved_tight``: the figure is saved with ``bbox_inches="tight"`` (as the notebook's inline backend
    does), which widens the picture to hold every text, so text beyond the figure's edge is fine."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(what, t.get_window_extent(renderer)) for what, t in _texts(fig)]
    page = fig.bbox
    problems = [f"{what} sticks out of the figure" for what, box in boxes
                if box.x0 < page.x0 - SLACK or box.x1 > page.x1 + SLACK or box.y0 < page.y0 - SLACK
                or box.y1 > page.y1 + SLACK] if not saved_tight else []
    for (first, a), (second, b) in itertools.combinations(boxes, 2):
        width = min(a.x1, b.x1) - max(a.x0, b.x0)
        height = min(a.y1, b.y1) - max(a.y0, b.y0)
        if width > SLACK and height > SLACK:
            problems.append(f"{first} overlaps {second}")
    return problems


def _safe_colour(colour) -> bool:
    red, green, blue, alpha = to_rgba(colour)
    if alpha == 0 or max(red, green, blue) - min(red, green, blue) < 0.02:  # transparent, grey, black, white
        return True
    return to_hex((red, green, blue)).upper() in {c.upper() for c in OKABE_ITO.values()}


def colour_problems(fig: Figure) -> list[str]:
    """Colours outside the palette and colour maps that are not colour-blind safe."""
    problems = []
    for number, ax in enumerate(fig.axes):
        for artist in ax.get_children():
            colours = []
            if isinstance(artist, Line2D):
                colours = [artist.get_color(), artist.get_markerfacecolor()]
            elif isinstance(artist, PathCollection):
                colours = list(artist.get_facecolors())
            elif isinstance(artist, Rectangle) and artist is not ax.patch:
                colours = [artist.get_facecolor(), artist.get_edgecolor()]
            for colour in colours:
                if isinstance(colour, str) and colour in ("none", "auto"):
                    continue
                if not _safe_colour(colour):
                    problems.append(f"axes {number}: colour {to_hex(colour)} of {type(artist).__name__} "
                                    "is not in the colour-blind-safe palette")
            if isinstance(artist, (AxesImage, QuadMesh, ContourSet)) and artist.get_array() is not None:
                name = artist.get_cmap().name
                if len(np.unique(np.asarray(artist.get_array(), dtype=float))) > 1 and name not in SAFE_CMAPS:
                    problems.append(f"axes {number}: colour map {name} is not colour-blind safe")
    return sorted(set(problems))


def _look(handle) -> tuple:
    """What tells a legend entry apart without colour."""
    if isinstance(handle, Line2D):
        return ("line", str(handle.get_linestyle()), str(getattr(handle, "_dash_pattern", "")),
                str(handle.get_marker()) if handle.get_marker() not in (None, "None", "") else "")
    if isinstance(handle, PathCollection):
        paths = handle.get_paths()
        return ("markers", paths[0].vertices.round(3).tobytes() if paths else b"")
    if isinstance(handle, Patch):
        return ("patch", handle.get_hatch() or "", str(handle.get_linestyle()))
    return (type(handle).__name__,)


def colour_only_problems(fig: Figure) -> list[str]:
    """Legend entries of one axes that differ from each other in colour only."""
    problems = []
    for number, ax in enumerate(fig.axes):
        legend = ax.get_legend()
        if legend is None:
            continue
        handles = [(text.get_text(), handle) for text, handle in zip(legend.get_texts(), legend.legend_handles)]
        for (first, a), (second, b) in itertools.combinations(handles, 2):
            if _look(a) == _look(b):
                problems.append(f"axes {number}: legend entries {first!r} and {second!r} differ in colour only")
    return problems


def check(fig: Figure, saved_tight: bool = False) -> dict:
    """Every problem of ``fig``, by kind."""
    return {"text": text_problems(fig, saved_tight), "colour": colour_problems(fig), "colour_only": colour_only_problems(fig),
            "title": fig.axes[0].get_title() if fig.axes else ""}


def install() -> None:
    """Inside a kernel: every displayed figure's text/plain output also carries ``FIGURE-CHECK {json}``."""
    import matplotlib.pyplot as plt
    from IPython import get_ipython

    plt.close(plt.figure())  # the inline backend loads with the first figure and resets the figure formatters

    def report(fig, printer, cycle):
        printer.text(f"<Figure with {len(fig.axes)} Axes> {MARKER}{json.dumps(check(fig, saved_tight=True))}")

    get_ipython().display_formatter.formatters["text/plain"].for_type(Figure, report)
    from backprop_course import figure_style

    figure_style.figure_hooks.append(lambda fig: f" {MARKER}{json.dumps(check(fig, saved_tight=True))}")
