"""The two SQL databases the snapshot store runs on, behind one small driver interface.

Why a driver and not an ORM: the store's SQL is a handful of statements, written once in a
portable dialect (``?`` placeholders, SQLite's column types, ``ON CONFLICT``), and the driver
turns that into what the database speaks. So there is one schema definition and one migration
path for both databases (:func:`pg_ddl` says how the types map), and add-ons (the alerts'
tables) write their SQL once too.

- :class:`SqliteDriver`: one connection in WAL mode behind a lock; ``BEGIN IMMEDIATE``
  serialises writers of every process on the file.
- :class:`PostgresDriver`: a psycopg 3 connection pool (imported only here, only when a
  ``postgresql://`` URL is opened); transactions are ``READ COMMITTED`` and writers that must
  not interleave take advisory locks (:meth:`Driver.lock`).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

STORE_ENV = "DEVTRACK_STORE_URL"


class StoreError(RuntimeError):
    """The store URL is unusable or the database cannot be opened."""


class StoreUnavailable(StoreError):
    """The database is unreachable right now (a server that went away); try again later."""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """One open transaction: portable SQL in, rows out."""

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor: ...

    def insert(self, sql: str, params: tuple[Any, ...] = ()) -> int | None:
        """Run an ``INSERT`` into a table with an ``id`` key; the new id, or ``None`` when
        ``ON CONFLICT DO NOTHING`` skipped the row."""
        ...

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One statement for many rows (a batch of a copy), in as few round trips as the driver can."""
        ...


class Driver(Protocol):
    name: str
    #: The URL to show: a password in it is masked.
    safe_url: str

    def transaction(self) -> Any: ...
    def save_snapshot(self, snapshot: tuple[Any, ...], payload: tuple[str, bytes] | None) -> int: ...
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...
    def ddl(self, sql: str) -> list[str]: ...
    def lock(self, db: Tx, name: str) -> None: ...
    def metric(self, name: str) -> tuple[str, Any]: ...
    def bucket(self, column: str) -> str: ...
    def newest_per_plugin(self, cols: str, good: bool) -> str: ...
    def size(self) -> int: ...
    def tables(self) -> list[str]: ...
    def columns(self, table: str) -> list[str]: ...
    def primary_key(self, table: str) -> list[str]: ...
    def reset_ids(self, db: Tx, table: str) -> None: ...
    def vacuum(self) -> None: ...
    def reconnect(self) -> None: ...
    def close(self) -> None: ...


