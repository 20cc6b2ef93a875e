"""Every route writes the same safe feedback page: `python -m autograde grade`, nbgrader's API as the
formgrader's "Generate Feedback" button calls it (forced), and the `nbgrader generate_feedback --force`
CLI. No page shows hidden test code, a hidden test's input or its expected value; stock nbgrader,
without the course's nbgrader_config.py settings, shows all three (the control)."""
from __future__ import annotations

import contextlib
import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from support.tiny_course import ASSIGNMENT as TINY, HIDDEN_LINE, make_course, submit

from autograde import pipeline
from autograde.samples import submissions
from autograde.outputs.feedback_safety import HIDDEN_NOTE
from autograde.course.nbgrader_app import api
from autograde.course.release import REPO

REAL = "01_gradient_descent"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
LONG_NUMBER = re.compile(r"-?\d+\.\d{4,}")
STOCK = {"GenerateFeedback.preprocessors": ["nbgrader.preprocessors.GetGrades",
                                            "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"],
         "GenerateFeedback.exporter_class": "nbconvert.exporters.HTMLExporter"}


def page_text(body: str) -> str:
    """What a reader of the page sees: tags removed (syntax highlighting splits lines), entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def pages(course: Path) -> dict[str, str]:
    return {str(p.relative_to(course / "feedback")): p.read_text() for p in sorted((course / "feedback").rglob("*.html"))}


def hidden_code(solutions: Path, released: Path) -> set[str]:
    """Every line of over 12 characters inside a hidden-test region that the release does not show."""
    shown = released.read_text()
    regions = [HIDDEN.findall(c.source) for c in nbformat.read(solutions, as_version=4).cells]
    return {ln.strip() for found in regions for region in found for ln in region.splitlines()
            if len(ln.strip()) > 12 and ln.strip() not in shown}


def hidden_errors(autograded: Path) -> dict[str, tuple[str, str]]:
    """grade_id → (ename, full message) of each failed hidden test cell, as the autograde left it."""
    found = {}
    for cell in nbformat.read(autograded, as_version=4).cells:
        if "BEGIN HIDDEN TESTS" in cell.source:
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if errors:
                found[cell.metadata.nbgrader.grade_id] = (errors[0].ename, errors[0].evalue)
    return found


def hidden_failures(autograded: Path) -> dict[str, str]:
    return {grade_id: message for grade_id, (_, message) in hidden_errors(autograded).items()}


def secrets_of(message: str) -> list[str]:
    """What a hidden failure must not give away: its lines before the [tag] line and their long numbers."""
    lines = [ln.strip() for ln in message.split("\n")[:-1] if ln.strip()]
    return lines + LONG_NUMBER.findall("\n".join(lines))


def run_cli(course: Path, assignment: str) -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "generate_feedback", assignment, "--force"],
                          cwd=course, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


# --- the tiny course: a hidden plain assert, a student who prints the hidden input ---------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("tiny") / "course")
    submit(course, "honest")
    submit(course, "echo", "def square(x):\n    print('square called with', x)\n    return 2 * x")
    outcome = pipeline.run(course, pipeline.Settings(progress=False, workers=2, report=False))
    assert sorted(p.parent.parent.name for p in outcome.feedback) == ["echo", "honest"]
    return course, pages(course)


def test_tiny_batch_pages_show_no_hidden_line_input_or_value(tiny):
    course, batch = tiny
    echo = page_text(batch[f"echo/{TINY}/{TINY}.html"])
    assert "[wrong-square] square(3) should be 9" in echo  # a visible test shows its whole message
    for body in batch.values():
        assert HIDDEN_LINE not in page_text(body) and "12345" not in body and "152399025" not in body


def test_tiny_formgrader_and_cli_routes_write_the_batch_pages_byte_for_byte(tiny, tmp_path):
    course, batch = tiny
    for student in ("echo", "honest"):
        assert api(course).generate_feedback(TINY, student, force=True)["success"]
    assert pages(course) == batch
    run_cli(course, TINY)
    assert pages(course) == batch


def test_tiny_stock_nbgrader_leaks_the_hidden_test(tiny):
    """The control: nbgrader's own feedback settings put the hidden line and its values on the page."""
    course, batch = tiny
    try:
        assert api(course, **STOCK).generate_feedback(TINY, "echo", force=True)["success"]
        leaked = (course / "feedback" / "echo" / TINY / f"{TINY}.html").read_text()
        assert HIDDEN_LINE in page_text(leaked) and "12345" in leaked
    finally:
        api(course).generate_feedback(TINY, "echo", force=True)
    assert pages(course) == batch


