"""A throwaway PostgreSQL server for the tests: the team-mode store runs against a real one.

``PgServer().start()`` runs ``initdb`` in a fresh temp dir, starts the server with ``pg_ctl -w``
on a free loopback port (trust auth, loopback only, its unix socket inside the temp dir, tuned
for speed rather than durability), and ``stop()`` shuts it down and removes the dir. ``kill()``,
``stop_server()`` and ``start_again()`` let a test take the database away and bring it back on
the same port with the same data, as an outage would.

``initdb`` refuses to run as root: as root, every server command runs as the ``postgres`` user
(else ``nobody``) through ``runuser``, and the temp dir belongs to that user. The superuser role
is always ``postgres``, whoever runs the server, so URLs look the same everywhere.

psycopg is imported only when a database is created or dropped (the ``postgres`` extra).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The superuser role initdb creates (``-U``), independent of the OS user running the server.
SUPERUSER = "postgres"
INSTALL_HINT = "PostgreSQL is not installed: apt-get install postgresql (./dev test installs it)"
#: Speed over durability: the data lives only as long as the test session.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    # On: with fsync off a commit costs one write() either way (measured: no difference), and
    # off would lose the last commits to kill(), which an outage test reads as lost data.
    "synchronous_commit": "on",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_connections": "200",  # several devtrack processes, each with a pool
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "jit": "off",
    "log_min_messages": "warning",
}
#: Trust, and only on loopback: nothing else can reach the server anyway (listen_addresses).
HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
_TOOLS = ("initdb", "pg_ctl", "postgres")
#: Where Debian's packages put each major version's binaries (``<version>/bin``).
DEBIAN_ROOT = Path("/usr/lib/postgresql")
_TIMEOUT = 60


class PgServerError(RuntimeError):
    """The server could not be found, started, stopped or used; the message says why."""


def find_bin_dir() -> Path:
    """The directory holding initdb, pg_ctl and postgres: from PATH, else the newest
    /usr/lib/postgresql/*/bin (Debian keeps them off PATH). pg_ctl starts the ``postgres``
    next to itself, so the three must come from one directory."""
    on_path = [shutil.which(tool) for tool in _TOOLS]
    if all(on_path):
        return Path(os.path.realpath(on_path[1] or "")).parent  # pg_ctl's own directory
    versions = []
    for bin_dir in DEBIAN_ROOT.glob("*/bin"):
        if all((bin_dir / tool).is_file() for tool in _TOOLS):
            key = tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))
            versions.append((key, bin_dir))
    if not versions:
        raise PgServerError(INSTALL_HINT)
    return max(versions)[1]


