"""The sandbox's bootstrap: run as a script (``python -I -S sandbox_bootstrap.py CONFIG``) at the
start of every sandbox, it builds the new root (the ``namespaces`` level), applies the resource
limits, drops to an unprivileged user and execs the student's command, so nothing runs in the
caller's process between fork and exec. It imports only light standard modules. The grader's side,
which builds the CONFIG and picks the isolation level, is `autograde.engine.sandbox`.
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
