"""A real, throwaway PostgreSQL server for tests.

``postgres_server()`` runs ``initdb`` into a fresh temporary directory, starts the server with
``pg_ctl -w`` on a free loopback port (TCP only on 127.0.0.1, its Unix socket inside the
temporary directory), creates a fresh database and yields its SQLAlchemy URL
``postgresql://<user>@127.0.0.1:<port>/<db>`` (trust authentication, no password), which
SQLAlchemy >= 2.1 resolves to psycopg 3, the driver the project installs. On exit, also
when the test failed, the server is stopped with ``pg_ctl stop -m immediate`` (SIGKILL as a last
resort) and the directory removed.

initdb refuses to run as root, so under root the server binaries run as the unprivileged
``postgres`` user (created by Debian's package), falling back to ``nobody``, and the temporary
directory is handed to that user. This is why the suite does not use pytest-postgresql: its
``postgresql_proc`` runs ``pg_ctl initdb`` as the current user and has no option to run it as
another one (dbfixtures/pytest-postgresql#341 and #455, closed without one), and CI runs as root.

Binaries are taken from ``PATH`` (``shutil.which("initdb")``), else from the newest
``/usr/lib/postgresql/<version>/bin/``. Without them the test is skipped, except in CI (``CI`` set),
where a missing server is an error: ``make postgres`` installs it.

The ``postgres_url`` fixture (session scope) wraps the context manager; a conftest can make it
visible with ``from tests.support.postgres import postgres_url  # noqa: F401``.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

SUPERUSER = "nbgrader"
DATABASE = "gradebook"
#: The DBAPI driver named in the URL; None leaves a bare ``postgresql://`` (psycopg 3).
DRIVER = None
#: Unprivileged accounts to run the server as when the tests run as root, in order of preference.
UNPRIVILEGED_USERS = ("postgres", "nobody")
#: Settings for a disposable server: loopback only, no durability, little memory.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "'16MB'",
    "max_connections": "50",
    "logging_collector": "off",
}
START_TIMEOUT = 60  # seconds, for pg_ctl -w
PORT_ATTEMPTS = 3  # a port picked by binding to port 0 can be taken before the server binds it


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def find_bindir() -> Optional[Path]:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    initdb = shutil.which("initdb")
    if initdb:
        bindir = Path(os.path.realpath(initdb)).parent
        if (bindir / "pg_ctl").exists() and (bindir / "postgres").exists():
            return bindir
    def version(path: str) -> tuple:
        name = Path(path).parent.parent.name  # /usr/lib/postgresql/<version>/bin/initdb
        return tuple(int(p) if p.isdigit() else 0 for p in name.split("."))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    for initdb in candidates:
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists() and (bindir / "postgres").exists():
            return bindir
    return None


def require_bindir() -> Path:
    """The binaries' directory; skip the test without them, unless in CI, where that's an error."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    message = ("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in "
               "/usr/lib/postgresql/*/bin; install them with `make postgres` "
               "(apt-get install postgresql)")
    if os.environ.get("CI"):
        raise PostgresUnavailable(message + " -- CI must not skip the PostgreSQL tests")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_user() -> Optional[pwd.struct_passwd]:
    """The account to run the server as: None to run as ourselves, else an unprivileged one."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable(f"running as root and none of the users {UNPRIVILEGED_USERS} exists "
                              "to run PostgreSQL as (initdb refuses to run as root)")


def _traversable_by_others(path: Path) -> bool:
    """Whether every directory from / down to path can be entered by any user."""
    path = path.resolve()
    for part in [path, *path.parents]:
        if not os.stat(part).st_mode & stat.S_IXOTH:
            return False
    return True


def _make_tempdir(user: Optional[pwd.struct_passwd]) -> Path:
    base = Path(tempfile.gettempdir())
    if user is not None and not _traversable_by_others(base):
        base = Path("/tmp")  # TMPDIR may be private to root; the server user must reach its data
    # Short names: the Unix socket path must stay under ~107 characters.
    root = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    return root


def _env() -> dict:
    """Our environment without PG* variables that would point the tools at another server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LC_ALL", "C")
    return env


