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

Everything inside the sandbox is set up by a bootstrap: this very file run as a script
(``python -I -S sandbox.py CONFIG``). It applies the resource limits, drops to an unprivileged
user and execs the student's command, so nothing runs in the caller's process between fork and
exec (``command()`` never needs a ``preexec_fn``, which is unsafe in threaded programs). The
bootstrap half of the file imports only light standard modules: it runs for every sandbox.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

NOBODY = 65534
# Mounted read-only into every sandbox (symbolic links such as /bin -> usr/bin are recreated).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

# ---------------------------------------------------------------- inside: the bootstrap


def _libc_call(name: str, *args) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if name == "pivot_root" and not hasattr(libc, "pivot_root"):
        result = libc.syscall(SYS_PIVOT_ROOT[os.uname().machine], *args)
    else:
        result = getattr(libc, name)(*args)
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}{tuple(a.decode() if isinstance(a, bytes) else a for a in args)}: "
                             f"{os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = (lambda s: None if s is None else s.encode())  # noqa: E731
    _libc_call("mount", encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data))


def _mount_points_under(target: str, table: str = "/oldroot/proc/self/mountinfo") -> list[str]:
    """Mount points at or below target in this mount namespace (by default while the old root is at /oldroot)."""
    points = []
    with open(table) as mountinfo:
        for line in mountinfo:
            point = line.split()[4]
            for escaped, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
                point = point.replace(escaped, char)
            if point == target or point.startswith(target.rstrip("/") + "/"):
                points.append(point)
    return points


