"""Run one sanitized notebook in a fresh kernel with nbgrader's own Execute preprocessor.

This is the only step of nbgrader's autograde that the batch grader moves out of the
coordinator: it needs no gradebook, takes plain data and returns plain data, so it can run in a
local pool or on a Dask worker.
"""
from __future__ import annotations

import asyncio
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

from .warm_kernels import ForkServer, fresh_kernel

TOTAL_SECONDS = 600  # wall-clock limit for one notebook, on top of nbgrader's per-cell timeout


@dataclass
class Task:
    """One student's assignment: sanitized notebooks (name → JSON text) and the other files."""
    student: str
    assignment: str
    notebooks: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    execute_config: dict = field(default_factory=dict)  # nbgrader's Execute traits (timeout, …)
    total_seconds: float = TOTAL_SECONDS


@dataclass
class Executed:
    student: str
    assignment: str
    notebooks: dict[str, str]  # name → executed notebook JSON text
    seconds: float  # wall time of the whole task
    code_seconds: float  # time the kernels spent running the notebooks' cells
    error: str = ""  # why the notebook could not be run to the end, in plain words


class _TrackedExecute(Execute):
    """nbgrader's Execute, remembering which cells ran."""

    def on_cell_executed(self, **kwargs):
        self.ran.add(kwargs["cell_index"])
        return super().on_cell_executed(**kwargs)


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


async def execute_notebook(server: ForkServer, nb, cwd: Path, config: dict,
                           total_seconds: float = TOTAL_SECONDS) -> tuple[object, float, str]:
    """Execute ``nb`` in a new kernel forked from ``server``.

    Returns the notebook, its cells' run time, and "" or why it stopped early (a dead kernel,
    the total time limit); cells that never ran then carry an error output.
    """
    problem = ""
    async with fresh_kernel(server, cwd, {"NBGRADER_EXECUTION": "autograde"}) as km:
        client = _TrackedExecute(config=Config({"Execute": config}), record_timing=True)
        client.ran = set()
        NotebookClient.__init__(client, nb, km)  # as ExecutePreprocessor.preprocess does
        client._check_assign_resources({"metadata": {"path": str(cwd)}})
        try:
            await asyncio.wait_for(client.async_execute(), total_seconds)
        except asyncio.TimeoutError:
            problem = f"the notebook ran longer than {total_seconds:g} s in total and was stopped"
        except Exception as error:  # noqa: BLE001 - a dead kernel or a protocol failure
            name = type(error).__name__
            problem = ("the kernel died (the student's code ended the Python process)"
                       if name == "DeadKernelError" else f"execution stopped: {name}: {error}")
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
    if problem:
        _stopped(nb, client.ran, problem)
    return nb, _cell_seconds(nb), problem


async def run_task(server: ForkServer, task: Task) -> Executed:
    """Execute every notebook of one submission in a scratch folder holding only its files."""
    started = time.perf_counter()
    executed, code, problems = {}, 0.0, []
    try:
        with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
            for name, data in task.files.items():
                target = Path(scratch) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            for name, text in task.notebooks.items():
                nb, seconds, problem = await execute_notebook(
                    server, nbformat.reads(text, as_version=4), Path(scratch), task.execute_config,
                    task.total_seconds)
                executed[name] = nbformat.writes(nb)
                code += seconds
                if problem:
                    problems.append(f"{name}: {problem}")
    except Exception as error:  # noqa: BLE001 - one student's failure is reported, never raised
        problems.append(f"{type(error).__name__}: {error}")
        executed = {}
    return Executed(task.student, task.assignment, executed, time.perf_counter() - started, code,
                    "; ".join(problems))


_WORKER_SERVER: ForkServer | None = None


def run_task_here(task: Task) -> Executed:
    """Entry point for a Dask worker: one fork server per worker process, started on first use."""
    global _WORKER_SERVER
    if _WORKER_SERVER is None:
        _WORKER_SERVER = ForkServer()
    return asyncio.run(run_task(_WORKER_SERVER, task))
