"""What the grader renders passes axe-core's WCAG 2.1 AA rules in a real headless Chromium, with zero
violations: the feedback pages of real graded notebooks and the class report. nbgrader's own feedback
page, rendered from the same notebook, fails them (the control: axe runs and finds what it should).

axe-core comes from npm (`make axe` installs it into build/axe/, as `make test` does); each page's
results are kept in build/test-artifacts/accessibility/ for a person to look at.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from autograde import grade_class, sample_class, submissions
from autograde.nbgrader_app import api
from autograde.release import REPO, generate

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


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """01 and 06 graded by the batch grader: a wrong df, untouched notebooks, a solved 06."""
    course = sample_class.prepare_course(tmp_path_factory.mktemp("a11y") / "course")
    generate(course, list(NOTEBOOKS))
    submissions.write(submissions.build(NOTEBOOKS[0], "solution", {"df": "def df(x):\n    return 2 * x"}),
                      course, "wrongdf", NOTEBOOKS[0])
    for notebook in NOTEBOOKS:
        submissions.write(submissions.build(notebook, "untouched"), course, "untouched", notebook)
    submissions.write(submissions.build(NOTEBOOKS[1], "solution"), course, "solved", NOTEBOOKS[1])
    outcome = grade_class.run(course, grade_class.Settings(progress=False, workers=2))
    assert len(outcome.feedback) == 4
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
    violations = axe(outcome.report, "class-report")
    assert violations == [], described(violations)
