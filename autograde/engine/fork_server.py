"""Kernels started ahead of need: a fork server with the heavy imports done hands out fresh kernels.

Starting a Python kernel and importing numpy, SymPy and matplotlib costs about a second of CPU
per notebook; forking a process that already did it costs milliseconds. Every kernel is still a
new process used for one notebook only and killed (with everything it started) afterwards.
Kernels talk to the grader over Unix sockets (ZeroMQ ``ipc``) in a private folder, not over TCP.
"""
from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from autograde.settings import Grader, KernelLimits

log = logging.getLogger(__name__)

# What every course notebook imports; a kernel forked after these imports starts in milliseconds.
# "backprop_course.*": the course's package and every module in it (plots, widgets, checks and the
# misconceptions its test cells import: 10-20 ms each in every kernel and every checker otherwise).
# SymPy imports its tensor and combinatorics modules on first use of ``a - b`` (0.2 s each time), and
# its physical units on the first ``simplify`` (0.23 s in every kernel and checker of 02); matplotlib
# imports contourpy on the first contour plot.
PRELOAD = ["numpy", "sympy", "sympy.tensor.tensor", "sympy.utilities.lambdify", "sympy.physics.units", "matplotlib",
           "matplotlib.pyplot", "contourpy", "ipywidgets", "backprop_course.*", "autograde.trusted.checker"]
# What a sandboxed server sees of the grader's environment (its kernels see nothing else).
SANDBOX_VARIABLES = ("PATH", "LANG", "MPLBACKEND")
# Variables that name the caller's current step, not its environment: pytest rewrites this one before
# every phase of every test. No kernel or check reads it, so it never keeps a server from a next run.
STEP_VARIABLES = ("PYTEST_CURRENT_TEST",)


def server_environment(sandboxed: bool) -> dict[str, str]:
    """The environment a server's processes get from this one: a sandboxed server only
    SANDBOX_VARIABLES; an unsandboxed one (the checkers' server, or kernels where no sandbox is
    possible) all of it but STEP_VARIABLES. A kept server serves a run whose environment gives the same."""
    names = SANDBOX_VARIABLES if sandboxed else [k for k in os.environ if k not in STEP_VARIABLES]
    return {k: os.environ[k] for k in names if k in os.environ}


def _rlimits(limits: KernelLimits) -> dict:
    """Per kernel: address space (a memory bomb gets MemoryError), file size, open files. No
    CPU-time limit: it would make the kernel's CPU clock tick-granular (see
    `sandbox.Limits.cpu_seconds`); the cell timeout and the notebook's total time bound a kernel,
    and every process a submission started is killed when it is done."""
    return {"RLIMIT_AS": limits.memory_bytes, "RLIMIT_FSIZE": limits.file_bytes, "RLIMIT_NOFILE": limits.open_files}


# A fork server answers in milliseconds; one silent this long was stopped or hung.
START_SECONDS, REPLY_SECONDS = 120, 30

#: The course's packages that sandboxed kernels import: the student package and the trusted checker.
COURSE_PACKAGES = ("backprop_course", "autograde")


def sandbox_paths() -> tuple[list[Path], list[Path]]:
    """What a sandboxed fork server sees: the Python installation and the course's packages where
    they are installed (site-packages, or the checkout's folders for an editable install); and
    what it must not see although it lies inside those: the bundled course's solutions and hidden
    tests, which an installed wheel carries inside `autograde` (`autograde.bundled`)."""
    from autograde import bundled
    from autograde.engine import sandbox

    packages = [Path(importlib.util.find_spec(name).origin).parent for name in COURSE_PACKAGES]
    return sandbox.python_paths() + packages, [bundled.ROOT]


