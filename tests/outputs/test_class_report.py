"""The class report counts tags, pass rates and slow gradings right, draws real PNGs, escapes student
text, has one row per student (scores, late flags from nbgrader's gradebook, tags, feedback links) and
similar answers as leads with their evidence, and is readable by everyone: no text of a figure overlaps
another or leaves the figure, every figure has a text alternative with its key numbers, headings go
h1 → h2 → h3 without skipping, every table has a caption."""
from __future__ import annotations

import html
import random
import re
import shutil
import warnings
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path

import nbformat
import pytest

from autograde.samples import answer_bank, submissions
from autograde.outputs.class_report import Lateness, charts, lateness, pass_rates, slowest, tag_counts, write_class_report
from autograde.course.nbgrader_app import gradebook_url
from autograde.course.release import REPO
from autograde.outputs.results import CellResult, SubmissionResult

EVIL = "<script>alert(1)</script>"


def _submission(student, assignment, passed: dict[str, bool], tags: dict[str, tuple] | None = None, error=""):
    """One submission: each test cell worth 1 point, full marks when ``passed``; ``tags`` per cell."""
    tags = tags or {}
    cells = [CellResult(gid, 1.0 if ok else 0.0, 1.0, False, " ".join(f"[{t}] wrong" for t in tags.get(gid, ())),
                        tags.get(gid, ())) for gid, ok in passed.items()]
    return SubmissionResult(student, assignment, cells + [CellResult("written_why", None, 2.0, True)], error)


def fixture_class() -> list[SubmissionResult]:
    """Four submissions of 01_descent (test_step passes 3/4, test_sign 1/4), one of 02_chain, one failed grading."""
    return [
        _submission("ada", "01_descent", {"test_step": True, "test_sign": False}, {"test_sign": ("gradient-sign",)}),
        _submission("ben", "01_descent", {"test_step": True, "test_sign": False}, {"test_sign": ("gradient-sign",)}),
        _submission("cy", "01_descent", {"test_step": False, "test_sign": True},
                    {"test_step": ("step-too-large", "step-too-large")}),
        _submission(EVIL, "01_descent", {"test_step": True, "test_sign": False}),
        _submission("ada", "02_chain", {"test_chain": False}, {"test_chain": ("gradient-sign",)}),
        SubmissionResult("dee", "02_chain", [], error="the notebook is not valid JSON"),
    ]


SECONDS = {("ada", "01_descent"): 4.0, ("ben", "01_descent"): 31.5, ("cy", "01_descent"): 2.0,
           (EVIL, "01_descent"): 12.0, ("ada", "02_chain"): 7.25}


def text_of(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text()))


def rows_of(page: Path) -> list[list[str]]:
    """Every table row of the page as its cells' text (a line break inside a cell reads as " | ")."""
    def text(cell: str) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", cell.replace("<br>", " | "))).strip()

    return [[text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page.read_text(), re.S)]


def test_pass_rate_is_the_share_of_submissions_with_full_marks_worst_first():
    assert pass_rates(fixture_class()) == {"01_descent": [("test_sign", 1, 4), ("test_step", 3, 4)],
                                           "02_chain": [("test_chain", 0, 1)]}


def test_tags_are_counted_once_per_cell_with_where_and_how_many_students():
    by_tag = {t.tag: t for t in tag_counts(fixture_class())}
    assert by_tag["gradient-sign"].count == 3
    assert by_tag["gradient-sign"].students == 2
    assert by_tag["gradient-sign"].cells == ("01_descent / test_sign", "02_chain / test_chain")
    assert by_tag["step-too-large"].count == 1


def test_slowest_are_sorted_slowest_first_and_capped():
    assert slowest(SECONDS, limit=2) == [("ben", "01_descent", 31.5), (EVIL, "01_descent", 12.0)]


def test_page_names_every_png_and_each_is_a_real_png_on_disk(tmp_path):
    page = write_class_report(fixture_class(), tmp_path / "report", SECONDS)
    assert page == tmp_path / "report" / "class-report.html"
    images = re.findall(r'<img src="([^"]+)"', page.read_text())
    assert sorted(images) == ["misconceptions.png", "pass-rates.png", "score-distribution.png", "slowest.png"]
    for name in images:
        assert (page.parent / name).read_bytes().startswith(b"\x89PNG"), name


