"""Fixtures of the red-team suite, paid once per test session: the tiny course, and how the
grader contains student code right now (a probe kernel reports it)."""
from __future__ import annotations

import json
from pathlib import Path

import attacks
import pytest
from grading import Containment, grade_batch
from support.tiny_course import make_course, submit


@pytest.fixture(scope="session")
def tiny_template(tmp_path_factory) -> Path:
    # The tiny course's checks take milliseconds: 2 cell limits (6 s) are ample, and an attack that
    # hangs a check (loops_when_checked) waits that out, not the default 4.
    return make_course(tmp_path_factory.mktemp("red-tiny") / "course", cell_timeout=3, check_time_factor=2)


@pytest.fixture(scope="session")
def containment(tiny_template, tmp_path_factory) -> Containment:
    """How the grader contains student code right now, as a probe kernel reports it."""
    def probe(course, places):
        submit(course, attacks.PROBE, attacks.fill(attacks.PROBE_SOURCE, places))

    batch = grade_batch(tiny_template, tmp_path_factory.mktemp("red-probe"), [], honest=[], extra=probe)
    line = next((ln for ln in batch.printed(attacks.PROBE).splitlines() if ln.startswith("CONTAINMENT ")), "")
    return Containment(json.loads(line.split(" ", 1)[1]) if line else {})
