"""Kernels started ahead of need: a fork server with the heavy imports done hands out fresh kernels.

Starting a Python kernel and importing numpy, SymPy and matplotlib costs about a second of CPU
per notebook; forking a process that already did it costs milliseconds. Every kernel is still a
new process used for one notebook only and killed (with everything it started) afterwards.
Kernels talk to the grader over Unix sockets (ZeroMQ ``ipc``) in a private folder, not over TCP.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

# What every course notebook imports; a kernel forked after these imports starts in milliseconds.
PRELOAD = ["numpy", "sympy", "matplotlib", "matplotlib.pyplot", "ipywidgets",
           "backprop_course", "backprop_course.checks"]


class ForkServer:
    """One ``python -m autograde.zygote`` process; thread-safe ``spawn``."""

    def __init__(self, preload: list[str] = PRELOAD):
        self._process = subprocess.Popen(
            [sys.executable, "-m", "autograde.zygote", *preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        self._lock = threading.Lock()
        ready = self._process.stdout.readline()
        if not ready:
            raise RuntimeError("the kernel fork server did not start")
        self.preloaded = json.loads(ready)["ready"]

    def spawn(self, connection_file: str, cwd: str, env: dict[str, str]) -> int:
        request = json.dumps({"connection_file": connection_file, "cwd": cwd, "env": env})
        with self._lock:
            self._process.stdin.write(request + "\n")
            self._process.stdin.flush()
            reply = json.loads(self._process.stdout.readline() or '{"error": "fork server died"}')
        if "error" in reply:
            raise RuntimeError(f"could not start a kernel: {reply['error']}")
        return reply["pid"]

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            self._process.wait(timeout=10)

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

    @property
    def has_kernel(self) -> bool:
        return self.pid is not None

    @property
    def owns_kernel(self) -> bool:
        return True

    async def _async_is_alive(self) -> bool:
        return self.pid is not None and _alive(self.pid)

    is_alive = _async_is_alive

    async def _async_interrupt_kernel(self) -> None:
        if self.pid is not None and _alive(self.pid):
            os.kill(self.pid, signal.SIGINT)

    interrupt_kernel = _async_interrupt_kernel

    def kill(self) -> None:
        """Kill the kernel and every process it started (its process group)."""
        if self.pid is not None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.pid = None

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        self.kill()

    shutdown_kernel = _async_shutdown_kernel


@asynccontextmanager
async def fresh_kernel(server: ForkServer, cwd: Path, env: dict[str, str] | None = None):
    """A new kernel process running in ``cwd``; killed with all its children on exit."""
    with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:
        km = ForkedKernelManager(transport="ipc", ip=os.path.join(sockets, "k"))
        km.connection_file = os.path.join(sockets, "connection.json")
        km.write_connection_file()
        km.pid = server.spawn(km.connection_file, str(cwd), env or {})
        try:
            yield km
        finally:
            km.kill()
