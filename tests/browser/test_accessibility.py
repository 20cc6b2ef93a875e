"""What the grader renders passes axe-core's WCAG 2.1 AA rules in a real headless Chromium, with zero
violations: the feedback pages of real graded notebooks and the class report, with every section
filled (a late submission, a pair of similar answers with its evidence, feedback links). nbgrader's own
feedback page, rendered from the same notebook, fails them (the control: axe runs and finds what it should).

axe-core comes from npm (`make axe` installs it into build/axe/, as `make test` does); each page's
results are kept in build/test-artifacts/accessibility/ for a person to look at.
"""
from __future__ import annotations

import re

import json
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from autograde import pipeline
from autograde.samples import answer_bank, submissions
from autograde.course.nbgrader_app import api, gradebook_url
from autograde.course.release import REPO

pytestmark = pytest.mark.xdist_group("browser")

AXE = REPO / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "build" / "test-artifacts" / "accessibility"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
NOTEBOOKS = ("01_gradient_descent", "06_one_hidden_layer")
STOCK = {"GenerateFeedback.preprocessors": ["nbgrader.preprocessors.GetGrades",
                                            "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"],
         "GenerateFeedback.exporter_class": "nbconvert.exporters.HTMLExporter"}


@pytest.fixture(scope="module")
def axe():
    """A function: page file → axe-core's WCAG 2.1 AA violations, checked in headless Chromium."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing ({AXE}): run `make axe` (npm install axe-core@4 into build/axe/)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page()
        # The pages load MathJax and require.js from a CDN; nothing outside the file system is fetched.
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())

        def check(path: Path, name: str) -> list[dict]:
            page.goto(path.resolve().as_uri())
            page.add_script_tag(path=str(AXE))
            found = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA)
            (ARTIFACTS / f"{name}.json").write_text(json.dumps(found["violations"], indent=1))
            return found["violations"]

        yield check
        browser.close()


def described(violations: list[dict]) -> str:
    return "\n".join(f"{v['id']} ({len(v['nodes'])}×): {v['nodes'][0]['target']} {v['nodes'][0]['failureSummary']}"
                     for v in violations)


#: A look-alike of wrongdf's gradient descent: names, comments and a literal changed.
LOOKALIKE_DESCENT = """def gradient_descent(grad, x0, learning_rate, n_steps):
    # keep every iterate
    out = np.zeros(n_steps + 1)
    cur = float(x0)
    out[0] = cur
    i = 0
    while i < n_steps:
        cur = cur - learning_rate * grad(cur)
        i += 1
        out[i] = cur
    return out
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory, released):
    """01 and 06 graded by the batch grader: a wrong df, untouched notebooks, a solved 06, and a late
    look-alike of the wrong df's submission (01 is due 1 March 2025, 17:00 UTC)."""
    from nbgrader.api import Gradebook

    course = released(tmp_path_factory.mktemp("a11y"))
    (course / "deadlines.toml").unlink()  # the due date below is this test's, set in the gradebook
    with open(course / "nbgrader_config.py", "a") as config:  # pictures with their alt text, as axe should see them
        config.write("\nc.Grader.draw_figures = True\n")
    with Gradebook(gradebook_url(course)) as gb:
        gb.update_or_create_assignment(NOTEBOOKS[0], duedate=datetime(2025, 3, 1, 17, 0))
    wrong_df = "def df(x):\n    return 2 * x"
    own_descent = answer_bank.find(NOTEBOOKS[0], "gradient_descent", "zeros-preallocated-while").code
    for student, descent in (("wrongdf", own_descent), ("lookalike", LOOKALIKE_DESCENT)):
        notebook = submissions.build(NOTEBOOKS[0], "solution", {"df": wrong_df, "gradient_descent": descent})
        path = submissions.write(notebook, course, student, NOTEBOOKS[0])
    (path.parent / "timestamp.txt").write_text("2025-03-02 09:30:00.000000 UTC")  # the look-alike: late
    for notebook in NOTEBOOKS:
        submissions.write(submissions.build(notebook, "untouched"), course, "untouched", notebook)
    submissions.write(submissions.build(NOTEBOOKS[1], "solution"), course, "solved", NOTEBOOKS[1])
    outcome = pipeline.run(course, pipeline.Settings(progress=False, workers=2))
    assert len(outcome.feedback) == 5
    assert any(re.search(r'<img [^>]*src="data:image/png', page.read_text()) for page in outcome.feedback)
    return course, outcome


def test_feedback_pages_have_no_wcag_21_aa_violation(graded, axe):
    course, outcome = graded
    for page in outcome.feedback:
        violations = axe(page, f"feedback-{page.parent.parent.name}-{page.stem}")
        assert violations == [], f"{page}:\n{described(violations)}"


def test_nbgraders_own_feedback_page_has_violations(graded, axe, tmp_path):
    """The control, and the 'before' figure: stock nbgrader's page of the same notebook fails axe."""
    course, _ = graded
    try:
        assert api(course, **STOCK).generate_feedback(NOTEBOOKS[0], "wrongdf", force=True)["success"]
        page = course / "feedback" / "wrongdf" / NOTEBOOKS[0] / f"{NOTEBOOKS[0]}.html"
        violations = axe(page, "nbgrader-stock-feedback")
    finally:
        api(course).generate_feedback(NOTEBOOKS[0], "wrongdf", force=True)
    assert {v["id"] for v in violations} >= {"html-has-lang", "color-contrast"}, described(violations)


def test_class_report_of_a_graded_class_has_no_wcag_21_aa_violation(graded, axe):
    course, outcome = graded
    source = outcome.report.read_text()
    assert "late by 16 h 30 min" in source and '<table class="evidence">' in source  # every section has data
    assert 'href="../feedback/lookalike/01_gradient_descent/01_gradient_descent.html"' in source
    violations = axe(outcome.report, "class-report")
    assert violations == [], described(violations)
