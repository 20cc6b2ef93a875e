"""The sandbox keeps student code away from course files and the network, and within its limits.

Each isolation level that works here is tried. A level stronger than ``none`` that does not work is
skipped on a developer's machine, but fails under CI (env CI set), whose machines must offer it.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograde.engine import sandbox
from autograde.engine.sandbox import MiB, Limits

# One worker runs them all: RLIMIT_NPROC counts the tasks of every sandbox running as nobody.
pytestmark = pytest.mark.xdist_group("sandbox")

REPO = Path(__file__).resolve().parents[2]
VISIBLE = [*sandbox.python_paths(), REPO / "src" / "backprop_course"]
ENV = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8"}
ISOLATED = [pytest.param(name, id=name) for name in sandbox.ISOLATED]
LIMITED = [*ISOLATED, pytest.param("none", id="none")]


def require(level: str) -> None:
    """Skip a test of an unavailable level, unless under CI, where it must be available."""
    if not sandbox.works(level):
        if os.environ.get("CI"):
            pytest.fail(f"the {level} sandbox does not work on this CI machine")
        pytest.skip(f"the {level} sandbox does not work here")


def python(code: str, scratch: Path, level: str, limits: Limits = Limits(wall_seconds=20), *args: str,
           uid: int = sandbox.NOBODY) -> sandbox.Finished:
    return sandbox.run([sys.executable, "-c", code, *args], scratch, VISIBLE, limits, ENV,
                       level_name=level, uid=uid)


def nobody_tasks() -> int:
    return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == sandbox.NOBODY)


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course folder: a solution, a gradebook, another student's submission, graded output."""
    course = tmp_path_factory.mktemp("course")
    (course / "solutions" / "ps1").mkdir(parents=True)
    (course / "solutions" / "secret.txt").write_text("the answer is 42")
    (course / "gradebook.db").write_text("scores")
    (course / "submitted" / "alice" / "ps1").mkdir(parents=True)
    (course / "submitted" / "alice" / "ps1" / "ps1.ipynb").write_text("{}")
    for folder in ("autograded", "feedback"):
        (course / folder).mkdir()
    for path in [course, *course.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)  # only the sandbox may stop it, not permissions
    return course


@pytest.fixture(scope="module")
def listener():
    """A TCP server on 127.0.0.1 that the sandbox must not reach."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


PROBE = r"""
import json, os, resource, socket, sys
course, other, port, repo = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def attempt(action):
    try:
        action()
        return "allowed"
    except Exception as error:
        return type(error).__name__
def connect():
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
print(json.dumps({
    "uid": os.getuid(),
    "read secret": attempt(lambda: open(course + "/solutions/secret.txt").read()),
    "list course": attempt(lambda: os.listdir(course)),
    "read gradebook": attempt(lambda: open(course + "/gradebook.db").read()),
    "write course": attempt(lambda: open(course + "/planted.txt", "w").write("x")),
    "write other student": attempt(lambda: open(other + "/planted.txt", "w").write("x")),
    "list repository solutions": attempt(lambda: os.listdir(repo + "/solutions")),
    "read home": attempt(lambda: os.listdir("/root/.ssh")),
    "write scratch": attempt(lambda: open("mine.txt", "w").write("x")),
    "connect": attempt(connect),
    "dns": attempt(lambda: socket.getaddrinfo("example.com", 80)),
    "processes": sum(name.isdigit() for name in os.listdir("/proc")),
    "limits": [resource.getrlimit(getattr(resource, "RLIMIT_" + name))[0]
               for name in ("AS", "CPU", "NPROC", "FSIZE", "NOFILE", "CORE")],
    "cwd": os.getcwd(),
}))
"""


@pytest.fixture(scope="module")
def probed(course, listener, tmp_path_factory):
    """level → what the probe could do inside that level's sandbox (run once per level)."""
    found = {}

    def probe(level: str) -> dict:
        require(level)
        if level not in found:
            scratch = tmp_path_factory.mktemp(f"scratch-{level}")
            other = course / "submitted" / "alice" / "ps1"
            finished = python(PROBE, scratch, level, Limits(wall_seconds=20),
                              str(course), str(other), str(listener), str(REPO))
            assert finished.returncode == 0, finished.stderr
            found[level] = {**json.loads(finished.stdout), "scratch": scratch}
        return found[level]

    return probe