def test_page_tables_hold_the_right_counts(tmp_path):
    rows = rows_of(write_class_report(fixture_class(), tmp_path, SECONDS))
    assert ["gradient-sign", "3", "01_descent / test_sign, 02_chain / test_chain", "2"] in rows
    assert ["01_descent", "test_sign", "1/4", "25%"] in rows
    assert ["01_descent", "test_step", "3/4", "75%"] in rows
    assert ["students", "5"] in rows and ["submissions", "6"] in rows
    assert ["01_descent", "4", "1.00 / 2", "50%"] in rows  # mean autograded score per assignment


def test_slowest_submission_comes_first(tmp_path):
    rows = rows_of(write_class_report(fixture_class(), tmp_path, SECONDS))
    ranked = [row for row in rows if len(row) == 4 and row[0].isdigit()]
    assert ranked[0] == ["1", "ben", "01_descent", "31.5"]
    assert ranked[1] == ["2", EVIL, "01_descent", "12.0"]


def test_failed_gradings_are_listed_with_their_reason(tmp_path):
    rows = rows_of(write_class_report(fixture_class(), tmp_path, SECONDS))
    assert ["dee", "02_chain", "the notebook is not valid JSON"] in rows


def test_student_text_is_escaped(tmp_path):
    results = fixture_class() + [SubmissionResult("eve", "01_descent", [], error="<img src=x onerror=alert(2)>")]
    source = write_class_report(results, tmp_path, SECONDS).read_text()
    assert EVIL not in source and "<img src=x" not in source
    assert html.escape(EVIL) in source


def test_empty_inputs_give_a_page_without_plots(tmp_path):
    page = write_class_report([], tmp_path)
    assert "No submissions." in page.read_text()
    assert "<img" not in page.read_text() and not list(tmp_path.glob("*.png"))


def test_no_tags_and_no_timings_are_said_in_words(tmp_path):
    page = write_class_report([_submission("ada", "01_descent", {"test_step": True})], tmp_path)
    text = text_of(page)
    assert "No misconception tags were raised." in text and "No grading times were recorded." in text
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["pass-rates.png", "score-distribution.png"]


def test_only_failed_gradings_still_render(tmp_path):
    page = write_class_report([SubmissionResult("dee", "02_chain", [], error="timeout")], tmp_path, {})
    assert ["dee", "02_chain", "timeout"] in rows_of(page)
    assert "No autograded scores." in text_of(page)


# --- readable by everyone ------------------------------------------------------------------------------

def sample_shaped_class() -> tuple[list[SubmissionResult], dict[tuple[str, str], float]]:
    """22 students on the seven notebooks' real graded cells, seeded: about 70 % of test cells passed,
    ten tags, long grade ids, a failed grading; grading times for each."""
    draw = random.Random(4)
    tags = ["missing-linear-term", "gradient-sign", "missing-mean-factor", "sigmoid-sign", "not-implemented",
            "raised-error", "wrong-shape", "overflow-warning", "hard-coded-learning-rate", "unseeded-init"]
    results = []
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        graded = [c.metadata.nbgrader for c in nbformat.read(path, as_version=4).cells
                  if c.metadata.get("nbgrader", {}).get("grade")]
        for number in range(22):
            cells = []
            for meta in graded:
                written = not meta["grade_id"].startswith("test")
                passed = draw.random() < 0.7
                tag = () if passed or written else (draw.choice(tags),)
                score = None if written else (float(meta["points"]) if passed else 0.0)
                cells.append(CellResult(meta["grade_id"], score, float(meta["points"]), written,
                                        " ".join(f"[{t}] hint" for t in tag), tag))
            results.append(SubmissionResult(f"student-{number:02d}", path.stem, cells))
    results.append(SubmissionResult("dee", "03_numerical_checks", [], error="the notebook is not valid JSON"))
    return results, {(r.student, r.assignment): draw.uniform(1.0, 40.0) for r in results}


def undrawn_tick_labels(figure) -> set[int]:
    """ids of the tick labels matplotlib keeps for ticks outside the axes' view (it does not draw them)."""
    hidden = set()
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    hidden |= {id(tick.label1), id(tick.label2)}
    return hidden


def text_boxes(figure) -> list[tuple[str, object]]:
    """(text, its box on the canvas in pixels) of every visible, non-empty text the figure draws."""
    from matplotlib.text import Text

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    skip = undrawn_tick_labels(figure)
    return [(t.get_text(), t.get_window_extent(renderer)) for t in figure.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in skip]


