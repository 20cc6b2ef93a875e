"""Run one sanitized notebook in a fresh kernel with nbgrader's own Execute preprocessor.

This is the only step of nbgrader's autograde that the batch grader moves out of the
coordinator: it needs no gradebook, takes plain data and returns plain data, so it can run in a
local pool or on a Dask worker. The course's settings (`autograde.settings`) arrive in the task as
plain records; nothing here reads a configuration file.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets.config import Config

from backprop_course import figure_style

from autograde import internals
from autograde.settings import Grader, KernelLimits, NotebookLimits
from autograde.trusted import run as trusted_run
from autograde.trusted.spec import Spec
from autograde.engine.fork_server import ForkServer, fresh_kernel, kept_servers

log = logging.getLogger(__name__)


@dataclass
class Task:
    """One student's assignment: sanitized notebooks (name → JSON text) and the other files."""
    student: str
    assignment: str
    notebooks: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    execute_config: dict = field(default_factory=dict)  # nbgrader's Execute traits (timeout, …)
    trusted: dict[str, Spec] | None = None  # notebook name → its trusted spec; None: tests run in the kernel
    limits: NotebookLimits = field(kw_only=True)  # the course's settings for each notebook's run
    # How a Dask worker starts its fork server; a local run's coordinator starts them with the same.
    kernel_limits: KernelLimits = field(kw_only=True)
    sandbox: bool = field(kw_only=True)


@dataclass
class Executed:
    student: str
    assignment: str
    notebooks: dict[str, str]  # name → executed notebook JSON text
    seconds: float  # wall time of the whole task
    code_seconds: float  # time the kernels spent running the notebooks' cells
    error: str = ""  # why the notebook could not be run to the end, in plain words
    infrastructure: str = ""  # a failure that is not the student's doing: nothing may be stored
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per phase (`Phases`)


class Phases(dict):
    """Wall seconds of one submission per phase of its grading, the per-notebook time budget that
    benchmarks/class_grading.py prints: "kernel start" (fork and connect), "cells" (the notebook's
    cells, messages included), "checks" (the trusted test checks), "kernel stop", and on the
    coordinator's side "sanitize" and "finish" (nbgrader's passes and gradebook writes)."""

    def add(self, name: str, seconds: float) -> None:
        self[name] = self.get(name, 0.0) + seconds

    @contextlib.contextmanager
    def timed(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)


@contextlib.asynccontextmanager
async def _timed_kernel(server: ForkServer, cwd: Path, env: dict[str, str], phases: Phases):
    """`fresh_kernel`, its start and its stop timed."""
    started, stopping = time.perf_counter(), None
    try:
        async with fresh_kernel(server, cwd, env) as km:
            phases.add("kernel start", time.perf_counter() - started)
            try:
                yield km
            finally:
                stopping = time.perf_counter()
    finally:
        if stopping is not None:
            phases.add("kernel stop", time.perf_counter() - stopping)


class InfrastructureError(RuntimeError):
    """Grading could not happen for a reason that is not the student's doing: the kernel did not
    start, the trusted checker gave no result. The coordinator retries and never stores a score."""


class _TrackedExecute(Execute):
    """nbgrader's Execute, remembering which cells ran and keeping at most ``budget`` bytes of
    output, so that 200 MB of prints cost neither the grader's memory nor the feedback. A cell
    before test cells carries their snapshot calls in its request (``carried``; a test cell whose
    snapshot was taken sends none), and nbclient's kernel_info before the first cell is answered
    by the reply that found the kernel ready (`ReadyKernelClient.ready_reply`)."""

    ran: set
    budget: int
    kept_bytes: int = 0
    carried: dict  # cell index → the test cells' snapshots its request carries (`trusted_run.carried`)
    taken: set  # test cells whose snapshot a carrier took: no request of their own

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell_index in self.taken:
            self.ran.add(cell_index)
            return cell
        expressions = self.carried.get(cell_index)
        if not expressions:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        execute = self.kc.execute
        self.kc.execute = lambda code, **kwargs: execute(code, user_expressions=expressions, **kwargs)
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            del self.kc.execute

    async def async_wait_for_reply(self, msg_id, cell=None):
        ready = getattr(self.kc, "ready_reply", None)
        if ready is not None and ready["parent_header"].get("msg_id") == msg_id:
            return ready  # nbclient's kernel_info before the first cell: answered when the kernel became ready
        return await super().async_wait_for_reply(msg_id, cell)

    def on_cell_executed(self, **kwargs):
        self.ran.add(kwargs["cell_index"])
        reply = (kwargs.get("execute_reply") or {}).get("content", {})
        if reply.get("status") == "ok" and kwargs["cell_index"] in self.carried:
            self.taken.update(int(key) for key, value in reply.get("user_expressions", {}).items()
                              if key in self.carried[kwargs["cell_index"]] and value.get("status") == "ok")
        return super().on_cell_executed(**kwargs)

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] in ("stream", "display_data", "execute_result", "update_display_data"):
            size = len(json.dumps(msg.get("content", {})))
            if self.kept_bytes + size > self.budget:
                if self.kept_bytes <= self.budget:
                    self.kept_bytes = self.budget + 1
                    outs.append(NotebookNode(output_type="stream", name="stdout",
                                             text=f"[output over {self.budget:,} bytes dropped by the grader]\n"))
                return None
            self.kept_bytes += size
        return super().output(outs, msg, display_id, cell_index)


