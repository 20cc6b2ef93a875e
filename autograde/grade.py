"""Autograde submissions with the real nbgrader and read back the results."""
from __future__ import annotations

from pathlib import Path

from .nbgrader_app import api
from .release import generate
from .results import SubmissionResult, read


def submitted(root: Path) -> dict[str, list[str]]:
    """assignment id → students who have a submission folder for it under submitted/."""
    found: dict[str, list[str]] = {}
    for folder in sorted((Path(root) / "submitted").glob("*/*")):
        if folder.is_dir():
            found.setdefault(folder.name, []).append(folder.parent.name)
    return found


def _plain(error: str) -> str:
    """The last meaningful line of an nbgrader error log."""
    lines = [ln.strip() for ln in (error or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "nbgrader reported a failure without a message"


def autograde(root: Path, assignments: list[str] | None = None, prepare: bool = True) -> list[SubmissionResult]:
    """Autograde every submission under ``root``/submitted (optionally only some assignments).

    ``prepare`` runs generate_assignment first so the gradebook knows each assignment's cells.
    One submission's failure is recorded in its result and never stops the others.
    """
    queue = submitted(root)
    ids = [a for a in sorted(queue) if assignments is None or a in assignments]
    if prepare and ids:
        generate(root, ids)
    grader = api(root)
    results = []
    for aid in ids:
        for student in queue[aid]:
            outcome = grader.autograde(aid, student, force=True, create=True)
            result = read(root, aid, student)
            if not outcome["success"]:
                result.error = _plain(outcome.get("error") or outcome.get("log"))
            results.append(result)
    return results
