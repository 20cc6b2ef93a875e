"""The class report: one HTML page with plots of how the whole class did, for the instructor.

Score spread per notebook, pass rate per test cell, misconception tags, slowest gradings and failed
gradings. The PNGs are written beside the page and referenced by relative path. Every piece of
student-provided text (ids, messages) is escaped.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from statistics import mean

from .results import SubmissionResult

PAGE = "class-report.html"
SLOWEST = 10


@dataclass
class TagCount:
    tag: str
    count: int  # test cells that raised the tag, over all submissions
    cells: tuple[str, ...]  # "assignment / grade_id" where it was raised
    students: int  # distinct students who got it


def pass_rates(results: list[SubmissionResult]) -> dict[str, list[tuple[str, int, int]]]:
    """assignment → (grade_id, submissions with full marks, submissions graded), worst rate first."""
    counts: dict[tuple[str, str], list[int]] = {}
    for result in results:
        for cell in result.cells:
            if not cell.written:
                tally = counts.setdefault((result.assignment, cell.grade_id), [0, 0])
                tally[0] += cell.passed
                tally[1] += 1
    rates: dict[str, list[tuple[str, int, int]]] = {}
    for (assignment, grade_id), (passed, total) in counts.items():
        rates.setdefault(assignment, []).append((grade_id, passed, total))
    for rows in rates.values():
        rows.sort(key=lambda row: (row[1] / row[2], row[0]))
    return dict(sorted(rates.items()))


def tag_counts(results: list[SubmissionResult]) -> list[TagCount]:
    """Each misconception tag raised anywhere in the class, most frequent first."""
    seen: dict[str, list] = {}
    for result in results:
        for cell in result.cells:
            for tag in dict.fromkeys(cell.tags):  # a tag counts once per cell
                entry = seen.setdefault(tag, [0, set(), set()])
                entry[0] += 1
                entry[1].add(f"{result.assignment} / {cell.grade_id}")
                entry[2].add(result.student)
    tags = [TagCount(tag, count, tuple(sorted(cells)), len(students)) for tag, (count, cells, students) in seen.items()]
    return sorted(tags, key=lambda t: (-t.count, t.tag))


def slowest(seconds: dict[tuple[str, str], float], limit: int = SLOWEST) -> list[tuple[str, str, float]]:
    """(student, assignment, seconds) of the slowest gradings, slowest first."""
    rows = [(student, assignment, float(s)) for (student, assignment), s in seconds.items()]
    return sorted(rows, key=lambda row: (-row[2], row[0], row[1]))[:limit]


# --- plots ---------------------------------------------------------------------------------------

def _figure(width: float, height: float):
    """A matplotlib figure drawn by the Agg canvas, without pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, out_dir: Path, name: str) -> str:
    figure.tight_layout()
    figure.savefig(out_dir / name, format="png")
    return name


def _score_plot(results: list[SubmissionResult], out_dir: Path) -> str | None:
    """Strip plot: each submission's autograded percentage, one column per assignment, mean marked."""
    graded = [r for r in results if r.auto_max > 0]
    if not graded:
        return None
    assignments = sorted({r.assignment for r in graded})
    figure = _figure(max(6.0, 1.3 * len(assignments)), 4.5)
    axes = figure.add_subplot()
    for x, assignment in enumerate(assignments):
        percents = [100 * r.auto_score / r.auto_max for r in graded if r.assignment == assignment]
        jitter = [((i * 0.618) % 1 - 0.5) * 0.4 for i in range(len(percents))]  # spread ties, same every run
        axes.scatter([x + j for j in jitter], percents, s=18, alpha=0.6, color="tab:blue", zorder=3,
                     label="one submission" if x == 0 else None)
        axes.hlines(mean(percents), x - 0.3, x + 0.3, color="tab:red", linewidth=2, label="mean" if x == 0 else None)
    axes.set_xticks(range(len(assignments)), assignments, rotation=30, ha="right")
    axes.set_xlim(-0.6, len(assignments) - 0.4)
    axes.set_ylim(-5, 125)  # the band above 100 % holds the legend
    axes.set_yticks(range(0, 101, 20))
    axes.set_xlabel("assignment")
    axes.set_ylabel("autograded score (% of points)")
    axes.set_title("Score distribution per notebook")
    axes.legend(loc="upper center", ncol=2)
    return _save(figure, out_dir, "score-distribution.png")


