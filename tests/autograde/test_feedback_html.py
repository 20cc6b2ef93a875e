"""Feedback pages show each failure's message and the score, and never a line of hidden test code."""
from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest

from autograde import results, sample_class, submissions
from autograde.feedback import MAX_OUTPUT_CHARS, feedback_notebook, strip_hidden_tests, write_feedback
from autograde.nbgrader_app import api
from autograde.release import REPO, generate
from autograde.results import CellResult, SubmissionResult

ASSIGNMENT = "03_numerical_checks"
SOLUTIONS = REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE = REPO / "course" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
TAGGED = "AssertionError: [forward-is-central] forward_difference returned 12.25, the central difference"


def hidden_lines(solutions: Path = SOLUTIONS, release: Path = RELEASE) -> set[str]:
    """Every line of over 12 characters inside a hidden-test region that the release does not show."""
    released = "\n".join(c.source for c in nbformat.read(release, as_version=4).cells)
    lines = {line.strip() for cell in nbformat.read(solutions, as_version=4).cells
             for region in HIDDEN.findall(cell.source) for line in region.splitlines()}
    return {line for line in lines if len(line) > 12 and line not in released}


def page_text(path: Path) -> str:
    """What a reader of the page sees: tags removed (syntax highlighting splits lines), entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def leaks(path: Path, lines: set[str]) -> list[str]:
    text = page_text(path)
    return sorted(line for line in lines if line in text)


def _grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


@pytest.fixture(scope="module")
def fake_autograded(tmp_path_factory) -> Path:
    """The solutions notebook (hidden tests in place) with outputs as nbgrader's autograding leaves them:
    a failing hidden test whose traceback quotes a hidden line, a huge print, an HTML output; and a
    written answer holding a script."""
    nb = nbformat.read(SOLUTIONS, as_version=4)
    hidden_cell = next(c for c in nb.cells if _grade_id(c) == "test_forward_difference_hidden")
    quoted = HIDDEN.search(hidden_cell.source).group(1).splitlines()[2]
    hidden_cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="x" * (MAX_OUTPUT_CHARS + 5000)),
        nbformat.v4.new_output("display_data", data={"text/html": "<script>alert('html output')</script>",
                                                     "text/plain": "<IPython.core.display.HTML object>"}),
        nbformat.v4.new_output("error", ename="AssertionError", evalue=TAGGED.split(": ", 1)[1],
                               traceback=["Traceback (most recent call last):", f"----> 7 {quoted}",
                                          TAGGED]),
    ]
    written = next(c for c in nb.cells if _grade_id(c) == "written_step_size")
    written.source += "\n\n<script>alert('written answer')</script>"
    path = tmp_path_factory.mktemp("autograded") / f"{ASSIGNMENT}.ipynb"
    nbformat.write(nb, path)
    return path


def fake_result(student: str = "sam") -> SubmissionResult:
    return SubmissionResult(student, ASSIGNMENT, [
        CellResult("test_forward_difference", 1.0, 1.0, False),
        CellResult("test_forward_difference_hidden", 0.0, 2.0, False, TAGGED, ("forward-is-central",)),
        CellResult("written_step_size", None, 2.0, True),
        CellResult("written_float32", None, 2.0, True),
    ])


@pytest.fixture(scope="module")
def fake_page(fake_autograded, tmp_path_factory) -> Path:
    return write_feedback(fake_result(), fake_autograded, RELEASE, tmp_path_factory.mktemp("out") / "sam" / "fb.html")


def test_the_detector_finds_the_leak_nbgrader_feedback_would_have(fake_autograded, tmp_path):
    """Control: rendering the autograded notebook as is (as nbgrader's generate_feedback does) leaks."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_filename(str(fake_autograded))
    (tmp_path / "raw.html").write_text(body)
    assert len(leaks(tmp_path / "raw.html", hidden_lines())) > 50


def test_no_hidden_test_line_appears_in_the_page(fake_page):
    assert hidden_lines(), "the solutions notebook should hold hidden tests"
    assert leaks(fake_page, hidden_lines()) == []


def test_errors_show_only_the_tagged_message(fake_page):
    text = page_text(fake_page)
    assert TAGGED in text
    assert "Traceback (most recent call last)" not in text


def test_summary_shows_student_score_cell_scores_and_pending_written_answers(fake_page):
    text = page_text(fake_page)
    assert "Student: sam" in text
    assert "Autograded score: 1 / 3" in text
    assert "test_forward_difference_hidden0 / 2" in text  # cell, then its score, in one table row
    assert "2 written answers await hand grading" in text
    assert "awaits hand grading / 2" in text


def test_visible_tests_keep_their_released_source(fake_page):
    released = next(c for c in nbformat.read(RELEASE, as_version=4).cells if _grade_id(c) == "test_forward_difference")
    text = page_text(fake_page)
    assert all(line in text for line in released.source.splitlines() if line.strip())


def test_long_output_is_truncated_and_html_output_dropped(fake_page):
    text = fake_page.read_text()
    assert "x" * MAX_OUTPUT_CHARS in text and "x" * (MAX_OUTPUT_CHARS + 1) not in text
    assert "more characters cut from the feedback" in text
    assert "alert('html output')" not in text


def test_a_test_cell_missing_from_the_release_shows_no_source(fake_autograded, tmp_path):
    release = nbformat.read(RELEASE, as_version=4)
    release.cells = [c for c in release.cells if _grade_id(c) != "test_forward_difference"]
    nbformat.write(release, tmp_path / "release.ipynb")
    nb = feedback_notebook(fake_autograded, tmp_path / "release.ipynb")
    graded = nbformat.read(fake_autograded, as_version=4)
    position = [_grade_id(c) for c in graded.cells].index("test_forward_difference")
    assert nb.cells[position].source == ""


def test_hidden_regions_are_cut_even_from_released_source():
    source = "visible()\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\nalso_visible()\n"
    assert strip_hidden_tests(source) == "visible()\nalso_visible()\n"
    assert strip_hidden_tests("a()\n### BEGIN HIDDEN TESTS\nsecret()\n") == "a()\n"


def test_student_text_is_escaped(fake_autograded, tmp_path):
    page = write_feedback(fake_result("<script>alert(1)</script>"), fake_autograded, RELEASE, tmp_path / "x.html")
    source = page.read_text()
    assert "<script>alert(1)</script>" not in source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    assert "<script>alert('written answer')</script>" not in source
    assert "alert('written answer')" in page_text(page)  # shown as text


def test_real_autograded_untouched_notebook_leaks_no_hidden_test(tmp_path):
    """Grade an untouched release with the real nbgrader; its feedback has messages but no hidden code."""
    course = sample_class.prepare_course(tmp_path / "course")
    generate(course, [ASSIGNMENT])
    submissions.write(submissions.build(ASSIGNMENT, "untouched"), course, "sam", ASSIGNMENT)
    outcome = api(course).autograde(ASSIGNMENT, "sam", force=True, create=True)
    assert outcome["success"], outcome.get("log")
    result = results.read(course, ASSIGNMENT, "sam")
    autograded = course / "autograded" / "sam" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    release = course / "course" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    lines = hidden_lines(SOLUTIONS, release)
    assert any(line in autograded.read_text() for line in lines), "nbgrader's autograded notebook holds hidden tests"

    page = write_feedback(result, autograded, release, tmp_path / "feedback" / "sam.html")
    assert leaks(page, lines) == []
    text = page_text(page)
    assert f"Autograded score: {result.auto_score:g} / {result.auto_max:g}" in text
    assert result.failed() and all(c.message.splitlines()[0] in text for c in result.failed() if c.message)
    assert all(f"{c.grade_id}{c.score:g} / {c.max_score:g}" in text for c in result.cells if c.written)
