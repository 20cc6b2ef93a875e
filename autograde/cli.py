"""Command line for instructors: `python -m autograde release | demo | grade`."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import release, report, sample_class
from .grade import autograde
from .release import REPO

SAMPLE_COURSE = REPO / "build" / "sample-class"


def _release(args) -> int:
    ids = release.generate(REPO, args.assignments or None)
    print(f"generated course/ from solutions/ with nbgrader: {', '.join(ids)}")
    return 0


def _grade(args) -> int:
    root = Path(args.course).resolve()
    started = time.perf_counter()
    results = autograde(root, args.assignments or None)
    print(report.score_table(results))
    csv = report.write_csv(results, root / "build" / "scores.csv" if root == REPO else root / "scores.csv")
    print(f"\n{len(results)} submissions graded in {time.perf_counter() - started:.1f} s; scores: {csv}")
    return 0


def _demo(args) -> int:
    started = time.perf_counter()
    ids = release.generate(REPO)
    print(f"1. generated course/ from solutions/ with nbgrader: {', '.join(ids)}")
    course = sample_class.prepare_course(SAMPLE_COURSE)
    count = sample_class.place_submissions(course)
    print(f"2. placed {count} sample submissions in {course / 'submitted'}")
    print("3. autograding with nbgrader (one fresh kernel per notebook) …", flush=True)
    results = autograde(course)
    print()
    print(report.score_table(results))
    csv = report.write_csv(results, course / "scores.csv")
    print(f"\n{len(results)} submissions graded in {time.perf_counter() - started:.1f} s; scores: {csv}")
    print(f"the sample class is a complete nbgrader course: cd {course} && jupyter lab  (Nbgrader → Formgrader)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate course/ from solutions/ (nbgrader generate_assignment)")
    p.add_argument("assignments", nargs="*")
    p.set_defaults(run=_release)
    p = sub.add_parser("demo", help="release, then grade the bundled sample class and print the scores")
    p.set_defaults(run=_demo)
    p = sub.add_parser("grade", help="autograde every submission under COURSE/submitted and print the scores")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--course", default=str(REPO), help="nbgrader course folder (default: this repository)")
    p.set_defaults(run=_grade)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
