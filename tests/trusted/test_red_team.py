"""Red team: submissions that try to score what their code does not earn, graded by the batch grader.

Every attack in `attacks.py` is one student. Students are graded in a few shared batches (one
`pipeline.run` each), always beside honest students with the right answer, and each attack
must score no more than its honest content (what the same submission scores without the trick)
while every other student keeps full marks. The tiny course is also graded in the kernel
(``trusted=False``, as plain nbgrader does) as a control: the tricks that fool it must keep
fooling it (they are real attacks). benchmarks/red_team_control.py prints the whole table, the
real notebooks 01 and 02 included.

Attacks that reach outside the student's kernel (files of the course, the gradebook, the
checker's files in the shared temporary folder, the network, the grader's processes) win while
the grader runs student code unsandboxed. Their tests are marked ``xfail(strict=True)`` for
exactly as long as a probe kernel shows no containment (it runs as root, or sees the course
folder): once the sandbox contains kernels they must pass, and a strict xfail that passes fails
the run, so the marks cannot outlive the hole.

The control (both runs in the bubblewrap sandbox, 2 cores): 13 attacks score more than their
honest content when the test cells run in the student's kernel, none when they run in the
trusted checker: lying_eq_object, lying_int_subclass, frame_reads_test_source,
run_cell_replaced, input_transformer_blanks_tests, ast_transformer_strips_asserts (3 of 3 each),
numpy_all_patched, df_reads_expected (3 of 9), check_library_noops, fake_checks_in_sys_modules
(5 of 9), symbolic_equivalent_patched, implemented_function, lying_sympy_subclass (3 of 27).
Unsandboxed, reads_solution_file and reads_gradebook fool both paths, and peeks_checker_task,
forges_checker_verdicts and shadows_lazy_import fool the trusted path.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import attacks
import pytest
from attacks import Attack
from grading import (
    HONEST,
    REAL_ASSIGNMENTS,
    SANDBOX,
    Batch,
    grade_batch,
    open_without_sandbox,
)
from support import released_course
from support.tiny_course import ASSIGNMENT, copy_course, submit

from autograde.engine import sandbox
from autograde.outputs import results
from autograde.samples import submissions


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _kill_recorded(pid_file: Path) -> None:
    """SIGKILL a process an attack started and recorded (by its pid, if it recorded one)."""
    try:
        _kill(int(pid_file.read_text()))
    except (OSError, ValueError):
        pass


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` in the process tree (sessions of their own included)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                children.setdefault(int(stat.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.1)
    return path.exists()


# ------------------------------------------------------------------ the tiny course: kernel tricks


def _tiny_extras(course: Path, places: dict) -> None:
    submit(course, attacks.PROBE, attacks.fill(attacks.PROBE_SOURCE, places))
    submit(course, attacks.HONEST_WRONG, attacks.TINY_WRONG)


@pytest.fixture(scope="module")
def tiny_trusted(tiny_template, tmp_path_factory) -> Batch:
    return grade_batch(tiny_template, tmp_path_factory.mktemp("red-tiny-trusted"), attacks.TINY_KERNEL_TRICKS,
                       extra=_tiny_extras)


#: Tricks of the tiny course that fool plain nbgrader (tests run in the student's kernel): the
#: control shows they are real attacks, so that their trusted scores above mean something.
#: The whole table, with the real course's, is printed by benchmarks/red_team_control.py.
FOOL_IN_KERNEL = ["lying_eq_object", "lying_int_subclass", "frame_reads_test_source", "run_cell_replaced",
                  "input_transformer_blanks_tests", "ast_transformer_strips_asserts"]


@pytest.fixture(scope="module")
def tiny_in_kernel(tiny_template, tmp_path_factory) -> Batch:
    """The tricks that fool in-kernel grading, graded that way before the honest students."""
    fooling = [a for a in attacks.TINY_KERNEL_TRICKS if a.student in FOOL_IN_KERNEL]
    return grade_batch(tiny_template, tmp_path_factory.mktemp("red-tiny-kernel"), fooling,
                       extra=_tiny_extras, trusted=False)


@pytest.mark.parametrize("attack", attacks.TINY_KERNEL_TRICKS, ids=lambda a: a.student)
def test_a_kernel_trick_earns_nothing_beyond_its_honest_content(attack, tiny_trusted, containment, request):
    open_without_sandbox(request, containment, attack.unsandboxed)
    result = tiny_trusted.result(attack.student)
    assert result.auto_max == attacks.TINY_POINTS, f"{attack.trick}: the course's points changed"
    assert result.auto_score <= attack.honest, (
        f"{attack.trick}: scored {result.auto_score}, honest content scores {attack.honest}")


def test_honest_students_beside_the_tricks_keep_full_marks(tiny_trusted):
    for student in [*HONEST, attacks.PROBE]:
        result = tiny_trusted.result(student)
        assert (result.auto_score, result.error) == (attacks.TINY_POINTS, ""), student
        assert tiny_trusted.problems(student) == [], student
    assert tiny_trusted.score(attacks.HONEST_WRONG) == 0  # the honest content of most tricks


def test_saved_outputs_claiming_passes_score_zero_and_are_reported_as_tampering(tiny_trusted):
    assert tiny_trusted.score("fake_saved_outputs") == 0
    reports = [m for m in tiny_trusted.problems("fake_saved_outputs") if m.startswith("possible tampering")]
    assert len(reports) == 2 and any("test_three" in m for m in reports) and any("test_negative" in m for m in reports)
    others = [p for p in tiny_trusted.outcome.problems
              if p.message.startswith("possible tampering") and p.student != "fake_saved_outputs"]
    assert others == []  # no submission without saved outputs is accused


def test_no_connection_reaches_the_network(tiny_trusted, containment, request):
    open_without_sandbox(request, containment, "the kernel shares the machine's network")
    assert tiny_trusted.received == []


def test_the_checker_connects_to_no_socket_outside_the_sandbox(tiny_trusted):
    """The trusted checker runs unsandboxed: it must not follow a student's symlink to a host socket."""
    assert tiny_trusted.host_socket == [], "the checker connected to spy/host.sock through the student's symlink"


