"""The grader's settings: one configurable class, `Grader`, set in a course's nbgrader_config.py as
nbgrader's own are (``c.Grader.notebook_seconds = 900``).

Every knob of the grader is a trait here, with its default and help; docs/grading.md's table of
settings is generated from them (``python -m autograde.settings`` rewrites it, and
tests/test_settings.py proves it is in sync). `python -m autograde grade`, `nbgrader
autograde` and the formgrader's button read the same class. Workers never read it: the coordinator
turns it into plain records (`NotebookLimits`, `KernelLimits`) that travel in each task, so a Dask
worker grades with the course's values too. Command-line flags override the file (`configured`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from traitlets import Bool, Float, Integer, TraitType
from traitlets.config import Configurable

GiB, MiB = 1 << 30, 1 << 20


@dataclass(frozen=True)
class NotebookLimits:
    """What one notebook's run may take (plain data: it travels in a task)."""
    seconds: float  # wall clock for the whole notebook
    check_time_factor: float  # a test cell's checks may run this many cell timeouts
    kernel_restarts: int  # cells that may kill or hang their kernel before the notebook is stopped
    output_bytes: int  # kept of the notebook's outputs
    draw_figures: bool = False  # the course's figures as pictures, or as their text alternatives only


@dataclass(frozen=True)
class KernelLimits:
    """What each kernel may use; its fork server applies them (sent with every kernel it is asked for)."""
    memory_bytes: int  # RLIMIT_AS
    file_bytes: int  # RLIMIT_FSIZE, and the size of the kernel's private /tmp
    open_files: int  # RLIMIT_NOFILE
    processes: int  # RLIMIT_NPROC of a sandboxed kernel's user
    output_bytes: int  # characters of prints the kernel sends before it drops the rest
    disk_bytes: int  # the scratch folder's tmpfs, where the grader runs as root


class Grader(Configurable):
    """Settings of the batch grader, of `nbgrader autograde` and of the formgrader's Autograde button."""

    workers = Integer(None, allow_none=True, min=1, help=(
        "Submissions graded at once, each with a kernel fork server and a sandbox user of its own. "
        "None: one per core. `--workers` overrides it.")).tag(config=True)
    trusted = Bool(True, help=(
        "Check the test cells in a trusted process outside the student's kernel. False (or `--in-kernel`) "
        "runs them in the kernel as plain nbgrader does: not tamper-proof.")).tag(config=True)
    sandbox = Bool(True, help=(
        "Run student code in a sandbox where this machine allows one (bubblewrap, or namespaces as root). "
        "False (or `--no-sandbox`): the kernel limits only.")).tag(config=True)
    retries = Integer(2, min=0, help=(
        "Times a submission is graded again after a failure that is not the student's doing (a kernel that "
        "did not start, a checker without a result, a lost Dask worker); then it is reported and nothing "
        "is stored.")).tag(config=True)
    notebook_seconds = Float(600, min=1, help=(
        "Wall-clock limit for one notebook, on top of the per-cell `Execute.timeout`: a notebook over it "
        "is stopped and the cells that did not run score 0.")).tag(config=True)
    check_time_factor = Float(4, min=1, help=(
        "A test cell's trusted checks may run this many cell timeouts (wall clock): every call into the "
        "student's kernel is a round trip whose cost grows with the machine's load. A check over it fails "
        "its own cell only.")).tag(config=True)
    kernel_restarts = Integer(3, min=0, help=(
        "Cells that may kill or hang their kernel: each is skipped (it scores 0) and the notebook runs "
        "again in a fresh kernel; one more stops the notebook.")).tag(config=True)
    output_bytes = Integer(2_000_000, min=0, help=(
        "Bytes of one notebook's outputs kept for grading and feedback; the rest is dropped as it "
        "arrives.")).tag(config=True)
    kernel_output_bytes = Integer(4_000_000, min=0, help=(
        "Characters of prints a kernel sends; past them it drops its prints itself, so a flood of "
        "prints costs the student's cell a loop, not a timeout.")).tag(config=True)
    kernel_memory_bytes = Integer(2 * GiB, min=1, help=(
        "Address space of each kernel (RLIMIT_AS): a memory bomb gets MemoryError. A kernel with NumPy, "
        "SymPy and matplotlib loaded takes about 290 MB.")).tag(config=True)
    kernel_file_bytes = Integer(64 * MiB, min=1, help=(
        "Largest file a kernel may write (RLIMIT_FSIZE); also the size of its private /tmp.")).tag(config=True)
    kernel_open_files = Integer(256, min=1, help=(
        "Files a kernel may hold open (RLIMIT_NOFILE).")).tag(config=True)
    kernel_processes = Integer(64, min=1, help=(
        "Processes and threads of a sandboxed kernel's user (RLIMIT_NPROC).")).tag(config=True)
    disk_bytes = Integer(256 * MiB, min=1, help=(
        "Disk one submission's scratch folder may fill (a tmpfs: only when the grader runs as "
        "root).")).tag(config=True)

    draw_figures = Bool(False, help=(
        "Draw the course's figures while grading. False: each figure is shown by its text alternative "
        "(the 'Figure: …' line with its key numbers) and a note that it was not drawn, and work made for a "
        "picture only (layout, slider frames, the timing runs of a timing plot) is skipped; drawing is most "
        "of a notebook's run time and no score depends on a picture. True: feedback pages and the "
        "formgrader show the pictures.")).tag(config=True)

    def notebook_limits(self) -> NotebookLimits:
        return NotebookLimits(self.notebook_seconds, self.check_time_factor, self.kernel_restarts,
                              self.output_bytes, self.draw_figures)

    def kernel_limits(self) -> KernelLimits:
        return KernelLimits(self.kernel_memory_bytes, self.kernel_file_bytes, self.kernel_open_files,
                            self.kernel_processes, self.kernel_output_bytes, self.disk_bytes)


def configured(config, **overrides) -> Grader:
    """The course's settings (an nbgrader API object's ``config``), with the command line's values
    that are not None on top."""
    return Grader(config=config, **{name: value for name, value in overrides.items() if value is not None})


# ------------------------------------------------------------------ the table in docs/grading.md

DOCS = Path(__file__).resolve().parents[1] / "docs" / "grading.md"
BEGIN = "<!-- settings table: generated from autograde/settings.py by `python -m autograde.settings` -->"
END = "<!-- end of the settings table -->"


def traits() -> dict[str, TraitType]:
    """Grader's settings, in the order the class defines them."""
    return {name: trait for name, trait in vars(Grader).items() if isinstance(trait, TraitType)}


def shown(value) -> str:
    """A default as it would be written in nbgrader_config.py."""
    if isinstance(value, float):
        return f"{value:g}"
    return f"{value:_}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def table() -> str:
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    rows += [f"| `c.Grader.{name}` | `{shown(trait.default_value)}` | {trait.help.replace('|', '&#124;')} |"
             for name, trait in traits().items()]
    return "\n".join(rows)


REGION = re.compile(re.escape(BEGIN) + r"\n(.*?)\n?" + re.escape(END), re.S)


def documented(text: str) -> str:
    """The table a document holds between the markers ("" if it has none)."""
    found = REGION.search(text)
    return found.group(1) if found else ""


def write_table(path: Path = DOCS) -> None:
    """Put the current table between the markers in ``path``."""
    text = path.read_text()
    if not REGION.search(text):
        raise SystemExit(f"{path} has no settings table: put the two marker lines where it belongs\n{BEGIN}\n{END}")
    path.write_text(REGION.sub(lambda _: f"{BEGIN}\n{table()}\n{END}", text))


if __name__ == "__main__":
    write_table()
