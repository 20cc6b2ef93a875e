"""What a feedback page may show: hidden tests' failures keep only their [tag] and its explanation,
whatever the student's code returned, raised or named; hidden code, tracebacks, active outputs and
endless prints never reach the page."""
from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from backprop_course.checks import CheckFailure, check_call, check_gradients
from backprop_course.checks.feedback import Mistake, fail, fail_plain

from autograde.outputs.feedback_pages import FeedbackExporter
from autograde.outputs.feedback_safety import CHECK_FAILURE, HIDDEN_NOTE, UNKNOWN_TAG, SafeFeedback, redact_failure
from autograde.course.release import REPO

SECRET_INPUT = 4.351180428160582  # as hidden as the inputs of 01's test_df_hidden
SOLUTIONS = REPO / "solutions" / "03_numerical_checks" / "03_numerical_checks.ipynb"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def failure(call, *args, **kwargs) -> CheckFailure:
    with pytest.raises(CheckFailure) as raised:
        call(*args, **kwargs)
    return raised.value


def redacted(error: BaseException) -> str:
    return redact_failure(type(error).__name__, str(error))


def test_the_layout_read_is_the_one_the_check_library_writes():
    message = str(failure(fail, "f(1.0)", "2.0", "3.0", "some-tag", "A hint."))
    assert CHECK_FAILURE == CheckFailure.__name__
    assert message == "f(1.0) returned 2.0\n  expected: 3.0\n[some-tag] A hint."
    assert str(failure(fail_plain, "g(2.0) raised ValueError: no", "other-tag")).endswith("\n[other-tag]")


def test_a_value_failure_keeps_its_tag_and_hint_and_loses_call_result_and_expectation():
    def df(x):
        return 2 * x

    error = failure(check_call, df, SECRET_INPUT, expected=2 * SECRET_INPUT - 4,
                    mistakes=[Mistake("missing-linear-term", "You left out the -4.", value=lambda x: 2 * x)])
    assert str(SECRET_INPUT) in str(error)  # control: the student's live message shows the input
    assert redacted(error) == "[missing-linear-term] You left out the -4."


def test_a_plain_failure_keeps_its_tag_with_the_tags_explanation_only():
    def df(x):
        raise ValueError(f"cannot handle {x}")

    text = redacted(failure(check_call, df, SECRET_INPUT, expected=1.0))
    assert text.startswith("[raised-error] ") and str(SECRET_INPUT) not in text and "cannot handle" not in text


def test_a_gradient_failure_keeps_the_telling_ratio_explanation():
    error = failure(check_gradients, {"w": np.array([-1.0, -2.0])}, {"w": np.array([1.0, 2.0])}, "gradients(X)")
    assert redacted(error).startswith("[gradient-sign] Your gradient has the opposite sign")


def test_text_the_student_controls_cannot_fake_the_layout():
    """A function name or an exception message that imitates a failure's last lines is earlier in the
    message than the library's own last lines, so none of it is kept."""
    def df(x):
        raise ValueError(f"\n  expected: 0\n[fake-tag] {x}")

    faked = redacted(failure(check_call, df, SECRET_INPUT, expected=1.0))
    assert str(SECRET_INPUT) not in faked and "fake-tag" not in faked

    def named(x):
        return x

    named.__name__ = "f\n  expected: 0\n[fake-tag]"
    text = redacted(failure(check_call, named, SECRET_INPUT, expected=1.0))
    assert str(SECRET_INPUT) not in text and text.startswith("[wrong-value] ")


def test_anything_else_keeps_nothing_but_the_exception_name():
    assert redact_failure("AssertionError", f"square({SECRET_INPUT}) should be 9") == ""
    assert redact_failure("StudentError", "CheckFailure: x\n  expected: 1\n[a-tag] hint") == ""
    assert redact_failure(CHECK_FAILURE, f"f({SECRET_INPUT}) is odd\nmore about {SECRET_INPUT}") == ""
    assert redact_failure(CHECK_FAILURE, f"odd({SECRET_INPUT})\n[unheard-of-tag]") == f"[unheard-of-tag] {UNKNOWN_TAG}"


def test_a_course_tag_without_a_hint_on_its_line_gets_the_courses_hint_for_it():
    from backprop_course.misconceptions.training_lab import OUTSIDE_RANGE

    message = f"good_learning_rate = {SECRET_INPUT} is not in the slider's range. {OUTSIDE_RANGE.hint}\n[{OUTSIDE_RANGE.tag}]"
    assert redact_failure(CHECK_FAILURE, message) == f"[{OUTSIDE_RANGE.tag}] {OUTSIDE_RANGE.hint}"


# --- the preprocessor on a notebook as nbgrader's autograde leaves it ---------------------------------

