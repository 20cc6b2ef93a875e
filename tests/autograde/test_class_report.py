"""The class report counts tags, pass rates and slow gradings right, draws real PNGs and escapes student text."""
from __future__ import annotations

import html
import re
from pathlib import Path

from autograde.class_report import pass_rates, slowest, tag_counts, write_class_report
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