def _ident(name: str) -> str:
    """A table name for SQL text: only plain names (the schema's own) are accepted."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise StoreError(f"not a plain table name: {name!r}")
    return name


#: A snapshot's row (:meth:`Driver.save_snapshot`'s ``snapshot`` is its values, in order).
_SNAPSHOT_INSERT = ("INSERT INTO snapshots (plugin, fetched_at, ok, status, metrics, error, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)")


def _statements(sql: str) -> list[str]:
    return [s for s in (part.strip() for part in sql.split(";")) if s]


# ---------------------------------------------------------------------- SQLite


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def insert(self, sql: str, params: tuple[Any, ...] = ()) -> int | None:
        cur = self.db.execute(sql, params)
        return int(cur.lastrowid) if cur.rowcount and cur.lastrowid is not None else None

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.db.executemany(sql, rows)


class SqliteDriver:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``sqlite:///:memory:``."""

    name = "sqlite"

    def __init__(self, url: str) -> None:
        raw = url.split(":", 1)[1]
        if not raw.startswith("///"):
            raise StoreError("a SQLite store URL looks like sqlite:///relative.db or sqlite:////abs/path.db")
        self.safe_url = url
        path = raw[3:]
        self.path: Path | None = None if path == ":memory:" else Path(path).expanduser()
        if self.path is not None:
            try:  # a new directory is the user's own: the store holds their services' records
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {self.path.parent} for the snapshot store: "
                                 f"{exc.strerror or exc}; set {STORE_ENV} to a writable place") from None
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(self.path) if self.path else ":memory:",
                                       check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the snapshot store {self.path}: {exc}") from None
        if self.path is not None:
            os.chmod(self.path, 0o600)  # it holds the records of the user's services

    @contextmanager
    def transaction(self) -> Iterator[_SqliteTx]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def save_snapshot(self, snapshot: tuple[Any, ...], payload: tuple[str, bytes] | None) -> int:
        """The payload if new and the snapshot, in one transaction (``BEGIN IMMEDIATE`` keeps
        prune out meanwhile)."""
        with self.transaction() as db:
            if payload is not None:
                db.execute("INSERT INTO payloads VALUES (?, ?) ON CONFLICT DO NOTHING", payload)
            return int(db.insert(_SNAPSHOT_INSERT, snapshot) or 0)

    def ddl(self, sql: str) -> list[str]:
        return _statements(sql)

    def lock(self, db: Tx, name: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already made this the only writer."""

    def metric(self, name: str) -> tuple[str, Any]:
        return "json_extract(metrics, ?)", f'$."{name}"'

    def bucket(self, column: str) -> str:
        return f"CAST({column} / ? AS INTEGER)"  # times are positive: truncation is floor

    def newest_per_plugin(self, cols: str, good: bool) -> str:
        """Each plugin's newest (good) snapshot ``s`` with its payload ``p``: SQLite walks the
        index for the distinct plugins and looks each one's newest up by row id."""
        ok = "AND i.ok = 1" if good else ""
        return (f"SELECT {cols} FROM snapshots s LEFT JOIN payloads p ON p.hash = s.payload "
                f"WHERE s.id IN (SELECT (SELECT id FROM snapshots i WHERE i.plugin = o.plugin {ok} "
                f"ORDER BY i.fetched_at DESC, i.id DESC LIMIT 1) "
                f"FROM (SELECT DISTINCT plugin FROM snapshots {'WHERE ok = 1' if good else ''}) o)")

    def size(self) -> int:
        if self.path is None:
            return 0
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())

    def tables(self) -> list[str]:
        return [r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self.query(f"PRAGMA table_info({_ident(table)})")]

    def primary_key(self, table: str) -> list[str]:
        """The key's columns in key order (``pk`` is each column's 1-based place in it)."""
        return [name for _, name in sorted((r[5], r[1]) for r in self.query(f"PRAGMA table_info({_ident(table)})")
                                           if r[5])]

    def reset_ids(self, db: Tx, table: str) -> None:
        """Nothing to do: SQLite's next id follows the largest one."""

    def vacuum(self) -> None:
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")

    def reconnect(self) -> None:
        """A file does not go away: a query that works is all there is to check."""
        self.query("SELECT 1")

    def close(self) -> None:
        with self._lock:
            self._db.close()


# ---------------------------------------------------------------------- PostgreSQL

#: SQLite's column types as PostgreSQL's; ``INTEGER PRIMARY KEY`` (SQLite's row id) becomes
#: an identity column, ``REAL`` (times in epoch seconds) a double, not PostgreSQL's 4-byte real.
#: Types are written in upper case and names in lower case, so a column named ``blob`` stays.
_PG_TYPES = [
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
]


def pg_ddl(sql: str) -> list[str]:
    """A portable migration's statements in PostgreSQL's types."""
    out = []
    for statement in _statements(sql):
        for pattern, replacement in _PG_TYPES:
            statement = pattern.sub(replacement, statement)
        out.append(statement)
    return out


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def mask_url(url: str) -> str:
    """The URL with its password replaced by the redactor's mask (for messages, status and
    diagnostics); one that cannot be parsed is not shown at all."""
    from ..redact import MASK

    try:
        parts = urlsplit(url)
        password, port = parts.password, parts.port
    except ValueError:
        return "<unparsable URL>"
    if password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:{MASK}@{host}" + (f":{port}" if port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _PgTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(pg_sql(sql), params)

    def insert(self, sql: str, params: tuple[Any, ...] = ()) -> int | None:
        row = self.conn.execute(pg_sql(sql + " RETURNING id"), params).fetchone()
        return None if row is None else int(row[0])

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.conn.cursor() as cur:  # psycopg pipelines the rows: one round trip, not one each
            cur.executemany(pg_sql(sql), rows)


