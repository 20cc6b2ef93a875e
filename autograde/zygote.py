"""A fork server for IPython kernels: `python -m autograde.zygote MODULE ...`.

It imports the kernel machinery and the heavy libraries once (the MODULEs), then forks one fresh
kernel process per request. Each kernel is a new process that no other submission ever runs in;
what it inherits is only the state of a process that has imported modules and done nothing else.
The server itself never starts a thread, a ZeroMQ context or a kernel, so forking it is safe.

Protocol, one JSON object per line: the request on stdin is
``{"connection_file": path, "cwd": path, "env": {...}}``; the reply on stdout is ``{"pid": N}``
or ``{"error": "..."}``. The first line written is ``{"ready": [modules]}``.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import sys

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
KERNEL_MODULES = ["IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell",
                  "matplotlib_inline.backend_inline"]


def _reap(*_):
    """Collect exited kernels so that their pids read as dead at once."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _become_kernel(request: dict) -> None:
    """In the forked child: detach, take the request's folder and environment, run a kernel."""
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()  # its own process group: the grader kills the kernel and all it started at once
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 1024)
    os.chdir(request["cwd"])
    os.environ.update(request.get("env", {}))
    if "numpy" in sys.modules:  # a fresh process draws its own unseeded random state
        sys.modules["numpy"].random.seed()
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:] + ["--IPKernelApp.log_level=ERROR",
                                   "--HistoryManager.hist_file=:memory:"])
    app.start()


def serve(modules: list[str]) -> None:
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    loaded = []
    for name in KERNEL_MODULES + modules:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception:  # a module that cannot load is imported by the kernel instead, as usual
            pass
    signal.signal(signal.SIGCHLD, _reap)
    out = sys.stdout
    print(json.dumps({"ready": loaded}), file=out, flush=True)
    for line in sys.stdin:
        try:
            request = json.loads(line)
            pid = os.fork()
        except Exception as error:  # noqa: BLE001 - reported to the grader, the server goes on
            print(json.dumps({"error": f"{type(error).__name__}: {error}"}), file=out, flush=True)
            continue
        if pid == 0:
            try:
                _become_kernel(request)
            finally:
                os._exit(0)
        print(json.dumps({"pid": pid}), file=out, flush=True)


if __name__ == "__main__":
    serve(sys.argv[1:])
