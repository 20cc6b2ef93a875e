"""Grading the sample class: the batch grader against plain sequential `nbgrader autograde`.

Both graders get the same submissions (the sample class without its deliberately broken files,
which plain nbgrader cannot grade) in two copies of one course, on the same machine, one after
the other in this run. Printed: wall and CPU seconds of each, the speed-up (target ≥ 6×),
whether every cell's score is identical, the time budget of one notebook (from the grading
journal's phases, `autograde.engine.notebook_run.Phases`; target: overhead ≤ 0.3 s, the overhead
being everything but the student's cells and the test checks), and how the batch grader's total
and the coordinator's peak memory grow with the number of students; last, the extra time of a
local Dask cluster of two single-threaded workers against two local slots.

CPU seconds count the processes the graders waited for: sandboxed kernels are not among them.

Usage: python benchmarks/class_grading.py [--scaling 10,100,300] [--scaling-assignments A,B] [--baseline PYTHON]
                                          [--dask-assignments A,B]
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograde.course import release  # noqa: E402
from autograde.samples import sample_class
from autograde.course.nbgrader_app import ensure_tools_on_path  # noqa: E402

ensure_tools_on_path()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and everything it started)."""
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started, children_cpu() - cpu


def healthy_class(folder: Path, students: int | None = None, assignments: list[str] | None = None) -> Path:
    """A generated course holding the sample class's readable submissions of ``assignments`` (all by
    default); ``students`` > 22 repeats the class under new ids (c2_ada, …), fewer takes the first
    ones. Every assignment is released, as in a real course: a run never releases one itself."""
    course = sample_class.prepare_course(folder)
    release.generate(course)
    sample_class.place_submissions(course)
    submitted = course / "submitted"
    for (student, assignment), plan in sample_class.expected().items():
        here = submitted / student / assignment
        if plan["damage"] in ("empty-file", "invalid-json", "no-notebook") or \
                (assignments and assignment not in assignments):
            shutil.rmtree(here, ignore_errors=True)
        elif plan["damage"] == "renamed":
            (here / "Untitled.ipynb").rename(here / f"{assignment}.ipynb")
    originals = sorted(p for p in submitted.iterdir() if any(p.iterdir()))
    for p in submitted.iterdir():
        if not any(p.iterdir()):
            p.rmdir()
    if students is not None:
        copy = 1
        while len(list(submitted.iterdir())) < students:
            copy += 1
            for p in originals:
                if len(list(submitted.iterdir())) < students:
                    shutil.copytree(p, submitted / f"c{copy}_{p.name}")
        for p in sorted(submitted.iterdir())[students:]:
            shutil.rmtree(p)
    return course


def with_config_of(python: str, course: Path) -> None:
    """The course's nbgrader_config.py as the checkout that ``python`` runs has it (its own
    preprocessors), with the lines this course added to this checkout's."""
    from autograde import bundled

    theirs = subprocess.run([python, "-c", "from autograde import bundled; print(bundled.NBGRADER_CONFIG)"],
                            check=True, capture_output=True, text=True, cwd="/").stdout.strip()
    ours, base = (course / "nbgrader_config.py").read_text(), bundled.NBGRADER_CONFIG.read_text()
    assert ours.startswith(base), "the course's config does not start with this checkout's"
    (course / "nbgrader_config.py").write_text(Path(theirs).read_text() + ours[len(base):])


