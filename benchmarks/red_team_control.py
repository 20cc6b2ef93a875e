"""The red team's control: every attack graded the trusted way and the plain-nbgrader way.

Each attack of tests/trusted/attacks.py (the tiny course's kernel tricks, and the attacks on
the real notebooks 01 and 02) is graded twice in one run of this script: test cells checked by
the trusted checker (the default), and test cells run in the student's kernel as plain nbgrader
does (``trusted=False``), both in the sandbox. Printed: one row per attack with its honest
content, the trusted score and the in-kernel score, and how many attacks fool in-kernel grading.
The test suite asserts the trusted column (tests/trusted/test_red_team.py); this is the evidence
that the trusted path is what stops the others.

Usage: python benchmarks/red_team_control.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "trusted")]

import attacks  # noqa: E402
from grading import REAL_ASSIGNMENTS, grade_batch  # noqa: E402
from support.tiny_course import make_course  # noqa: E402

from autograde.course import release  # noqa: E402
from autograde.samples import sample_class  # noqa: E402
from autograde.course.nbgrader_app import ensure_tools_on_path  # noqa: E402


def main() -> None:
    ensure_tools_on_path()
    work = Path(tempfile.mkdtemp(prefix="red-team-control-"))
    tiny = make_course(work / "tiny" / "course", cell_timeout=3)
    real = sample_class.prepare_course(work / "real" / "course")
    release.generate(real, REAL_ASSIGNMENTS)
    rows = []
    for template, catalogue, real_course in ((tiny, attacks.TINY_KERNEL_TRICKS, False),
                                             (real, attacks.REAL_COURSE, True)):
        batches = [grade_batch(template, work / f"{template.parent.name}-{mode}", catalogue, real=real_course,
                               trusted=mode == "trusted") for mode in ("trusted", "in-kernel")]
        for attack in catalogue:
            trusted, in_kernel = (b.score(attack.student, attack.assignment) for b in batches)
            rows.append((attack.student, attack.honest, trusted, in_kernel))
    width = max(len(r[0]) for r in rows)
    print(f"{'attack':<{width}}  honest  trusted  in-kernel")
    for name, honest, trusted, in_kernel in rows:
        mark = "  <- fools in-kernel grading" if in_kernel > honest else ""
        mark += "  <- FOOLS TRUSTED GRADING" if trusted > honest else ""
        print(f"{name:<{width}}  {honest:>6g}  {trusted:>7g}  {in_kernel:>9g}{mark}")
    fooled = [r[0] for r in rows if r[3] > r[1]]
    print(f"{len(fooled)} of {len(rows)} attacks fool in-kernel grading: {', '.join(fooled)}")
    print(f"{sum(r[2] > r[1] for r in rows)} of {len(rows)} fool trusted grading")


if __name__ == "__main__":
    main()