# --- a real notebook: 01 with df missing its -4, and a df that prints its input ------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory, released):
    course = released(tmp_path_factory.mktemp("real"))
    wrong = {"df": "def df(x):\n    return 2 * x"}
    echo = {"df": "def df(x):\n    print('df called with', x)\n    return 2 * x - 4.5"}
    for student, answers in (("wrongdf", wrong), ("echo", echo)):
        submissions.write(submissions.build(REAL, "solution", answers), course, student, REAL)
    submissions.write(submissions.build(REAL, "untouched"), course, "untouched", REAL)
    pipeline.run(course, pipeline.Settings(progress=False, workers=2, report=False))
    return course, pages(course)


def autograded(course: Path, student: str) -> Path:
    return course / "autograded" / student / REAL / f"{REAL}.ipynb"


def test_real_pages_show_no_hidden_code(real):
    course, batch = real
    code = hidden_code(REPO / "solutions" / REAL / f"{REAL}.ipynb", course / "course" / REAL / f"{REAL}.ipynb")
    assert len(code) > 20 and any(line in autograded(course, "wrongdf").read_text() for line in code)
    for name, body in batch.items():
        assert [line for line in code if line in page_text(body)] == [], name


def test_real_hidden_failures_show_tag_and_hint_never_input_or_expected_value(real):
    course, batch = real
    for student in ("wrongdf", "echo", "untouched"):
        failures = hidden_errors(autograded(course, student))
        text = page_text(batch[f"{student}/{REAL}/{REAL}.html"])
        assert failures, student
        for grade_id, (ename, message) in failures.items():
            assert [s for s in secrets_of(message) if s in text] == [], (student, grade_id)
            tag = re.match(r"\[[a-z0-9-]+\]", message.split("\n")[-1])
            if ename == "CheckFailure" and tag:  # the tag and its explanation, then the note
                assert re.search(rf"CheckFailure: {re.escape(tag.group())} .+\n{re.escape(HIDDEN_NOTE)}", text), grade_id
            else:  # e.g. NameError for a name never defined: its name and the note only
                assert f"{ename}: {HIDDEN_NOTE}" in text and message not in text, (student, grade_id)
    assert any(ename == "NameError" for ename, _ in hidden_errors(autograded(course, "untouched")).values())


def test_real_example_wrong_df_reads_as_tag_and_explanation(real):
    course, batch = real
    message = hidden_failures(autograded(course, "wrongdf"))["test_df_hidden"]
    assert message.startswith("df(") and "\n  expected: " in message  # what the autograded notebook holds
    text = page_text(batch[f"wrongdf/{REAL}/{REAL}.html"])
    shown = "CheckFailure: [missing-linear-term] You left out the derivative of the term -4*x, which is the constant -4."
    assert f"{shown}\n{HIDDEN_NOTE}" in text
    assert "CheckFailure: df(8.0) returned 16.0\n  expected: 12.0" in text  # the visible test shows everything


def test_real_summary_has_scores_messages_and_pending_written_answers(real):
    course, batch = real
    text = page_text(batch[f"wrongdf/{REAL}/{REAL}.html"])
    assert "Student: wrongdf." in text and "Autograded score: 5 / 9" in text
    assert "2 written answers await hand grading." in text
    assert "test_df_hidden (hidden test)\n0 / 2" in text and "written_stability\nawaits hand grading / 2" in text


