"""Run student code in a sandbox: no course files, no network, bounded memory, CPU, processes and files.

Isolation levels, strongest first; ``level()`` picks the strongest one that actually works here:

- ``bubblewrap``: ``bwrap`` builds a new root holding only the system folders, the paths the
  caller makes visible (read-only) and the student's scratch folder (read-write), in private
  mount, PID, network, IPC and UTS namespaces.
- ``namespaces``: the same new root, built by this module with ``unshare`` and mount calls, for
  machines without bubblewrap (root only).
- ``unprivileged-user``: no namespaces, but root can still run the code as user nobody: resource
  limits hold, yet every world-readable file and the network stay reachable.
- ``none``: resource limits only.

Inside ``bubblewrap`` and ``namespaces`` the filesystem holds /usr, /bin, /lib*, /sbin and /etc
(read-only), a private /tmp, /dev and /proc, the Python installation, the ``visible`` paths
(read-only) and the scratch folder (read-write); ``hidden`` folders inside visible ones (the course
files an installed package carries) show up empty. Everything else (the course folder, the
repository with solutions/, /root, /home, /work, other students' folders) is absent, not merely
forbidden, so no list of paths to hide is needed. There is no network interface but a loopback
that is down: a kernel must talk to the grader over Unix sockets in its scratch folder.

Everything inside the sandbox is set up by a bootstrap, `autograde.engine.sandbox_bootstrap`, run as a script
(``python -I -S sandbox_bootstrap.py CONFIG``). It applies the resource limits, drops to an unprivileged
user and execs the student's command, so nothing runs in the caller's process between fork and
exec (``command()`` never needs a ``preexec_fn``, which is unsafe in threaded programs). It
imports only light standard modules: it runs for every sandbox.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from autograde.engine import sandbox_bootstrap
from autograde.engine.sandbox_bootstrap import NOBODY, SYSTEM_PATHS, _tasks_of
from autograde.settings import Grader

log = logging.getLogger(__name__)

LEVELS = ("bubblewrap", "namespaces", "unprivileged-user", "none")
ISOLATED = ("bubblewrap", "namespaces")  # course files invisible, no network
GiB, MiB = 1 << 30, 1 << 20
# One BLAS/OpenMP thread per kernel: each OpenBLAS thread reserves about 40 MB of address space,
# so on a many-core machine the default thread count alone would exhaust the memory limit.
THREAD_DEFAULTS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
BOOTSTRAP = os.path.realpath(sandbox_bootstrap.__file__)
TOOLS = {"bubblewrap": ("env", "bwrap"), "namespaces": ("env", "unshare")}  # commands each level runs


class SandboxError(RuntimeError):
    pass


@dataclass(frozen=True)
class Limits:
    """What one sandboxed process may use. The caller enforces wall_seconds (see ``run``).

    A kernel that imports numpy, SymPy, matplotlib and ipykernel peaks at about 290 MB of address
    space with one BLAS thread, so 2 GiB leaves room for the student's own arrays.
    """
    # None: no RLIMIT_CPU. A finite one makes Linux sample the process's CPU clock at scheduler ticks
    # (4 ms here), too coarse for a timing check; kernels are bounded by wall-clock limits instead.
    cpu_seconds: int | None = 60
    memory_bytes: int = 2 * GiB  # address space (RLIMIT_AS)
    processes: int = 64  # processes and threads of the sandbox's user
    file_bytes: int = 64 * MiB  # largest file it may write; also the size of its /tmp
    open_files: int = 256
    wall_seconds: float = 600


def python_paths() -> list[Path]:
    """The running Python's installation and virtual environment (resolved), to pass as visible."""
    paths = {Path(os.path.realpath(sys.base_prefix)), Path(os.path.realpath(sys.prefix))}
    return sorted(paths)


def _depth(path: str) -> int:
    return path.rstrip("/").count("/")


