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


class Driver(Protocol):
    name: str
    #: The URL to show: a password in it is masked.
    safe_url: str

    def transaction(self) -> Any: ...
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...
    def ddl(self, sql: str) -> list[str]: ...
    def lock(self, db: Tx, name: str, *, shared: bool = False) -> None: ...
    def metric(self, name: str) -> tuple[str, Any]: ...
    def bucket(self, column: str) -> str: ...
    def size(self) -> int: ...
    def tables(self) -> list[str]: ...
    def reset_ids(self, db: Tx, table: str) -> None: ...
    def vacuum(self) -> None: ...
    def close(self) -> None: ...


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

    def ddl(self, sql: str) -> list[str]:
        return _statements(sql)

    def lock(self, db: Tx, name: str, *, shared: bool = False) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already made this the only writer."""

    def metric(self, name: str) -> tuple[str, Any]:
        return "json_extract(metrics, ?)", f'$."{name}"'

    def bucket(self, column: str) -> str:
        return f"CAST({column} / ? AS INTEGER)"  # times are positive: truncation is floor

    def size(self) -> int:
        if self.path is None:
            return 0
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())

    def tables(self) -> list[str]:
        return [r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def reset_ids(self, db: Tx, table: str) -> None:
        """Nothing to do: SQLite's next id follows the largest one."""

    def vacuum(self) -> None:
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")

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
    """The URL with its password replaced by ``***`` (for messages, status and diagnostics)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _PgTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(pg_sql(sql), params)

    def insert(self, sql: str, params: tuple[Any, ...] = ()) -> int | None:
        row = self.conn.execute(pg_sql(sql + " RETURNING id"), params).fetchone()
        return None if row is None else int(row[0])


#: Seconds to wait for a connection before a call reports the database unavailable.
PG_TIMEOUT = 5.0
PG_POOL_MAX = 8


class PostgresDriver:
    """``postgresql://user:password@host:port/dbname`` (any libpq URL or its parameters)."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
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
        self._errors: tuple[type[BaseException], ...] = (psycopg.OperationalError,)
        from psycopg_pool import PoolTimeout

        self._errors += (PoolTimeout,)
        self._pool = ConnectionPool(
            url, min_size=1, max_size=PG_POOL_MAX, timeout=PG_TIMEOUT, open=False,
            kwargs={"autocommit": True, "connect_timeout": int(PG_TIMEOUT), "application_name": "devtrack"},
            name="devtrack-store",
        )
        try:
            self._pool.open(wait=True, timeout=PG_TIMEOUT)
        except Exception as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot reach the snapshot database {self.safe_url}: "
                                   f"{self._why(exc)}") from None

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

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return list(conn.execute(pg_sql(sql), params).fetchall())

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

    def lock(self, db: Tx, name: str, *, shared: bool = False) -> None:
        """Hold a transaction-scoped advisory lock named ``name`` (shared or exclusive)."""
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        db.execute(f"SELECT {fn}(hashtext(?))", (f"devtrack:{name}",))

    def metric(self, name: str) -> tuple[str, Any]:
        return "(metrics::jsonb -> ?)", name

    def bucket(self, column: str) -> str:
        return f"FLOOR({column} / ?)"  # CAST would round, not truncate

    def size(self) -> int:
        return int(self.query("SELECT pg_database_size(current_database())")[0][0])

    def tables(self) -> list[str]:
        return [r[0] for r in self.query("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                                         "ORDER BY table_name")]

    def reset_ids(self, db: Tx, table: str) -> None:
        """After rows were copied in with their ids, new ones continue after the largest."""
        db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"GREATEST((SELECT MAX(id) FROM {table}), 1))")

    def vacuum(self) -> None:
        with self._connection() as conn:
            conn.execute("VACUUM ANALYZE")

    def close(self) -> None:
        self._pool.close()