def test_real_formgrader_and_cli_routes_write_the_batch_pages_byte_for_byte(real):
    course, batch = real
    for student in ("wrongdf", "echo", "untouched"):
        assert api(course).generate_feedback(REAL, student, force=True)["success"]
    assert pages(course) == batch
    run_cli(course, REAL)
    assert pages(course) == batch


def test_real_reveal_after_the_deadline_shows_values_but_never_code(real, tmp_path):
    course, batch = real
    code = hidden_code(REPO / "solutions" / REAL / f"{REAL}.ipynb", course / "course" / REAL / f"{REAL}.ipynb")
    message = hidden_failures(autograded(course, "wrongdf"))["test_df_hidden"]
    try:
        assert api(course, **{"SafeFeedback.reveal_hidden_details": True}).generate_feedback(
            REAL, "wrongdf", force=True)["success"]
        text = page_text((course / "feedback" / "wrongdf" / REAL / f"{REAL}.html").read_text())
        assert message.split("\n")[1] in text and [line for line in code if line in text] == []
    finally:
        api(course).generate_feedback(REAL, "wrongdf", force=True)
    assert pages(course) == batch


def test_html_is_cleaned_once_per_text_exactly_as_nbconvert_cleans_it():
    from nbconvert.filters.strings import clean_html

    from autograde.outputs.feedback_pages import _cleaned, clean_html_once

    hostile = '<img src=x onerror="alert(1)"><script>steal()</script><b>kept</b>'
    assert clean_html_once(hostile) == clean_html(hostile)
    assert "<img" not in clean_html_once(hostile) and "<script>" not in clean_html_once(hostile)  # shown as text
    assert clean_html_once(hostile.encode()) == clean_html(hostile)
    hits = _cleaned.cache_info().hits
    clean_html_once(hostile)
    assert _cleaned.cache_info().hits == hits + 1


def test_code_is_highlighted_once_per_cell_exactly_as_nbconvert_highlights_it():
    from nbconvert.filters.highlight import Highlight2HTML

    from autograde.outputs.feedback_pages import HighlightOnce, _highlighted

    highlight, cell = HighlightOnce(), "def df(x):\n    return 2 * x  # the slope"
    assert highlight(cell) == Highlight2HTML()(cell) and 'class="k"' in highlight(cell)
    magic = "%%bash\necho hi"
    assert highlight(magic, metadata={"magics_language": "bash"}) == Highlight2HTML()(magic, metadata={"magics_language": "bash"})
    assert highlight(cell, "python") == Highlight2HTML(pygments_lexer="python")(cell)
    hits = _highlighted.cache_info().hits
    highlight(cell)
    assert _highlighted.cache_info().hits == hits + 1



def test_markdown_is_rendered_once_per_text_exactly_as_nbconvert_renders_it_unless_it_may_show_an_image(tmp_path):
    """`FeedbackExporter.markdown2html`: the course's text, rendered once and kept; markdown with an
    image (read from the student's folder) is rendered every time."""
    from nbconvert.exporters import HTMLExporter

    from autograde.outputs import feedback_pages

    ours, theirs = feedback_pages.FeedbackExporter(), HTMLExporter(embed_images=True)
    context = {"cell": {}, "resources": {"metadata": {"path": str(tmp_path)}}}
    text = "## The chain rule\n\n$\\delta_j = f'(z_j) \\sum_k w_{jk} \\delta_k$, with *error signals*."
    assert ours.markdown2html(context, text) == theirs.markdown2html(context, text)
    assert "<h2" in ours.markdown2html(context, text) and "<em>error signals</em>" in ours.markdown2html(context, text)
    key = next(key for key in feedback_pages._MARKDOWN.html if key[0] == text)
    feedback_pages._MARKDOWN.html[key] = "kept"
    assert ours.markdown2html(context, text) == "kept"  # not rendered again
    del feedback_pages._MARKDOWN.html[key]
    image = "![the loss surface](surface.png)"
    (tmp_path / "surface.png").write_bytes(b"\x89PNG first")
    first = ours.markdown2html(context, image)
    (tmp_path / "surface.png").write_bytes(b"\x89PNG second")
    again = ours.markdown2html(context, image)
    assert again != first and again == theirs.markdown2html(context, image)
    assert all(key[0] != image for key in feedback_pages._MARKDOWN.html)

