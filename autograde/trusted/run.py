"""Trusted grading of one notebook, from the worker's side.

The student's kernel runs the student's cells only: each test cell is replaced by a call that
keeps a copy of the student's values at that point. Then the kernel serves its definitions
(`student_server.serve`) and a checker forked from the pristine fork server runs the course's
own test cells against them (`checker.check`). The checker's outputs become the test cells'
outputs, so nbgrader's own scoring turns the trusted verdicts into grades.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

from nbformat.notebooknode import NotebookNode, from_dict

from autograde.trusted.spec import Spec, is_test

SNAPSHOT = "__import__('autograde.trusted.student_server', fromlist=['snapshot']).snapshot({label!r}, {names!r})"
SERVE = "__import__('autograde.trusted.student_server', fromlist=['serve']).serve({path!r})"


def prepare(nb, spec: Spec) -> dict[int, str]:
    """Replace the notebook's test cells by snapshot calls; return index → original source."""
    stash = {}
    for index, cell in enumerate(nb.cells):
        if is_test(cell):
            stash[index] = cell.source
            label = cell.metadata["nbgrader"]["grade_id"]
            cell.source = SNAPSHOT.format(label=label, names=list(spec.student_names))
    return stash


def carried(nb, stash: dict[int, str]) -> dict[int, dict[str, str]]:
    """The snapshots that the cell before a run of test cells takes with its own execute request.

    A test cell's snapshot call (`prepare`) is one expression, so the code cell that runs just
    before it (markdown and empty cells between) can carry it as a ``user_expressions`` entry of
    its request: the kernel evaluates it right after that cell, where the test cell stands, with
    no request of its own. Returns carrier cell index → {str(test cell index): expression}. The
    kernel evaluates user expressions only after a cell that ran without error; after one that
    raised, the test cells run their snapshot calls as cells, as without carrying.
    """
    carriers: dict[int, dict[str, str]] = {}
    carrier = None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue  # nbclient sends no request for these
        if index in stash:
            if carrier is not None:
                carriers.setdefault(carrier, {})[str(index)] = cell.source
        else:
            carrier = index
    return carriers


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def merge(nb, stash: dict[int, str], spec: Spec, verdicts: dict | None, why: str) -> None:
    """Put the test cells back with the checker's outputs; a test cell deleted from the
    submission is restored from the course's notebook and checked all the same."""
    seen = set()
    for index, source in stash.items():
        cell = nb.cells[index]
        cell.source = source
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        seen.add(grade_id)
        verdict = (verdicts or {}).get(grade_id)
        cell.outputs = [from_dict(o) for o in verdict["outputs"]] if verdict else \
            [_error("TrustedCheckNotRun", why or "the trusted check did not run")]
    for grade_id, cell in spec.tests.items():
        if grade_id not in seen:
            restored = from_dict(json.loads(json.dumps(cell)))
            verdict = (verdicts or {}).get(grade_id)
            restored.outputs = [from_dict(o) for o in verdict["outputs"]] if verdict else \
                [_error("TrustedCheckNotRun", why or "the trusted check did not run")]
            nb.cells.append(restored)


#: A cell whose checker stays in it this long past the cell timeout is stuck where the alarm cannot
#: reach (inside a C function, e.g. a huge SymPy power): the checker is stopped and run again without it.
STUCK_GRACE_SECONDS = 5.0
MAX_CHECKER_RUNS = 3
#: How a reason starts when the student's kernel never answered the checker: the notebook is run
#: once more in a fresh kernel before that counts as the student's doing.
UNANSWERED = "the student's kernel did not answer the checks"
#: Memo tables of the check library ("module:name"), carried from each notebook's checker to the next
#: within this grading process: `backprop_course.checks.symbolic.decided` holds SymPy equivalence
#: verdicts, which depend on the expressions alone. Only trusted checkers read and write them (through
#: the task and result files in the grader's private folder); no student process ever sees them.
MEMOS = ("backprop_course.checks.symbolic:decided",)
MEMO_ENTRIES = 5_000  # per table (about 0.5 MB of task file); past it, nothing more is added
_memos: dict[str, dict] = {name: {} for name in MEMOS}

#: How a reason starts when the checker itself failed (not the student's doing: retried, never stored).
CHECKER_FAILED = "the trusted checker"


