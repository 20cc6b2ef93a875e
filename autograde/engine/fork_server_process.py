"""A fork server for IPython kernels: `python -m autograde.engine.fork_server_process MODULE ...`.

It imports the kernel machinery and the heavy libraries once (the MODULEs), then forks one fresh
kernel process per request. Each kernel is a new process that no other submission ever runs in;
what it inherits is only the state of a process that has imported modules and done nothing else.
The server itself never starts a thread, a ZeroMQ context or a kernel, so forking it is safe.

Protocol, one JSON object per line: the request on stdin is
``{"connection_file": path, "cwd": path, "env": {...}, "limits": {"RLIMIT_AS": n, ...}, "processes": n,
"output_bytes": n, ...}`` for a kernel (its limits are the grader's settings, `autograde.engine.fork_server`), or
``{"kind": "checks", "task_file": path, "result_file": path}`` for a trusted checker (see
`autograde.trusted.checker`); the reply on stdout is ``{"pid": N}`` or ``{"error": "..."}``.
The first line written is ``{"ready": [modules]}``.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import pkgutil
import signal
import sys

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# What a kernel imports up to its first cell (`IPKernelApp.initialize` imports the last eight; the first six of
# those cost 25 ms a kernel when measured).
KERNEL_MODULES = ["IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
                  "matplotlib_inline.backend_inline", "IPython.core.completerlib", "IPython.core.debugger",
                  "IPython.extensions.storemagic", "sqlite3", "tornado.platform.asyncio", "faulthandler",
                  "IPython.core.oinspect", "IPython.utils.wildcard"]


def _reap(*_):
    """Collect exited kernels so that their pids read as dead at once."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _limit(limits: dict) -> None:
    """Resource limits for everything the student's code does in this process and its children."""
    import resource

    for name, value in {"RLIMIT_CORE": 0, **limits}.items():
        which = getattr(resource, name)
        hard = resource.getrlimit(which)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)  # a sandbox may allow less
        resource.setrlimit(which, (value, value))


def _isolate(request: dict) -> None:
    """Give this kernel a world of its own, then drop to the student's user.

    As root (the sandboxed server): a private mount namespace with new, empty /tmp and /dev/shm,
    HOME inside it, then the slot's user with no capability left. Otherwise (no sandbox): HOME and
    TMPDIR are fresh folders the grader made for this kernel alone. Either way nothing an earlier
    kernel wrote (IPython or Jupyter profiles, startup files, matplotlib config, `.pth` files in a
    user site) is where this one looks for it."""
    from autograde.engine import sandbox_bootstrap

    uid = request.get("uid")
    if uid is not None and os.geteuid() == 0:
        sandbox_bootstrap.private_scratch_mounts(request.get("tmp_bytes", 64 << 20), request["scratch"])
        _limit(request.get("limits", {}))
        sandbox_bootstrap.drop_privileges(uid, request.get("processes"))
        home = "/tmp/home"
        os.makedirs(home, mode=0o700)
        os.environ.update(HOME=home, TMPDIR="/tmp")
    else:
        _limit(request.get("limits", {}))
        os.environ.update(HOME=request["home"], TMPDIR=request["tmp"])
    sandbox_bootstrap.set_dumpable(True)  # the kernel itself is the student's; its server stays undumpable
    os.environ.update(IPYTHONDIR=os.path.join(os.environ["HOME"], ".ipython"),
                      MPLCONFIGDIR=os.path.join(os.environ["TMPDIR"], "matplotlib"))


def _become_kernel(request: dict) -> None:
    """In the forked child: detach, isolate, take the request's folder and environment, run a kernel."""
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()  # its own process group: the grader kills the kernel and all it started at once
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 1024)
    _isolate(request)
    os.chdir(request["cwd"])
    os.environ.update(request.get("env", {}))
    if "numpy" in sys.modules:  # a fresh process draws its own unseeded random state
        sys.modules["numpy"].random.seed()
    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
    app = _kernel_app(request["connection_file"])
    app.initialize(sys.argv[1:])
    _cap_output(request["output_bytes"])
    app.start()


def _kernel_app(connection_file: str):
    """ipykernel's app, with the settings of the command line ``-f connection_file
    --IPKernelApp.log_level=ERROR --HistoryManager.hist_file=:memory:`` given as that command
    line's config: traitlets parses a command line with an argparse parser of every alias of
    every configurable class, which it builds anew each time (about 13 ms of each kernel's start)."""
    from ipykernel.kernelapp import IPKernelApp
    from traitlets.config import Config

    settings = Config({"IPKernelApp": {"connection_file": connection_file, "log_level": "ERROR"},
                       "HistoryManager": {"hist_file": ":memory:"}})

    class KernelApp(IPKernelApp):
        def parse_command_line(self, argv=None):
            self.argv = list(argv or [])
            self.cli_config = settings  # over any config file, as a command line's settings are
            self.update_config(settings)

    return KernelApp.instance()


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


CHECKER_EXTRA_BYTES = 512 << 20  # memory one notebook's checks may add to what the server holds