def test_code_put_back_after_nbconverts_page_pass_gives_the_page_it_would_have_given(real, monkeypatch):
    """`HighlightOnce.deferred`, on nbconvert's route (pages with images): the page nbconvert's
    BeautifulSoup pass would have written over the whole page (code included) and the page written
    with the code put back afterwards are the same document; they differ only in blank space
    between tags that the pass folds."""
    from bs4 import BeautifulSoup

    from autograde.outputs import feedback_pages
    from autograde.outputs.feedback_pages import HighlightOnce

    course, batch = real
    page = course / "feedback" / "wrongdf" / REAL / f"{REAL}.html"

    def written() -> str:
        assert api(course).generate_feedback(REAL, "wrongdf", force=True)["success"]
        return page.read_text()

    try:
        monkeypatch.setattr(feedback_pages, "_IMAGE_TAG", re.compile(""))  # every page: nbconvert's route
        deferred = written()
        monkeypatch.setattr(HighlightOnce, "deferred", lambda self: contextlib.nullcontext())
        monkeypatch.setattr(HighlightOnce, "put_back", lambda self, text: text)
        whole = written()
    finally:
        monkeypatch.undo()
        api(course).generate_feedback(REAL, "wrongdf", force=True)
    assert '<span class="k">def</span>' in deferred and not re.search(r"code[0-9a-f]{16}x\d+x", deferred)
    assert whole != deferred
    assert str(BeautifulSoup(deferred, "html.parser")) == str(BeautifulSoup(whole, "html.parser"))
    assert pages(course) == batch


def test_a_page_without_images_is_the_document_nbconverts_page_pass_would_have_made(real, monkeypatch):
    """`FeedbackExporter` skips nbconvert's BeautifulSoup pass over a page without images (more than a
    third of a page's time) and makes the input and output areas focusable itself: the page is the
    same document, tag for tag and attribute for attribute, as the one nbconvert's whole route writes.
    A page with an image takes nbconvert's whole route (its images without alt text get one)."""
    from bs4 import BeautifulSoup

    from autograde.outputs import feedback_pages

    course, batch = real
    page = course / "feedback" / "wrongdf" / REAL / f"{REAL}.html"
    ours = batch[f"wrongdf/{REAL}/{REAL}.html"]
    try:
        monkeypatch.setattr(feedback_pages, "_IMAGE_TAG", re.compile(""))  # every page: nbconvert's route
        assert api(course).generate_feedback(REAL, "wrongdf", force=True)["success"]
        whole = page.read_text()
    finally:
        monkeypatch.undo()
        api(course).generate_feedback(REAL, "wrongdf", force=True)
    assert "<img" not in ours and ours != whole
    assert BeautifulSoup(ours, "html.parser") == BeautifulSoup(whole, "html.parser")
    focusable = BeautifulSoup(ours, "html.parser").select('div[tabindex="0"]')
    assert len(focusable) >= 10 and all({"jp-Cell-inputWrapper", "jp-OutputArea-output"} & set(d["class"])
                                        for d in focusable)
    assert feedback_pages._IMAGE_TAG.search('<p>a plot</p><IMG src="plot.png">')
    nb = nbformat.read(autograded(course, "wrongdf"), as_version=4)
    assert not feedback_pages._may_show_image(nb)  # figures not drawn: the page skips nbconvert's pass
    nb.cells[-1] = nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})])
    assert feedback_pages._may_show_image(nb)  # a drawn figure: nbconvert's whole route at once
    assert pages(course) == batch