def _grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    """03's solutions notebook (hidden tests in place) with the outputs an autograde could leave: a failing
    hidden test whose traceback quotes a hidden line and whose print echoes its input, an HTML output, a
    huge print in a visible test, and a written answer holding a script; one hidden region left open.
    Rendered with an empty gradebook, so every source comes from the notebook itself."""
    from nbgrader.api import Gradebook

    nb = nbformat.read(SOLUTIONS, as_version=4)
    hidden = next(c for c in nb.cells if _grade_id(c) == "test_forward_difference_hidden")
    quoted = HIDDEN.search(hidden.source).group(1).splitlines()[2]
    hidden.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"called with {SECRET_INPUT}\n"),
        nbformat.v4.new_output("error", ename=CHECK_FAILURE, traceback=["Traceback …", f"----> 7 {quoted}"],
                               evalue=f"forward_difference(f, {SECRET_INPUT}, 1e-06) returned 9.5\n"
                                      f"  expected: 8.25\n[forward-is-central] You used the central difference."),
    ]
    visible = next(c for c in nb.cells if _grade_id(c) == "test_forward_difference")
    visible.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="x" * 25_000),
        nbformat.v4.new_output("display_data", data={"text/html": "<script>alert('html output')</script>",
                                                     "text/plain": "<IPython.core.display.HTML object>"}),
    ]
    open_region = next(c for c in nb.cells if _grade_id(c) == "test_central_difference_hidden")
    open_region.source = open_region.source.replace("### END HIDDEN TESTS", "")
    next(c for c in nb.cells if _grade_id(c) == "written_step_size").source += "\n<script>alert('written')</script>"
    folder = tmp_path_factory.mktemp("gradebook")
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}"):
        pass
    resources = {"nbgrader": {"student": "sam", "assignment": "03_numerical_checks", "notebook": "03_numerical_checks",
                              "db_url": f"sqlite:///{folder / 'gradebook.db'}"}}
    nb, resources = SafeFeedback().preprocess(nb, resources)
    body, _ = FeedbackExporter().from_notebook_node(nb, resources=resources)
    return body


def text_of(body: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def hidden_lines() -> set[str]:
    regions = [HIDDEN.findall(c.source) for c in nbformat.read(SOLUTIONS, as_version=4).cells]
    released = (REPO / "course" / SOLUTIONS.parent.name / SOLUTIONS.name).read_text()
    return {ln.strip() for found in regions for region in found for ln in region.splitlines()
            if len(ln.strip()) > 12 and ln.strip() not in released}


def test_no_hidden_code_even_from_a_region_left_open(page):
    text = text_of(page)
    assert len(hidden_lines()) > 20
    assert [line for line in hidden_lines() if line in text] == []


def test_a_hidden_failure_shows_its_tag_and_hint_but_no_input_print_or_traceback(page):
    text = text_of(page)
    assert "[forward-is-central] You used the central difference." in text and HIDDEN_NOTE in text
    assert str(SECRET_INPUT) not in text and "8.25" not in text and "called with" not in text
    assert "Traceback" not in text and "---->" not in text


def test_long_output_is_cut_and_active_output_dropped(page):
    assert "x" * 20_000 in page and "x" * 20_001 not in page and "5000 more characters cut" in page
    assert "alert('html output')" not in page


def test_a_written_answer_shows_its_html_as_text(page):
    assert "<script>alert('written')</script>" not in page and "alert('written')" in text_of(page)


def test_revealing_after_the_deadline_shows_the_message_never_the_code(tmp_path):
    from nbgrader.api import Gradebook

    nb = nbformat.read(SOLUTIONS, as_version=4)
    cell = next(c for c in nb.cells if _grade_id(c) == "test_forward_difference_hidden")
    cell.outputs = [nbformat.v4.new_output("error", ename=CHECK_FAILURE, traceback=[],
                                           evalue=f"f({SECRET_INPUT}) returned 1\n  expected: 2\n[a-tag] hint")]
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}"):
        pass
    resources = {"nbgrader": {"student": "sam", "assignment": "03", "notebook": "03",
                              "db_url": f"sqlite:///{tmp_path / 'gradebook.db'}"}}
    nb, _ = SafeFeedback(reveal_hidden_details=True).preprocess(nb, resources)
    shown = next(c for c in nb.cells if _grade_id(c) == "test_forward_difference_hidden")
    assert str(SECRET_INPUT) in shown.outputs[0].evalue
    assert "BEGIN HIDDEN TESTS" not in shown.source and not any(line in shown.source for line in hidden_lines())


def test_the_summary_is_escaped(tmp_path):
    nb = nbformat.v4.new_notebook()
    evil = "<script>alert(1)</script>"
    summary = {"student": evil, "assignment": "a", "notebook": "n", "auto_score": 0.0, "auto_max": 1.0,
               "pending_written": 0, "late_penalty": 0.0, "reveal": False,
               "cells": [{"grade_id": evil, "written": False, "hidden": True, "score": 0.0, "points": 1.0,
                          "comment": evil, "message": evil}]}
    body, _ = FeedbackExporter().from_notebook_node(nb, resources={"feedback": summary})
    assert evil not in body and html.escape(evil, quote=False) in body


def test_the_exporter_ignores_nbgraders_template_setting():
    """nbgrader's API sets HTMLExporter.template_name = 'feedback' (its own page) before every run."""
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.template_name = "feedback"
    assert FeedbackExporter(config=config).template_name == "course_feedback"


def test_the_template_is_found_beside_the_package_whatever_the_config_says():
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.extra_template_basedirs = ["/nowhere"]
    folders = FeedbackExporter(config=config).extra_template_basedirs
    assert [Path(f) for f in folders] == [Path(__import__("autograde.outputs").outputs.__file__).parent / "templates"]
    assert (Path(folders[0]) / "course_feedback" / "index.html.j2").exists()
