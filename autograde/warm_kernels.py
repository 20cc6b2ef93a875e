"""Kernels started ahead of need: a fork server with the heavy imports done hands out fresh kernels.

Starting a Python kernel and importing numpy, SymPy and matplotlib costs about a second of CPU
per notebook; forking a process that already did it costs milliseconds. Every kernel is still a
new process used for one notebook only and killed (with everything it started) afterwards.
Kernels talk to the grader over Unix sockets (ZeroMQ ``ipc``) in a private folder, not over TCP.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

# What every course notebook imports; a kernel forked after these imports starts in milliseconds.
PRELOAD = ["numpy", "sympy", "matplotlib", "matplotlib.pyplot", "ipywidgets",
           "backprop_course", "backprop_course.checks", "autograde.trusted.checker"]


# Per kernel: address space (a memory bomb gets MemoryError), file size, open files.
KERNEL_LIMITS = {"RLIMIT_AS": 4 << 30, "RLIMIT_FSIZE": 256 << 20, "RLIMIT_NOFILE": 1024}


REPO = Path(__file__).resolve().parent.parent


class ForkServer:
    """One ``python -m autograde.zygote`` process; thread-safe requests.

    With ``uid``, the server runs in a sandbox (`autograde.sandbox`) as that user: it sees the
    Python installation, the course's student package and its own scratch folder, nothing else,
    and has no network. Every kernel it forks lives in a folder of ``scratch_root``.
    ``checker`` is the unsandboxed server that forks the trusted checkers.
    """

    def __init__(self, preload: list[str] = PRELOAD, uid: int | None = None, checker: "ForkServer | None" = None):
        self.uid, self.checker = uid, checker
        self.scratch_root = Path(tempfile.mkdtemp(prefix="grader-"))
        argv = [sys.executable, "-m", "autograde.zygote", *preload]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        if uid is not None:
            from . import sandbox

            self.scratch_root.chmod(0o711)
            visible = sandbox.python_paths() + [REPO / "src" / "backprop_course", REPO / "autograde"]
            argv, _ = sandbox.command(argv, self.scratch_root, visible, sandbox.Limits(wall_seconds=0),
                                      {k: v for k, v in env.items() if k in ("PATH", "LANG", "MPLBACKEND")}
                                      | {"PYTHONDONTWRITEBYTECODE": "1", "MPLCONFIGDIR": "/tmp"}, uid=uid)
        self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         bufsize=1, env=env, start_new_session=True)
        self._lock = threading.Lock()
        ready = self._process.stdout.readline()
        if not ready:
            raise RuntimeError("the kernel fork server did not start")
        self.preloaded = json.loads(ready)["ready"]

    def spawn(self, connection_file: str, cwd: str, env: dict[str, str]) -> int:
        return self._fork({"connection_file": connection_file, "cwd": cwd, "env": env,
                           "limits": KERNEL_LIMITS})["pid"]

    def alive(self, pid: int) -> bool:
        """Whether a kernel this server forked still runs (pids are the server's own: in a
        sandbox they mean nothing outside it)."""
        return bool(self._fork({"op": "alive", "pid": pid}).get("alive"))

    def kill(self, pid: int) -> None:
        """Kill a kernel and everything it started; in a sandbox, every other process of its user too."""
        self._fork({"op": "kill", "pid": pid})

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
        request = json.dumps(message)
        with self._lock:
            try:
                self._process.stdin.write(request + "\n")
                self._process.stdin.flush()
                reply = json.loads(self._process.stdout.readline() or '{"error": "fork server died"}')
            except (BrokenPipeError, ValueError):
                reply = {"error": "fork server died"}
        if "error" in reply:
            raise RuntimeError(f"could not start a kernel: {reply['error']}")
        return reply

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.uid is not None:
            from . import sandbox

            sandbox.kill(self._process)
        shutil.rmtree(self.scratch_root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class ForkedKernelManager(AsyncKernelManager):
    """What nbclient needs of a kernel manager, for a kernel the fork server started."""

    pid: int | None = None
    server: ForkServer | None = None

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
        km.pid = server.spawn(km.connection_file, str(cwd), env or {})
        try:
            yield km
        finally:
            km.kill()


FIRST_UID = 61000  # sandbox users: one per slot, so concurrent students never share a user


@contextmanager
def sandboxed_servers(count: int, checker: ForkServer, sandboxed: bool = True, first_uid: int = FIRST_UID):
    """``count`` kernel fork servers, each in its own sandbox as its own user where this machine
    allows a sandbox (`autograde.sandbox.level`), otherwise unsandboxed (rlimits only)."""
    from . import sandbox

    isolated = sandboxed and sandbox.level() in sandbox.ISOLATED
    servers = []
    try:
        for slot in range(count):
            servers.append(ForkServer(uid=first_uid + slot if isolated else None, checker=checker))
        yield servers
    finally:
        for server in servers:
            server.close()
