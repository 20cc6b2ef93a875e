"""The batch grader on a tiny course: isolation, failures that stay with their student, resuming
after SIGKILL, parity with nbgrader's own autograde, and the progress bar."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.tiny_course import ASSIGNMENT, HIDDEN_LINE, copy_course, make_course, submit

from autograde import pipeline
from autograde.engine import coordinator
from autograde.course.nbgrader_app import api

LEAKER = """def square(x):
    return x * x
import os, builtins, pathlib, numpy
pathlib.Path("left-behind.txt").write_text("secret")
os.environ["LEFT_BEHIND"] = "1"
builtins.left_behind = True
numpy.left_behind = True"""

PROBE = """def square(x):
    return x * x
import os, builtins, pathlib, numpy
print("traces:", [pathlib.Path("left-behind.txt").exists(), "LEFT_BEHIND" in os.environ,
                  hasattr(builtins, "left_behind"), hasattr(numpy, "left_behind")])"""


#: nbgrader's own `Autograde.autograde_preprocessors` (its Execute runs the tests in the kernel).
STOCK_AUTOGRADE = ["nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
                   "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                   "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
                   "nbgrader.preprocessors.CheckCellMetadata"]


def settings(**kw) -> pipeline.Settings:
    return pipeline.Settings(progress=False, **kw)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("tiny") / "course", cell_timeout=3)


@pytest.fixture(scope="module")
def graded(tiny, tmp_path_factory):
    """A class with an honest student, a wrong one, and students whose code misbehaves."""
    course = copy_course(tiny, tmp_path_factory.mktemp("class") / "course")
    submit(course, "honest")
    submit(course, "wrong", "def square(x):\n    return 2 * x")
    submit(course, "leaker", LEAKER)
    submit(course, "probe", PROBE)
    submit(course, "suicide", "import os\nos._exit(1)")
    submit(course, "loops", "while True:\n    pass")
    started = time.perf_counter()
    outcome = pipeline.run(course, settings(workers=3))
    return course, outcome, time.perf_counter() - started


def by_student(outcome):
    return {r.student: r for r in outcome.results}


def test_right_and_wrong_answers_score_as_they_should(graded):
    results = by_student(graded[1])
    assert (results["honest"].auto_score, results["honest"].auto_max) == (3, 3)
    assert results["wrong"].auto_score == 0
    assert "[wrong-square]" in results["wrong"].cell("test_three").message
    assert "[sign]" in results["wrong"].cell("test_negative").message


def test_no_trace_of_one_student_reaches_the_next(graded):
    course, outcome, _ = graded
    nb = json.loads((course / "autograded" / "probe" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "traces: [False, False, False, False]" in printed
    assert by_student(outcome)["leaker"].auto_score == 3
    assert not (course / "left-behind.txt").exists() and not (course / "autograded" / "leaker" / ASSIGNMENT /
                                                              "left-behind.txt").exists()


def test_a_kernel_that_kills_itself_costs_only_its_student(graded):
    course, outcome, _ = graded
    results = by_student(outcome)
    assert results["suicide"].auto_score == 0
    assert any(p.student == "suicide" and "kernel died" in p.message for p in outcome.problems)
    assert results["honest"].auto_score == 3 and results["probe"].auto_score == 3


def test_an_endless_loop_is_stopped_by_the_cell_timeout(graded):
    """Stopped at the 3 s cell timeout, not at the notebook's 10-minute limit."""
    course, outcome, seconds = graded
    assert by_student(outcome)["loops"].auto_score == 0
    said = [p.message for p in outcome.problems if p.student == "loops"]
    assert any("ran longer than 3 s and was stopped" in m for m in said), said
    assert outcome.seconds[("loops", ASSIGNMENT)] < 300


def test_every_submission_was_graded_once_and_journaled(graded):
    course, outcome, _ = graded
    assert outcome.graded == 6 and outcome.resumed == 0
    for student in ("honest", "wrong", "leaker", "probe", "suicide", "loops"):
        assert (course / "autograded" / student / ASSIGNMENT / coordinator.JOURNAL).exists()