def test_a_student_cannot_fill_the_graders_disk(tiny_trusted):
    """Where the grader can mount a tmpfs per slot (root), a student's folder holds 256 MiB at most;
    elsewhere the grader must say that disk use is not limited."""
    written = [int(ln.split()[1]) for ln in tiny_trusted.printed("disk_filler").splitlines()
               if ln.startswith("WROTE ")]
    if not (SANDBOX and sandbox.disk_limited()):
        assert "disk use is not limited" in tiny_trusted.outcome.isolation or not SANDBOX
        pytest.skip("this machine does not let the grader limit disk use (it needs root)")
    assert "disk use to 256 MiB per student" in tiny_trusted.outcome.isolation
    assert written and written[0] <= 256 << 20, f"one student wrote {written} bytes to the grader's disk"
    assert tiny_trusted.score("disk_filler") == 0


def test_a_50_gib_allocation_meets_a_memory_limit(tiny_trusted):
    assert "NO-MEMORY-LIMIT" not in tiny_trusted.printed("memory_bomb")
    assert tiny_trusted.score("memory_bomb") == attacks.TINY_POINTS  # square was defined before the bomb


def test_forged_wire_data_runs_no_code_in_the_checker(tiny_trusted):
    assert not (tiny_trusted.spy / "wire-pwned").exists()
    for student in ("forged_wire_code", "forged_wire_types", "forged_wire_protocol"):
        assert tiny_trusted.score(student) == 0


@pytest.mark.parametrize("student", ["kernel_exits", "kernel_segfaults", "loop_ignoring_sigint",
                                     "exits_when_checked", "loops_when_checked"])
def test_a_kernel_that_dies_or_hangs_is_reported_in_plain_words(student, tiny_trusted):
    assert tiny_trusted.score(student) == 0
    assert tiny_trusted.problems(student), f"{student}: nothing told the instructor what happened"


@pytest.mark.parametrize("student", ["points_inflated", "bogus_kernelspec", "nbformat_3"])
def test_damaged_metadata_keeps_a_right_answer_at_full_marks(student, tiny_trusted):
    """A right answer in a damaged file scores what it earns: no more, and no less."""
    result = tiny_trusted.result(student)
    assert (result.auto_score, result.auto_max) == (attacks.TINY_POINTS, attacks.TINY_POINTS)


@pytest.mark.parametrize("student", ["test_flags_flipped", "cells_duplicated", "test_grade_ids_renamed",
                                     "bonus_cell_added"])
def test_damaged_nbgrader_metadata_is_repaired_and_earns_exactly_the_honest_content(student, tiny_trusted):
    """Plain nbgrader refuses these files (0 for everything); intake restores the cells' metadata
    from the release, so the answers earn what they earn (never the points the damage claims),
    and the instructor is told what was repaired."""
    attack = next(a for a in attacks.TINY_KERNEL_TRICKS if a.student == student)
    assert tiny_trusted.score(student) == attack.honest
    assert any(m.startswith(("nbgrader metadata restored", "nbgrader metadata ignored"))
               for m in tiny_trusted.problems(student)), tiny_trusted.problems(student)