#: Seconds to wait for a connection before a call reports the database unavailable.
PG_TIMEOUT = 5.0
PG_POOL_MAX = 8


class PostgresDriver:
    """``postgresql://user:password@host:port/dbname`` (any libpq URL or its parameters)."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
            from psycopg_pool import PoolTimeout
        except ModuleNotFoundError:
            raise StoreError("a PostgreSQL store needs psycopg: pip install 'devtrack[postgres]'") from None
        import logging

        from .. import redact

        # The pool retries a lost server in the background and would log each attempt; the
        # store reports an outage once, as StoreUnavailable, to whoever asked.
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        self.safe_url = mask_url(url)
        self._url = url
        parts = urlsplit(url)
        if parts.password:
            redact.register([parts.password])  # a libpq message may quote it back
        self._url = url  # holds the password: never shown, only handed to libpq
        self._errors: tuple[type[BaseException], ...] = (psycopg.OperationalError, PoolTimeout)
        # First one connection of our own: a server that is away fails it at once (the pool
        # would retry for its whole timeout), and its message is libpq's, not "timeout".
        self._answers(f"cannot reach the snapshot database {self.safe_url}")
        self._pool = self._open_pool(f"cannot reach the snapshot database {self.safe_url}")

    def _answers(self, failure: str) -> None:
        """``SELECT 1`` on a connection of its own, or :class:`StoreUnavailable` (``failure: why``)."""
        import psycopg

        try:
            with psycopg.connect(self._url, autocommit=True, connect_timeout=int(PG_TIMEOUT),
                                 application_name="devtrack") as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise StoreUnavailable(f"{failure}: {self._why(exc)}") from None

    def _open_pool(self, failure: str) -> Any:
        """A new pool with its first connection made, or :class:`StoreUnavailable` (``failure: why``)."""
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            self._url, min_size=1, max_size=PG_POOL_MAX, timeout=PG_TIMEOUT, open=False,
            kwargs={"autocommit": True, "connect_timeout": int(PG_TIMEOUT), "application_name": "devtrack"},
            name="devtrack-store",
        )
        try:
            pool.open(wait=True, timeout=PG_TIMEOUT)
        except Exception as exc:
            pool.close()
            raise StoreUnavailable(f"{failure}: {self._why(exc)}") from None
        return pool

    @staticmethod
    def _why(exc: BaseException) -> str:
        """libpq's first line (its later ones are hints), secrets masked."""
        from .. import redact

        lines = redact.safe_str(exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except self._errors as exc:
            raise StoreUnavailable(f"the snapshot database {self.safe_url} is unavailable: {self._why(exc)}") from None

    @contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        with self._connection() as conn, conn.transaction():
            yield _PgTx(conn)

    def save_snapshot(self, snapshot: tuple[Any, ...], payload: tuple[str, bytes] | None) -> int:
        """One statement, so one round trip and its own transaction: the shared payloads lock
        (prune holds it exclusively: it never drops a payload a save is pointing at), the
        payload if new, the snapshot. A row inserted by a statement's ``WITH`` is there for the
        foreign key check, which runs at the statement's end."""
        with self._connection() as conn:
            if payload is None:
                row = conn.execute(pg_sql(_SNAPSHOT_INSERT + " RETURNING id"), snapshot).fetchone()
            else:
                row = conn.execute(
                    "WITH l AS (SELECT pg_advisory_xact_lock_shared(hashtext('devtrack:payloads'))), "
                    "p AS (INSERT INTO payloads (hash, body) SELECT %s, %s FROM l ON CONFLICT DO NOTHING) "
                    "INSERT INTO snapshots (plugin, fetched_at, ok, status, metrics, error, payload) "
                    "SELECT %s, %s, %s, %s, %s, %s, %s FROM l RETURNING id", (*payload, *snapshot)).fetchone()
        return int(row[0])

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows in PostgreSQL's binary format: payloads arrive as their bytes, not as hex text
        of twice the size."""
        with self._connection() as conn, conn.cursor(binary=True) as cur:
            return list(cur.execute(pg_sql(sql), params).fetchall())

    def dedicated(self) -> Any:
        """A connection of its own, outside the pool (autocommit), for a ``LISTEN`` that must
        outlive any pooled one; the caller closes it. Raises :class:`StoreUnavailable`."""
        import psycopg

        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=int(PG_TIMEOUT),
                                   application_name="devtrack-events")
        except self._errors as exc:
            raise StoreUnavailable(f"the snapshot database {self.safe_url} is unavailable: {self._why(exc)}") from None

    def ddl(self, sql: str) -> list[str]:
        return pg_ddl(sql)

    def lock(self, db: Tx, name: str) -> None:
        """Hold the transaction-scoped advisory lock named ``name`` (saves take the payloads'
        one shared, in :meth:`save_snapshot`)."""
        db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"devtrack:{name}",))

    def metric(self, name: str) -> tuple[str, Any]:
        return "(metrics::jsonb -> ?)", name

    def bucket(self, column: str) -> str:
        return f"FLOOR({column} / ?)"  # CAST would round, not truncate

    def newest_per_plugin(self, cols: str, good: bool) -> str:
        """Each plugin's newest (good) snapshot ``s`` with its payload ``p``. PostgreSQL has no
        skip scan, so the distinct plugins come from a recursive walk of the index (one step
        per plugin, not a scan of every snapshot), each plugin's newest from a lateral lookup."""
        ok = "AND i.ok = 1" if good else ""
        return ("WITH RECURSIVE o(plugin) AS ("
                "(SELECT plugin FROM snapshots ORDER BY plugin LIMIT 1) UNION ALL "
                "SELECT (SELECT n.plugin FROM snapshots n WHERE n.plugin > o.plugin ORDER BY n.plugin LIMIT 1) "
                "FROM o WHERE o.plugin IS NOT NULL) "
                f"SELECT {cols} FROM o CROSS JOIN LATERAL (SELECT * FROM snapshots i WHERE i.plugin = o.plugin {ok} "
                "ORDER BY i.fetched_at DESC, i.id DESC LIMIT 1) s LEFT JOIN payloads p ON p.hash = s.payload")

    def size(self) -> int:
        return int(self.query("SELECT pg_database_size(current_database())")[0][0])

    def tables(self) -> list[str]:
        return [r[0] for r in self.query("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                                         "ORDER BY table_name")]

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.query("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_schema = current_schema() AND table_name = ? "
                                         "ORDER BY ordinal_position", (table,))]

    def primary_key(self, table: str) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(?) AND i.indisprimary "
            "ORDER BY array_position(i.indkey::int2[], a.attnum)", (_ident(table),))]

    def reset_ids(self, db: Tx, table: str) -> None:
        """After rows were copied in with their ids, new ones continue after the largest."""
        db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"GREATEST((SELECT MAX(id) FROM {table}), 1))")

    def vacuum(self) -> None:
        with self._connection() as conn:
            conn.execute("VACUUM ANALYZE")

    def reconnect(self) -> None:
        """Check the server answers now, on a connection of its own, and if so start a fresh
        pool (:class:`StoreUnavailable` if not). Why not ask the pool: after an outage its idle
        connections are the broken ones of before, and its reconnection backs off exponentially
        (a minute and more after a long outage), so it would come back long after the server."""
        failure = f"the snapshot database {self.safe_url} is unavailable"
        self._answers(failure)
        old, self._pool = self._pool, self._open_pool(failure)
        old.close(timeout=1.0)  # a call still waiting on it fails as unavailable, as it would have

    def close(self) -> None:
        self._pool.close()
