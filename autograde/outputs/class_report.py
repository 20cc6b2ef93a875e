"""The class report: one HTML page with plots of how the whole class did, for the teaching team.

Score spread per notebook, pass rate per test cell, misconception tags, one row per student (scores,
late flags, tags, links to the feedback pages), similar answers worth a second look (leads, never
verdicts: autograde/outputs/similarity.py), slowest gradings and failed gradings. The PNGs are written beside
the page and referenced by relative path, as are the feedback pages (reports/ → feedback/). The page
is rendered by a Jinja2 template with autoescaping, so student-provided text (ids, messages, code) is
always escaped. It is meant to meet WCAG 2.1 AA: every figure has a text alternative stating its key
numbers and a table with all of them, every table a caption, headings go h1 → h2 → h3 without
skipping, colours are colour-blind safe and never the only cue, and no text of a figure overlaps
another (tests/outputs/test_class_report.py checks each figure; tests/browser runs axe-core).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING
from urllib.parse import quote

from autograde.outputs import similarity
from autograde.course.nbgrader_app import gradebook_url
from autograde.outputs.results import SubmissionResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAGE = "class-report.html"
TEMPLATES = Path(__file__).parent / "templates"
SLOWEST = 10
EVIDENCE_CELLS = 3  # cells shown side by side per lead; the others are named
IN_ALT = 5  # rows named in a figure's text alternative; the table below it has them all
# Okabe and Ito's palette, distinguishable with every common colour-vision deficiency.
BLUE, VERMILLION, GREEN, ORANGE, PURPLE = "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7"


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


# --- one row per student ------------------------------------------------------------------------

@dataclass(frozen=True)
class Lateness:
    """How late one submission was, as nbgrader's gradebook records it (deadline plus extension)."""

    seconds: float  # past the student's own deadline; 0 when on time
    penalty: float = 0.0  # points nbgrader's LateSubmissionPlugin took off
    extension: float = 0.0  # seconds of extension granted

    @property
    def flagged(self) -> bool:
        """Worth a flag in the table: late, or handed in under an extension."""
        return self.seconds > 0 or self.extension > 0

    def describe(self) -> str:
        parts = [f"late by {_duration(self.seconds)}"] if self.seconds > 0 else ["on time"]
        if self.extension > 0:
            parts.append(f"with an extension of {_duration(self.extension)}")
        if self.penalty > 0:
            parts.append(f"−{self.penalty:g} points")
        return ", ".join(parts)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes)
    return " ".join(parts) or "under a minute"


def lateness(results: list[SubmissionResult], db_url: str | None) -> dict[tuple[str, str], Lateness]:
    """(student, assignment) → its lateness, for the submissions that have a deadline.

    nbgrader's gradebook at ``db_url`` is asked first (``SubmittedAssignment.total_seconds_late``,
    ``late_submission_penalty``, ``extension``): it alone knows which assignments have a due date.
    For a submission it does not know, a result that was late or had an extension
    (``seconds_late``, ``late_penalty``, ``extension``: read from the gradebook by results.read) is
    taken as it is. Without either, no submission has a late flag.
    """
    found = _gradebook_lateness(db_url, {(r.student, r.assignment) for r in results}) if db_url else {}
    for r in results:
        extension = r.extension.total_seconds() if getattr(r, "extension", None) else 0.0
        seconds = float(getattr(r, "seconds_late", 0) or 0)
        if (r.student, r.assignment) not in found and (seconds > 0 or extension > 0):
            found[(r.student, r.assignment)] = Lateness(seconds, float(getattr(r, "late_penalty", 0) or 0), extension)
    return found


def _gradebook_lateness(db_url: str, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], Lateness]:
    from nbgrader.api import Gradebook, MissingEntry

    found = {}
    with Gradebook(db_url) as gb:
        for student, assignment in sorted(wanted):
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            if submission.duedate is not None:
                extension = submission.extension.total_seconds() if submission.extension else 0.0
                found[(student, assignment)] = Lateness(float(submission.total_seconds_late),
                                                        float(submission.late_submission_penalty or 0.0), extension)
    return found


@dataclass
class Mark:
    """One student's result on one assignment, as the per-student table shows it."""

    assignment: str
    score: str  # "5 / 6", "not submitted", "not graded" (the failed gradings table says why)
    late: Lateness | None = None
    pending: int = 0  # written answers awaiting hand grading
    feedback: list[tuple[str, str]] = field(default_factory=list)  # (relative link, notebook name)


@dataclass
class StudentRow:
    student: str
    marks: list[Mark]
    total: str  # autograded points over every assignment's points (a missing one counts 0)
    tags: list[tuple[str, list[str]]]  # (tag, assignments where it was raised)