@pytest.mark.parametrize("level", ISOLATED)
def test_course_files_are_invisible(probed, level):
    seen = probed(level)
    for what in ("read secret", "list course", "read gradebook", "list repository solutions", "read home"):
        assert seen[what] == "FileNotFoundError", what


@pytest.mark.parametrize("level", ISOLATED)
def test_only_the_scratch_folder_is_writable(probed, course, level):
    seen = probed(level)
    assert seen["write course"] != "allowed" and seen["write other student"] != "allowed"
    assert not list(course.rglob("planted.txt"))
    assert seen["write scratch"] == "allowed" and (seen["scratch"] / "mine.txt").read_text() == "x"
    assert Path(seen["cwd"]) == seen["scratch"].resolve()


@pytest.mark.parametrize("level", ISOLATED)
def test_no_network(probed, level):
    seen = probed(level)
    assert seen["connect"] != "allowed"
    assert seen["dns"] == "gaierror"


@pytest.mark.parametrize("level", ISOLATED)
def test_student_code_runs_unprivileged_and_sees_only_its_own_processes(probed, level):
    seen = probed(level)
    assert seen["uid"] == sandbox.NOBODY
    assert seen["processes"] <= 3


@pytest.mark.parametrize("level", ISOLATED)
def test_resource_limits_are_applied(probed, level):
    limits = Limits()
    assert probed(level)["limits"] == [limits.memory_bytes, limits.cpu_seconds, limits.processes,
                                       limits.file_bytes, limits.open_files, 0]


@pytest.mark.parametrize("level", ISOLATED)
def test_scratch_inside_the_course_folder_shows_nothing_else(course, tmp_path, level):
    require(level)
    scratch = course / "autograded" / "bob"
    scratch.mkdir(exist_ok=True)
    finished = python("import os, sys; print(sorted(os.listdir(sys.argv[1])))", scratch, level,
                      Limits(wall_seconds=20), str(course))
    assert finished.stdout.strip() == "['autograded']", finished.stderr


@pytest.mark.parametrize("level", ISOLATED)
def test_a_hidden_folder_inside_a_visible_one_shows_up_empty(tmp_path, level):
    """An installed wheel carries the bundled solutions inside the visible `autograde` package."""
    require(level)
    package = tmp_path / "site-packages" / "autograde"
    (package / "course_files" / "solutions").mkdir(parents=True)
    (package / "course_files" / "solutions" / "secret.txt").write_text("the answer is 42")
    (package / "checker.py").write_text("CHECKED = True\n")
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)  # only the sandbox may stop it, not permissions
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    code = "import os, sys; print(sorted(os.listdir(sys.argv[1])), os.listdir(sys.argv[1] + '/course_files'))"
    finished = sandbox.run([sys.executable, "-c", code, str(package)], scratch, [*VISIBLE, package],
                           Limits(wall_seconds=20), ENV, level_name=level, hidden=[package / "course_files"])
    assert finished.stdout.split("\n")[0] == "['checker.py', 'course_files'] []", finished.stderr


@pytest.mark.parametrize("level", ISOLATED)
def test_a_fork_servers_children_keep_what_the_sandbox_mounted_under_tmp(tmp_path, level):
    """A kernel gets a /tmp of its own, yet a virtual environment installed under /tmp stays, with
    its hidden folder still empty, and so does the server's scratch folder."""
    require(level)
    venv = tmp_path / "venv"  # pytest's tmp_path lies under /tmp
    (venv / "course_files").mkdir(parents=True)
    (venv / "course_files" / "secret.txt").write_text("the answer is 42")
    (venv / "module.py").write_text("")
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    code = ("import os, sys\nsys.path.insert(0, sys.argv[1])\nfrom autograde.engine import sandbox_bootstrap\n"
            "open('/tmp/left-by-the-server', 'w').close()\n"
            "sandbox_bootstrap.private_scratch_mounts(1 << 20, sys.argv[3])\n"
            "print(sorted(os.listdir(sys.argv[2])), os.listdir(sys.argv[2] + '/course_files'),\n"
            "      os.path.isdir(sys.argv[3]), os.path.exists('/tmp/left-by-the-server'))")
    finished = sandbox.run([sys.executable, "-I", "-c", code, str(REPO), str(venv), str(scratch)], scratch,
                           [*VISIBLE, REPO / "autograde", venv], Limits(wall_seconds=20), ENV, level_name=level,
                           server=True, hidden=[venv / "course_files"])
    assert finished.stdout.strip() == "['course_files', 'module.py'] [] True False", finished.stderr


