"""A fork server for IPython kernels: `python -m autograde.zygote MODULE ...`.

It imports the kernel machinery and the heavy libraries once (the MODULEs), then forks one fresh
kernel process per request. Each kernel is a new process that no other submission ever runs in;
what it inherits is only the state of a process that has imported modules and done nothing else.
The server itself never starts a thread, a ZeroMQ context or a kernel, so forking it is safe.

Protocol, one JSON object per line: the request on stdin is
``{"connection_file": path, "cwd": path, "env": {...}}`` for a kernel, or
``{"kind": "checks", "task_file": path, "result_file": path}`` for a trusted checker (see
`autograde.trusted.checker`); the reply on stdout is ``{"pid": N}`` or ``{"error": "..."}``.
The first line written is ``{"ready": [modules]}``.
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


OUTPUT_BYTES = 4_000_000  # characters of prints a kernel sends; the grader keeps less of them


def _limit(limits: dict) -> None:
    """Resource limits for everything the student's code does in this process and its children."""
    import resource

    for name, value in {"RLIMIT_CORE": 0, **limits}.items():
        which = getattr(resource, name)
        hard = resource.getrlimit(which)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)  # a sandbox may allow less
        resource.setrlimit(which, (value, value))


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
    _limit(request.get("limits", {}))
    if "numpy" in sys.modules:  # a fresh process draws its own unseeded random state
        sys.modules["numpy"].random.seed()
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:] + ["--IPKernelApp.log_level=ERROR",
                                   "--HistoryManager.hist_file=:memory:"])
    _cap_output(OUTPUT_BYTES)
    app.start()


def _cap_output(budget: int) -> None:
    """Past ``budget`` characters of prints the kernel drops them itself: 200 MB of output then
    costs the student's cell a loop, not seconds of messages the grader would discard anyway."""
    left = [budget]
    for stream in (sys.stdout, sys.stderr):
        def write(text, _write=stream.write):
            if left[0] <= 0:
                return len(text) if isinstance(text, str) else _write(text)
            left[0] -= len(text) if isinstance(text, str) else 0
            written = _write(text)
            if left[0] <= 0:
                _write(f"\n[output over {budget:,} characters dropped by the kernel]\n")
            return written

        stream.write = write


def _run_checks(request: dict) -> None:
    """In the forked child: the trusted checks of one notebook, results written to a file."""
    import json as _json

    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 1024)
    from autograde.trusted.checker import check

    with open(request["task_file"]) as handle:
        task = _json.load(handle)
    try:
        verdicts = {"verdicts": check(task)}
    except Exception as error:  # noqa: BLE001 - reported to the grader as the reason
        verdicts = {"error": f"{type(error).__name__}: {error}"}
    partial = request["result_file"] + ".partial"
    with open(partial, "w") as handle:
        _json.dump(verdicts, handle)
    os.replace(partial, request["result_file"])


def _manage(request: dict) -> dict:
    """Kernels are known by this server's pids, which mean nothing outside a PID namespace."""
    pid = request["pid"]
    if request["op"] == "alive":
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return {"alive": stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")}
        except (OSError, IndexError):
            return {"alive": False}
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if os.getuid() != 0:  # sandboxed as its own user: whatever the student left running dies too
        try:
            os.kill(-1, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    _reap()
    return {"killed": pid}


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
            if request.get("op") in ("alive", "kill"):
                print(json.dumps(_manage(request)), file=out, flush=True)
                continue
            pid = os.fork()
        except Exception as error:  # noqa: BLE001 - reported to the grader, the server goes on
            print(json.dumps({"error": f"{type(error).__name__}: {error}"}), file=out, flush=True)
            continue
        if pid == 0:
            try:
                (_run_checks if request.get("kind") == "checks" else _become_kernel)(request)
            except BaseException:  # noqa: BLE001 - left where the grader can read why
                import traceback

                with open(os.path.join(request.get("cwd", "/tmp"), ".kernel-error.txt"), "w") as handle:
                    traceback.print_exc(file=handle)
                os._exit(1)
            finally:
                os._exit(0)
        print(json.dumps({"pid": pid}), file=out, flush=True)


if __name__ == "__main__":
    serve(sys.argv[1:])
