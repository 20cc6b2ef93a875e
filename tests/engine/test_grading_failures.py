"""Failures that are not the student's doing: retried, never stored as a grade, reported with an
honest exit code; unreachable services get one clear line and change nothing; every Dask worker
configuration grades exactly like a local run."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.tiny_course import ASSIGNMENT, copy_course, make_course, submit

from autograde import pipeline
from autograde.engine import coordinator

pytestmark = pytest.mark.xdist_group("tiny-failures")

STUDENTS = {"honest": None, "wrong": "def square(x):\n    return x + x", "third": None}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    course = make_course(tmp_path_factory.mktemp("failures") / "course", cell_timeout=3)
    for student, answer in STUDENTS.items():
        submit(course, student, *([answer] if answer else []))
    return course


def _settings(**kw) -> pipeline.Settings:
    return pipeline.Settings(progress=False, feedback=False, report=False, **kw)


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def _grade_cli(course: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograde", "grade", "--course", str(course), "--no-progress",
                           "--no-feedback", *options], capture_output=True, text=True, timeout=600)


def _scores(outcome) -> dict:
    return {r.student: {c.grade_id: c.score for c in r.cells} for r in outcome.results}


@pytest.fixture(scope="module")
def local(template, tmp_path_factory):
    course = copy_course(template, tmp_path_factory.mktemp("local") / "course")
    return pipeline.run(course, _settings())


# ------------------------------------------------------------------ unreachable services


@pytest.mark.parametrize("url", ["postgresql://grader@127.0.0.1:9/course", "sqlite:////no/such/folder/gradebook.db"])
def test_an_unreachable_gradebook_is_one_line_exit_3_and_changes_nothing(template, tmp_path, url):
    course = copy_course(template, tmp_path / "course")
    before = _tree_digest(course)
    done = _grade_cli(course, "--db-url", url)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the gradebook at"), done.stderr
    assert "Traceback" not in done.stderr and "password" not in lines[0].lower().replace("password are", "")
    assert _tree_digest(course) == before


def test_an_unreachable_dask_scheduler_is_one_line_exit_3_and_changes_nothing(template, tmp_path):
    course = copy_course(template, tmp_path / "course")
    before = _tree_digest(course)
    done = _grade_cli(course, "--dask", "tcp://127.0.0.1:9")
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert _tree_digest(course) == before


def test_a_folder_that_is_not_a_course_is_exit_2(tmp_path):
    done = _grade_cli(tmp_path)
    assert done.returncode == 2 and "is not a course folder" in done.stderr and "Traceback" not in done.stderr


def test_unreadable_submissions_score_zero_and_exit_4(template, tmp_path, capsys):
    """In this process (`cli.main`, what `python -m autograde` exits with): the tests above run the
    command line in a process of its own."""
    from autograde import cli

    course = copy_course(template, tmp_path / "course")
    broken = course / "submitted" / "broken" / ASSIGNMENT
    broken.mkdir(parents=True)
    (broken / f"{ASSIGNMENT}.ipynb").write_text("")
    code = cli.main(["grade", "--course", str(course), "--no-progress", "--no-feedback"])
    printed = capsys.readouterr().out
    assert code == 4, printed[-2000:]
    assert "unreadable: 1 submission(s)" in printed and "broken / tiny" in printed


# ------------------------------------------------------------------ failures of the grader's own parts


def _course_whose_checker_dies(folder: Path, times: int | None) -> Path:
    """The tiny course with one more test cell (the instructor's, run by the trusted checker) that
    ends the checker process the first ``times`` times it runs (None: every time): a fault of the
    grader's side, as an out-of-memory kill or a bug in a test cell would cause it."""
    count = folder / "checker-deaths"
    limit = "True" if times is None else f"len(_deaths.read_text()) < {times}"
    dies = ("import os, pathlib\n"
            f"_deaths = pathlib.Path({str(count)!r})\n"
            "_deaths.touch()\n"
            f"if {limit}:\n"
            "    _deaths.write_text(_deaths.read_text() + 'x')\n"
            "    os._exit(1)")
    course = make_course(folder / "course", cell_timeout=3, extra_tests=(("test_checker_fault", dies),))
    for student, answer in STUDENTS.items():
        submit(course, student, *([answer] if answer else []))
    return course


def test_a_checker_that_dies_is_retried_and_the_grades_are_right(tmp_path):
    course = _course_whose_checker_dies(tmp_path, times=2)
    outcome = pipeline.run(course, _settings(workers=1))
    assert outcome.retried == 2 and outcome.failed == {} and outcome.exit_code == 0
    scores = {r.student: r.auto_score for r in outcome.results}
    assert scores == {"honest": 4, "wrong": 1, "third": 4}  # 3 + the fault cell, which passes on retry


def test_a_failure_that_persists_stores_nothing_and_is_reported(tmp_path):
    course = _course_whose_checker_dies(tmp_path, times=None)
    outcome = pipeline.run(course, _settings(workers=1))
    assert set(outcome.failed) == {(s, ASSIGNMENT) for s in STUDENTS}
    assert outcome.exit_code == 1 and outcome.graded == 0
    for result in outcome.results:
        assert all(c.score is None for c in result.cells if not c.written), result  # no zero was stored
        assert not (course / "autograded" / result.student / ASSIGNMENT / coordinator.JOURNAL).exists()
    from autograde.cli import summary

    text = summary(outcome)
    assert "grading failed for 3 submission(s), not by the students' doing" in text
    assert "the trusted checker stopped without a result (tried 3 times)" in text


# ------------------------------------------------------------------ Dask, however its workers run


def test_a_local_dask_cluster_of_threaded_workers_grades_like_a_local_run(template, tmp_path, local):
    from distributed import LocalCluster

    course = copy_course(template, tmp_path / "course")
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        outcome = pipeline.run(course, _settings(dask=cluster.scheduler_address))
    assert outcome.failed == {} and _scores(outcome) == _scores(local)


def test_workers_started_the_default_way_grade_like_a_local_run(template, tmp_path, local):
    """`dask scheduler` and `dask worker ADDRESS` as an instructor starts them (several threads)."""
    course = copy_course(template, tmp_path / "course")
    bin_dir = Path(sys.executable).parent
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", scheduler_file],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        import json

        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([bin_dir / "dask", "worker", address, "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        outcome = pipeline.run(course, _settings(dask=address))
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
    assert outcome.failed == {} and _scores(outcome) == _scores(local)


# A kernel whose socket to the checker breaks (here: its first kernel only, by its own hand, as a
# stand-in for a connection lost on a loaded machine) is given a second, fresh kernel.
_UNANSWERED_ONCE = '''import os
import autograde.trusted.student_server as _server

def square(x):
    return x * x

if not os.path.exists("first-kernel-was-here"):
    open("first-kernel-was-here", "w").close()

    def _hang_up(path, timeout=600.0):
        import socket
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        listener.accept()[0].close()
        listener.close()

    _server.serve = _hang_up
'''
_UNANSWERED_ALWAYS = _UNANSWERED_ONCE.replace('if not os.path.exists("first-kernel-was-here"):', "if True:")


def test_a_kernel_that_once_does_not_answer_the_checker_is_graded_in_a_fresh_one(tmp_path):
    course = make_course(tmp_path / "course", cell_timeout=3)
    submit(course, "once", _UNANSWERED_ONCE)
    submit(course, "always", _UNANSWERED_ALWAYS)
    submit(course, "honest")
    outcome = pipeline.run(course, _settings(workers=1))
    scores = {r.student: r.auto_score for r in outcome.results}
    assert scores == {"once": 3, "always": 0, "honest": 3}
    problems = {p.student: p.message for p in outcome.problems}
    assert "did not answer the checks" in problems["always"] and "once" not in problems
    assert outcome.failed == {} and outcome.exit_code == 0