def _assignment_max(results: list[SubmissionResult]) -> dict[str, float]:
    best: dict[str, float] = {}
    for r in results:
        best[r.assignment] = max(best.get(r.assignment, 0.0), r.auto_max)
    return dict(sorted(best.items()))


def feedback_links(course: Path | None, out_dir: Path, student: str, assignment: str) -> list[tuple[str, str]]:
    """(link relative to the report, notebook name) of each feedback page of one submission."""
    if course is None:
        return []
    folder = Path(course) / "feedback" / student / assignment
    pages = sorted(folder.glob("*.html")) if folder.is_dir() else []
    return [("/".join(quote(part) for part in Path(os.path.relpath(page, out_dir)).parts), page.stem)
            for page in pages]


def student_rows(results: list[SubmissionResult], late: dict[tuple[str, str], Lateness] | None = None,
                 course: Path | None = None, out_dir: Path = Path(".")) -> list[StudentRow]:
    """One row per student: a mark per assignment of the report, the total and the tags raised."""
    late = late or {}
    maxima = _assignment_max(results)
    by_key = {(r.student, r.assignment): r for r in results}
    rows = []
    for student in sorted({r.student for r in results}):
        mine = [by_key[(student, a)] for a in maxima if (student, a) in by_key]
        marks = [_mark(by_key[(student, a)], late, course, out_dir) if (student, a) in by_key
                 else Mark(a, "not submitted") for a in maxima]
        total = f"{sum(r.auto_score for r in mine):g} / {sum(maxima.values()):g}"
        rows.append(StudentRow(student, marks, total, _tags_raised(mine)))
    return rows


def _mark(result: SubmissionResult, late: dict[tuple[str, str], Lateness], course: Path | None,
          out_dir: Path) -> Mark:
    score = "not graded" if result.error else f"{result.auto_score:g} / {result.auto_max:g}"
    return Mark(result.assignment, score, late.get((result.student, result.assignment)), result.written_pending,
                feedback_links(course, out_dir, result.student, result.assignment))


def _tags_raised(results: list[SubmissionResult]) -> list[tuple[str, list[str]]]:
    """(tag, the assignments where it was raised) for one student's results, tags sorted."""
    where: dict[str, list[str]] = {}
    for result in results:
        for tag in {tag for cell in result.cells for tag in cell.tags}:
            where.setdefault(tag, []).append(result.assignment)
    return sorted(where.items())


# --- similar answers -----------------------------------------------------------------------------

@dataclass
class LeadView:
    """One lead as the page shows it: the pair, its numbers and the evidence side by side."""

    rank: int
    pair: similarity.Pair
    typical: float  # the median pair's score in the same assignment
    shown: list[tuple[similarity.CellEvidence, list[similarity.Row]]]
    also: list[str]  # other cells that share material, not shown


@dataclass
class Similarity:
    computed: bool
    leads: list[LeadView] = field(default_factory=list)
    more: int = 0  # leads beyond MAX_LEADS, not shown
    per_assignment: list[list] = field(default_factory=list)  # assignment, submissions, pairs, leads, median


def similar_answers(results: list[SubmissionResult], course: Path | None) -> Similarity:
    """The leads of every assignment, ranked, with their evidence; nothing when the course folder is unknown."""
    if course is None:
        return Similarity(False)
    pairs = similarity.class_pairs(course, [(r.student, r.assignment) for r in results])
    typical = {assignment: similarity.typical_score(found) for assignment, found in pairs.items()}
    ranked = [p for p in similarity.ranked(p for found in pairs.values() for p in found) if p.is_lead]
    leads = []
    for rank, pair in enumerate(ranked[:similarity.MAX_LEADS], 1):
        shown = [(cell, similarity.align(cell.left, cell.right)) for cell in pair.cells[:EVIDENCE_CELLS]]
        leads.append(LeadView(rank, pair, typical[pair.assignment], shown,
                              [cell.key for cell in pair.cells[EVIDENCE_CELLS:]]))
    summary = [[assignment, _submissions_in(found), len(found), sum(p.is_lead for p in found),
                f"{100 * typical[assignment]:.0f}%"] for assignment, found in pairs.items()]
    return Similarity(True, leads, max(0, len(ranked) - similarity.MAX_LEADS), summary)


def _submissions_in(pairs: list[similarity.Pair]) -> int:
    return len({p.left for p in pairs} | {p.right for p in pairs})


# --- figures -------------------------------------------------------------------------------------

@dataclass
class Chart:
    """One figure of the report: the PNG's file name, the matplotlib figure and its text alternative."""

    file: str
    figure: Figure
    alt: str