def test_in_kernel_control_grades_honest_students_alike(tiny_in_kernel):
    for student in [*HONEST, attacks.PROBE]:
        assert tiny_in_kernel.score(student) == attacks.TINY_POINTS, student
    assert tiny_in_kernel.score(attacks.HONEST_WRONG) == 0


# ------------------------------------------------------------------ the real course: 01 and 02


REAL_CELL_SECONDS = 8


@pytest.fixture(scope="module")
def real_template(tmp_path_factory, released) -> Path:
    course = released(tmp_path_factory.mktemp("red-real"))
    (course / "deadlines.toml").unlink()  # no due dates: the honest students' summaries stay empty
    # Four huge expressions hang their own kernel's next cells: each waits out the cell limit, which
    # proves nothing at 30 s that it does not at 8 (the longest honest cell takes about 1 s).
    released_course.limit_cells(course, REAL_CELL_SECONDS)
    return course


def _real_extras(course: Path, places: dict) -> None:
    for assignment, (student, answers) in attacks.REAL_REFERENCES.items():
        submissions.write(submissions.build(assignment, "untouched", dict(answers)), course, student, assignment)
    probe_df = submissions.solution_sources("01_gradient_descent")["df"] + "\n\n" + attacks.PROBE_FACTS
    nb = submissions.build("01_gradient_descent", "solution", {"df": attacks.fill(probe_df, places)})
    submissions.write(nb, course, attacks.PROBE, "01_gradient_descent")
    student, assignment, answers = attacks.ODD_BUT_HONEST
    submissions.write(submissions.build(assignment, "solution", dict(answers)), course, student, assignment)


@pytest.fixture(scope="module")
def real_trusted(real_template, tmp_path_factory) -> Batch:
    return grade_batch(real_template, tmp_path_factory.mktemp("red-real-trusted"), attacks.REAL_COURSE,
                       honest=["solution"], extra=_real_extras, real=True)


@pytest.mark.parametrize("attack", attacks.REAL_COURSE, ids=lambda a: a.student)
def test_a_real_course_attack_earns_nothing_beyond_its_honest_content(attack, real_trusted, containment,
                                                                       request):
    open_without_sandbox(request, containment, attack.unsandboxed)
    score = real_trusted.score(attack.student, attack.assignment)
    assert score <= attack.honest, f"{attack.trick}: scored {score}, honest content scores {attack.honest}"


@pytest.mark.parametrize("assignment", REAL_ASSIGNMENTS)
def test_honest_alternatives_the_course_solutions_score_full_marks(assignment, real_trusted):
    result = real_trusted.result("solution", assignment)
    assert result.auto_max > 0 and result.auto_score == result.auto_max, [
        (c.grade_id, c.message[:200]) for c in result.failed()]
    assert real_trusted.problems("solution") == []
    if assignment == "01_gradient_descent":
        assert real_trusted.score(attacks.PROBE, assignment) == result.auto_max


@pytest.mark.parametrize("assignment", REAL_ASSIGNMENTS)
def test_the_honest_content_of_the_real_course_attacks_scores_zero(assignment, real_trusted):
    student, _ = attacks.REAL_REFERENCES[assignment]
    assert real_trusted.score(student, assignment) == 0


@pytest.mark.parametrize("attack", [a for a in attacks.REAL_COURSE if a.student.startswith("huge_")],
                         ids=lambda a: a.student)
def test_a_huge_expression_is_refused_with_its_tag_and_no_timeout(attack, real_trusted):
    result = real_trusted.result(attack.student, attack.assignment)
    name = attack.answers[0][0]
    mine = result.failed(f"test_{name}")
    assert mine and all("[expression-too-large]" in c.message for c in mine), [(c.grade_id, c.message) for c in mine]
    assert not any("longer than" in c.message for c in result.cells), "a refused answer cost a cell timeout"


def test_a_symbol_named_like_code_never_runs_in_the_checker(real_trusted):
    assert not (real_trusted.spy / "lambdify-pwned").exists()


def test_an_answer_the_codec_refuses_costs_only_its_own_tests(real_trusted):
    """A student whose grad_f_xy holds sympy Poly objects (a right value in a form the codec does not
    carry) loses grad_f_xy's tests, not the whole notebook."""
    student, assignment, answers = attacks.ODD_BUT_HONEST
    result = real_trusted.result(student, assignment)
    name = answers[0][0]
    assert [c.grade_id for c in result.failed() if not c.grade_id.startswith(f"test_{name}")] == [], \
        [(c.grade_id, c.message[:160]) for c in result.failed()]


# ------------------------------------------------------------------ reaching outside the scratch folder


