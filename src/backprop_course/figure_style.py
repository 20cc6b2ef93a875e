"""The course's figure style: colour-blind-safe colours, series that differ in more than colour, and
the one-line text alternative every figure prints.

Colours come from the Okabe–Ito palette, chosen to stay distinguishable with the common colour-vision
deficiencies; shading uses ColorBrewer's RdBu, which is colour-blind safe too. Colour is never the
only cue: every series also has its own line style and marker (`SERIES`), and the two classes of a
data set their own marker shapes. A picture in a notebook output has no alt text a screen reader could
read, so every plotting helper ends with `describe_figure`, which prints one line starting with
"Figure:" that says what the picture shows, with its key numbers.
"""
from __future__ import annotations

import base64
import html
import io
import os
from typing import Callable

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

#: The Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008).
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7"}
BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY = (OKABE_ITO[name] for name in (
    "blue", "vermillion", "bluish green", "orange", "reddish purple", "sky blue"))
#: Reference lines (slopes, bounds, targets) are grey or black, never a colour of their own.
GUIDE = "0.45"
#: One look per data series, in order: colour, line style and marker all differ.
SERIES = (
    {"color": BLUE, "linestyle": "-", "marker": "o"},
    {"color": VERMILLION, "linestyle": "--", "marker": "s"},
    {"color": GREEN, "linestyle": "-.", "marker": "^"},
    {"color": PURPLE, "linestyle": ":", "marker": "D"},
)
#: The two classes of a data set: (colour, marker) for target 0 and for target 1.
CLASS_LOOKS = ((BLUE, "o"), (VERMILLION, "^"))
#: Shading of a classifier's output from 0 (blue) to 1 (red): ColorBrewer's colour-blind-safe RdBu.
OUTPUT_CMAP = "RdBu_r"
#: Hatches for filled areas (histograms) that must differ without colour, one per series.
HATCHES = ("", "///", "...")


def series(index: int, n_points: int = 0, marks: int = 12) -> dict:
    """The keyword arguments of ``plot`` for series number ``index``; with ``n_points``, markers are
    spread out (about ``marks`` of them) so that long curves stay readable."""
    look = dict(SERIES[index % len(SERIES)])
    if n_points > 2 * marks:
        look["markevery"] = max(1, n_points // marks)
        look["markersize"] = 5
    return look


def plain_numbers() -> FuncFormatter:
    """Tick labels as plain numbers (1, 0.01, 1e-05), fast and without mathtext."""
    return FuncFormatter(lambda value, _position: f"{value:g}")


def sci(value: float) -> str:
    """A number for a legend or summary: three significant digits, scientific when tiny or huge."""
    return f"{value:.3g}"


#: Functions called with every figure `show_figure` displays; the text they return is added to the
#: figure's plain-text output. A test registers one to check each figure the notebooks draw.
figure_hooks: list[Callable[[Figure], str]] = []

#: The environment variable the grader sets to "text" in the kernels it grades (unless the course sets
#: ``c.Grader.draw_figures = True``): figures are then not drawn, and only their text alternatives and
#: a note stand in their place. Drawing is most of a notebook's run time; no score depends on it.
TEXT_ONLY = "BACKPROP_FIGURES"
NOT_DRAWN = "[This figure was not drawn while grading: run the notebook to see it.]"


def drawn() -> bool:
    """False in a kernel the grader runs with figures off (`TEXT_ONLY`): work whose only product is
    a picture (layout, timing runs for a plot) is then skipped; every value a test reads is the same."""
    return os.environ.get(TEXT_ONLY) != "text"


def note_not_drawn() -> None:
    """The note that stands in the output for a figure the grader did not draw (`NOT_DRAWN`)."""
    from IPython.display import display

    display({"text/plain": NOT_DRAWN}, raw=True)


def show_figure(fig: Figure, alt: str) -> None:
    """Display ``fig`` with ``alt`` as the alternative text of its picture, then close it.

    JupyterLab shows an image/png output as an <img> without alt text, so the figure goes out as HTML,
    <img alt="…">, which JupyterLab and exported pages both prefer; the PNG and the text stay in the
    output for other readers.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not drawn():
        plt.close(fig)
        note_not_drawn()
        return
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    extra = "".join(hook(fig) for hook in figure_hooks)
    display({"text/html": f'<img src="data:image/png;base64,{png}" alt="{html.escape(alt, quote=True)}"/>',
             "image/png": png, "text/plain": alt + extra}, raw=True)
    plt.close(fig)


def describe_figure(text: str, fig: Figure | None = None) -> str:
    """The text alternative of a figure, "Figure: …": shown with ``fig`` as its alt text (when given),
    then printed under it for every reader. Returns the line."""
    line = f"Figure: {text}"
    if fig is not None:
        show_figure(fig, line)
    print(line)
    return line