def _run(args: list, user: Optional[pwd.struct_passwd], cwd: Path, timeout: float = 120) -> None:
    """Run a server binary (as the unprivileged user under root); raise with its output on error."""
    if user is not None:
        runuser = shutil.which("runuser")
        if runuser:
            args = [runuser, "-u", user.pw_name, "--", *args]
            preexec = None
        else:
            def preexec(uid=user.pw_uid, gid=user.pw_gid):
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
    else:
        preexec = None
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), preexec_fn=preexec,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, args, output=proc.stdout)


def _postmaster_pid(datadir: Path) -> Optional[int]:
    try:
        return int((datadir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def process_running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (in a container nothing may reap the
    daemonized postmaster once it exits)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return not Path("/proc/self").exists()  # no /proc: trust kill(0); else it just exited
    return stat_line.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _create_database(port: int, user: str, dbname: str) -> None:
    import psycopg

    conn = psycopg.connect(host="127.0.0.1", port=port, user=user, dbname="postgres",
                           connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{dbname}"')
    finally:
        conn.close()


@contextlib.contextmanager
def postgres_server(dbname: str = DATABASE, superuser: str = SUPERUSER,
                    driver: Optional[str] = DRIVER) -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yield
    ``postgresql+<driver>://<superuser>@127.0.0.1:<port>/<dbname>`` (``postgresql://...`` when
    driver is None, leaving the choice of DBAPI to SQLAlchemy).

    The server, its data and its socket live in a fresh temporary directory that is removed on
    exit, when the server has been stopped (``pg_ctl stop -m immediate``)."""
    bindir = require_bindir()
    user = server_user()
    root = _make_tempdir(user)
    datadir, sockdir, logfile = root / "data", root / "socket", root / "server.log"
    pid = None
    started = False
    try:
        sockdir.mkdir()
        if user is not None:
            os.chown(sockdir, user.pw_uid, user.pw_gid)
        _run([bindir / "initdb", "-D", datadir, "-A", "trust", "-U", superuser, "--no-sync",
              "-E", "UTF8", "--locale=C"], user, root)
        for attempt in range(PORT_ATTEMPTS):
            port = free_port()
            logfile.unlink(missing_ok=True)  # pg_ctl -l appends; keep only this attempt's log
            options = [f"-c {k}={v}" for k, v in SETTINGS.items()]
            options += [f"-p {port}", f"-k {sockdir}"]
            try:
                started = True  # from here on, stop whatever may have come up
                _run([bindir / "pg_ctl", "start", "-w", "-t", str(START_TIMEOUT), "-D", datadir,
                      "-l", logfile, "-o", " ".join(options)], user, root,
                     timeout=START_TIMEOUT + 30)
                break
            except subprocess.CalledProcessError as error:
                log = logfile.read_text(errors="replace") if logfile.exists() else ""
                in_use = "could not bind" in log or "Address already in use" in log
                if attempt + 1 < PORT_ATTEMPTS and in_use:
                    _stop(bindir, datadir, user, root)
                    continue
                raise RuntimeError(f"PostgreSQL did not start:\n{error.output}\n--- server log "
                                   f"{logfile} ---\n{log}") from error
        pid = _postmaster_pid(datadir)
        _create_database(port, superuser, dbname)
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        yield f"{scheme}://{superuser}@127.0.0.1:{port}/{dbname}"
    finally:
        try:
            if started:
                pid = _postmaster_pid(datadir) or pid
                _stop(bindir, datadir, user, root, pid)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _stop(bindir: Path, datadir: Path, user, root: Path, pid: Optional[int] = None) -> None:
    """Stop the server immediately; SIGKILL the postmaster if pg_ctl could not."""
    pid = pid or _postmaster_pid(datadir)
    try:
        _run([bindir / "pg_ctl", "stop", "-m", "immediate", "-w", "-t", "30", "-D", datadir],
             user, root, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        pass
    if pid is not None and process_running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh database on a throwaway PostgreSQL server (one per session,
    i.e. one per pytest-xdist worker)."""
    with postgres_server() as url:
        yield url