def _outside_extras(course: Path, places: dict) -> None:
    for victim in attacks.OUTSIDE_VICTIMS.values():
        submit(course, victim)


@pytest.fixture(scope="module")
def outside(tiny_template, tmp_path_factory) -> Batch:
    return grade_batch(tiny_template, tmp_path_factory.mktemp("red-outside"), attacks.OUTSIDE, extra=_outside_extras)


def test_reaching_outside_earns_nothing_and_honest_students_keep_full_marks(outside):
    for attack in attacks.OUTSIDE:
        assert outside.score(attack.student) <= attack.honest, attack.trick
    for student in HONEST:
        assert outside.score(student) == attacks.TINY_POINTS, student


def test_another_students_submission_is_untouched(outside, tiny_template, containment, request):
    open_without_sandbox(request, containment, attacks.OUTSIDE[0].unsandboxed)
    victim = attacks.OUTSIDE_VICTIMS["submission"]
    path = outside.course / "submitted" / victim / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert "x * x" in path.read_text(), "the victim's submitted notebook was rewritten"
    assert outside.score(victim) == attacks.TINY_POINTS


def test_another_students_grades_are_untouched(outside, containment, request):
    open_without_sandbox(request, containment, attacks.OUTSIDE[1].unsandboxed)
    victim = attacks.OUTSIDE_VICTIMS["grades"]
    assert results.read(outside.course, ASSIGNMENT, victim).auto_score == attacks.TINY_POINTS


def test_the_course_source_notebook_is_untouched(outside, tiny_template, containment, request):
    open_without_sandbox(request, containment, attacks.OUTSIDE[2].unsandboxed)
    source = Path("solutions") / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert (outside.course / source).read_bytes() == (tiny_template / source).read_bytes()


def test_no_file_is_planted_in_the_course(outside, containment, request):
    open_without_sandbox(request, containment, attacks.OUTSIDE[3].unsandboxed)
    planted = sorted(str(p.relative_to(outside.course)) for p in outside.course.rglob("planted.txt"))
    assert planted == []


# ------------------------------------------------------------------ processes that outlive their kernel


def _victims(names=("h1", "h2", "h3")):
    def write(course, places):
        for name in names:
            submit(course, name)
    return write


def test_a_detached_process_cannot_raise_grades_after_grading(tiny_template, tmp_path, containment, request):
    open_without_sandbox(request, containment, attacks.DAEMON_REGRADES.unsandboxed)
    batch = grade_batch(tiny_template, tmp_path, [attacks.DAEMON_REGRADES], honest=["h1"])
    try:
        if _wait_for(batch.spy / "daemon.pid", 3):
            _wait_for(batch.spy / "daemon.done", 30)
    finally:
        _kill_recorded(batch.spy / "daemon.pid")
    assert batch.score("h1") == attacks.TINY_POINTS
    assert batch.score(attacks.DAEMON_REGRADES.student) == 0  # as graded
    later = results.read(batch.course, ASSIGNMENT, attacks.DAEMON_REGRADES.student)
    assert later.auto_score == 0, "a process of the student's outlived grading and rewrote the gradebook"


def test_a_socket_squatter_costs_later_students_nothing(tiny_template, tmp_path, containment, request):
    open_without_sandbox(request, containment, attacks.SOCKET_SQUATTER.unsandboxed)
    try:
        batch = grade_batch(tiny_template, tmp_path, [attacks.SOCKET_SQUATTER], honest=[], extra=_victims())
    finally:
        (tmp_path / "spy").mkdir(exist_ok=True)
        (tmp_path / "spy" / "stop").touch()
        _wait_for(tmp_path / "spy" / "daemon.done", 5)
        _kill_recorded(tmp_path / "spy" / "daemon.pid")
    assert batch.score(attacks.SOCKET_SQUATTER.student) == 0
    scores = {name: batch.score(name) for name in ("h1", "h2", "h3")}
    assert scores == dict.fromkeys(scores, attacks.TINY_POINTS), (
        scores, (batch.spy / "squatted").read_text() if (batch.spy / "squatted").exists() else "")


def test_killing_the_fork_server_costs_later_students_nothing(tiny_template, tmp_path, containment, request):
    open_without_sandbox(request, containment, attacks.KILL_FORK_SERVER.unsandboxed)
    # One slot, so that every later student needs the same fork server (with several slots, only
    # the students who happen to draw the dead server's slot lose everything).
    batch = grade_batch(tiny_template, tmp_path, [attacks.KILL_FORK_SERVER], honest=[], extra=_victims(),
                        workers=1)
    _kill_recorded(batch.spy / "kernel.pid")  # unsandboxed, the orphaned kernel outlives its dead fork server
    assert batch.score(attacks.KILL_FORK_SERVER.student) == 0
    scores = {name: batch.score(name) for name in ("h1", "h2", "h3")}
    assert scores == dict.fromkeys(scores, attacks.TINY_POINTS), (scores, batch.outcome.problems)


