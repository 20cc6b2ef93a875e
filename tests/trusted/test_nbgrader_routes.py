"""Every nbgrader route is the trusted route: `nbgrader autograde` (the CLI), the formgrader's
Autograde button (`NbGraderAPI.autograde`) and `python -m autograde grade` give the same per-cell
scores, with the test cells checked outside the student's kernel, against the same attacks."""
from __future__ import annotations

import os
import subprocess
import sys

import attacks
import pytest
from grading import HONEST, SANDBOX
from support.tiny_course import ASSIGNMENT, copy_course, submit

from autograde import pipeline
from autograde.course.nbgrader_app import api

# The tricks that fool plain in-kernel grading, a dead kernel, damaged cells, and the honest work.
TRICKS = [a for a in attacks.TINY_KERNEL_TRICKS if a.student in {
    "lying_eq_object", "lying_int_subclass", "frame_reads_test_source", "run_cell_replaced",
    "input_transformer_blanks_tests", "ast_transformer_strips_asserts", "showtraceback_noop",
    "custom_exc_swallows_all", "test_cells_deleted", "test_sources_blanked", "kernel_exits"}]
STUDENTS = [*HONEST, attacks.HONEST_WRONG, *(a.student for a in TRICKS)]


def _class(template, folder):
    course = copy_course(template, folder)
    for student in HONEST:
        submit(course, student)
    submit(course, attacks.HONEST_WRONG, attacks.TINY_WRONG)
    for attack in TRICKS:
        path = submit(course, attack.student, attack.answer)
        if attack.damage:
            import json

            nb = json.loads(path.read_text())
            text = attack.damage(nb)
            path.write_text(text if isinstance(text, str) else json.dumps(nb))
    if not SANDBOX:
        with open(course / "nbgrader_config.py", "a") as config:
            config.write("\nc.Grader.sandbox = False\n")
    return course


def _scores(course) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {student: {g.name: g.score for g in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student).grades}
                for student in STUDENTS}


@pytest.fixture(scope="module")
def routes(tiny_template, tmp_path_factory):
    """The same class graded three ways; student → grade_id → score for each route."""
    batch = _class(tiny_template, tmp_path_factory.mktemp("route-batch") / "course")
    pipeline.run(batch, pipeline.Settings(progress=False, feedback=False, report=False, workers=2,
                                                sandbox=SANDBOX))
    cli = _class(tiny_template, tmp_path_factory.mktemp("route-cli") / "course")
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"], cwd=cli,
                          env=env, capture_output=True, text=True, timeout=900)
    formgrader = _class(tiny_template, tmp_path_factory.mktemp("route-formgrader") / "course")
    grader = api(formgrader)
    answers = {student: grader.autograde(ASSIGNMENT, student, force=True, create=True) for student in STUDENTS}
    return {"batch": _scores(batch), "cli": _scores(cli), "formgrader": _scores(formgrader),
            "cli_log": done.stderr, "formgrader_answers": answers}


def test_the_three_routes_give_the_same_per_cell_scores(routes):
    assert routes["cli"] == routes["batch"], routes["cli_log"][-3000:]
    assert routes["formgrader"] == routes["batch"], {s: a.get("error", "")[-500:]
                                                     for s, a in routes["formgrader_answers"].items()}


@pytest.mark.parametrize("route", ["cli", "formgrader"])
def test_no_trick_earns_more_than_its_honest_content_on_nbgraders_own_routes(routes, route):
    for attack in TRICKS:
        got = sum(score or 0 for score in routes[route][attack.student].values())
        assert got <= attack.honest, (route, attack.student, routes[route][attack.student])
    for student in HONEST:
        assert sum(routes[route][student].values()) == attacks.TINY_POINTS, (route, student)


def test_the_formgrader_button_reports_success(routes):
    failed = {s: a.get("error", "")[-300:] for s, a in routes["formgrader_answers"].items() if not a["success"]}
    assert failed == {}