def overlapping(figure) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes share more than one square pixel."""
    from matplotlib.transforms import Bbox

    pairs = []
    for (a, box_a), (b, box_b) in combinations(text_boxes(figure), 2):
        common = Bbox.intersection(box_a, box_b)
        if common is not None and common.width * common.height > 1.0:
            pairs.append((a, b))
    return pairs


def outside(figure) -> list[str]:
    bounds = figure.bbox.padded(1.0)
    return [text for text, box in text_boxes(figure) if not bounds.contains(box.x0, box.y0)
            or not bounds.contains(box.x1, box.y1)]


@pytest.mark.parametrize("shape", ["fixture", "sample"])
def test_no_text_of_any_figure_overlaps_another_or_leaves_the_figure(shape):
    results, seconds = (fixture_class(), SECONDS) if shape == "fixture" else sample_shaped_class()
    made = charts(results, seconds)
    assert sorted(made) == ["pass_rates", "scores", "slowest", "tags"]
    for name, chart in made.items():
        assert len(text_boxes(chart.figure)) > 5, name
        assert overlapping(chart.figure) == [], name
        assert outside(chart.figure) == [], name


def test_the_overlap_check_finds_the_old_layouts_suptitle_on_the_first_title():
    """Control: the layout the report had before (tight_layout, which leaves the suptitle out) overlaps."""
    chart = charts(*sample_shaped_class())["pass_rates"]
    chart.figure.set_layout_engine("tight")
    pairs = {frozenset(pair) for pair in overlapping(chart.figure)}
    assert frozenset({"Pass rate per test cell (worst first)", "01_gradient_descent"}) in pairs


def test_every_figure_has_a_text_alternative_with_its_key_numbers(tmp_path):
    page = write_class_report(fixture_class(), tmp_path, SECONDS).read_text()
    alts = dict(re.findall(r'<img src="([^"]+)" alt="([^"]+)"', page))
    assert sorted(alts) == ["misconceptions.png", "pass-rates.png", "score-distribution.png", "slowest.png"]
    assert "01_descent 50% (4 submissions)" in alts["score-distribution.png"]
    assert "Lowest: 02_chain / test_chain 0/1 (0%); 01_descent / test_sign 1/4 (25%)" in alts["pass-rates.png"]
    assert "gradient-sign 3; step-too-large 1" in alts["misconceptions.png"]
    assert "ben / 01_descent 31.5 s" in html.unescape(alts["slowest.png"])
    assert page.count("<figcaption>") == 4


@pytest.mark.parametrize("shape", ["fixture", "with leads"])
def test_headings_go_in_order_and_every_table_has_a_caption(tmp_path, shape):
    if shape == "fixture":
        page = write_class_report(fixture_class(), tmp_path, SECONDS).read_text()
    else:
        course = course_with_a_copy(tmp_path)
        page = write_class_report(course_results(), course / "reports").read_text()
        assert "<h3" in page
    levels = [int(level) for level in re.findall(r"<h([1-6])", page)]
    assert levels[0] == 1 and levels.count(1) == 1 and levels[1] == 2
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:]))  # never a level skipped
    assert len(re.findall(r"<table[ >]", page)) == page.count("<caption") > 0
    assert '<html lang="en">' in page


def test_the_score_figure_tells_mean_from_submission_by_shape_not_colour_alone():
    figure = charts(fixture_class(), SECONDS)["scores"].figure
    legend = figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["one submission", "mean"]
    assert [type(h).__name__ for h in legend.legend_handles] == ["PathCollection", "Line2D"]  # dot and bar


# --- one row per student -------------------------------------------------------------------------

def student_table(page: Path) -> dict[str, list[str]]:
    """student → the cells of their row in the per-student table (header row under "student")."""
    source = page.read_text()
    table = re.search(r'<table class="students">(.*?)</table>', source, re.S).group(1)
    table = re.sub(r'<span class="visually-hidden">.*?</span>', "", table)  # what the eye reads
    fake = page.with_name("students-only.html")
    fake.write_text(table)
    return {row[0]: row[1:] for row in rows_of(fake)}


def test_one_row_per_student_with_a_mark_per_notebook_the_total_and_the_tags(tmp_path):
    rows = student_table(write_class_report(fixture_class(), tmp_path, SECONDS))
    assert rows["student"] == ["01_descent", "02_chain", "autograded total", "misconception tags (notebooks)"]
    assert rows["ada"] == ["1 / 2 | 1 written to grade", "0 / 1 | 1 written to grade", "1 / 3", "gradient-sign (01, 02)"]
    assert rows["cy"] == ["1 / 2 | 1 written to grade", "not submitted", "1 / 3", "step-too-large (01)"]
    assert rows["dee"] == ["not submitted", "not graded", "0 / 3", "none"]
    assert len(rows) == 1 + 5


def test_late_flags_come_from_the_results_when_they_carry_lateness(tmp_path):
    """The hook: a result with seconds_late (and late_penalty) is flagged without asking a gradebook."""
    results = fixture_class()
    results[1].seconds_late, results[1].late_penalty = 2 * 3600 + 5 * 60, 1.5  # ben, 01_descent
    results[0].seconds_late = 0.0  # ada, on time
    assert lateness(results, None)[("ben", "01_descent")] == Lateness(7500.0, 1.5)
    rows = student_table(write_class_report(results, tmp_path, SECONDS))
    assert rows["ben"][0] == "1 / 2 | late by 2 h 5 min, −1.5 points | 1 written to grade"
    assert rows["ada"][0] == "1 / 2 | 1 written to grade"


def test_without_due_dates_the_page_says_so(tmp_path):
    page = write_class_report(fixture_class(), tmp_path, SECONDS)
    assert "No submission has a due date in the gradebook, so none is flagged late." in text_of(page)


def _gradebook_with_deadlines(course: Path) -> None:
    """nbgrader's gradebook: 01_descent due 1 March 12:00; ada on time, ben 3 h late with a 2-point
    penalty, cy 1 day late under a 2-day extension."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's own autoflush noise, as autograde does
    due = datetime(2025, 3, 1, 12, 0)
    with Gradebook(gradebook_url(course)) as gb:
        gb.add_assignment("01_descent", duedate=due)
        gb.add_notebook("01_descent", "01_descent")
        for student, late, extension in (("ada", -1, None), ("ben", 3, None), ("cy", 24, timedelta(days=2))):
            gb.add_student(student)
            gb.add_submission("01_descent", student, timestamp=due + timedelta(hours=late), extension=extension)
        gb.find_submission_notebook("01_descent", "01_descent", "ben").late_submission_penalty = 2.0
        gb.db.commit()


