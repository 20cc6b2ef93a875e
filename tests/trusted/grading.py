"""The red team's grading harness: grade a batch of attacks beside honest students in a copy of
a course, and find out how the grader contains student code right now."""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import attacks
import nbformat
import pytest
from attacks import Attack
from support.tiny_course import ASSIGNMENT, copy_course, submit

from autograde import pipeline
from autograde.outputs import results
from autograde.samples import submissions

REAL_ASSIGNMENTS = ["01_gradient_descent", "02_symbolic_derivatives"]
HONEST = ["honest_a", "honest_b"]
WORKERS = 2
#: RED_TEAM_SANDBOX=0 grades without the sandbox (``--no-sandbox``): the probe then reports no
#: containment, and every attack marked ``unsandboxed`` must win (its strict xfail proves it).
SANDBOX = os.environ.get("RED_TEAM_SANDBOX", "1") != "0"


# ------------------------------------------------------------------ grading a batch


@dataclass
class Batch:
    """One graded course: the outcome, and what the attacks left behind."""
    course: Path
    spy: Path  # where attacks leave evidence
    outcome: object
    seconds: float
    received: list  # what reached the TCP listener on 127.0.0.1 while grading
    trusted: bool
    host_socket: list  # what reached the Unix socket at spy/host.sock while grading

    def result(self, student: str, assignment: str = ASSIGNMENT) -> results.SubmissionResult:
        return next(r for r in self.outcome.results if (r.student, r.assignment) == (student, assignment))

    def score(self, student: str, assignment: str = ASSIGNMENT) -> float:
        return self.result(student, assignment).auto_score

    def problems(self, student: str) -> list[str]:
        return [p.message for p in self.outcome.problems if p.student == student]

    def notebook(self, student: str, assignment: str = ASSIGNMENT) -> Path:
        return self.course / "autograded" / student / assignment / f"{assignment}.ipynb"

    def printed(self, student: str, assignment: str = ASSIGNMENT) -> str:
        path = self.notebook(student, assignment)
        if not path.exists():
            return ""
        nb = nbformat.read(path, as_version=4)
        return "".join(str(o.get("text", "")) + str(o.get("evalue", ""))
                       for c in nb.cells for o in c.get("outputs", []))


def _listener(unix_path: Path | None = None) -> socket.socket:
    server = socket.socket(socket.AF_UNIX if unix_path else socket.AF_INET, socket.SOCK_STREAM)
    server.bind(str(unix_path) if unix_path else ("127.0.0.1", 0))
    server.listen(16)
    server.setblocking(False)
    return server


def _drain(server: socket.socket) -> list:
    """Every connection that reached the listener, with what it sent."""
    arrived = []
    while True:
        try:
            link, _ = server.accept()
        except BlockingIOError:
            break
        link.settimeout(1)
        try:
            arrived.append(link.recv(100))
        except OSError:
            arrived.append(b"")
        link.close()
    server.close()
    return arrived


def _write_attack(course: Path, attack: Attack, places: dict) -> None:
    if attack.answers:
        answers = {name: attacks.fill(source, places) for name, source in attack.answers}
        submissions.write(submissions.build(attack.assignment, "untouched", answers), course, attack.student,
                          attack.assignment)
        return
    path = submit(course, attack.student, attacks.fill(attack.answer, places))
    if attack.damage:
        nb = json.loads(path.read_text())
        text = attack.damage(nb)
        path.write_text(text if isinstance(text, str) else json.dumps(nb, indent=1))


def grade_batch(template: Path, folder: Path, attack_list: list[Attack], *, trusted: bool = True,
                honest: list[str] = HONEST, extra=None, real: bool = False, feedback: bool = False,
                workers: int = WORKERS) -> Batch:
    """Copy the course, write the honest students and the attacks, grade them all in one run.

    ``extra(course, places)`` writes more submissions. For the real course the grader's working
    folder is a fresh folder under ``folder`` (the only place an attack may plant modules)."""
    folder.mkdir(parents=True, exist_ok=True)
    course = copy_course(template, folder / "course")
    spy = folder / "spy"
    spy.mkdir()
    plant = folder / "grader-cwd"
    plant.mkdir()
    server, host_socket = _listener(), _listener(spy / "host.sock")
    places = {"COURSE": course, "SPY": spy, "PORT": server.getsockname()[1], "PLANT_ROOT": plant}
    for student in honest:
        if real:
            for assignment in REAL_ASSIGNMENTS:
                submissions.write(submissions.build(assignment, "solution"), course, student, assignment)
        else:
            submit(course, student)
    for attack in attack_list:
        _write_attack(course, attack, places)
    if extra:
        extra(course, places)
    settings = pipeline.Settings(progress=False, feedback=feedback, report=False, trusted=trusted,
                                    workers=workers, assignments=REAL_ASSIGNMENTS if real else None,
                                    sandbox=SANDBOX)
    started, before = time.perf_counter(), os.getcwd()
    try:
        os.chdir(plant)
        outcome = pipeline.run(course, settings)
    finally:
        os.chdir(before)
        received, reached_host = _drain(server), _drain(host_socket)
    return Batch(course, spy, outcome, time.perf_counter() - started, received, trusted, reached_host)


# ------------------------------------------------------------------ containment


@dataclass
class Containment:
    facts: dict

    @property
    def contained(self) -> bool:
        """Student code runs as another user and cannot see the course folder."""
        return self.facts.get("uid", 0) != 0 and not self.facts.get("sees_course", True)


def open_without_sandbox(request, containment: Containment, why: str) -> None:
    """Expect this test to fail (strictly) while student code is not contained."""
    if why and not containment.contained:
        request.node.add_marker(pytest.mark.xfail(
            strict=True, reason=f"open while student code runs unsandboxed: {why}"))