@pytest.mark.parametrize("level", ISOLATED)
def test_numpy_sympy_and_the_course_package_import(tmp_path, level):
    require(level)
    code = "import numpy, sympy, backprop_course; print(numpy.ones(3).sum(), sympy.diff(sympy.sin('x')))"
    finished = python(code, tmp_path, level)
    assert finished.stdout.split() == ["3.0", "cos(x)"], finished.stderr


@pytest.mark.parametrize("level", ISOLATED)
def test_a_fork_bomb_is_killed_at_the_wall_limit_with_everything_it_started(tmp_path, level):
    require(level)
    bomb = "import os\nos.setsid()\nwhile True:\n    try: os.fork()\n    except OSError: pass\n"
    finished = python(bomb, tmp_path, level, Limits(wall_seconds=2))
    assert finished.timed_out and finished.seconds < 6
    deadline = time.monotonic() + 3
    while nobody_tasks() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert nobody_tasks() == 0
    assert subprocess.run(["true"]).returncode == 0  # the host can still start processes


@pytest.mark.parametrize("level", ISOLATED)
def test_interrupting_the_process_group_reaches_student_code(tmp_path, level):
    """Kernels are interrupted with killpg(SIGINT): the sandbox must not stand in the way."""
    require(level)
    code = ("import sys, time\ntry:\n    print('ready', flush=True)\n    time.sleep(30)\n"
            "except KeyboardInterrupt:\n    time.sleep(0.3)\n    print('interrupted')\n    sys.exit(7)\n")
    argv, _ = sandbox.command([sys.executable, "-c", code], tmp_path, VISIBLE, Limits(), ENV,
                              level_name=level)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:
        assert process.stdout.readline() == "ready\n"
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
    assert (stdout, process.returncode) == ("interrupted\n", 7), stderr


@pytest.mark.parametrize("level", LIMITED)
def test_a_memory_bomb_fails(tmp_path, level):
    require(level)
    finished = python("bytearray(8 << 30)", tmp_path, level)
    assert finished.returncode != 0 and "MemoryError" in finished.stderr


@pytest.mark.parametrize("level", LIMITED)
def test_writing_a_gigabyte_stops_at_the_file_size_limit(tmp_path, level):
    require(level)
    code = ("import errno\nchunk = bytes(1 << 20)\ntry:\n    with open('big', 'wb') as f:\n"
            "        for _ in range(1024): f.write(chunk)\nexcept OSError as e: print(e.errno)")
    finished = python(code, tmp_path, level, Limits(file_bytes=8 * MiB, wall_seconds=20))
    assert finished.stdout.strip() == str(errno.EFBIG), finished.stderr
    assert (tmp_path / "big").stat().st_size == 8 * MiB


@pytest.mark.parametrize("level", LIMITED)
def test_a_cpu_loop_is_killed_at_the_cpu_limit(tmp_path, level):
    require(level)
    finished = python("while True: pass", tmp_path, level, Limits(cpu_seconds=1, wall_seconds=20))
    # Killed by the CPU limit's signal, well before the 20 s wall limit (which would say timed_out).
    assert finished.killed_by in (signal.SIGXCPU, signal.SIGKILL) and not finished.timed_out


def test_without_namespaces_nobody_runs_the_code_under_the_limits():
    """The unprivileged-user level, tried with the system Python (this Python may be out of reach)."""
    system_python = "/usr/bin/python3"
    if os.geteuid() != 0 or not os.path.exists(system_python):
        pytest.skip("needs root and a system Python")
    scratch = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    try:
        finished = sandbox.run([system_python, "-c", "import os, resource; print(os.getuid(), "
                                "resource.getrlimit(resource.RLIMIT_NPROC)[0])"], scratch, [],
                               Limits(wall_seconds=20), ENV, level_name="unprivileged-user")
        assert finished.stdout.split() == [str(sandbox.NOBODY), "64"], finished.stderr
    finally:
        subprocess.run(["rm", "-rf", str(scratch)], check=True)