def test_late_flags_come_from_nbgraders_gradebook(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    _gradebook_with_deadlines(course)
    found = lateness(fixture_class(), gradebook_url(course))
    assert found[("ada", "01_descent")] == Lateness(0.0, 0.0, 0.0)
    assert found[("ben", "01_descent")] == Lateness(3 * 3600.0, 2.0, 0.0)
    assert found[("cy", "01_descent")] == Lateness(0.0, 0.0, 2 * 86400.0)
    assert ("ada", "02_chain") not in found  # no such assignment in the gradebook: no flag
    rows = student_table(write_class_report(fixture_class(), course / "reports", SECONDS))  # finds gradebook.db
    assert rows["ben"][0].startswith("1 / 2 | late by 3 h, −2 points")
    assert rows["cy"][0].startswith("1 / 2 | on time, with an extension of 2 d")
    assert rows["ada"][0] == "1 / 2 | 1 written to grade"


def test_feedback_links_are_relative_from_reports_and_lead_to_the_pages(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    for student in ("ada", "cy d"):
        page = course / "feedback" / student / "01_descent" / "01_descent.html"
        page.parent.mkdir(parents=True)
        page.write_text("<p>feedback</p>")
    results = fixture_class() + [_submission("cy d", "01_descent", {"test_step": True, "test_sign": True})]
    report = write_class_report(results, course / "reports", SECONDS)
    links = re.findall(r'<a class="score" href="([^"#]+)">([^<]+)<span class="visually-hidden">: ([^<]+)</span>',
                       report.read_text())
    assert links == [("../feedback/ada/01_descent/01_descent.html", "1 / 2", "feedback for ada on 01_descent"),
                     ("../feedback/cy%20d/01_descent/01_descent.html", "2 / 2", "feedback for cy d on 01_descent")]
    from urllib.parse import unquote

    for href, _, _ in links:
        assert (report.parent / unquote(href)).resolve().is_file()


# --- similar answers -----------------------------------------------------------------------------

ASSIGNMENT = "04_single_neuron"
COPIED = {  # amal's answers; bo hands in the same with other names, comments and a literal changed
    "gradients": answer_bank.find(ASSIGNMENT, "gradients", "loop-over-samples").code,
    "train": answer_bank.find(ASSIGNMENT, "train", "inline-gradient").code,
}
DISGUISED = {
    "gradients": """def gradients(X, y, w, b):
    # average gradient over the samples
    m, d = X.shape
    gw, gb = np.zeros(d), 0.0
    for row, target in zip(X, y):
        out = float(sigmoid(row @ w + b))
        err = (out - target) * out * (1 - out)   # error < 0 pulls up
        gw += err * row
        gb += err
    return gw / m, gb / m
""",
    "train": """def train(X, y, learning_rate, n_steps):
    m, d = X.shape
    W, B = np.zeros(d), 0.5
    hist = np.zeros(n_steps + 1)
    for i in range(n_steps + 1):
        pred = sigmoid(X @ W + B)
        hist[i] = np.sum((pred - y) ** 2) / (2 * m)
        if i < n_steps:
            e = (pred - y) * pred * (1 - pred) / m
            W, B = W - learning_rate * (X.T @ e), B - learning_rate * e.sum()
    return W, B, hist
""",
}
OWN_WORK = {"gradients": answer_bank.find(ASSIGNMENT, "gradients", "einsum-and-mean").code,
            "train": answer_bank.find(ASSIGNMENT, "train", "list-append").code}


def course_with_a_copy(tmp_path: Path) -> Path:
    """A course folder with 04_single_neuron released and three submissions: amal, bo (amal's answers
    disguised), cy (independent answers); feedback pages for each."""
    course = tmp_path / "course"
    for folder in ("course", "solutions"):
        shutil.copytree(REPO / folder / ASSIGNMENT, course / folder / ASSIGNMENT)
    shutil.copy(REPO / "nbgrader_config.py", course)
    for student, answers in (("amal", COPIED), ("bo", DISGUISED), ("cy", OWN_WORK)):
        submissions.write(submissions.build(ASSIGNMENT, "solution", answers), course, student, ASSIGNMENT)
        page = course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        page.parent.mkdir(parents=True)
        page.write_text("<p>feedback</p>")
    return course


def course_results() -> list[SubmissionResult]:
    return [_submission(student, ASSIGNMENT, {"test_predict": True, "test_train": student != "cy"})
            for student in ("amal", "bo", "cy")]


def test_a_disguised_copy_is_listed_as_a_lead_with_its_evidence(tmp_path):
    course = course_with_a_copy(tmp_path)
    page = write_class_report(course_results(), course / "reports")
    rows = rows_of(page)
    leads = [row for row in rows if len(row) == 7 and row[0].isdigit()]
    assert [row[:3] for row in leads] == [["1", ASSIGNMENT, "amal and bo"]]
    assert sorted(leads[0][6].split(", ")) == ["gradients", "train"]
    assert [ASSIGNMENT, "3", "3", "1", leads[0][4]] in rows  # the per-notebook summary and its median
    source = page.read_text()
    assert source.count('<table class="evidence">') == 2
    assert "<caption>04_single_neuron / train: amal (left) and bo (right)," in source
    assert ["2", "n, d = X.shape", "2", "m, d = X.shape", "same after normalising"] in rows
    assert "err = (out - target) * out * (1 - out)   # error &lt; 0 pulls up" in source  # escaped, as written


def test_the_similarity_section_speaks_of_leads_not_verdicts(tmp_path):
    course = course_with_a_copy(tmp_path)
    text = " ".join(text_of(write_class_report(course_results(), course / "reports")).split())
    assert "Similar answers: leads to check" in text
    assert "A lead is a reason to read two submissions side by side, not a finding" in text
    assert "no student's work was sent anywhere" in text
    for verdict in ("plagiari", "cheat", "guilty", "copied from"):
        assert verdict not in text.lower()


def test_no_lead_and_no_course_folder_are_said_in_words(tmp_path):
    page = write_class_report(fixture_class(), tmp_path / "reports", SECONDS)
    assert "Not computed: the report was written without the course folder" in text_of(page)
    course = course_with_a_copy(tmp_path)
    shutil.rmtree(course / "submitted" / "bo")
    page = write_class_report(course_results()[::2], course / "reports", course=course)
    assert "No pair of submissions is unusually alike." in text_of(page)
