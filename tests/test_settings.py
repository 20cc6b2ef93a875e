"""The grader's settings (`autograde.settings.Grader`): today's defaults, documented in one table that
cannot drift; set in a course's nbgrader_config.py, they reach the kernels, the checks and the
retries; command-line flags win over the file; `--log-level INFO` shows what the grader does."""
from __future__ import annotations

import json
import logging
import pickle
import re
import subprocess
import sys

import pytest
from support.tiny_course import ASSIGNMENT, SOLUTION, copy_course, make_course, submit
from traitlets.config import Config

from autograde import pipeline
from autograde.engine import coordinator, sandbox
from autograde.settings import DOCS, Grader, KernelLimits, NotebookLimits, configured, documented, shown, table, traits

MiB = 1 << 20

#: The module constants these settings replaced, with their values on the day they did.
TODAYS_DEFAULTS = {"workers": None, "trusted": True, "sandbox": True, "retries": 2, "notebook_seconds": 600,
                   "check_time_factor": 4, "kernel_restarts": 3, "output_bytes": 2_000_000,
                   "kernel_output_bytes": 4_000_000, "kernel_memory_bytes": 2 << 30, "kernel_file_bytes": 64 * MiB,
                   "kernel_open_files": 256, "kernel_processes": 64, "disk_bytes": 256 * MiB,
                   "draw_figures": False}  # new: figures were drawn before; no score depends on them

#: A tiny course's settings, each set away from its default so that its effect can be seen.
COURSE_SETTINGS = {"notebook_seconds": 8, "check_time_factor": 2.5, "kernel_restarts": 0, "retries": 1,
                   "output_bytes": 100_000, "kernel_output_bytes": 1_000, "kernel_memory_bytes": 1_500 * MiB,
                   "kernel_file_bytes": 32 * MiB, "kernel_open_files": 200, "kernel_processes": 50,
                   "disk_bytes": 128 * MiB, "draw_figures": True}

LIMITS = SOLUTION + """
import os, resource
print("limits:", *(resource.getrlimit(getattr(resource, name))[0] for name in
                   ("RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC")),
      os.statvfs(".").f_blocks * os.statvfs(".").f_frsize)
print("figures:", os.environ.get("BACKPROP_FIGURES", "drawn"))"""
CHATTY = SOLUTION + '\nfor _ in range(50):\n    print("x" * 99)'  # 5,000 characters
SLOW = SOLUTION + "\nimport time\ntime.sleep(20)"  # under the 30 s cell timeout, over the 8 s notebook
DIES = SOLUTION + "\nimport os\nos._exit(1)"


def test_the_defaults_are_the_values_the_grader_had_before_it_had_settings():
    assert {name: trait.default_value for name, trait in traits().items()} == TODAYS_DEFAULTS


def test_the_docs_table_lists_every_setting_with_its_default():
    rows = re.findall(r"^\| `c\.Grader\.(\w+)` \| `([^`]*)` \|", documented(DOCS.read_text()), re.M)
    assert dict(rows) == {name: shown(trait.default_value) for name, trait in traits().items()}
    assert documented(DOCS.read_text()) == table(), "the help changed: run `python -m autograde.settings`"


def test_help_all_lists_every_setting_as_nbgrader_lists_its_own(capsys):
    from autograde import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["--help-all"])
    printed = capsys.readouterr().out
    assert exited.value.code == 0 and "usage: python -m autograde" in printed
    for name, trait in Grader.class_traits(config=True).items():
        assert f"--Grader.{name}=" in printed and trait.help.split()[0] in printed, name


def test_the_command_line_wins_over_the_course_config():
    config = Config({"Grader": {"workers": 2, "sandbox": False, "notebook_seconds": 60}})
    grading = configured(config, workers=5, trusted=None, sandbox=None)
    assert (grading.workers, grading.trusted, grading.sandbox, grading.notebook_seconds) == (5, True, False, 60)
    assert not configured(Config(), sandbox=False).sandbox


@pytest.fixture(scope="module")
def configured_run(tmp_path_factory):
    """A tiny course whose nbgrader_config.py sets every limit away from its default, graded in
    this process with the tasks the coordinator builds recorded on their way to the workers."""
    course = make_course(tmp_path_factory.mktemp("settings") / "course", cell_timeout=30)
    with open(course / "nbgrader_config.py", "a") as config:
        config.writelines(f"c.Grader.{name} = {value!r}\n" for name, value in COURSE_SETTINGS.items())
    for student, answer in {"honest": SOLUTION, "limits": LIMITS, "chatty": CHATTY, "slow": SLOW, "dies": DIES}.items():
        submit(course, student, answer)
    tasks, run_task = [], coordinator.run_task

    async def recording(server, task):
        tasks.append(task)
        return await run_task(server, task)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(coordinator, "run_task", recording)
        outcome = pipeline.run(course, pipeline.Settings(progress=False, feedback=False, report=False, workers=2))
    return course, outcome, tasks