def _pass_rate_plot(rates: dict[str, list[tuple[str, int, int]]], out_dir: Path) -> str | None:
    """Horizontal bars per assignment, one bar per test cell, worst at the top."""
    if not rates:
        return None
    heights = [len(rows) for rows in rates.values()]
    figure = _figure(8.0, 1.2 * len(rates) + 0.3 * sum(heights))
    panels = figure.subplots(len(rates), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for axes, (assignment, rows) in zip(panels, rates.items()):
        labels = [grade_id for grade_id, _, _ in rows]
        percents = [100 * passed / total for _, passed, total in rows]
        bars = axes.barh(range(len(rows)), percents, color="tab:green")
        axes.bar_label(bars, [f"{passed}/{total}" for _, passed, total in rows], padding=3, fontsize=7)
        axes.set_yticks(range(len(rows)), labels, fontsize=8)
        axes.invert_yaxis()
        axes.set_xlim(0, 112)  # room for the n/N labels
        axes.set_xticks(range(0, 101, 20))
        axes.set_title(assignment, fontsize=10)
    panels[-1].set_xlabel("submissions with full marks (%)")
    figure.suptitle("Pass rate per test cell (worst first)")
    return _save(figure, out_dir, "pass-rates.png")


def _tag_plot(tags: list[TagCount], out_dir: Path) -> str | None:
    if not tags:
        return None
    figure = _figure(8.0, 1.5 + 0.3 * len(tags))
    axes = figure.add_subplot()
    axes.barh(range(len(tags)), [t.count for t in tags], color="tab:orange")
    axes.set_yticks(range(len(tags)), [t.tag for t in tags], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("test cells that raised the tag (all submissions)")
    axes.set_title("Misconceptions across the class")
    return _save(figure, out_dir, "misconceptions.png")


def _slowest_plot(rows: list[tuple[str, str, float]], out_dir: Path) -> str | None:
    if not rows:
        return None
    figure = _figure(8.0, 1.5 + 0.3 * len(rows))
    axes = figure.add_subplot()
    axes.barh(range(len(rows)), [s for _, _, s in rows], color="tab:purple")
    axes.set_yticks(range(len(rows)), [f"{student} / {assignment}" for student, assignment, _ in rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("grading wall time (s)")
    axes.set_title(f"Slowest {len(rows)} gradings")
    return _save(figure, out_dir, "slowest.png")


# --- HTML ----------------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(name: str | None, alt: str) -> str:
    return f'<img src="{escape(name)}" alt="{escape(alt)}">' if name else ""


def _summary(results: list[SubmissionResult]) -> str:
    by_assignment: dict[str, list[SubmissionResult]] = {}
    for r in results:
        by_assignment.setdefault(r.assignment, []).append(r)
    numbers = [["students", len({r.student for r in results})], ["submissions", len(results)],
               ["gradings that failed", sum(1 for r in results if r.error)],
               ["written answers awaiting hand grading", sum(r.written_pending for r in results)]]
    rows = []
    for assignment, mine in sorted(by_assignment.items()):
        graded = [r for r in mine if r.auto_max > 0]
        score = f"{mean(r.auto_score for r in graded):.2f} / {max(r.auto_max for r in graded):g}" if graded else "—"
        percent = f"{mean(100 * r.auto_score / r.auto_max for r in graded):.0f}%" if graded else "—"
        rows.append([assignment, len(mine), score, percent])
    return (_table(["", "number"], numbers)
            + (_table(["assignment", "submissions", "mean autograded score", "mean %"], rows) if rows else ""))


def _section(title: str, body: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{body}</section>"


def _none(text: str) -> str:
    return f'<p class="none">{escape(text)}</p>'


STYLE = """body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;
vertical-align:top}th{background:#f3f3f3}img{max-width:100%}.none{color:#666;font-style:italic}"""


def write_class_report(results: list[SubmissionResult], out_dir: Path,
                       seconds: dict[tuple[str, str], float] | None = None) -> Path:
    """Write ``out_dir``/class-report.html and its PNGs; return the page's path.

    ``seconds`` maps (student, assignment) to that grading's wall time.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rates, tags, slow = pass_rates(results), tag_counts(results), slowest(seconds or {})
    failed = sorted((r for r in results if r.error), key=lambda r: (r.assignment, r.student))

    scores = _image(_score_plot(results, out_dir), "autograded score of every submission, per notebook")
    rate_rows = [[a, grade_id, f"{passed}/{total}", f"{100 * passed / total:.0f}%"]
                 for a, rows in rates.items() for grade_id, passed, total in rows]
    tag_rows = [[t.tag, t.count, ", ".join(t.cells), t.students] for t in tags]
    slow_rows = [[i, student, assignment, f"{s:.1f}"] for i, (student, assignment, s) in enumerate(slow, 1)]
    sections = [
        _section("Summary", _summary(results) if results else _none("No submissions.")),
        _section("Score distribution per notebook", scores or _none("No autograded scores.")),
        _section("Pass rate per test cell", _image(_pass_rate_plot(rates, out_dir), "pass rate per test cell")
                 + _table(["assignment", "test cell", "full marks", "pass rate"], rate_rows)
                 if rates else _none("No test cells were graded.")),
        _section("Misconceptions", _image(_tag_plot(tags, out_dir), "misconception tag counts")
                 + _table(["tag", "count", "where (assignment / test cell)", "students"], tag_rows)
                 if tags else _none("No misconception tags were raised.")),
        _section("Slowest gradings", _image(_slowest_plot(slow, out_dir), "slowest gradings")
                 + _table(["rank", "student", "assignment", "seconds"], slow_rows)
                 if slow else _none("No grading times were recorded.")),
        _section("Failed gradings", _table(["student", "assignment", "reason"],
                                           [[r.student, r.assignment, r.error] for r in failed])
                 if failed else _none("Every grading finished.")),
    ]
    page = out_dir / PAGE
    page.write_text("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    f"<title>Class report</title><style>{STYLE}</style></head>"
                    f"<body><h1>Class report</h1>{''.join(sections)}</body></html>\n", encoding="utf-8")
    return page