class ForkServer:
    """One ``python -m autograde.engine.fork_server_process`` process; thread-safe requests.

    With ``uid``, the server runs in a sandbox (`autograde.engine.sandbox`) as that user: it sees the
    Python installation, the course's packages (`sandbox_paths`) and its own scratch folder,
    nothing else, and has no network. Every kernel it forks lives in a folder of ``scratch_root``,
    within ``limits`` (default: the settings' defaults). ``checker`` is the unsandboxed server that
    forks the trusted checkers.
    """

    def __init__(self, preload: list[str] | None = None, uid: int | None = None, checker: "ForkServer | None" = None,
                 sandboxed: bool = False, limits: KernelLimits | None = None):
        self.checker, self._claim = checker, None
        self.limits = limits or Grader().kernel_limits()
        if sandboxed and uid is None:
            from autograde.engine import sandbox

            uid, self._claim = sandbox.claim_uid()
        self.uid = uid
        self.disk_limited = False
        self.scratch_root = Path(tempfile.mkdtemp(prefix=f"grader-{os.getpid()}-"))
        # -I: no user site, no PYTHON* variables, no script folder on sys.path; -B: no .pyc written.
        self._argv = [sys.executable, "-I", "-B", "-m", "autograde.engine.fork_server_process",
                      *(PRELOAD if preload is None else preload)]
        self._env = server_environment(False)
        if uid is not None:
            from autograde.engine import sandbox

            self.disk_limited = sandbox.limit_disk(self.scratch_root, self.limits.disk_bytes)
            self.scratch_root.chmod(0o711)  # root's: only what the grader hands to uid is writable
            visible, hidden = sandbox_paths()
            # The server's own ceiling: its kernels can get no more than it has.
            limits = sandbox.Limits(cpu_seconds=None, wall_seconds=0, memory_bytes=self.limits.memory_bytes,
                                    processes=self.limits.processes, file_bytes=self.limits.file_bytes,
                                    open_files=self.limits.open_files)
            self._argv, _ = sandbox.command(
                self._argv, self.scratch_root, visible, limits, server_environment(True) | {"MPLCONFIGDIR": "/tmp"},
                uid=uid, server=True, hidden=hidden)
        self._lock = threading.Lock()
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        started = time.monotonic()
        self._process = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         bufsize=1, env=self._env, start_new_session=True)
        ready = self._reply(START_SECONDS)
        if ready is None:
            self._stop()
            raise RuntimeError("the kernel fork server did not start")
        self.preloaded = ready["ready"]
        log.info("fork server %d started in %.1f s (%s)", self._process.pid, time.monotonic() - started,
                 "unsandboxed" if self.uid is None else f"sandboxed, kernels as user {self.uid}")

    def spawn(self, connection_file: str, cwd: str, env: dict[str, str], private: Path) -> int:
        """A new kernel in ``cwd``. Sandboxed, it gets a new, empty /tmp and HOME of its own and runs
        as this server's user; otherwise HOME and TMPDIR are fresh folders under ``private``."""
        request = {"connection_file": connection_file, "cwd": cwd, "env": env, "limits": _rlimits(self.limits),
                   "uid": self.uid, "tmp_bytes": self.limits.file_bytes, "processes": self.limits.processes,
                   "output_bytes": self.limits.output_bytes, "scratch": str(self.scratch_root)}
        if self.uid is None:
            for name in ("home", "tmp"):
                (private / name).mkdir(mode=0o700)
                request[name] = str(private / name)
        return self._fork(request)["pid"]

    def alive(self, pid: int) -> bool:
        """Whether a kernel this server forked still runs (pids are the server's own: in a
        sandbox they mean nothing outside it)."""
        return bool(self._fork({"op": "alive", "pid": pid}).get("alive"))

    def kill(self, pid: int) -> None:
        """Kill a kernel and everything it started; in a sandbox, every other process of its user too."""
        self._fork({"op": "kill", "pid": pid, "uid": self.uid})

    def own(self, folder: Path) -> None:
        """Hand a folder the grader prepared to the sandbox's user."""
        if self.uid is not None:
            for parent, _, files in os.walk(folder):
                for path in [parent, *(os.path.join(parent, f) for f in files)]:
                    os.lchown(path, self.uid, self.uid)

    def spawn_checker(self, task_file: str, result_file: str) -> int:
        """A trusted checker process (it never runs student code); returns its pid."""
        return self._fork({"kind": "checks", "task_file": task_file, "result_file": result_file})["pid"]

    def _fork(self, message: dict) -> dict:
        """One request and its reply. A server that died or stopped answering (a student's
        kernel runs as the same user and may kill or SIGSTOP it) is replaced by a new one, so
        the next student on this slot is not affected; its kernels died with it."""
        with self._lock:
            reply = self._ask(message)
            if reply is None:
                log.info("fork server %d died or stopped answering; starting a new one", self._process.pid)
                self._stop()
                self.restarts += 1
                self._start()
                if message.get("op") in ("alive", "kill"):
                    return {"alive": False}
                reply = self._ask(message) or {"error": "the fork server does not answer"}
        if "error" in reply:
            raise RuntimeError(f"could not start a kernel: {reply['error']}")
        return reply

    def _ask(self, message: dict) -> dict | None:
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return None
        return self._reply(REPLY_SECONDS)

    def _reply(self, seconds: float) -> dict | None:
        """The server's next line as JSON, or None if it died or said nothing for ``seconds``."""
        ready, _, _ = select.select([self._process.stdout], [], [], seconds)
        try:
            return json.loads(self._process.stdout.readline()) if ready else None
        except (ValueError, OSError):
            return None

    def _stop(self) -> None:
        for pipe in (self._process.stdin, self._process.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        if self.uid is not None:
            from autograde.engine import sandbox

            sandbox.kill(self._process)
        else:
            self._process.kill()
        self._process.wait()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.uid is not None:
            from autograde.engine import sandbox

            sandbox.kill(self._process)
            if self.disk_limited:
                sandbox.unlimit_disk(self.scratch_root)
        shutil.rmtree(self.scratch_root, ignore_errors=True)
        if self._claim is not None:
            self._claim.close()  # the sandbox user is free for another grader

    def running(self) -> bool:
        return self._process.poll() is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ReadyKernelClient(AsyncKernelClient):
    """jupyter_client's client, ready as soon as the kernel is.

    jupyter_client's ``wait_for_ready`` ends by reading IOPub until it has been quiet for 0.2 s: a
    fixed 0.2 s per kernel, a tenth of a notebook's grading. Here the kernel is ready when it has
    answered ``kernel_info`` on the shell channel and its "idle" for that request has come on IOPub:
    IOPub is then connected and everything the kernel published before it has been read (nbclient
    ignores any message whose parent is not its own request anyway)."""

    IDLE_SECONDS = 0.05  # then IOPub was not connected in time: ask again, as jupyter_client does
    ready_reply: dict | None = None  # the kernel_info reply that found the kernel ready
    RECONNECT_MS = 10  # ZeroMQ's default 100 ms: the sockets connect before the new kernel has bound them

    def start_channels(self, *args, **kwargs) -> None:
        self.context.setsockopt(zmq.RECONNECT_IVL, self.RECONNECT_MS)  # for the sockets made from here on
        super().start_channels(*args, **kwargs)

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            request = self.kernel_info()
            reply = await self._answer(self.shell_channel, request, "kernel_info_reply", 1.0)
            if reply is not None and await self._answer(self.iopub_channel, request, "status", self.IDLE_SECONDS,
                                                         idle=True):
                self._handle_kernel_info_reply(reply)
                self.ready_reply = reply
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    @staticmethod
    async def _answer(channel, request: str, msg_type: str, seconds: float, idle: bool = False) -> dict | None:
        """The first message of ``msg_type`` on ``channel`` answering ``request`` within ``seconds``."""
        from queue import Empty

        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            try:
                msg = await channel.get_msg(timeout=left)
            except Empty:
                return None
            if msg["msg_type"] == msg_type and msg["parent_header"].get("msg_id") == request and \
                    (not idle or msg["content"].get("execution_state") == "idle"):
                return msg
        return None


class ForkedKernelManager(AsyncKernelManager):
    """What nbclient needs of a kernel manager, for a kernel the fork server started."""

    pid: int | None = None
    server: ForkServer | None = None

    @default("client_factory")
    def _ready_client(self):
        return ReadyKernelClient

    @property
    def has_kernel(self) -> bool:
        return self.pid is not None

    @property
    def owns_kernel(self) -> bool:
        return True

    async def _async_is_alive(self) -> bool:
        return self.pid is not None and self.server.alive(self.pid)

    is_alive = _async_is_alive

    def kill(self) -> None:
        """Kill the kernel and every process it started."""
        if self.pid is not None:
            try:
                self.server.kill(self.pid)
            except RuntimeError:  # the server is gone, and its kernels with it
                pass
        self.pid = None

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        self.kill()

    shutdown_kernel = _async_shutdown_kernel


@asynccontextmanager
async def fresh_kernel(server: ForkServer, cwd: Path, env: dict[str, str] | None = None):
    """A new kernel process running in ``cwd``; killed with all its children on exit."""
    with tempfile.TemporaryDirectory(prefix="kernel-", dir=server.scratch_root) as sockets:
        km = ForkedKernelManager(transport="ipc", ip=os.path.join(sockets, "k"))
        km.server = server
        km.connection_file = os.path.join(sockets, "connection.json")
        km.write_connection_file()
        server.own(Path(sockets))
        server.own(Path(cwd))
        km.pid = server.spawn(km.connection_file, str(cwd), env or {}, Path(sockets))
        try:
            yield km
        finally:
            km.kill()


# Servers are kept for this process's next grading run (a test session, the formgrader, a notebook
# server): a server never runs student code and each kernel is a fresh fork, so grading on a kept
# server is what its next kernel in the same run would be. Idle ones are closed at exit, and the
# oldest beyond KEPT_IDLE (each holds about 130 MB): a run on two slots keeps three, and a run
# with other limits or without the sandbox three more.
KEPT_IDLE = 6
_idle: list[tuple[tuple, ForkServer]] = []  # (what it was started for, server), oldest first
_idle_lock = threading.Lock()
# One pool of starting threads for the process's life: bubblewrap (--die-with-parent) ends with the
# thread that started it, so these threads must outlive every kept server.
_starters: list = []


def _starting_pool():
    from concurrent.futures import ThreadPoolExecutor

    with _idle_lock:
        if not _starters:
            _starters.append(ThreadPoolExecutor(8, thread_name_prefix="fork-server"))
            atexit.register(_close_idle)
        return _starters[0]


def _take(kind: tuple, count: int) -> list[ForkServer]:
    with _idle_lock:
        found = [entry for entry in _idle if entry[0] == kind][:count]
        for entry in found:
            _idle.remove(entry)
    return [server for _, server in found]


def _give_back(entries: list[tuple[tuple, ForkServer]]) -> None:
    with _idle_lock:
        _idle.extend((kind, server) for kind, server in entries if server.running())
        leaving = [server for _, server in entries if not server.running()]
        while len(_idle) > KEPT_IDLE:
            leaving.append(_idle.pop(0)[1])
    for server in leaving:
        server.close()


def _close_idle() -> None:
    with _idle_lock:
        leaving = [server for _, server in _idle]
        _idle.clear()
    for server in leaving:
        server.close()


@contextmanager
def kept_servers(count: int, sandboxed: bool = True, limits: KernelLimits | None = None):
    """``count`` kernel fork servers and their checker's server for one grading run; no other run
    of this process uses them meanwhile. Each kernel server is in its own sandbox as its own user
    (`sandbox.claim_uid`: one per slot, never shared with another grader) where this machine allows
    a sandbox (`autograde.engine.sandbox.level`), otherwise unsandboxed (``limits`` only). Those a
    previous run kept with the same settings and environment are used again; the others start
    together (their imports overlap). Afterwards they are kept for the next run."""
    from autograde.engine import sandbox

    limits = limits or Grader().kernel_limits()
    isolated = sandboxed and sandbox.level() in sandbox.ISOLATED
    kernels_kind = ("kernels", isolated, limits, tuple(sorted(server_environment(isolated).items())))
    checker_kind = ("checker", tuple(sorted(server_environment(False).items())))
    kernels, checkers = _take(kernels_kind, count), _take(checker_kind, 1)
    if not isolated and len(kernels) < count:
        log.info("kernels run unsandboxed, with their limits only (%s)",
                 "the sandbox is turned off" if not sandboxed else f"sandbox level {sandbox.level()!r} isolates nothing")
    pool = _starting_pool()
    futures = [pool.submit(ForkServer, sandboxed=isolated, limits=limits) for _ in range(count - len(kernels))]
    futures += [] if checkers else [pool.submit(ForkServer)]
    started = [f.result() for f in futures if f.exception() is None]
    failed = next((f.exception() for f in futures if f.exception() is not None), None)
    if failed is not None:
        for server in kernels + checkers + started:
            server.close()
        raise failed
    checker = checkers[0] if checkers else started.pop()
    kernels += started
    for server in kernels:
        server.checker = checker
    try:
        yield kernels
    finally:
        _give_back([(kernels_kind, server) for server in kernels] + [(checker_kind, checker)])