def _printed(course, student: str) -> str:
    nb = json.loads((course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


def _said(outcome, student: str) -> str:
    return " ".join(p.message for p in outcome.problems if p.student == student)


def test_each_task_carries_the_course_settings_as_plain_data(configured_run):
    _, _, tasks = configured_run
    grading = Grader(**COURSE_SETTINGS)
    assert len(tasks) == 5
    for task in tasks:
        assert task.limits == NotebookLimits(8, 2.5, 0, 100_000, True) == grading.notebook_limits()
        assert task.kernel_limits == KernelLimits(1_500 * MiB, 32 * MiB, 200, 50, 1_000, 128 * MiB)
        assert task.sandbox is True
        assert pickle.loads(pickle.dumps(task)) == task  # as a Dask worker receives it


def test_the_kernel_limits_reach_the_kernel(configured_run):
    course, outcome, _ = configured_run
    found = re.search(r"limits: (\d+) (\d+) (\d+) (\d+) (\d+)", _printed(course, "limits"))
    memory, file, files, processes, disk = map(int, found.groups())
    assert (memory, file, files) == (1_500 * MiB, 32 * MiB, 200)
    if sandbox.level() in sandbox.ISOLATED:  # the process limit is the sandboxed kernel user's
        assert processes == 50
        if sandbox.disk_limited():
            assert disk == 128 * MiB
    assert "figures: drawn" in _printed(course, "limits")  # c.Grader.draw_figures = True reached it too
    assert {r.student: r.auto_score for r in outcome.results}["limits"] == 3


def test_the_kernel_drops_prints_past_its_configured_budget(configured_run):
    course, _, _ = configured_run
    printed = _printed(course, "chatty")
    assert "[output over 1,000 characters dropped by the kernel]" in printed
    assert printed.count("x") < 1_100  # the write that crossed the budget, then nothing


def test_the_notebook_time_limit_and_the_kernel_restarts_are_the_courses(configured_run):
    _, outcome, _ = configured_run
    assert "the notebook ran longer than 8 s in total and was stopped" in _said(outcome, "slow")
    assert "gave up after 0 kernels died or hung" in _said(outcome, "dies")
    assert {r.student: r.auto_score for r in outcome.results}["honest"] == 3


def test_log_level_info_shows_the_sandbox_level_and_the_fork_servers(tmp_path, configured_run):
    """`--workers 1` wins over the course's `c.Grader.workers = 2`: one kernel fork server and the
    checkers' one start; at the default level the log stays silent."""
    course = copy_course(configured_run[0], tmp_path / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("c.Grader.workers = 2\n")
    command = [sys.executable, "-m", "autograde", "grade", "--course", str(course), "--no-progress", "--no-feedback"]
    quiet = subprocess.run([*command, "--student", "honest"], capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0 and "[autograde" not in quiet.stderr, quiet.stderr[-2000:]
    loud = subprocess.run([*command, "--student", "dies", "--workers", "1", "--log-level", "INFO"],
                          capture_output=True, text=True, timeout=600)
    assert f"[autograde.engine.sandbox | INFO] sandbox level {sandbox.level()!r}" in loud.stderr, loud.stderr[-2000:]
    assert len(re.findall(r"\[autograde\.engine\.fork_server \| INFO\] fork server \d+ started", loud.stderr)) == 2
    assert "[autograde.engine.notebook_run | INFO] dies/tiny/tiny: gave up after 0 kernels" in loud.stderr
    assert "1 submissions graded" in loud.stdout  # the summary is printed as before


def test_the_log_says_when_a_submission_is_graded_again(caplog, tmp_path, configured_run):
    """An infrastructure failure, retried as the course says (`retries = 1`), is logged."""
    from autograde.engine.notebook_run import Executed

    course = copy_course(configured_run[0], tmp_path / "course")
    failures = []

    async def flaky(server, task):
        failures.append(task.student)
        return Executed(task.student, task.assignment, {}, 0.0, 0.0, infrastructure="the kernel did not start")

    caplog.set_level(logging.INFO, logger="autograde")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(coordinator, "run_task", flaky)
        outcome = pipeline.run(course, pipeline.Settings(progress=False, feedback=False, report=False, workers=1,
                                                         regrade=True))
    assert sorted(failures) == sorted(2 * ["chatty", "dies", "honest", "limits", "slow"]) and outcome.retried == 5
    assert "honest/tiny: the kernel did not start; grading it again (retry 1 of 1)" in caplog.text
    assert "tried 2 times" in outcome.failed[("honest", ASSIGNMENT)]