async def check(server, kernel_client, cwd: Path, spec: Spec, cell_timeout: float,
                deadline_seconds: float) -> tuple[dict | None, str]:
    """Serve the student's kernel over a socket in ``cwd`` and run the checker against it.

    Returns (grade_id → verdict, "") or (None, why the checks did not run)."""
    deadline = time.monotonic() + deadline_seconds
    skip: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="checker-") as private:
        for run in range(MAX_CHECKER_RUNS):
            # A new socket for each checker: the next one never reaches the kernel's previous server,
            # which may still be inside the call the stopped checker made. (cwd: the grader made it.)
            socket_path = os.path.join(os.path.realpath(cwd), f".grader-{run}.sock")
            kernel_client.execute(SERVE.format(path=socket_path), silent=True, store_history=False)
            verdicts, why, stuck = await _run_checker(server, Path(private), socket_path, spec, cell_timeout,
                                                      deadline, skip)
            if stuck is None:
                return verdicts, why
            skip[stuck] = f"the check ran longer than {cell_timeout:g} s and was stopped"
    return None, f"the checks of {MAX_CHECKER_RUNS} cells did not end and were stopped; the others could not run"


async def _run_checker(server, private: Path, socket_path: str, spec: Spec, cell_timeout: float,
                       deadline: float, skip: dict[str, str]) -> tuple[dict | None, str, str | None]:
    """One checker process; returns (verdicts, why not, the test cell it was stopped in or None)."""
    from autograde.engine.fork_server_process import alive

    task_file, result_file, progress = (str(private / name) for name in ("task.json", "result.json", "cell"))
    for stale in (result_file, progress):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
    with open(task_file, "w") as handle:
        json.dump({"socket": socket_path, "cells": [c.wire() for c in spec.cells], "student_names": list(spec.student_names),
                   "cell_timeout": cell_timeout, "call_timeout": cell_timeout, "skip": skip,
                   "progress": progress,
                   "memos": {name: dict(table) for name, table in _memos.items()}}, handle)  # a copy: Dask threads
    checker = server.checker or server
    pid = checker.spawn_checker(task_file, result_file)
    with _Ending(pid) as ending:
        while not os.path.exists(result_file):
            if not alive(pid):
                await asyncio.sleep(0.05)
                if not os.path.exists(result_file):
                    return None, "the trusted checker stopped without a result", None
            stuck = _stuck_in(progress, cell_timeout + STUCK_GRACE_SECONDS)
            if stuck or time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
                if stuck:
                    return None, "", stuck
                return None, "the trusted checks ran out of the notebook's time", None
            await ending.wait()
    with open(result_file) as handle:
        result = json.load(handle)
    if "student_gone" in result:  # the student's kernel did not serve: their doing, like a dead kernel
        return None, f"{UNANSWERED} ({result['student_gone']})", None
    if "error" in result:
        return None, f"the trusted checker failed: {result['error']}", None
    verdicts = result["verdicts"]
    for name, learned in result.get("memos", {}).items():
        if name in _memos and len(_memos[name]) < MEMO_ENTRIES:
            _memos[name].update(learned)
    gone = [g for g, v in verdicts.items() if any(o.get("ename") == "StudentKernelGone" for o in v["outputs"])]
    if gone:  # graded, and the instructor is told why those cells failed
        return verdicts, f"the student's kernel stopped answering during the checks ({', '.join(gone)})", None
    return verdicts, "", None


class _Ending:
    """Waits for a checker to end: woken by its pidfd the moment it exits (it writes its result
    file first), and every ``LOOK_SECONDS`` to look for a stuck cell or the deadline. Where the
    system refuses a pidfd, it polls every ``POLL_SECONDS`` instead."""

    LOOK_SECONDS = 0.1
    POLL_SECONDS = 0.01

    def __init__(self, pid: int):
        try:
            self.fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd here, or the checker already gone (then polled)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)

    async def wait(self) -> None:
        if self.fd is None:
            await asyncio.sleep(self.POLL_SECONDS)
            return
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        loop.add_reader(self.fd, lambda: ended.done() or ended.set_result(None))
        try:
            await asyncio.wait_for(ended, self.LOOK_SECONDS)
        except asyncio.TimeoutError:
            pass
        finally:
            loop.remove_reader(self.fd)


def _stuck_in(progress: str, seconds: float) -> str | None:
    """The test cell the checker has been in for more than ``seconds``, if any."""
    try:
        if time.time() - os.stat(progress).st_mtime > seconds:
            with open(progress) as handle:
                return handle.read() or None
    except OSError:
        pass
    return None
