"""Time each solutions notebook top to bottom in a fresh kernel (target: ≤ 5 s each).

Prints, per notebook: kernel start-up, execution of the cells, and the total; each measured
three times, median reported. Usage: python benchmarks/notebook_times.py [ASSIGNMENT ...]
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograde.course.release import REPO, assignments  # noqa: E402

RUNS = 3
TARGET_SECONDS = 5.0


def time_once(path: Path) -> tuple[float, float]:
    """(kernel start-up seconds, cell execution seconds) for one fresh-kernel run."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    with client.setup_kernel():
        ready = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        done = time.perf_counter()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        raise SystemExit(f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}")
    return ready - started, done - ready


def main(ids: list[str]) -> int:
    print(f"{'notebook':28} {'start-up':>9} {'cells':>7} {'total':>7}   (median of {RUNS} runs, seconds)")
    slow = []
    for aid in ids or assignments():
        runs = [time_once(REPO / "solutions" / aid / f"{aid}.ipynb") for _ in range(RUNS)]
        startup = statistics.median(r[0] for r in runs)
        cells = statistics.median(r[1] for r in runs)
        total = statistics.median(r[0] + r[1] for r in runs)
        print(f"{aid:28} {startup:9.2f} {cells:7.2f} {total:7.2f}")
        if total > TARGET_SECONDS:
            slow.append(aid)
    print(f"target ≤ {TARGET_SECONDS:g} s per notebook: " + ("met" if not slow else f"missed by {', '.join(slow)}"))
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
