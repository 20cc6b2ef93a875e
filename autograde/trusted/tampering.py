"""Disagreements between what a submitted notebook shows and what the trusted checks found.

A visible test cell saved as passing (it ran, no error) that the trusted checker fails is
reported to the instructor: the student's kernel was tampered with, the outputs were edited,
or the code changed after the tests last ran. Cells holding hidden tests are not compared:
the student's copy of them is empty.
"""
from __future__ import annotations

import nbformat

from autograde.trusted.spec import is_test


def saved_results(submitted_notebook: str) -> dict[str, bool]:
    """grade_id → True if the saved outputs show that test cell passing, False if failing;
    cells that were never run are left out."""
    try:
        nb = nbformat.reads(submitted_notebook, as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable notebook shows nothing
        return {}
    shown = {}
    for cell in nb.cells:
        if is_test(cell) and cell.get("execution_count"):
            errors = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            shown[cell.metadata["nbgrader"]["grade_id"]] = not errors
    return shown


def trusted_results(graded_notebook) -> dict[str, tuple[bool, str]]:
    """grade_id → (passed, message) of each test cell in a notebook the checker filled in."""
    found = {}
    for cell in graded_notebook.cells:
        if is_test(cell):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            found[cell.metadata["nbgrader"]["grade_id"]] = (
                not errors, "; ".join(f"{e.get('ename')}: {e.get('evalue')}" for e in errors))
    return found


def disagreements(shown: dict[str, bool], trusted: dict[str, tuple[bool, str]], hidden: set[str]) -> list[str]:
    """Plain-words reports of visible test cells whose saved result the trusted checks contradict."""
    reports = []
    for grade_id, passed_here in sorted(shown.items()):
        if grade_id in hidden or grade_id not in trusted:
            continue
        passed, message = trusted[grade_id]
        if passed_here and not passed:
            reports.append(f"possible tampering: the submitted notebook shows {grade_id} passing, but the "
                           f"trusted check fails it ({message[:200]})")
    return reports