def _config(argv: list[str], scratch: Path, visible: list[Path], limits: Limits, env: dict | None,
            chosen: str, uid: int, server: bool = False, hidden: Sequence[Path] = ()) -> dict:
    drop = os.geteuid() == 0 and chosen != "none" and not server
    missing = [str(p) for p in visible if not os.path.exists(p)]
    if missing:
        raise SandboxError(f"cannot make visible what does not exist: {', '.join(missing)}")
    interpreter = os.path.realpath(sys.base_prefix)
    mounts = {str(Path(os.path.realpath(p))): False for p in [*visible, interpreter]}
    # Only what lies inside a visible folder needs covering; everything else is absent already.
    covered = sorted({str(Path(os.path.realpath(p))) for p in hidden if os.path.isdir(p)
                      and any(Path(os.path.realpath(p)).is_relative_to(m) for m in mounts)}, key=_depth)
    mounts[str(scratch)] = True
    return {
        "level": chosen,
        "argv": [str(a) for a in argv],
        "scratch": str(scratch),
        "env": {**THREAD_DEFAULTS, **(env if env is not None else {"PATH": "/usr/bin:/bin"}),
                "HOME": str(scratch), "TMPDIR": "/tmp"},
        "limits": asdict(limits),
        "uid": uid if drop else None,
        "gid": uid if drop else None,
        "server": server,
        "mounts": sorted(mounts.items(), key=lambda item: _depth(item[0])),
        "hidden": covered,
        "tmp_bytes": limits.file_bytes,
    }


def _prepare_scratch(scratch: Path, config: dict) -> None:
    """The student's folder belongs to the student's user; under no namespaces it must be reachable."""
    if config["uid"] is None:
        return
    if config["level"] == "unprivileged-user":
        closed = [p for p in scratch.parents if not p.stat().st_mode & 0o001]
        if closed:
            raise SandboxError(f"user {config['uid']} cannot reach {scratch}: {closed[0]} is not "
                               f"searchable by others (chmod o+x it, or choose another folder)")
    for folder, _, files in os.walk(scratch):
        for path in [folder, *(os.path.join(folder, f) for f in files)]:
            os.lchown(path, config["uid"], config["gid"])
    scratch.chmod(0o700)


def _bwrap_argv(config: dict) -> list[str]:
    argv = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--hostname", "sandbox"]
    if config["uid"] is not None or config["server"]:
        # bwrap run by root keeps every capability: keep only what the bootstrap needs to drop to uid,
        # and for a fork server what each child needs to mount its own /tmp before it drops.
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        argv += ["--cap-add", "CAP_SYS_ADMIN"] if config["server"] else []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    argv += ["--dev", "/dev", "--proc", "/proc",
             "--size", str(config["tmp_bytes"]), "--perms", "1777", "--tmpfs", "/tmp"]
    made, bound = {Path("/"), Path("/tmp")}, [Path(p) for p in SYSTEM_PATHS]
    for path, writable in [(BOOTSTRAP, False), *config["mounts"]]:
        # bwrap would make missing parent folders private to root: make them searchable by all.
        for parent in reversed(Path(path).parents):
            if parent not in made and not any(b == parent or b in parent.parents for b in bound):
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        argv += ["--bind" if writable else "--ro-bind", path, path]
        bound.append(Path(path))
    for path in config["hidden"]:
        argv += ["--perms", "0555", "--tmpfs", path, "--remount-ro", path]
    return argv + ["--chdir", "/", "--"]  # the bootstrap enters scratch once it is the student's user