def test_the_csv_is_nbgraders_export(graded):
    course, outcome, _ = graded
    rows = outcome.csv.read_text().splitlines()
    assert rows[0].startswith("assignment,duedate,timestamp,student_id")
    assert len(rows) == 1 + 6


def test_feedback_shows_the_message_never_the_hidden_test(graded):
    course, outcome, _ = graded
    page = (course / "feedback" / "wrong" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "square(3) should be 9" in page
    assert "12345" not in page and HIDDEN_LINE not in page


def test_scores_equal_plain_nbgrader_autograde(graded, tmp_path):
    """The same submissions graded one by one by nbgrader's own autograde give the same scores."""
    from nbgrader.api import Gradebook

    course, outcome, _ = graded
    plain = copy_course(course, tmp_path / "plain")
    with open(plain / "nbgrader_config.py", "a") as config:  # nbgrader's own Execute: tests in the kernel
        config.write(f"\nc.Autograde.autograde_preprocessors = {STOCK_AUTOGRADE!r}\n")
    grader = api(plain)
    for student in ("honest", "wrong", "leaker", "probe"):
        assert grader.autograde(ASSIGNMENT, student, force=True, create=True)["success"]
    # nbgrader itself gives up on a dead kernel and records no grade; the batch grader scores it 0
    assert not grader.autograde(ASSIGNMENT, "suicide", force=True, create=True)["success"]
    for student in ("honest", "wrong", "leaker", "probe"):
        with Gradebook(f"sqlite:///{plain / 'gradebook.db'}") as gb:
            theirs = {g.name: g.score for g in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student).grades}
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            ours = {g.name: g.score for g in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student).grades}
        assert ours == theirs, student


def test_a_second_run_grades_nothing_again_unless_asked(graded):
    course, _, _ = graded
    again = pipeline.run(course, settings(feedback=False, report=False))
    assert (again.graded, again.resumed) == (0, 6)
    assert by_student(again)["honest"].auto_score == 3
    submit(course, "wrong")  # a corrected resubmission is graded again
    fixed = pipeline.run(course, settings(feedback=False, report=False))
    assert (fixed.graded, fixed.resumed) == (1, 5)
    assert by_student(fixed)["wrong"].auto_score == 3


def _journals(course: Path) -> int:
    return len(list((course / "autograded").glob(f"*/{ASSIGNMENT}/{coordinator.JOURNAL}")))


def test_killed_half_way_and_started_again_it_finishes_the_rest(tiny, tmp_path):
    from nbgrader.api import Gradebook

    course = copy_course(tiny, tmp_path / "course")
    students = [f"s{i:02d}" for i in range(10)]
    for i, student in enumerate(students):
        submit(course, student, "import time\ntime.sleep(0.3)\n" + ("def square(x):\n    return x * x" if i % 2
                                                                     else "def square(x):\n    return x + x"))
    command = [sys.executable, "-m", "autograde", "grade", "--course", str(course), "--workers", "1",
               "--no-feedback", "--no-progress"]
    first = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _journals(course) < 3 and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # the grader, its fork server and any kernel: all at once
    first.wait()
    done_before = _journals(course)
    assert 3 <= done_before < len(students), first.stderr.read().decode()[-2000:]

    outcome = pipeline.run(course, settings(feedback=False, report=False))
    assert outcome.resumed == done_before and outcome.graded == len(students) - done_before
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submissions = gb.assignment_submissions(ASSIGNMENT)
        assert sorted(s.student.id for s in submissions) == students  # none lost, none twice
        scores = {s.student.id: s.score for s in submissions}
    assert scores == {s: 3.0 if i % 2 else 0.0 for i, s in enumerate(students)}


def test_the_progress_bar_shows_rate_and_eta(tiny, tmp_path):
    course = copy_course(tiny, tmp_path / "course")
    for student in ("a", "b", "c"):
        submit(course, student)
    run = subprocess.run([sys.executable, "-m", "autograde", "grade", "--course", str(course), "--no-feedback"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "grading: 100%" in run.stderr and "3/3" in run.stderr and "submission/s" in run.stderr
    assert "3 submissions graded" in run.stdout and "grades CSV" in run.stdout
