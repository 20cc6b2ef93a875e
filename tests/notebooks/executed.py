"""The solutions notebooks, run once per test worker in a fresh kernel, with every figure drawn and checked.
The kernel is forked by a fork server this process keeps for its grading runs (`kept_servers`;
unsandboxed, so that it imports `figure_checks` from here), as the grader's kernels are.

A first cell installs `figure_checks` in the kernel, so that each figure the notebook displays carries
its check results in its text/plain output. Widget state is not stored, as in a notebook saved by
JupyterLab with its default settings: an exported page then shows what a reader without a kernel sees.
"""
from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

import nbformat

from autograde.course.release import REPO
from autograde.engine.fork_server import kept_servers
from autograde.engine.notebook_run import execute_notebook
from autograde.settings import NotebookLimits
from figure_checks import MARKER

HERE = Path(__file__).resolve().parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@functools.lru_cache(maxsize=None)
def executed(assignment: str) -> nbformat.NotebookNode:
    """The solutions notebook of ``assignment`` after running every cell (the check cell removed again)."""
    path = REPO / "solutions" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    setup = nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(HERE)!r})\n"
                                      "import figure_checks\nfigure_checks.install()")
    nb.cells.insert(0, setup)
    limits = NotebookLimits(seconds=600, check_time_factor=1, kernel_restarts=0, output_bytes=1 << 30,
                            draw_figures=True)
    with kept_servers(1, sandboxed=False) as (server,):
        done, _, why = asyncio.run(execute_notebook(server, nb, path.parent, {"timeout": 600, "store_widget_state": False},
                                                    limits, who=assignment))
    assert why == "", f"{assignment}: {why}"
    done.cells.pop(0)
    return done


def figures(nb: nbformat.NotebookNode) -> list[tuple[int, dict]]:
    """(cell index, check results) for every matplotlib figure the notebook displayed."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/plain", "")
            if "image/png" in output.get("data", {}) and MARKER in text:
                found.append((index, json.loads(text.split(MARKER, 1)[1])))
    return found


def text_of(cell) -> str:
    """Everything a cell printed, and the plain-text form of everything it displayed."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@functools.lru_cache(maxsize=None)
def namespace(assignment: str, until: int) -> dict:
    """The names the solutions notebook defines in its cells before ``until``, run in this process
    (test cells skipped, figures drawn off-screen, printing swallowed)."""
    import contextlib
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    names: dict = {}
    for cell in nb.cells[:until]:
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(cell.source, f"{assignment} cell", "exec"), names)
        plt.close("all")
    return names


def markdown(assignment: str, folder: str = "solutions") -> str:
    """All the markdown of a notebook, cell after cell."""
    nb = nbformat.read(REPO / folder / assignment / f"{assignment}.ipynb", as_version=4)
    return "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
