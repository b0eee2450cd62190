"""The suite's own PostgreSQL (tests/pgserver.py and the pg_server/pg_url fixtures) works:
the team-mode store tests lean on it, so it is checked against the real server here."""

from __future__ import annotations

import os
import pwd
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests import pgserver
from tests.pgserver import PgServer, PgServerError

#: Database names pg_url handed out in this process, to check each test gets its own.
SEEN: list[str] = []


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM notes").fetchone()[0]


def test_a_query_round_trips(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO notes (body) VALUES (%s)", ("café ☕",))
        conn.commit()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("café ☕",)]
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_test_gets_its_own_empty_database(pg_url: str, pg_server: PgServer, turn: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    assert name not in SEEN
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        conn.execute("CREATE TABLE marker (turn text)")
    with psycopg.connect(pg_server.url()) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert name in names
    assert not names & set(SEEN), "an earlier test's database was not dropped"
    SEEN.append(name)


def test_databases_are_separate_and_drop_cuts_open_connections(pg_server: PgServer) -> None:
    a, b = pg_server.create_database("sep_a"), pg_server.create_database("sep_b")
    try:
        with psycopg.connect(a, autocommit=True) as conn:
            conn.execute("CREATE TABLE only_in_a (x int)")
        with psycopg.connect(b) as conn:
            assert conn.execute("SELECT to_regclass('only_in_a')").fetchone() == (None,)
        left_open = psycopg.connect(a)
        pg_server.drop_database("sep_a")
        with pytest.raises(psycopg.OperationalError):
            left_open.execute("SELECT 1")
        left_open.close()
        pg_server.drop_database("sep_a")  # already gone: no error
    finally:
        pg_server.drop_database("sep_a")
        pg_server.drop_database("sep_b")


@pytest.mark.parametrize("abrupt", [False, True], ids=["stopped", "killed"])
def test_data_survives_the_server_going_down_and_coming_back(pg_url: str, pg_server: PgServer, abrupt: bool) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE notes (body text)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        conn.commit()
    port = pg_server.port
    with pg_server.outage(abrupt=abrupt):
        assert not pg_server.running
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pg_url, connect_timeout=2)
    assert pg_server.port == port
    assert _count(pg_url) == 1


def test_a_test_that_leaves_the_server_down_does_not_break_the_next(pg_url: str, pg_server: PgServer) -> None:
    """pg_url's teardown starts it again (the next test here would fail otherwise)."""
    pg_server.stop_server()


def test_the_server_runs_as_a_non_root_user_when_we_are_root(pg_server: PgServer) -> None:
    status = Path(f"/proc/{pg_server.pid()}/status").read_text()
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    if os.geteuid() == 0:
        assert uid != 0
        assert pwd.getpwuid(uid).pw_name == pg_server.os_user
        assert pg_server.os_user in ("postgres", "nobody")
    else:
        assert uid == os.geteuid()
    assert Path(pg_server.data_dir).stat().st_uid == uid


def test_the_server_is_tuned_and_listens_on_loopback_only(pg_server: PgServer) -> None:
    with psycopg.connect(pg_server.url()) as conn:
        show = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("listen_addresses", "fsync", "max_connections", "unix_socket_directories")}
    assert show == {"listen_addresses": "127.0.0.1", "fsync": "off", "max_connections": "200",
                    "unix_socket_directories": str(pg_server.socket_dir)}
    assert (pg_server.socket_dir / f".s.PGSQL.{pg_server.port}").is_socket()


def test_stop_ends_the_server_and_removes_its_dir() -> None:
    with PgServer() as server:
        directory, pid = server.dir, server.pid()
        assert directory is not None and directory.is_dir()
    assert not directory.exists()
    deadline = time.monotonic() + 10  # pg_ctl returns once postmaster.pid is gone, just before the exit
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(pid)
    server.stop()  # twice: no error


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback user is for root only")
def test_as_root_without_a_postgres_user_the_server_runs_as_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pwd.getpwnam

    def getpwnam(name: str) -> pwd.struct_passwd:
        if name == "postgres":
            raise KeyError(name)
        return real(name)

    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    with PgServer() as server:
        assert server.os_user == "nobody"
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert Path(server.data_dir).stat().st_uid == real("nobody").pw_uid


def test_missing_postgresql_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgserver, "DEBIAN_ROOT", tmp_path)
    with pytest.raises(PgServerError, match="PostgreSQL is not installed: apt-get install postgresql"):
        PgServer().start()


def test_missing_psycopg_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(PgServerError, match=r"psycopg is not installed: pip install"):
        PgServer().create_database("never")
