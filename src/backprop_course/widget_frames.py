"""Sliders that still show something without a live kernel.

A widget output is only a reference to a model that lives in the kernel: a notebook exported to HTML,
or shown on a course website, has nothing to draw it from and leaves an empty box. `FramedBox` is a
`VBox` whose output also carries the first frame as a PNG and its text description. JupyterLab with a
running kernel shows the live widget; nbconvert, when no widget state was saved with the notebook,
falls back to the next format it can show (its ``WidgetsDataTypeFilter``), which is the PNG; a
plain-text reader gets the description.
"""
from __future__ import annotations

import base64
import html

import ipywidgets as widgets

from .figure_style import describe_figure, note_not_drawn


def picture_html(png: bytes, alt: str) -> str:
    """An <img> of ``png`` with ``alt`` as its alternative text, for an HTML widget.

    ipywidgets' Image widget renders an <img> without alt text (and setting its tooltip breaks its view
    in ipywidgets 8.1), so pictures that change with a slider go out as HTML instead."""
    return (f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" '
            f'alt="{html.escape(alt, quote=True)}" style="max-width: 100%"/>')


def first_frame_text(frames: dict, description: str, status: str) -> str:
    """The text a slider's first frame carries: its "Figure: …" line, printed (after the not-drawn
    note when the grader drew no frame), or, while the student's code is unfinished (no frame in
    ``frames``), the status line's message."""
    if not frames:
        return status.replace("<b>", "").replace("</b>", "")
    if not frames["png"]:
        note_not_drawn()
    return describe_figure(description)


class FramedBox(widgets.VBox):
    """A `VBox` of controls and pictures that also offers a static first frame to readers without a kernel."""

    def __init__(self, children, frame_png: bytes | None = None, frame_text: str = "", figure=None, **kwargs):
        super().__init__(children, **kwargs)
        self.frame_png = frame_png
        self.frame_text = frame_text
        self.figure = figure  # the matplotlib Figure the widget redraws, for checks of its layout

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if self.frame_png:
            data["image/png"] = base64.b64encode(self.frame_png).decode("ascii")
        if self.frame_text:
            data["text/plain"] = self.frame_text
        return data