def command(argv: list[str], scratch: Path, visible: list[Path], limits: Limits = Limits(),
            env: dict | None = None, *, level_name: str | None = None, uid: int = NOBODY,
            server: bool = False, hidden: Sequence[Path] = ()) -> tuple[list[str], None]:
    """The argv for ``subprocess.Popen`` that runs ``argv`` sandboxed, in scratch, with env.

    ``visible`` paths (resolved) are exposed read-only, scratch read-write; where the level allows,
    nothing else of this machine's files is visible, and ``hidden`` folders inside visible ones
    are covered by an empty, read-only one. scratch is handed over to ``uid`` (pass a
    distinct uid to each sandbox running at the same time: RLIMIT_NPROC counts all their tasks
    together). HOME is set to scratch and TMPDIR to /tmp; BLAS libraries get one thread unless env
    says otherwise. Start it with ``start_new_session=True`` and stop it with ``kill()``; a failure
    to set the sandbox up exits with 126 and a line "sandbox: ..." on stderr. The second item is
    always None: no ``preexec_fn`` is needed.

    A ``server`` (a fork server that runs no student code itself) stays root inside the sandbox,
    with only the capabilities to give each child its own mounts and drop it to ``uid``
    (`private_scratch_mounts`, `drop_privileges`); scratch stays root's, so only folders the
    caller hands to ``uid`` are writable by the children.
    """
    chosen = level_name or level()
    if chosen not in LEVELS:
        raise ValueError(f"unknown sandbox level {chosen!r}; one of {', '.join(LEVELS)}")
    scratch = Path(os.path.realpath(scratch))
    config = _config(argv, scratch, visible, limits, env, chosen, uid, server, hidden)
    if not server:
        _prepare_scratch(scratch, config)
    boot = [os.path.realpath(sys.executable), "-I", "-S", BOOTSTRAP, json.dumps(config)]
    # Kernels are interrupted with killpg(SIGINT): bwrap and unshare, in the same process group,
    # must ignore it, or the interrupt would tear the whole sandbox down. The bootstrap restores it.
    keep_on_interrupt = ["env", "--ignore-signal=INT"]
    if chosen == "bubblewrap":
        return keep_on_interrupt + _bwrap_argv(config) + boot, None
    if chosen == "namespaces":
        return keep_on_interrupt + ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork",
                                    "--kill-child", "--", *boot], None
    return boot, None


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # wall time
    timed_out: bool  # killed at limits.wall_seconds
    level: str

    @property
    def killed_by(self) -> int | None:
        """The signal that ended the student's process (PID namespaces report it as 128 + number)."""
        if self.returncode < 0:
            return -self.returncode
        if self.level in ISOLATED and self.returncode > 128:
            return self.returncode - 128
        return None


def kill(process: subprocess.Popen) -> None:
    """Kill a sandbox started with start_new_session=True, with everything it started.

    Under bubblewrap and namespaces the sandbox's PID namespace dies with it, so no process escapes.
    """
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.kill()