def scores(course: Path) -> dict:
    from nbgrader.api import Gradebook

    """(student, assignment, notebook, cell) → score, for every graded cell in the gradebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return _scores(gb)


def _scores(gb) -> dict:
    found = {}
    for assignment in gb.assignments:
        for submission in gb.assignment_submissions(assignment.name):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    found[(submission.student.id, assignment.name, notebook.name, grade.name)] = grade.score
    return found


def stock_nbgrader(course: Path) -> Path:
    """The course as plain nbgrader grades it: nbgrader's own autograde preprocessors (its Execute,
    tests in the student's kernel), not the course's trusted engine."""
    stock = ["nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
             "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
             "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
             "nbgrader.preprocessors.CheckCellMetadata"]
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Autograde.autograde_preprocessors = {stock!r}\n")
    return course


def submissions(course: Path) -> int:
    return sum(1 for p in (course / "submitted").glob("*/*") if p.is_dir())


#: Runs the batch grader's CLI and prints its own peak memory last (the coordinator's alone: the
#: kernels and fork servers are other processes).
PEAK = ("import resource, runpy, sys; sys.argv[0] = 'autograde'\n"
        "try:\n    runpy.run_module('autograde', run_name='__main__')\n"
        "finally:\n    print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")


def batch_command(course: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "autograde", "grade", "--course", str(course), "--no-feedback", "--no-progress",
            *options]


def timed_batch(course: Path, *options: str) -> tuple[float, float, float, float]:
    """(wall seconds, CPU seconds, the coordinator's peak memory in MB, seconds of grading) of one
    batch run; grading (fork servers, notebooks, scores) is what the CLI reports as "graded in",
    the rest is the run's start-up (imports, intake) and its reports."""
    command = [sys.executable, "-c", PEAK, *batch_command(course, *options)[3:]]
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(command, cwd=course, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KB"))
    grading = float(re.search(r"submissions graded in ([0-9.]+) s", done.stdout).group(1))
    return wall, children_cpu() - cpu, peak / 1024, grading


#: The budget's rows: (label, phase or how it is computed). Student cells and test checks are the
#: work itself; every other row is the overhead.
WORK = ("student cells", "test checks")


def budget(course: Path) -> dict[str, float]:
    """Mean seconds per notebook of each phase of grading, from the journal of a graded course."""
    import json

    entries = [json.loads(p.read_text()) for p in (course / "autograded").glob("*/*/.graded.json")]
    entries = [e for e in entries if e.get("phases")]
    mean = lambda f: statistics.fmean(f(e) for e in entries)  # noqa: E731
    phase = lambda e, name: e["phases"].get(name, 0.0)  # noqa: E731
    worker = ("kernel start", "cells", "checks", "kernel stop")
    return {
        "student cells": mean(lambda e: e["code_seconds"]),
        "test checks": mean(lambda e: phase(e, "checks")),
        "kernel start": mean(lambda e: phase(e, "kernel start")),
        "RPC and messages": mean(lambda e: max(0.0, phase(e, "cells") - e["code_seconds"])),
        "kernel stop": mean(lambda e: phase(e, "kernel stop")),
        "task set-up": mean(lambda e: max(0.0, e["seconds"] - sum(phase(e, n) for n in worker))),
        "nbgrader sanitize": mean(lambda e: phase(e, "sanitize")),
        "nbgrader scoring and gradebook": mean(lambda e: phase(e, "finish")),
    }


def feedback_seconds(course: Path) -> float:
    """Wall seconds per notebook of the feedback pages, written again for the graded class as the
    grader writes them (one process per core)."""
    from autograde import pipeline
    from autograde.course.nbgrader_app import api

    grader = api(course)
    results = pipeline.read_course(course, grader.coursedir.db_url).submissions
    started = time.perf_counter()
    pages = pipeline.write_feedback(grader, course, results, os.cpu_count() or 1)
    return (time.perf_counter() - started) / max(1, len(pages))


def per_notebook(course: Path) -> tuple[float, float]:
    """Median seconds per notebook, and median seconds of its own cells, from the grading journal."""
    import json

    entries = [json.loads(p.read_text()) for p in (course / "autograded").glob("*/*/.graded.json")]
    return (statistics.median(e["seconds"] for e in entries),
            statistics.median(e["code_seconds"] for e in entries))


def dask_overhead(work: Path, assignments: list[str]) -> None:
    """The same class graded with two local slots and on a Dask cluster of two single-threaded
    workers on loopback (`distributed.LocalCluster`): the extra time and whether the scores agree."""
    from distributed import LocalCluster

    template = healthy_class(work / "dask-template", None, assignments)
    local, remote = work / "dask-local", work / "dask-cluster"
    for folder in (local, remote):
        shutil.copytree(template, folder)
    n = submissions(local)
    local_wall, _ = timed(batch_command(local, "--workers", "2"), local)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask_wall, _ = timed(batch_command(remote, "--dask", cluster.scheduler_address), remote)
    same = scores(local) == scores(remote)
    print(f"\nDask ({', '.join(assignments)}: {n} notebooks): two local slots {local_wall:.1f} s, "
          f"a local cluster of 2 single-threaded workers {dask_wall:.1f} s "
          f"({100 * (dask_wall / local_wall - 1):+.0f}%, target <= 15%); scores identical: {same}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scaling", default="10,100,300", help="class sizes for the growth figures")
    parser.add_argument("--scaling-assignments", default="01_gradient_descent,04_single_neuron,05_single_path_backprop")
    parser.add_argument("--baseline", metavar="PYTHON", help="also time `PYTHON -m autograde grade` (another "
                        "checkout's environment, e.g. main before a change, with that checkout's "
                        "nbgrader_config.py) on the same class, in this run")
    parser.add_argument("--dask-assignments", default=",".join(release.assignments()),
                        help="the class graded locally and on a local Dask cluster (default: every assignment, "
                             "136 notebooks, so that the workers' start-up is not most of the difference; '' skips it)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-class-"))
    print(f"machine: {os.cpu_count()} cores; work folder {work}")
    try:
        template = healthy_class(work / "template")
        base, ours, fast, before = work / "plain", work / "batch", work / "in-kernel", work / "baseline"
        for folder in (base, ours, fast, before):
            shutil.copytree(template, folder)
        stock_nbgrader(base)
        count = submissions(base)
        print(f"sample class: {count} readable submissions of {len(list((base / 'submitted').iterdir()))} students\n")

        ids = release.assignments(base)
        cpu, started = children_cpu(), time.perf_counter()
        for assignment in ids:  # what an instructor runs with plain nbgrader: one command per assignment
            subprocess.run(["nbgrader", "autograde", assignment, "--force"], cwd=base, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        plain_wall, plain_cpu = time.perf_counter() - started, children_cpu() - cpu
        batch_wall, batch_cpu, _, _ = timed_batch(ours)
        fast_wall, fast_cpu = timed(batch_command(fast, "--in-kernel", "--no-sandbox"), fast)
        if args.baseline:
            with_config_of(args.baseline, before)
            command = [args.baseline, *batch_command(before)[1:]]
            before_wall, before_cpu = timed(command, before)

        theirs, mine, fast_scores = scores(base), scores(ours), scores(fast)
        print(f"in-kernel batch scores identical to nbgrader's: "
              f"{sum(1 for k in theirs if fast_scores.get(k) == theirs[k])} of {len(theirs)} cells")
        same = sum(1 for k in theirs if mine.get(k) == theirs[k])
        print(f"{'grader':<34}{'wall s':>9}{'CPU s':>9}{'s/notebook':>12}")
        print(f"{'nbgrader autograde, sequential':<34}{plain_wall:>9.1f}{plain_cpu:>9.1f}{plain_wall / count:>12.2f}")
        print(f"{'batch, tests in kernel, no sandbox':<34}{fast_wall:>9.1f}{fast_cpu:>9.1f}{fast_wall / count:>12.2f}")
        print(f"{'batch, trusted + sandbox (default)':<34}{batch_wall:>9.1f}{batch_cpu:>9.1f}{batch_wall / count:>12.2f}")
        if args.baseline:
            print(f"{'baseline checkout, default':<34}{before_wall:>9.1f}{before_cpu:>9.1f}{before_wall / count:>12.2f}")
            print(f"this checkout against the baseline: {100 * (batch_wall / before_wall - 1):+.0f}% wall time")
        print(f"\nspeed-up over nbgrader: {plain_wall / fast_wall:.2f}x in-kernel, {plain_wall / batch_wall:.2f}x trusted "
              f"(target >= 6x)")
        print(f"trusted grading and sandbox add {100 * (batch_wall / fast_wall - 1):.0f}% wall time (target <= 30%)")
        print(f"trusted scores identical to nbgrader's: {same} of {len(theirs)} graded cells "
              f"({'all' if same == len(theirs) == len(mine) else 'NOT all'}; batch grader recorded {len(mine)})")
        wall, code = per_notebook(ours)
        print(f"per notebook (median, batch grader): {wall:.2f} s in all, of which its own cells ran {code:.2f} s\n")

        rows = budget(ours)
        rows["feedback page"] = feedback_seconds(ours)
        print("time budget of one notebook (batch grader, mean over the class; wall seconds of its slot)")
        for label, seconds in rows.items():
            print(f"  {label:<34}{seconds:>7.3f}{'' if label in WORK else '   overhead'}")
        overhead = sum(v for k, v in rows.items() if k not in WORK)
        print(f"  {'overhead in all':<34}{overhead:>7.3f}   (target <= 0.3 s)\n")

        print("growth with class size (batch grader, assignments: " + args.scaling_assignments + ")")
        print(f"{'students':>9}{'notebooks':>11}{'wall s':>9}{'s/notebook':>12}{'coordinator MB':>16}"
              f"{'grading s':>11}{'per run s':>11}")
        per, grading_per = [], []
        for size in [int(s) for s in args.scaling.split(",") if s]:
            course = healthy_class(work / f"n{size}", size, args.scaling_assignments.split(","))
            n = submissions(course)
            wall, _, peak, grading = timed_batch(course)
            per.append(wall / n)
            grading_per.append(grading / n)
            print(f"{size:>9}{n:>11}{wall:>9.1f}{wall / n:>12.2f}{peak:>16.0f}{grading:>11.1f}{wall - grading:>11.1f}",
                  flush=True)
            shutil.rmtree(course)
        if per:
            print(f"seconds per notebook vary by {100 * (max(per) / min(per) - 1):.0f}% across sizes (target <= 15%); "
                  f"the grading alone (fork servers included), by {100 * (max(grading_per) / min(grading_per) - 1):.0f}%")
        if args.dask_assignments:
            dask_overhead(work, args.dask_assignments.split(","))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