def _limit_checker() -> None:
    """The checker has limits too: one answer may cost it at most CHECKER_EXTRA_BYTES of address
    space (a MemoryError in that cell); its time is watched by the grader cell by cell."""
    import resource

    import psutil

    size = psutil.Process().memory_info().vms
    resource.setrlimit(resource.RLIMIT_AS, (size + CHECKER_EXTRA_BYTES, size + CHECKER_EXTRA_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _run_checks(request: dict) -> None:
    """In the forked child: the trusted checks of one notebook, results written to a file."""
    import json as _json

    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a student's kernel that dies is an error here, not a kill
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 1024)
    _limit_checker()
    from autograde.trusted.checker import StudentGone, check

    with open(request["task_file"]) as handle:
        task = _json.load(handle)
    try:
        verdicts = check(task)
    except StudentGone as gone:
        verdicts = {"student_gone": str(gone)}
    except Exception as error:  # noqa: BLE001 - reported to the grader as the reason
        verdicts = {"error": f"{type(error).__name__}: {error}"}
    partial = request["result_file"] + ".partial"
    with open(partial, "w") as handle:
        _json.dump(verdicts, handle)
    os.replace(partial, request["result_file"])


def _kill_user(uid: int) -> None:
    """Kill every process of ``uid`` (whatever a student left running), from a child that becomes
    that user: kill(-1) then reaches exactly that user's processes."""
    child = os.fork()
    if child == 0:
        try:
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    try:
        os.waitpid(child, 0)
    except ChildProcessError:  # already reaped by the SIGCHLD handler
        pass


def alive(pid: int) -> bool:
    """The process runs (it exists and is neither a zombie nor dead)."""
    import psutil

    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.Error:
        return False


def _manage(request: dict) -> dict:
    """Kernels are known by this server's pids, which mean nothing outside a PID namespace."""
    pid = request["pid"]
    if request["op"] == "alive":
        return {"alive": alive(pid)}
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if request.get("uid") is not None and os.geteuid() == 0:  # kernels run as a user of their own
        _kill_all_of(request["uid"])
    _reap()
    return {"killed": pid}


def _expanded(names: list[str]) -> list[str]:
    """The names, with "package.*" standing for the package and every module in it (found on disk
    by pkgutil; a package that cannot be found stands for nothing)."""
    found = []
    for name in names:
        if not name.endswith(".*"):
            found.append(name)
            continue
        package = name[:-2]
        spec = importlib.util.find_spec(package)
        if spec is None or spec.submodule_search_locations is None:
            continue
        found.append(package)
        found += [m.name for m in pkgutil.walk_packages(spec.submodule_search_locations, f"{package}.",
                                                         onerror=lambda _: None)]
    return found


#: (pid, request pipe, reply pipe) of the small process that kills users' processes for this server
_killer: tuple[int, int, int] | None = None


def _start_killer() -> None:
    """Fork, before the heavy imports, the helper that runs `_kill_user` for this server: each kill
    forks a process, and forking this small one takes 4 ms where forking the server, once it holds
    NumPy, SymPy and matplotlib, takes 14. The helper keeps only its two pipes; it ends when the
    server does (its request pipe closes)."""
    global _killer
    requests, to_helper = os.pipe()
    from_helper, replies = os.pipe()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # the grader sees the server's pipes close when the server ends
            os.dup2(null, fd)
        for fd in range(3, 1024):
            if fd not in (requests, replies):
                try:
                    os.close(fd)
                except OSError:
                    pass
        with os.fdopen(requests) as lines:
            for line in lines:
                _kill_user(int(line))
                os.write(replies, b".")
        os._exit(0)
    os.close(requests)
    os.close(replies)
    _killer = (pid, to_helper, from_helper)


def _kill_all_of(uid: int) -> None:
    """`_kill_user`, by the helper; by this server itself if the helper is gone."""
    if _killer is not None:
        try:
            os.write(_killer[1], f"{uid}\n".encode())
            if os.read(_killer[2], 1):
                return
        except OSError:
            pass
    _kill_user(uid)


def serve(modules: list[str]) -> None:
    from autograde.engine import sandbox_bootstrap

    sandbox_bootstrap.set_dumpable(False)  # no kernel it forks may trace it or write its memory
    if os.geteuid() == 0:  # a sandboxed server: its kernels run as a user whose processes it kills
        _start_killer()
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # ipykernel's debugger, imported here: no warning
    loaded = []
    for name in KERNEL_MODULES + _expanded(modules):
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception:  # a module that cannot load is imported by the kernel instead, as usual  # noqa: BLE001
            pass
    if "sympy.utilities.lambdify" in loaded:  # its first call imports numpy's names into its table: once, here
        import sympy

        sympy.lambdify(sympy.Symbol("x"), sympy.Symbol("x"), "numpy")
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
    # The grader closed the pipe: leave at once. Tearing down NumPy, SymPy and matplotlib module by
    # module took half a second at the end of every grading run; the server holds nothing to save.
    out.flush()
    os._exit(0)


if __name__ == "__main__":
    serve(sys.argv[1:])
