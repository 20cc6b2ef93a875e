"""nbgrader's real Gradebook against a real, throwaway PostgreSQL server."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg
import pytest
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.engine import make_url

from .postgres import postgres_server, postgres_url, process_running  # noqa: F401

COURSE = "backprop-first-principles"


def test_url_shape(postgres_url):
    url = make_url(postgres_url)
    assert url.drivername == "postgresql"
    assert url.host == "127.0.0.1"
    assert url.port and url.username and url.database
    assert url.password is None


def test_bare_url():
    with postgres_server(driver=None) as url:
        assert url.startswith("postgresql://")
        conn = psycopg.connect(url)  # libpq understands the bare URL
        conn.close()


def test_gradebook_on_postgres(postgres_url):
    gb = Gradebook(postgres_url, course_id=COURSE)
    try:
        assert gb.engine.dialect.name == "postgresql"
        gb.add_assignment("ps1")
        gb.add_student("alice", first_name="Alice", last_name="Liddell")
        student = gb.find_student("alice")
        assert (student.id, student.first_name, student.last_name) == ("alice", "Alice", "Liddell")
        assert gb.find_assignment("ps1").course_id == COURSE
        with pytest.raises(MissingEntry):
            gb.find_student("nobody-here")
    finally:
        gb.close()


def test_two_connections_share_data(postgres_url):
    first = Gradebook(postgres_url, course_id=COURSE)
    second = Gradebook(postgres_url, course_id=COURSE)
    try:
        first.add_student("bob", first_name="Bob")
        first.add_assignment("ps2")
        assert second.find_student("bob").first_name == "Bob"
        assert "ps2" in {a.name for a in second.assignments}
        second.update_or_create_student("bob", last_name="Builder")
        first.db.expire_all()  # drop first's cached rows: read what the other connection wrote
        assert first.find_student("bob").last_name == "Builder"
    finally:
        first.close()
        second.close()


def _connect(url: str):
    u = make_url(url)
    return psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database)


def _server_facts(url: str) -> tuple[Path, int, int]:
    """The server's data directory, its postmaster pid and its port."""
    u = make_url(url)
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('data_directory')")
            datadir = Path(cur.fetchone()[0])
    finally:
        conn.close()
    pid = int((datadir / "postmaster.pid").read_text().split("\n", 1)[0])
    return datadir, pid, u.port


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_server_gone_after_exit():
    with postgres_server(dbname="scratch") as url:
        datadir, pid, port = _server_facts(url)
        assert process_running(pid) and _port_open(port)
    assert not process_running(pid)
    assert not datadir.exists() and not datadir.parent.exists()
    assert not _port_open(port)


def test_cleanup_when_the_test_fails():
    with pytest.raises(ZeroDivisionError):
        with postgres_server() as url:
            datadir, pid, port = _server_facts(url)
            1 / 0
    assert not process_running(pid)
    assert not datadir.parent.exists()
    assert not _port_open(port)


def test_fresh_database_per_server():
    with postgres_server() as a, postgres_server() as b:
        assert make_url(a).port != make_url(b).port
        assert _server_facts(a)[0] != _server_facts(b)[0]
        with _connect(a) as conn_a, conn_a.cursor() as cur:
            cur.execute("CREATE TABLE only_in_a (x int)")
        conn_a.close()
        conn_b = _connect(b)
        with conn_b.cursor() as cur:
            cur.execute("SELECT to_regclass('only_in_a') IS NULL, "
                        "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')")
            assert cur.fetchone() == (True, 0)
        conn_b.close()


def test_missing_binaries_skip_locally_but_fail_in_ci(monkeypatch):
    from . import postgres

    monkeypatch.setattr(postgres, "find_bindir", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        with postgres_server():
            pass
    monkeypatch.setenv("CI", "true")
    with pytest.raises(postgres.PostgresUnavailable, match="CI must not skip"):
        with postgres_server():
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason="the unprivileged fallback user only matters under root")
def test_root_falls_back_to_nobody(monkeypatch):
    from . import postgres

    monkeypatch.setattr(postgres, "UNPRIVILEGED_USERS", ("no-such-user-here", "nobody"))
    assert postgres.server_user().pw_name == "nobody"
    with postgres_server() as url:
        datadir, pid, port = _server_facts(url)
        assert datadir.stat().st_uid == postgres.server_user().pw_uid
    assert not process_running(pid) and not datadir.parent.exists()