def _grade_in_a_process(template: Path, folder: Path, attack: Attack, seconds: float) -> tuple[Path, str]:
    """Grade the attack and two honest students with `python -m autograde grade` (the attack may
    take that process down); returns the course and what went wrong ("" if nothing)."""
    course = copy_course(template, folder / "course")
    spy = folder / "spy"
    spy.mkdir()
    submit(course, attack.student, attacks.fill(attack.answer, {"COURSE": course, "SPY": spy}))
    for name in ("h1", "h2"):
        submit(course, name)
    command = [sys.executable, "-m", "autograde", "grade", "--course", str(course), "--no-feedback",
               "--no-progress", *([] if SANDBOX else ["--no-sandbox"])]
    grader = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        _, err = grader.communicate(timeout=seconds)
        wrong = "" if grader.returncode == 0 else f"the grader ended with {grader.returncode}: {err[-1500:]}"
    except subprocess.TimeoutExpired:
        wrong = f"the grader was still running after {seconds:g} s (three students take about 15 s)"
    finally:
        if grader.poll() is None:  # the grader this test started, and every process it started
            for pid in _descendants(grader.pid):
                _kill(pid)
            os.killpg(grader.pid, signal.SIGKILL)
        _kill_recorded(spy / "kernel.pid")  # an unsandboxed kernel whose grader died lives on otherwise
        grader.communicate(timeout=60)
    return course, wrong


def test_killing_the_grader_costs_the_class_nothing(tiny_template, tmp_path, containment, request):
    """The grader runs as `python -m autograde grade` here: the attack SIGKILLs that process."""
    open_without_sandbox(request, containment, attacks.KILL_GRADER.unsandboxed)
    course, wrong = _grade_in_a_process(tiny_template, tmp_path, attacks.KILL_GRADER, 300)
    assert wrong == ""
    for name in ("h1", "h2"):
        assert results.read(course, ASSIGNMENT, name).auto_score == attacks.TINY_POINTS, name


def test_freezing_the_fork_server_does_not_hang_the_grader(tiny_template, tmp_path):
    course, wrong = _grade_in_a_process(tiny_template, tmp_path, attacks.FREEZE_FORK_SERVER, 90)
    assert wrong == ""
    for name in ("h1", "h2"):
        assert results.read(course, ASSIGNMENT, name).auto_score == attacks.TINY_POINTS, name


def test_a_fork_bomb_costs_other_students_nothing(tiny_template, tmp_path, containment):
    sandbox = pytest.importorskip("autograde.engine.sandbox", reason="no autograde.engine.sandbox: a fork bomb run as root "
                                                              "without limits can take the machine down")
    if sandbox.level() == "none" or not containment.contained:
        pytest.skip(f"student kernels are not contained (sandbox level {sandbox.level()!r}, probe "
                    f"{containment.facts}): a fork bomb run as root without limits can take the machine down")
    batch = grade_batch(tiny_template, tmp_path, [attacks.FORK_BOMB])
    assert batch.score(attacks.FORK_BOMB.student) == 0
    for student in HONEST:
        assert batch.score(student) == attacks.TINY_POINTS, student


def test_200_mb_of_output_leave_the_grader_and_the_feedback_small(tiny_template, tmp_path):
    batch = grade_batch(tiny_template, tmp_path, [attacks.HUGE_OUTPUT], honest=["h1"], feedback=True)
    flood = attacks.HUGE_OUTPUT.student
    assert batch.score(flood) == attacks.TINY_POINTS and batch.score("h1") == attacks.TINY_POINTS
    assert batch.notebook(flood).stat().st_size < 3_000_000
    feedback = batch.course / "feedback" / flood / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert feedback.stat().st_size < 5_000_000
    assert batch.seconds < 240, f"grading took {batch.seconds:.0f} s"


# ------------------------------------------------------------------ the control, printed


@pytest.mark.parametrize("student", FOOL_IN_KERNEL)
def test_the_in_kernel_control_is_fooled_where_the_trusted_path_is_not(student, tiny_trusted, tiny_in_kernel):
    attack = next(a for a in attacks.TINY_KERNEL_TRICKS if a.student == student)
    assert tiny_in_kernel.score(student) > attack.honest, f"{student} no longer fools in-kernel grading"
    assert tiny_trusted.score(student) <= attack.honest
