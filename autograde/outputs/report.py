"""Score tables: per student and assignment, as text for the terminal and as CSV.

The totals are the gradebook's, counted as nbgrader counts them: autograded plus hand-graded points
out of every cell's points, written answers included; an assignment a student did not hand in counts
0 out of its points. So a student's total is the formgrader's (which shows no late penalty), and the
total after late penalties is the sum of `nbgrader export`'s ``score`` column (grades.csv).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from autograde.outputs.results import SubmissionResult


@dataclass
class Total:
    score: float  # autograded + hand-graded points over all assignments (the formgrader's total)
    final: float  # the same less late penalties (the sum of grades.csv's score column)
    max_score: float  # every assignment's points, handed in or not
    pending: int  # written answers still to grade by hand


def num(value: float) -> str:
    """A score as people write it: 7.5, 12, 3.33."""
    return f"{round(value, 2):g}"


def course_points(results: list[SubmissionResult]) -> dict[str, float]:
    """Each assignment's points as seen in the results (when the gradebook's list is not at hand)."""
    points: dict[str, float] = {}
    for r in results:
        points[r.assignment] = max(points.get(r.assignment, 0.0), r.max_score)
    return dict(sorted(points.items()))


def totals(results: list[SubmissionResult], points: dict[str, float] | None = None,
           students: list[str] | None = None) -> dict[str, Total]:
    """student → Total over every assignment in ``points`` (default: those in the results)."""
    points = points if points is not None else course_points(results)
    by_key = {(r.student, r.assignment): r for r in results}
    found = {}
    for student in sorted(set(students or []) | {r.student for r in results}):
        mine = [by_key[(student, a)] for a in points if (student, a) in by_key]
        found[student] = Total(sum(r.score for r in mine), sum(r.final_score for r in mine),
                               sum(points.values()), sum(r.written_pending for r in mine))
    return found


def _cell(result: SubmissionResult | None, points: float) -> str:
    if result is None:
        return "—"
    if result.error and (not result.cells or all(c.score is None for c in result.cells if not c.written)):
        return "not graded"
    text = f"{num(result.score)}/{num(result.max_score or points)}"
    text += f" +{result.written_pending}w" if result.written_pending else ""
    return text + (" L" if result.late_penalty > 0 else "")


def _late_line(r: SubmissionResult) -> str:
    hours = r.seconds_late / 3600
    late = f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.1f} h"
    granted = f", after an extension of {_duration(r.extension)}" if r.extension else ""
    return f"  {r.student} / {r.assignment}: {late} late{granted}: −{num(r.late_penalty)} of {num(r.score)} points"


def _duration(delta) -> str:
    days, hours = delta.days, delta.seconds // 3600
    parts = [f"{days} day{'s' if days != 1 else ''}" if days else "", f"{hours} h" if hours else ""]
    return " ".join(part for part in parts if part) or "0 h"


def score_table(results: list[SubmissionResult], failures: bool = True, points: dict[str, float] | None = None,
                students: list[str] | None = None) -> str:
    """A fixed-width table: one row per student, one column per assignment of ``points`` (default:
    those in the results), then the total; "after late penalties" when any were taken.

    "+2w" marks written answers waiting for hand grading in the formgrader; "—" no submission
    (0 points); "L" a late penalty, listed under the table.
    """
    points = points if points is not None else course_points(results)
    by_key = {(r.student, r.assignment): r for r in results}
    sums = totals(results, points, students)
    late = sorted((r for r in results if r.late_penalty > 0 and r.assignment in points),
                  key=lambda r: (r.student, r.assignment))
    header = ["student", *points, "total"] + (["after late penalties"] if late else [])
    rows = []
    for student, total in sums.items():
        row = [student, *[_cell(by_key.get((student, a)), p) for a, p in points.items()],
               f"{num(total.score)}/{num(total.max_score)}" + (f" +{total.pending}w" if total.pending else "")]
        rows.append(row + ([f"{num(total.final)}/{num(total.max_score)}"] if late else []))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(header), line(["-" * w for w in widths]), *map(line, rows), ""]
    out.append("points: autograded + graded by hand, out of every cell's points; — = not handed in (0 points); "
               "+Nw = N written answers to grade by hand in the formgrader (0 until then)")
    if late:
        out.append(f"late: {len(late)} submission(s) lost points (L), as deadlines.toml says:")
        out += [_late_line(r) for r in late]
    failed = [r for r in results if r.error] if failures else []
    if failed:
        out.append("")
        out += [f"grading failed for {r.student} / {r.assignment}: {r.error}" for r in failed]
    return "\n".join(out)


def write_csv(results: list[SubmissionResult], path: Path) -> Path:
    """One row per student and assignment: autograded and hand-graded points, maximum, written
    answers pending, late penalty, final score, error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "auto_score", "written_score", "max_score", "written_pending",
                         "late_penalty", "final_score", "error"])
        for r in sorted(results, key=lambda r: (r.student, r.assignment)):
            writer.writerow([r.student, r.assignment, r.auto_score, r.written_score, r.max_score,
                             r.written_pending, r.late_penalty, r.final_score, r.error])
    return path
