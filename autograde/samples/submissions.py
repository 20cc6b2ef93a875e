"""Build student submissions from the released notebook: untouched, solved, or with chosen answers.

A submission starts from the student version in course/ (what a student downloads) and replaces
answer cells the way a student would: by editing their source.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import nbformat

from autograde.bundled import ROOT

_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_sources(assignment: str, root: Path = ROOT) -> dict[str, str]:
    """grade_id → the model answer as a student would type it (solution markers removed)."""
    nb = nbformat.read(root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {}
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("solution"):
            lines = [ln for ln in cell.source.splitlines() if not _MARKER.match(ln)]
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def build(assignment: str, base: str = "solution", answers: Mapping[str, str] | None = None,
          root: Path = ROOT) -> nbformat.NotebookNode:
    """The student notebook with every answer cell solved (base "solution") or left as released
    (base "untouched"), then the cells named in ``answers`` (grade_id → source) replaced.

    ``root`` is a course folder holding solutions/ and its release, course/ (by default the bundled
    course, whose course/ exists in a checkout; a wheel ships solutions/ only)."""
    if base not in ("solution", "untouched"):
        raise ValueError(f"base must be 'solution' or 'untouched', not {base!r}")
    nb = nbformat.read(root / "course" / assignment / f"{assignment}.ipynb", as_version=4)
    sources = dict(solution_sources(assignment, root)) if base == "solution" else {}
    sources.update(answers or {})
    known = {_nbgrader(c).get("grade_id") for c in nb.cells if _nbgrader(c).get("solution")}
    unknown = set(answers or {}) - known
    if unknown:
        raise KeyError(f"{assignment} has no answer cell named {', '.join(sorted(unknown))}")
    for cell in nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if _nbgrader(cell).get("solution") and grade_id in sources:
            cell.source = sources[grade_id]
    return nb


def write(nb: nbformat.NotebookNode, course_root: Path, student: str, assignment: str) -> Path:
    """Place a notebook where nbgrader looks for it: submitted/<student>/<assignment>/<assignment>.ipynb."""
    folder = Path(course_root) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    return path