def test_without_namespaces_an_unreachable_scratch_folder_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    (hidden / "scratch").mkdir()
    with pytest.raises(sandbox.SandboxError, match="not searchable"):
        sandbox.command(["true"], hidden / "scratch", [], level_name="unprivileged-user")


def test_a_visible_path_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(sandbox.SandboxError, match="does not exist"):
        sandbox.command(["true"], tmp_path, [tmp_path / "missing"])


def test_a_jupyter_kernel_runs_in_the_sandbox_over_unix_sockets(tmp_path):
    level = sandbox.level()
    if level not in sandbox.ISOLATED:
        require("namespaces")
    from jupyter_client import BlockingKernelClient
    from jupyter_client.connect import write_connection_file

    connection = tmp_path / "kernel.json"
    write_connection_file(str(connection), transport="ipc", ip=str(tmp_path / "kernel"))
    argv, _ = sandbox.command([sys.executable, "-m", "ipykernel_launcher", "-f", str(connection)],
                              tmp_path, VISIBLE, Limits(), ENV)
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          start_new_session=True) as process:
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        # Without a kernel manager the client judges the kernel by its heartbeat, which a kernel
        # still starting (a loaded machine) does not answer yet: wait for its sockets first.
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("kernel-*"))) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        client.start_channels()
        try:
            client.wait_for_ready(timeout=30)
            reply = client.execute_interactive("import os; assert os.getuid() != 0", timeout=30)
        finally:
            client.stop_channels()
            sandbox.kill(process)
    assert reply["content"]["status"] == "ok"


def test_level_and_description_agree():
    level = sandbox.level()
    assert sandbox.works(level)
    assert not any(sandbox.works(stronger) for stronger in sandbox.LEVELS[:sandbox.LEVELS.index(level)])
    assert sandbox.describe() == sandbox.describe(level)
    for name in sandbox.LEVELS:
        assert ("WARNING" in sandbox.describe(name)) == (name not in sandbox.ISOLATED)
    assert "bubblewrap" in sandbox.describe("bubblewrap")
    if os.environ.get("CI"):
        assert level in sandbox.ISOLATED, f"CI machines must isolate student code, got {level}"


def test_two_graders_never_share_a_sandbox_user():
    """Each grading slot claims a user no other grader holds (another process here, as under
    pytest-xdist), and a closed claim frees it."""
    first, first_claim = sandbox.claim_uid()
    other = subprocess.run([sys.executable, "-c", "from autograde.engine import sandbox; print(sandbox.claim_uid()[0])"],
                           capture_output=True, text=True, check=True)
    assert int(other.stdout) != first and int(other.stdout) in sandbox.SANDBOX_UIDS
    second, second_claim = sandbox.claim_uid()
    assert second != first
    import fcntl

    lock_file = Path(first_claim.name)
    with open(lock_file) as probe:  # a second open file: held locks refuse it
        with pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        first_claim.close()
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # freed by closing the claim
    second_claim.close()


def test_a_killed_graders_scratch_tmpfs_is_unmounted_by_the_next_grader(tmp_path):
    """A grader killed before it could unmount its slot's tmpfs leaves it behind; the next one
    that limits disk use removes it (only those whose grader no longer runs)."""
    if not sandbox.disk_limited():
        pytest.skip("this machine does not let the grader mount a tmpfs (it needs root)")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    abandoned, running = tmp_path / f"grader-{dead}-abandoned", tmp_path / f"grader-{os.getpid()}-running"
    mounted = lambda folder: any(line.split()[1] == str(folder) for line in open("/proc/self/mounts"))  # noqa: E731
    for folder in (abandoned, running):
        folder.mkdir()
        assert sandbox.limit_disk(folder, 1 << 20) and mounted(folder)
    fresh = tmp_path / f"grader-{os.getpid()}-fresh"
    fresh.mkdir()
    try:
        assert sandbox.limit_disk(fresh, 1 << 20)
        assert not mounted(abandoned) and not abandoned.exists()
        assert mounted(running)  # its grader (this process) still runs
    finally:
        for folder in (running, fresh, abandoned):
            sandbox.unlimit_disk(folder)
