"""An honest answer never fails 05's complexity check: the model solution graded N times (default 20)
in each mode (trusted checker, and tests in the kernel as plain nbgrader), on whatever load the
machine has, and the wrong quadratic answers of the bank graded beside them.

Prints one line per mode: how many of the N model solutions scored full marks, and which
[tags] the quadratic answers got. `python benchmarks/timing_check_stability.py [N]`.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from autograde import pipeline
from autograde.samples import answer_bank, sample_class, submissions

ASSIGNMENT = "05_single_path_backprop"


def grade(trusted: bool, copies: int) -> None:
    course = sample_class.prepare_course(Path(tempfile.mkdtemp(prefix="timing-check-")) / "course")
    for k in range(copies):
        submissions.write(submissions.build(ASSIGNMENT, "solution"), course, f"model_{k:02d}", ASSIGNMENT)
    quadratic = [a for a in answer_bank.load(ASSIGNMENT) if a.tag == "quadratic-time"]
    for answer in quadratic:
        nb = submissions.build(ASSIGNMENT, "solution", {answer.name: answer.code})
        submissions.write(nb, course, f"quadratic_{answer.label}".replace("-", "_"), ASSIGNMENT)
    started = time.perf_counter()
    settings = pipeline.Settings(progress=False, release=True, feedback=False, report=False, trusted=trusted)
    results = pipeline.run(course, settings).results
    models = [r for r in results if r.student.startswith("model_")]
    full = sum(r.auto_score == r.auto_max for r in models)
    caught = {r.student: sorted({c.message.split("[", 1)[-1].split("]")[0] for c in r.failed() if "[" in c.message})
              for r in results if r.student.startswith("quadratic_")}
    mode = "trusted" if trusted else "in-kernel"
    print(f"{mode:9s}: {full}/{len(models)} model solutions at full marks; quadratic answers: {caught}; "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    for r in models:
        if r.auto_score != r.auto_max:
            print("   ", r.student, [(c.grade_id, c.message[:200]) for c in r.failed()])


if __name__ == "__main__":
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for trusted in (True, False):
        grade(trusted, copies)
