"""The class report counts tags, pass rates and slow gradings right, draws real PNGs, escapes student
text, and is readable by everyone: no text of a figure overlaps another or leaves the figure, every
figure has a text alternative with its key numbers, headings go h1 then h2."""
from __future__ import annotations

import html
import random
import re
from itertools import combinations
from pathlib import Path

import nbformat
import pytest

from autograde.class_report import charts, pass_rates, slowest, tag_counts, write_class_report
from autograde.release import REPO
from autograde.results import CellResult, SubmissionResult

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
    """Every table row of the page as its cells' text."""
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<t[dh]>(.*?)</t[dh]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", page.read_text())]


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


def test_headings_go_h1_then_h2_and_every_table_has_a_caption(tmp_path):
    page = write_class_report(fixture_class(), tmp_path, SECONDS).read_text()
    levels = [int(level) for level in re.findall(r"<h([1-6])", page)]
    assert levels[0] == 1 and levels.count(1) == 1 and set(levels[1:]) == {2}
    assert page.count("<table>") == page.count("<caption>") > 0
    assert '<html lang="en">' in page


def test_the_score_figure_tells_mean_from_submission_by_shape_not_colour_alone():
    figure = charts(fixture_class(), SECONDS)["scores"].figure
    legend = figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["one submission", "mean"]
    assert [type(h).__name__ for h in legend.legend_handles] == ["PathCollection", "Line2D"]  # dot and bar