def _server_user() -> pwd.struct_passwd | None:
    """The user to run the server as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PgServerError("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


def _runuser() -> str:
    found = shutil.which("runuser") or next((p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), None)
    if found is None:
        raise PgServerError("running as root needs runuser (util-linux) to start PostgreSQL as another user")
    return found


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (start() retries if one is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _psycopg() -> Any:
    try:
        import psycopg
        import psycopg.sql
    except ImportError:
        raise PgServerError("psycopg is not installed: pip install -e '.[postgres]' (psycopg[binary,pool]>=3.1)") from None
    return psycopg


class PgServer:
    """One PostgreSQL server in its own temp dir; see the module docstring."""

    def __init__(self, base_dir: Path | None = None) -> None:
        self.base_dir = base_dir
        self.dir: Path | None = None
        self.port: int | None = None
        self.bin_dir: Path | None = None
        self.os_user: str = pwd.getpwuid(os.geteuid()).pw_name
        self.running = False
        self._as: list[str] = []

    # -- paths -----------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._dir / "data"

    @property
    def log_file(self) -> Path:
        return self._dir / "server.log"

    @property
    def socket_dir(self) -> Path:
        return self._dir

    @property
    def _dir(self) -> Path:
        if self.dir is None:
            raise PgServerError("the PostgreSQL server was not started")
        return self.dir

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> PgServer:
        """initdb in a new temp dir, then start on a free port. Returns self."""
        if self.dir is not None:
            raise PgServerError("this PgServer was already started; use start_again() after stop_server()")
        self.bin_dir = find_bin_dir()
        user = _server_user()
        # Short, under the temp root: a unix socket path is limited to about 100 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="dt-pg-", dir=self.base_dir))
        atexit.register(self.stop)
        try:
            if user is not None:
                self._as = [_runuser(), "-u", user.pw_name, "--"]
                self.os_user = user.pw_name
                os.chown(self.dir, user.pw_uid, user.pw_gid)
                _check_reachable(self.dir, user)
            self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "-E", "UTF8", "--locale=C",
                      "--auth=trust", "--no-sync", "--no-instructions")
            self._configure()
            for attempt in range(3):
                self.port = free_port()
                self._write_port()
                try:
                    self._pg_ctl_start()
                    break
                except PgServerError:
                    if attempt == 2 or "could not bind" not in self._log_tail():
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (fast: sessions are cut, no wait for clients) and remove its dir."""
        if self.dir is None:
            return
        try:
            if self.running:
                self.stop_server()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            self.running = False
            atexit.unregister(self.stop)

    def stop_server(self) -> None:
        """Shut the server down cleanly (``pg_ctl stop -m fast``), keeping its data and port."""
        self._pg_ctl_stop("fast")

    def kill(self) -> None:
        """Take the server down abruptly (``-m immediate``: no checkpoint, clients cut without
        a goodbye, crash recovery on the next start), keeping its data and port."""
        self._pg_ctl_stop("immediate")

    def start_again(self) -> None:
        """Start the stopped server again: same data dir, same port, so existing URLs work."""
        if self.running:
            raise PgServerError("the PostgreSQL server is already running")
        self._pg_ctl_start()

    @contextlib.contextmanager
    def outage(self, *, abrupt: bool = False) -> Iterator[None]:
        """The server is down inside the block and up again after it, even if the block fails."""
        if abrupt:
            self.kill()
        else:
            self.stop_server()
        try:
            yield
        finally:
            self.start_again()

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases -------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """The libpq URL of ``dbname`` over TCP loopback, as the superuser (no password)."""
        if self.port is None:
            raise PgServerError("the PostgreSQL server was not started")
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database ``name``; returns its URL."""
        sql = _psycopg().sql
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, cutting any connections still open to it first."""
        psycopg = _psycopg()
        sql = psycopg.sql
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)

    def pid(self) -> int:
        """The postmaster's process id (from postmaster.pid)."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            raise PgServerError("the PostgreSQL server is not running") from None

    def _admin(self, statement: Any) -> None:
        psycopg = _psycopg()
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    # -- commands --------------------------------------------------------------------------

    def _configure(self) -> None:
        settings = {**SETTINGS, "unix_socket_directories": f"'{self.socket_dir}'"}
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/pgserver.py\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        (self.data_dir / "pg_hba.conf").write_text(HBA)  # the server user can still read it: 0644

    def _write_port(self) -> None:
        """The port goes in a file of its own, read by postgresql.conf, so start_again keeps it."""
        (self.data_dir / "port.conf").write_text(f"port = {self.port}\n")
        conf = self.data_dir / "postgresql.conf"
        if "include = 'port.conf'" not in conf.read_text():
            with conf.open("a") as f:
                f.write("include = 'port.conf'\n")

    def _pg_ctl_start(self) -> None:
        self._run("pg_ctl", "start", "-w", "-t", str(_TIMEOUT), "-D", str(self.data_dir), "-l", str(self.log_file))
        self.running = True

    def _pg_ctl_stop(self, mode: str) -> None:
        if not self.running:
            raise PgServerError("the PostgreSQL server is not running")
        self._run("pg_ctl", "stop", "-w", "-t", str(_TIMEOUT), "-m", mode, "-D", str(self.data_dir))
        self.running = False

    def _run(self, tool: str, *args: str) -> None:
        assert self.bin_dir is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_MESSAGES"] = "C"
        try:
            proc = subprocess.run([*self._as, str(self.bin_dir / tool), *args], cwd=self._dir, env=env,
                                  capture_output=True, text=True, timeout=_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            raise PgServerError(f"{tool} {args[0]} did not finish in {_TIMEOUT + 10} s\n{self._log_tail()}") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            raise PgServerError(f"{tool} {args[0]} failed (exit {proc.returncode}): {detail}\n{self._log_tail()}".rstrip())

    def _log_tail(self, lines: int = 20) -> str:
        try:
            tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "server log:\n" + "\n".join(tail) if tail else ""


def _check_reachable(path: Path, user: pwd.struct_passwd) -> None:
    """As root the temp dir must be reachable by the server user: every parent searchable."""
    for parent in path.parents:
        st = parent.stat()
        if not st.st_mode & 0o001 and st.st_uid != user.pw_uid:
            raise PgServerError(f"user {user.pw_name} cannot reach the temp dir ({parent} is not searchable): "
                                "set TMPDIR to a directory like /tmp")