def _figure(width: float, height: float):
    """A matplotlib figure drawn by the Agg canvas, without pyplot's global state. Constrained layout
    keeps every title, label and suptitle clear of the others."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%"


def score_chart(results: list[SubmissionResult]) -> Chart | None:
    """Strip plot: each submission's autograded percentage, one row per assignment, mean marked."""
    graded = [r for r in results if r.auto_max > 0]
    if not graded:
        return None
    assignments = sorted({r.assignment for r in graded})
    figure = _figure(8.0, 1.6 + 0.55 * len(assignments))
    axes = figure.add_subplot()
    means = {}
    for y, assignment in enumerate(assignments):
        percents = [100 * r.auto_score / r.auto_max for r in graded if r.assignment == assignment]
        means[assignment] = (mean(percents), len(percents))
        jitter = [((i * 0.618) % 1 - 0.5) * 0.4 for i in range(len(percents))]  # spread ties, same every run
        axes.scatter(percents, [y + j for j in jitter], s=18, alpha=0.6, color=BLUE, marker="o", zorder=3,
                     label="one submission" if y == 0 else None)
        axes.vlines(mean(percents), y - 0.35, y + 0.35, color=VERMILLION, linewidth=2.5,
                    label="mean" if y == 0 else None)
    axes.set_yticks(range(len(assignments)), assignments, fontsize=9)
    axes.set_ylim(len(assignments) - 0.4, -0.6)  # the first assignment on top
    axes.set_xlim(-3, 103)
    axes.set_xticks(range(0, 101, 20))
    axes.set_xlabel("autograded score (% of points)")
    axes.set_title("Score distribution per notebook")
    figure.legend(loc="outside lower center", ncol=2)
    alt = ("Autograded score of each submission in percent, one row of dots per notebook, its mean "
           "marked by a bar. Means: " + "; ".join(f"{a} {m:.0f}% ({n} submissions)" for a, (m, n) in means.items())
           + ".")
    return Chart("score-distribution.png", figure, alt)


