"""The sample course has an exchange of its own (sample_class.prepare_course): the formgrader finds it,
and nbgrader's own release, list, fetch, submit and collect pass a notebook through it without the
"Unwritable directory" error that a missing machine-wide exchange gives."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from autograde.course.nbgrader_app import api, course_config

ASSIGNMENT = "01_gradient_descent"
STUDENT = "sam"


@pytest.fixture(scope="module")
def course(tmp_path_factory, released) -> Path:
    return released(tmp_path_factory.mktemp("exchange"))


def _student_side(course: Path, home: Path) -> tuple[Config, object]:
    """A student's nbgrader settings: the course's id and exchange, their own folder and cache."""
    from nbgrader.coursedir import CourseDirectory

    config = Config()
    config.CourseDirectory.course_id = course_config(course).CourseDirectory.course_id
    config.CourseDirectory.student_id = STUDENT
    config.Exchange.root = course_config(course).Exchange.root
    config.Exchange.assignment_dir = str(home)
    config.Exchange.cache = str(home / ".nbgrader_cache")
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = ASSIGNMENT
    return config, coursedir


def test_the_sample_course_config_points_at_its_own_exchange(course):
    root = Path(course_config(course).Exchange.root)
    assert root == (course / "exchange").resolve() and root.is_dir()


def test_the_formgrader_finds_the_exchange(course):
    grader = api(course)  # the formgrader's NbGraderAPI: it warns when exchange_missing is true
    assert not grader.exchange_missing, f"the formgrader would warn: no exchange at {grader.exchange_root}"
    assert grader.exchange_is_functional


def test_a_missing_exchange_is_what_the_formgrader_warns_about(course, tmp_path):
    """The control: the same course pointed at a folder that does not exist."""
    grader = api(course, **{"Exchange.root": str(tmp_path / "no-such-exchange")})
    assert grader.exchange_missing and not grader.exchange_is_functional


def test_a_notebook_goes_out_and_comes_back_through_the_exchange(course, tmp_path):
    from nbgrader.auth import Authenticator
    from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit

    grader = api(course)
    released = grader.release_assignment(ASSIGNMENT)
    assert released["success"], released["log"]
    assert "Unwritable" not in released["log"]

    listing = subprocess.run([Path(sys.executable).parent / "nbgrader", "list"], cwd=course, text=True,
                             capture_output=True)
    output = listing.stdout + listing.stderr
    assert listing.returncode == 0 and "Unwritable" not in output, output
    assert f"{grader.course_id} {ASSIGNMENT}" in output, output

    config, coursedir = _student_side(course, tmp_path)
    for step in (ExchangeFetchAssignment, ExchangeSubmit):
        step(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()
    assert (tmp_path / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()

    collected = grader.collect(ASSIGNMENT)
    assert collected["success"], collected["log"]
    assert (course / "submitted" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