def _bind(source: str, target: str, writable: bool) -> None:
    """Bind source (with its submounts) onto target: read-only unless writable, never setuid or devices."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    for point in _mount_points_under(target):
        kept = os.statvfs(point).f_flag & MS_NOEXEC
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | kept
               | (0 if writable else MS_RDONLY))


def _build_root(config: dict) -> None:
    """Replace the root of this (new, private) mount namespace with one holding only what is allowed.

    Runs as root, as PID 1 of a new PID namespace. The steps follow bubblewrap: a tmpfs becomes the
    root, the old root stays reachable at /oldroot while the new one is filled, then it is dropped.
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    base = "/tmp"
    _mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    for name in ("newroot", "oldroot"):
        os.mkdir(f"{base}/{name}")
    _mount("tmpfs", f"{base}/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    _libc_call("pivot_root", base.encode(), f"{base}/oldroot".encode())
    os.chdir("/")
    old, new = "/oldroot", "/newroot"

    for path in SYSTEM_PATHS:
        if os.path.islink(old + path):
            os.symlink(os.readlink(old + path), new + path)
        elif os.path.isdir(old + path):
            _bind(old + path, new + path, writable=False)
    os.mkdir(f"{new}/dev")
    _mount("tmpfs", f"{new}/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for device in DEVICES:
        open(f"{new}/dev/{device}", "w").close()
        _mount(f"{old}/dev/{device}", f"{new}/dev/{device}", None, MS_BIND)
    for link, target in {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                         "stderr": "/proc/self/fd/2"}.items():
        os.symlink(target, f"{new}/dev/{link}")
    os.mkdir(f"{new}/dev/shm")
    _mount("tmpfs", f"{new}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
           f"mode=1777,size={config['tmp_bytes']}")
    os.mkdir(f"{new}/proc")
    _mount("proc", f"{new}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.mkdir(f"{new}/tmp")
    _mount("tmpfs", f"{new}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={config['tmp_bytes']}")
    for path, writable in config["mounts"]:
        _bind(old + path, new + path, writable)
    for path in config["hidden"]:
        _mount("tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "mode=0555,size=4k")

    _libc_call("umount2", old.encode(), MNT_DETACH)
    os.chdir(new)
    _libc_call("pivot_root", b".", b".")
    _libc_call("umount2", b".", MNT_DETACH)
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _tasks_of(uid: int) -> int:
    """Processes and threads owned by uid now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            pass
    return count


def _apply_limits(limits: dict, uid: int | None) -> None:
    def cap(which: int, value: int, hard: int | None = None) -> None:
        resource.setrlimit(which, (value, value if hard is None else hard))

    cap(resource.RLIMIT_AS, limits["memory_bytes"])
    if limits["cpu_seconds"] is not None:
        # SIGXCPU at the soft limit; SIGKILL one second later if the program catches or ignores it.
        cap(resource.RLIMIT_CPU, limits["cpu_seconds"], limits["cpu_seconds"] + 1)
    cap(resource.RLIMIT_FSIZE, limits["file_bytes"])
    cap(resource.RLIMIT_NOFILE, limits["open_files"])
    cap(resource.RLIMIT_CORE, 0)
    # RLIMIT_NPROC counts every task of the real user: a user of its own gets the plain limit; the
    # caller's own user gets its current count plus the limit; root is exempt from it anyway.
    if uid is not None:
        cap(resource.RLIMIT_NPROC, limits["processes"])
    elif os.getuid() != 0:
        cap(resource.RLIMIT_NPROC, _tasks_of(os.getuid()) + limits["processes"])


CLONE_NEWNS = 0x00020000
PR_SET_DUMPABLE = 4


def private_scratch_mounts(tmp_bytes: int, keep: str) -> None:
    """In a fork server's child, still root: a mount namespace of its own whose /tmp and /dev/shm
    are new, empty tmpfs. Nothing a kernel writes there outlives it or reaches the next kernel.
    ``keep`` (the server's scratch folder, often under /tmp) stays where it was, and so does what
    the sandbox mounted under them (a virtual environment in /tmp, with what it hides)."""
    _libc_call("unshare", CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    folders = [folder for folder in ("/tmp", "/dev/shm") if os.path.isdir(folder)]
    below = {keep, *(p for f in folders for p in _mount_points_under(f, "/proc/self/mountinfo") if p != f)}
    outermost = [p for p in below if not any(p.startswith(q.rstrip("/") + "/") for q in below)]
    # Opened in this namespace before the new tmpfs cover them, to bind from (with their submounts).
    kept = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in outermost}
    for folder in folders:
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={tmp_bytes}")
    for path, handle in sorted(kept.items()):
        if not os.path.isdir(path):  # it was under one of them: bind it back (parents as root's 0755)
            os.makedirs(path, mode=0o755)
            _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
        os.close(handle)


def drop_privileges(uid: int, processes: int | None = None) -> None:
    """Become ``uid`` for good (every capability goes), with at most ``processes`` tasks of that
    user; setuid programs gain nothing afterwards."""
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    _libc_call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def set_dumpable(dumpable: bool) -> None:
    """A process that is not dumpable cannot be traced, nor its memory read or written through
    /proc/<pid>/mem, by any process without CAP_SYS_PTRACE, even one of the same user."""
    _libc_call("prctl", PR_SET_DUMPABLE, int(dumpable), 0, 0, 0)


def _has_terminal() -> bool:
    with open("/proc/self/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[4]) != 0


def _become_init() -> None:
    """Stay behind as PID 1 of the sandbox while a child goes on to run the student's command.

    PID 1 stays root, so the parent-death signal that ``unshare --kill-child`` gave it survives
    (dropping privileges would clear it): when unshare is killed, PID 1 dies and the kernel kills
    every process of the namespace. It exits as soon as the student's process ends, with its
    status (128 + the signal's number if it was killed, as bubblewrap reports it). Returns only in
    the child.
    """
    child = os.fork()
    if child == 0:
        return
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, signal.SIG_IGN)  # meant for the student's process, in the same group
    while True:
        pid, status = os.wait()  # also reaps orphans, which the namespace reparents to PID 1
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def bootstrap(config: dict) -> None:
    """Set up the sandbox from inside, then exec the student's command (never returns)."""
    if config["level"] == "namespaces":
        _build_root(config)
        _become_init()
    _apply_limits(config["limits"], config["uid"])
    if _has_terminal():
        # A process sharing the caller's terminal could type into it (TIOCSTI). Without a terminal
        # it stays in the caller's process group, so killpg() reaches it (kernel interrupts).
        os.setsid()
    if config["uid"] is not None:
        drop_privileges(config["uid"])
    elif not config.get("server"):
        _libc_call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid programs in /usr gain nothing
    os.chdir(config["scratch"])
    for number in (signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(number, signal.SIG_DFL)  # ignored up to here; the student's program decides
    os.execvpe(config["argv"][0], config["argv"], config["env"])


if __name__ == "__main__":
    try:
        bootstrap(json.loads(sys.argv[1]))
    except OSError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        sys.exit(126)

# ---------------------------------------------------------------- outside: the grader's side

import shutil  # noqa: E402  (the bootstrap above must not pay for these imports)
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from functools import cache  # noqa: E402
from pathlib import Path  # noqa: E402

LEVELS = ("bubblewrap", "namespaces", "unprivileged-user", "none")
ISOLATED = ("bubblewrap", "namespaces")  # course files invisible, no network
GiB, MiB = 1 << 30, 1 << 20
# One BLAS/OpenMP thread per kernel: each OpenBLAS thread reserves about 40 MB of address space,
# so on a many-core machine the default thread count alone would exhaust the memory limit.
THREAD_DEFAULTS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
BOOTSTRAP = os.path.realpath(__file__)
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
    """The strongest isolation level that works on this machine."""
    return next(name for name in LEVELS if works(name))


def describe(name: str | None = None) -> str:
    """One plain sentence for the grader's summary: how student code is isolated."""
    name = name or level()
    limits = "memory, CPU time, processes, file size and open files are limited"
    if name in ISOLATED:
        limits += (f", and disk use to {SCRATCH_BYTES >> 20} MiB per student" if disk_limited() else
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

SCRATCH_BYTES = 256 << 20  # disk one student's folder may fill (the largest file a kernel may write)


def limit_disk(folder: Path, size: int = SCRATCH_BYTES) -> bool:
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
    (their folders are named grader-<pid>-…, see `warm_kernels.ForkServer`)."""
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