def pass_rate_chart(rates: dict[str, list[tuple[str, int, int]]]) -> Chart | None:
    """Horizontal bars per assignment, one bar per test cell, worst at the top."""
    if not rates:
        return None
    heights = [len(rows) for rows in rates.values()]
    figure = _figure(8.0, 1.2 * len(rates) + 0.3 * sum(heights) + 0.6)
    panels = figure.subplots(len(rates), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for axes, (assignment, rows) in zip(panels, rates.items()):
        labels = [grade_id for grade_id, _, _ in rows]
        percents = [100 * passed / total for _, passed, total in rows]
        bars = axes.barh(range(len(rows)), percents, color=GREEN)
        axes.bar_label(bars, [f"{passed}/{total}" for _, passed, total in rows], padding=3, fontsize=7)
        axes.set_yticks(range(len(rows)), labels, fontsize=8)
        axes.invert_yaxis()
        axes.set_xlim(0, 112)  # room for the n/N labels
        axes.set_xticks(range(0, 101, 20))
        axes.set_title(assignment, fontsize=10)
    panels[-1].set_xlabel("submissions with full marks (%)")
    figure.suptitle("Pass rate per test cell (worst first)")
    worst = sorted(((passed / total, a, g, passed, total) for a, rows in rates.items() for g, passed, total in rows))
    alt = ("Bars: the share of submissions with full marks for each test cell, one panel per notebook. "
           "Lowest: " + "; ".join(f"{a} / {g} {p}/{t} ({_percent(p, t)})" for _, a, g, p, t in worst[:IN_ALT])
           + ". The table below lists every test cell.")
    return Chart("pass-rates.png", figure, alt)


def tag_chart(tags: list[TagCount]) -> Chart | None:
    if not tags:
        return None
    figure = _figure(8.0, 1.5 + 0.3 * len(tags))
    axes = figure.add_subplot()
    from matplotlib.ticker import MaxNLocator

    bars = axes.barh(range(len(tags)), [t.count for t in tags], color=ORANGE)
    axes.bar_label(bars, [str(t.count) for t in tags], padding=3, fontsize=7)
    axes.set_yticks(range(len(tags)), [t.tag for t in tags], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, max(t.count for t in tags) * 1.12)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("test cells that raised the tag (all submissions)")
    axes.set_title("Misconceptions across the class")
    alt = (f"Bars: how many test cells raised each of {len(tags)} misconception tags, most frequent first: "
           + "; ".join(f"{t.tag} {t.count}" for t in tags[:IN_ALT]) + ". The table below lists every tag.")
    return Chart("misconceptions.png", figure, alt)


def slowest_chart(rows: list[tuple[str, str, float]]) -> Chart | None:
    if not rows:
        return None
    figure = _figure(8.0, 1.5 + 0.3 * len(rows))
    axes = figure.add_subplot()
    bars = axes.barh(range(len(rows)), [s for _, _, s in rows], color=PURPLE)
    axes.bar_label(bars, [f"{s:.1f} s" for _, _, s in rows], padding=3, fontsize=7)
    axes.set_yticks(range(len(rows)), [f"{student} / {assignment}" for student, assignment, _ in rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, max(s for _, _, s in rows) * 1.15)
    axes.set_xlabel("grading wall time (s)")
    axes.set_title(f"Slowest {len(rows)} gradings")
    alt = (f"Bars: the {len(rows)} slowest gradings in seconds, slowest first: "
           + "; ".join(f"{student} / {assignment} {s:.1f} s" for student, assignment, s in rows[:IN_ALT])
           + ". The table below lists them all.")
    return Chart("slowest.png", figure, alt)


def charts(results: list[SubmissionResult], seconds: dict[tuple[str, str], float] | None = None) -> dict[str, Chart]:
    """The report's figures by section (scores, pass_rates, tags, slowest); a section with no data has none."""
    made = {"scores": score_chart(results), "pass_rates": pass_rate_chart(pass_rates(results)),
            "tags": tag_chart(tag_counts(results)), "slowest": slowest_chart(slowest(seconds or {}))}
    return {name: chart for name, chart in made.items() if chart is not None}


# --- HTML ----------------------------------------------------------------------------------------

def _overview(results: list[SubmissionResult]) -> tuple[list[list], list[list]]:
    """(the class in numbers, one row per assignment: submissions, mean score, mean %)."""
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
    return numbers, rows


def _breakable(text: str):
    """An id that may wrap after each underscore (long assignment names in narrow table headers)."""
    from markupsafe import Markup, escape

    return Markup("_<wbr>").join(escape(part) for part in str(text).split("_"))


def _short(assignment: str) -> str:
    """An assignment's number ("04" of "04_single_neuron"), or its whole id when it has none."""
    prefix = assignment.split("_", 1)[0]
    return prefix if prefix.isdigit() else assignment


def _template():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["breakable"] = _breakable
    environment.filters["short"] = _short
    return environment.get_template("class-report.html.j2")


def _course_of(out_dir: Path) -> Path | None:
    """The course folder a report folder sits in (the pipeline writes <course>/reports/), if it is one."""
    parent = Path(out_dir).resolve().parent
    return parent if (parent / "nbgrader_config.py").is_file() else None


def write_class_report(results: list[SubmissionResult], out_dir: Path,
                       seconds: dict[tuple[str, str], float] | None = None, *,
                       course: Path | None = None, db_url: str | None = None) -> Path:
    """Write ``out_dir``/class-report.html and its PNGs; return the page's path.

    ``seconds`` maps (student, assignment) to that grading's wall time. ``course`` is the course folder,
    where the submissions, released notebooks, solutions and feedback pages are read (default: the
    folder ``out_dir`` sits in, when that is a course folder); ``db_url`` its gradebook, asked for
    lateness (default: the course's gradebook.db).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    course = Path(course) if course is not None else _course_of(out_dir)
    if db_url is None and course is not None and (course / "gradebook.db").is_file():
        db_url = gradebook_url(course)
    late = lateness(results, db_url)
    rates, tags, slow = pass_rates(results), tag_counts(results), slowest(seconds or {})
    figures = charts(results, seconds)
    for chart in figures.values():
        chart.figure.savefig(out_dir / chart.file, format="png")
    numbers, per_assignment = _overview(results)
    page = out_dir / PAGE
    page.write_text(_template().render(
        results=results, numbers=numbers, per_assignment=per_assignment, charts=figures,
        rates=[[a, grade_id, f"{passed}/{total}", _percent(passed, total)]
               for a, rows in rates.items() for grade_id, passed, total in rows],
        tags=[[t.tag, t.count, ", ".join(t.cells), t.students] for t in tags],
        slow=[[i, student, assignment, f"{s:.1f}"] for i, (student, assignment, s) in enumerate(slow, 1)],
        students=student_rows(results, late, course, out_dir), assignments=list(_assignment_max(results)),
        late_known=bool(late),
        similar=similar_answers(results, course), k=similarity.CODE_K,
        failed=[[r.student, r.assignment, r.error]
                for r in sorted((r for r in results if r.error), key=lambda r: (r.assignment, r.student))],
    ), encoding="utf-8")
    return page
