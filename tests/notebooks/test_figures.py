"""Every figure of the course is readable by everyone: a printed text alternative with its key numbers,
no overlapping text, colour-blind-safe colours, nothing told by colour alone; the sliders keep a static
first frame for readers without a kernel. Each solutions notebook runs once in a fresh kernel."""
from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest
from conftest import by_assignment
from executed import WIDGET_VIEW, executed, figures, text_of
from figure_checks import check
from nbconvert import HTMLExporter

from autograde.course.release import assignments
from backprop_course.datasets import two_moons

NOTEBOOKS = [by_assignment(a) for a in assignments()]


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_every_figure_prints_a_text_alternative_with_numbers(assignment):
    nb = executed(assignment)
    drawn = figures(nb)
    assert drawn, f"{assignment}: no figure was drawn"
    for index, cell in enumerate(nb.cells):
        pictures = sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
        if not pictures:
            continue
        lines = [line for line in text_of(cell).splitlines() if line.startswith("Figure: ")]
        assert len(lines) >= pictures, f"{assignment} cell {index}: {pictures} pictures, {len(lines)} descriptions"
        assert all(re.search(r"\d", line) for line in lines), f"{assignment} cell {index}: no numbers in {lines}"


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_no_figure_has_overlapping_text(assignment):
    assert figures(executed(assignment)), f"{assignment}: no figure was checked"
    problems = [(index, result["title"], p) for index, result in figures(executed(assignment)) for p in result["text"]]
    assert not problems, f"{assignment}: {problems[:5]}"


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_figures_use_colour_blind_safe_colours_and_never_colour_alone(assignment):
    assert figures(executed(assignment)), f"{assignment}: no figure was checked"
    problems = [(index, p) for index, result in figures(executed(assignment))
                for p in result["colour"] + result["colour_only"]]
    assert not problems, f"{assignment}: {problems[:5]}"


WIDGETS = [by_assignment(a) for a in ("01_gradient_descent", "07_training_lab") if a in assignments()]


@pytest.mark.parametrize("assignment", WIDGETS)
def test_exported_html_shows_the_sliders_first_frame(assignment):
    nb = executed(assignment)
    framed = [o for cell in nb.cells for o in cell.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert framed, f"{assignment}: no widget output"
    for output in framed:
        assert output["data"].get("image/png"), "the widget output carries no first frame"
        assert output["data"]["text/plain"].startswith("Figure: "), output["data"]["text/plain"][:80]
    html, _ = HTMLExporter().from_notebook_node(nbformat.from_dict(nb))
    for output in framed:
        assert output["data"]["image/png"][:200] in html, "the exported page does not show the first frame"


def test_the_widgets_figures_pass_the_same_checks():
    from backprop_course.descent_plots import learning_rate_explorer
    from backprop_course.lab_widgets import training_lab

    def f(x):
        return x**2 - 4 * x + 6

    def gradient_descent(grad, x0, learning_rate, n_steps):  # a plain loop, enough to draw the frame
        xs = [x0]
        for _ in range(n_steps):
            xs.append(xs[-1] - learning_rate * grad(xs[-1]))
        return np.array(xs)

    explorer = learning_rate_explorer(gradient_descent, lambda x: 2 * x - 4, f)
    X, T = two_moons(60, noise=0.15, seed=6)

    def forward(points, params, activation="tanh"):
        return np.tanh(points @ params["W"])[:, :1], None

    def train(X, T, n_hidden, learning_rate, n_epochs, activation="tanh", seed=0):
        losses = 0.2 * np.exp(-np.arange(n_epochs + 1) * learning_rate / 50)
        return {"W": np.array([[1.0, 0.0], [0.0, 1.0]])}, losses

    lab = training_lab(train, forward, X, T, target=0.03)
    for widget in (explorer, lab):
        result = check(widget.figure)
        assert not (result["text"] or result["colour"] or result["colour_only"]), result


def test_with_figures_off_the_timing_plot_times_nothing_and_the_sliders_draw_no_frame(monkeypatch, capsys):
    """While grading (`figure_style.TEXT_ONLY`), work whose only product is a picture is skipped:
    the chain's timing plot calls each method once per length (a stub still gets its message), and
    the sliders' frames are not drawn; each leaves the not-drawn note and its "Figure: …" line."""
    from backprop_course import figure_style, lab_widgets
    from backprop_course.chain_plots import plot_timing

    monkeypatch.setenv(figure_style.TEXT_ONLY, "text")
    calls = []

    def counted(x, y, thetas):
        calls.append(len(thetas))
        return np.zeros(len(thetas))

    def stub(x, y, thetas):
        raise NotImplementedError

    assert plot_timing({"recursion": counted}, [4, 8, 16], lambda n: np.ones(n)) is None
    assert calls == [4, 8, 16], "with figures off, each method runs once per length and is not timed"
    printed = capsys.readouterr().out
    assert "L = 4, 8, 16; not timed while grading" in printed and figure_style.NOT_DRAWN in printed
    assert plot_timing({"recursion": counted, "stub": stub}, [4], lambda n: np.ones(n)) is None
    assert "stub is still a stub" in capsys.readouterr().out
    X, T = two_moons(40, seed=0)
    assert lab_widgets.render(lab_widgets.lab_view(X, T)) == b""
    monkeypatch.delenv(figure_style.TEXT_ONLY)
    assert lab_widgets.render(lab_widgets.lab_view(X, T)).startswith(b"\x89PNG")