def _stopped(nb, ran: set[int], why: str) -> None:
    """Give every code cell that never ran an error output, so nbgrader cannot count it as passed."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and index not in ran:
            cell.outputs = [NotebookNode(output_type="error", ename="NotRun", evalue=why,
                                         traceback=[f"NotRun: {why}"])]


def _cell_seconds(nb) -> float:
    """Sum of the kernel-side run time of each cell, from nbclient's timing metadata."""
    total = 0.0
    for cell in nb.cells:
        timing = cell.get("metadata", {}).pop("execution", {})  # ours to read, not to grade
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            total += (datetime.fromisoformat(end.replace("Z", "+00:00"))
                      - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
    return total


class _CellTimedOut(Exception):
    def __init__(self, index: int):
        self.index = index


async def _run_once(server, nb, cwd: Path, config: dict, limits: NotebookLimits, seconds_left: float, spec,
                    stash: dict[int, str], phases: Phases):
    """One kernel runs the notebook; then, if all went well, the trusted checks run against it.
    Returns (cells that ran, verdicts, why the checks did not run)."""
    env = {"NBGRADER_EXECUTION": "autograde", **({} if limits.draw_figures else {figure_style.TEXT_ONLY: "text"})}
    async with _timed_kernel(server, cwd, env, phases) as km:
        client = _TrackedExecute(config=Config({"Execute": config}), record_timing=True)
        client.ran, client.budget = set(), limits.output_bytes
        client.carried, client.taken = trusted_run.carried(nb, stash) if spec else {}, set()

        async def hang_up(timeout, cell=None):  # a cell over its time: kill the kernel, skip the cell
            raise _CellTimedOut(next(i for i, c in enumerate(nb.cells) if c is cell))

        internals.on_cell_timeout(client, hang_up)
        NotebookClient.__init__(client, nb, km)  # as ExecutePreprocessor.preprocess does
        internals.assign_resources(client, str(cwd))
        try:
            try:  # no student code runs before the kernel answers: failing to start is not theirs
                with phases.timed("kernel start"):
                    await asyncio.wait_for(client.async_start_new_kernel_client(), min(seconds_left, 120))
            except Exception as error:  # noqa: BLE001
                raise InfrastructureError(f"the kernel did not start ({type(error).__name__}: {error})") from None
            ready = getattr(client.kc, "ready_reply", None)
            if ready is not None:  # nbclient asks for the kernel's info again before the first cell: not sent
                client.kc.kernel_info = lambda: ready["parent_header"]["msg_id"]
            started = time.monotonic()
            try:
                with phases.timed("cells"):
                    await asyncio.wait_for(client.async_execute(), seconds_left)
            except BaseException as error:
                if type(error).__name__ == "DeadKernelError" and time.monotonic() - started >= seconds_left:
                    error = asyncio.TimeoutError()  # nbclient reports its cancelled cell as a dead kernel
                error.ran = client.ran  # which cells finished before it went wrong
                raise error
            if spec:
                with phases.timed("checks"):
                    verdicts, why = await trusted_run.check(server, client.kc, cwd, spec,
                                                            limits.check_time_factor * config.get("timeout", 30),
                                                            seconds_left)
                if why.startswith(trusted_run.CHECKER_FAILED):
                    raise InfrastructureError(why)
                return client.ran, verdicts, why
            return client.ran, None, ""
        finally:
            internals.forget_cleanup(client)
            if client.kc is not None:
                with phases.timed("kernel stop"):
                    client.kc.stop_channels()


def _restarting(who: str, index: int, skipped: dict[int, str]) -> None:
    log.info("%s: cell %d: %s; the notebook runs again in a fresh kernel without it", who, index + 1, skipped[index])


async def execute_notebook(server: ForkServer, nb, cwd: Path, config: dict, limits: NotebookLimits | None = None,
                           spec: Spec | None = None, *, who: str = "a notebook",
                           phases: Phases | None = None) -> tuple[object, float, str]:
    """Execute ``nb`` in a new kernel forked from ``server``, within ``limits`` (default: the
    settings' defaults); ``who`` names the notebook in the log.

    With a trusted ``spec``, the kernel runs the student's cells only and the test cells are
    checked outside it (`autograde.trusted`). A cell that kills its kernel or outlives the cell
    timeout costs only itself: it gets an error output and the notebook runs again in a fresh
    kernel without it. Returns the notebook, its cells' run time, and "" or what went wrong.
    """
    limits = limits or Grader().notebook_limits()
    phases = Phases() if phases is None else phases
    stash = trusted_run.prepare(nb, spec) if spec else {}
    sources = {i: c.source for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    skipped: dict[int, str] = {}
    deadline = time.monotonic() + limits.seconds
    overtime = f"the notebook ran longer than {limits.seconds:g} s in total and was stopped"
    problem, verdicts, why, ran = "", None, "", set()
    checks_retried = False
    for _ in range(limits.kernel_restarts + 1):
        if time.monotonic() >= deadline:  # no time left for another kernel
            problem = overtime
            break
        for index, source in sources.items():
            nb.cells[index].source = "" if index in skipped else source
            nb.cells[index].outputs = []
        try:
            ran, verdicts, why = await _run_once(server, nb, cwd, config, limits, deadline - time.monotonic(), spec,
                                                 stash, phases)
            if verdicts is None and why.startswith(trusted_run.UNANSWERED) and not checks_retried:
                checks_retried = True  # once more in a fresh kernel: twice in a row is the student's doing
                log.info("%s: %s; checking again in a fresh kernel", who, why)
                continue
            break
        except _CellTimedOut as timed_out:
            ran = timed_out.ran
            skipped[timed_out.index] = f"the cell ran longer than {config.get('timeout', 30)} s and was stopped"
            _restarting(who, timed_out.index, skipped)
        except asyncio.TimeoutError as error:
            ran = getattr(error, "ran", ran)
            problem = overtime
            break
        except InfrastructureError:
            raise
        except Exception as error:  # noqa: BLE001 - a dead kernel or a protocol failure
            if type(error).__name__ != "DeadKernelError":
                problem = f"execution stopped: {type(error).__name__}: {error}"
                break
            ran = getattr(error, "ran", ran)
            culprit = next((i for i in sorted(sources) if i not in skipped and sources[i].strip()
                            and i not in ran), None)
            if culprit is None:
                problem = "the kernel died"
                break
            skipped[culprit] = "the kernel died while running this cell (the student's code ended the process)"
            _restarting(who, culprit, skipped)
    else:
        problem = f"gave up after {limits.kernel_restarts} kernels died or hung"
        log.info("%s: %s", who, problem)
    for index, source in sources.items():
        nb.cells[index].source = source
    for index, reason in skipped.items():
        nb.cells[index].outputs = [NotebookNode(output_type="error", ename="CellSkipped", evalue=reason,
                                                traceback=[f"CellSkipped: {reason}"])]
    if problem:
        _stopped(nb, ran | set(skipped), problem)
    seconds = _cell_seconds(nb)
    if spec:
        trusted_run.merge(nb, stash, spec, verdicts, why or problem)
        problem = problem or why
    if skipped and not problem:
        problem = "; ".join(f"cell {i + 1}: {r}" for i, r in sorted(skipped.items()))
    return nb, seconds, problem


async def run_task(server: ForkServer, task: Task) -> Executed:
    """Execute every notebook of one submission in a scratch folder holding only its files."""
    started = time.perf_counter()
    executed, code, problems, phases = {}, 0.0, [], Phases()
    try:
        with tempfile.TemporaryDirectory(prefix="submission-", dir=server.scratch_root) as scratch:
            for name, data in task.files.items():
                target = Path(scratch) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            for name, text in task.notebooks.items():
                nb, seconds, problem = await execute_notebook(
                    server, nbformat.reads(text, as_version=4), Path(scratch), task.execute_config,
                    task.limits, (task.trusted or {}).get(name), who=f"{task.student}/{task.assignment}/{name}",
                    phases=phases)
                executed[name] = nbformat.writes(nb)
                code += seconds
                if problem:
                    problems.append(f"{name}: {problem}")
    except Exception as error:  # noqa: BLE001 - one student's failure is reported, never raised
        reason = str(error) if isinstance(error, InfrastructureError) else f"{type(error).__name__}: {error}"
        return Executed(task.student, task.assignment, {}, time.perf_counter() - started, code,
                        infrastructure=reason)
    return Executed(task.student, task.assignment, executed, time.perf_counter() - started, code,
                    "; ".join(problems), phases=dict(phases))


def run_task_here(task: Task) -> Executed:
    """Entry point for a Dask worker thread: the task runs on a fork server of this process's kept
    ones (`fork_server.kept_servers`) with the task's sandbox setting and kernel limits, that no
    other thread uses meanwhile (its kernels run as one sandbox user)."""
    with kept_servers(1, task.sandbox, task.kernel_limits) as (server,):
        return asyncio.run(run_task(server, task))
