"""Score tables: per student and notebook, as text for the terminal and as CSV."""
from __future__ import annotations

import csv
from pathlib import Path

from .results import SubmissionResult


def _cell(result: SubmissionResult | None) -> str:
    if result is None:
        return "—"
    if result.error and (not result.cells or all(c.score is None for c in result.cells if not c.written)):
        return "not graded"
    text = f"{result.auto_score:g}/{result.auto_max:g}"
    return text + (f" +{result.written_pending}w" if result.written_pending else "")


def score_table(results: list[SubmissionResult], failures: bool = True) -> str:
    """A fixed-width table: one row per student, one column per assignment, autograded points.

    "+2w" marks written answers waiting for manual grading in the formgrader; "—" no submission.
    """
    assignments = sorted({r.assignment for r in results})
    students = sorted({r.student for r in results})
    by_key = {(r.student, r.assignment): r for r in results}
    header = ["student", *assignments, "total"]
    rows = []
    for student in students:
        mine = [by_key.get((student, a)) for a in assignments]
        got = sum(r.auto_score for r in mine if r)
        best = sum(r.auto_max for r in mine if r)
        rows.append([student, *[_cell(r) for r in mine], f"{got:g}/{best:g}"])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(header), line(["-" * w for w in widths]), *map(line, rows)]
    failed = [r for r in results if r.error] if failures else []
    if failed:
        out.append("")
        out += [f"grading failed for {r.student} / {r.assignment}: {r.error}" for r in failed]
    out.append("")
    out.append("points are autograded points; +Nw = N written answers to grade by hand in the formgrader")
    return "\n".join(out)


def write_csv(results: list[SubmissionResult], path: Path) -> Path:
    """One row per student and assignment: autograded score, maximum, written answers pending, error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "auto_score", "auto_max", "written_pending", "error"])
        for r in sorted(results, key=lambda r: (r.student, r.assignment)):
            writer.writerow([r.student, r.assignment, r.auto_score, r.auto_max, r.written_pending, r.error])
    return path