def run(argv: list[str], scratch: Path, visible: list[Path], limits: Limits = Limits(),
        env: dict | None = None, *, level_name: str | None = None, uid: int = NOBODY,
        input: str | None = None, server: bool = False, hidden: Sequence[Path] = ()) -> Finished:
    """Run argv in a sandbox to its end, or kill it after limits.wall_seconds."""
    chosen = level_name or level()
    args, _ = command(argv, scratch, visible, limits, env, level_name=chosen, uid=uid, server=server,
                      hidden=hidden)
    start = time.monotonic()
    process = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = process.communicate(input, timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill(process)
        stdout, stderr = process.communicate(timeout=10)
    return Finished(process.returncode, stdout, stderr, time.monotonic() - start, timed_out, chosen)


@cache
def works(name: str) -> bool:
    """Whether a sandbox of that level starts here and runs this Python as intended (tried once)."""
    if name != "none" and os.geteuid() != 0:
        return False  # every level above none starts as root and drops to an unprivileged user
    if not all(shutil.which(tool) for tool in TOOLS.get(name, ())):
        return False
    probe = (f"import os\nif {name != 'none'} and os.getuid() == 0: raise SystemExit(3)\n"
             "open('probe', 'w').write('ok')")
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as folder:
        os.chmod(folder, 0o755)
        try:
            finished = run([os.path.realpath(sys.executable), "-I", "-S", "-c", probe], Path(folder), [],
                           Limits(wall_seconds=20), level_name=name)
            return finished.returncode == 0 and Path(folder, "probe").read_text() == "ok"
        except (OSError, SandboxError, subprocess.SubprocessError):
            return False


@cache
def level() -> str:
    """The strongest isolation level that works on this machine (tried once, and logged)."""
    chosen = next(name for name in LEVELS if works(name))
    log.info("sandbox level %r: the strongest isolation that works on this machine", chosen)
    return chosen


def describe(name: str | None = None, disk_bytes: int | None = None) -> str:
    """One plain sentence for the grader's summary: how student code is isolated (``disk_bytes``:
    each student's disk, default the settings' default)."""
    name = name or level()
    disk_bytes = disk_bytes or Grader().disk_bytes
    limits = "memory, CPU time, processes, file size and open files are limited"
    if name in ISOLATED:
        limits += (f", and disk use to {disk_bytes >> 20} MiB per student" if disk_limited() else
                   "; disk use is not limited (that needs root to mount a tmpfs)")
    if name == "bubblewrap":
        return ("student code runs in a bubblewrap sandbox as an unprivileged user: no network, only its "
                f"own folder writable, course files invisible; {limits}")
    if name == "namespaces":
        return ("student code runs in private Linux namespaces (unshare) as an unprivileged user: no "
                f"network, only its own folder writable, course files invisible; {limits}")
    if name == "unprivileged-user":
        return ("WARNING: partial isolation only: student code runs as an unprivileged user but without "
                "namespaces; "
                f"{limits}, but it can use the network and read every file readable by all users")
    if os.geteuid() == 0:  # root is exempt from the process limit
        return ("WARNING: no isolation available: student code runs as root, can read and write every "
                "file on this machine and use the network; only memory, CPU time, file size and open "
                "files are limited")
    return ("WARNING: no isolation available: student code can read and write every file this user "
            f"can and use the network; {limits}")


# ------------------------------------------------------------------ disk quota

def limit_disk(folder: Path, size: int) -> bool:
    """Mount a tmpfs of ``size`` bytes on the empty ``folder``, so that a student who fills it
    gets "No space left on device" instead of filling the grader's disk. Needs root (it mounts);
    returns whether the limit is in force."""
    if os.geteuid() != 0:
        return False
    _unmount_abandoned()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0711,nosuid,nodev",
                           "grader-scratch", str(folder)], capture_output=True)
    return done.returncode == 0


def unlimit_disk(folder: Path) -> None:
    subprocess.run(["umount", "--lazy", str(folder)], capture_output=True)


def _unmount_abandoned() -> None:
    """Unmount and remove the scratch tmpfs of graders that were killed before they could
    (their folders are named grader-<pid>-…, see `autograde.engine.fork_server.ForkServer`)."""
    try:
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.startswith("grader-scratch ")]
    except OSError:
        return
    for point in points:
        parts = Path(point).name.split("-")
        if len(parts) < 3 or not parts[1].isdigit() or Path(f"/proc/{parts[1]}").exists():
            continue  # not ours, or its grader still runs
        unlimit_disk(Path(point))
        shutil.rmtree(point, ignore_errors=True)


@cache
def disk_limited() -> bool:
    """Whether this machine lets the grader limit each student's disk use (`limit_disk`)."""
    folder = Path(tempfile.mkdtemp(prefix="disk-probe-"))
    try:
        limited = limit_disk(folder, 1 << 20)
        if limited:
            unlimit_disk(folder)
        return limited
    finally:
        folder.rmdir()


# ------------------------------------------------------------------ sandbox users

SANDBOX_UIDS = range(61000, 65000)  # users no account on the machine has; one per grading slot
_CLAIMS = Path(tempfile.gettempdir()) / "autograde-sandbox-users"


def claim_uid():
    """A sandbox user no other grader on this machine uses, held until the returned file is
    closed (a lock, so a killed grader frees it). Two graders never share a user: neither can
    signal the other's student processes or use up the other's process limit."""
    import fcntl

    _CLAIMS.mkdir(mode=0o700, exist_ok=True)
    for uid in SANDBOX_UIDS:
        handle = open(_CLAIMS / str(uid), "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        if _tasks_of(uid):  # left running by a grader that was killed: not this user
            handle.close()
            continue
        return uid, handle
    raise RuntimeError(f"every sandbox user ({SANDBOX_UIDS.start}-{SANDBOX_UIDS.stop - 1}) is in use")
