"""The snapshot store: every fetch's health and records with its time, behind one interface.

``open_store(url)`` picks the database from a connection URL: SQLite for one machine
(``sqlite:///path/to/file.db``), PostgreSQL for a team's shared store
(``postgresql://user:password@host/dbname``, needs ``pip install 'devtrack[postgres]'``). Both run
the same SQL, written once (:mod:`.sqldb` holds the two drivers), so the schema, its migrations,
retention and add-ons' tables are the same on either.

Where the default store is (:func:`default_url`) follows the credentials file in use, so each
project's data is its own: ``DEVTRACK_STORE_URL`` if set; else, for a project's
``.credentials.json``, ``.devtrack/snapshots.db`` beside it (``devtrack init`` git-ignores it);
else ``snapshots.db`` in the per-user data dir, beside the per-user credentials.

Why the layout: records change slowly while refreshes are frequent, so a payload (the
fetch's JSON minus its time, zlib-compressed) is stored once per distinct content and
snapshots point at it by hash; health metrics sit beside each snapshot, uncompressed, so
history queries never inflate payloads. A retention policy thins old snapshots.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from ..integrations.contract import ConnectionResult, IntegrationData, utcnow
from .sqldb import STORE_ENV, Driver, PostgresDriver, SqliteDriver, StoreError, StoreUnavailable
from .state import PluginState

__all__ = ["STORE_ENV", "StoreError", "StoreUnavailable", "Retention", "Snapshot", "SnapshotStore",
           "SqlStore", "SqliteStore", "PostgresStore", "MIGRATIONS", "BACKENDS", "open_store", "default_url"]

#: A project's store, relative to the directory of its ``.credentials.json``.
PROJECT_STORE = Path(".devtrack") / "snapshots.db"


@dataclass(frozen=True)
class Retention:
    """Every snapshot for ``full_hours``; then one per plugin and hour up to ``hourly_days``;
    then one per plugin and day up to ``daily_days``; nothing older. Each plugin's newest
    snapshot and newest good one are always kept, however old."""

    full_hours: float = 48.0
    hourly_days: float = 7.0
    daily_days: float = 90.0


@dataclass(frozen=True)
class Snapshot:
    """One stored fetch."""

    id: int
    plugin: str
    fetched_at: datetime
    ok: bool
    status: str
    error: ConnectionResult | None
    data: IntegrationData | None  # None for failed fetches


class SnapshotStore(Protocol):
    """What the coordinator, the views and the CLI need from storage."""

    url: str
    #: ``sqlite`` or ``postgresql``.
    backend: str

    def save(self, data: IntegrationData) -> int: ...
    def latest(self, plugin: str, *, good: bool = False) -> Snapshot | None: ...
    def latest_all(self, *, good: bool = False) -> dict[str, Snapshot]: ...
    def history(self, plugin: str, metric: str, since: datetime) -> list[tuple[datetime, Any]]: ...
    def save_state(self, state: PluginState) -> None: ...
    def states(self) -> dict[str, PluginState]: ...
    def secret_key(self) -> bytes: ...
    def prune(self, now: datetime | None = None) -> int: ...
    def stats(self) -> dict[str, Any]: ...
    def reconnect(self) -> None: ...
    def close(self) -> None: ...
    # Tables of add-ons (alerts' incidents): their own migrations, then plain SQL on them.
    def migrate_extension(self, name: str, migrations: list[tuple[int, str]]) -> None: ...
    def transaction(self) -> Any: ...
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...


# ---------------------------------------------------------------------- URLs


def default_url(environ: dict[str, str] | os._Environ[str] | None = None,
                credentials: Path | None = None) -> str:
    """The store for a credentials file (default: the one this process uses; see the module)."""
    from ..credentials import PROJECT_FILE, resolve_path

    env = os.environ if environ is None else environ
    if env.get(STORE_ENV):
        return env[STORE_ENV]
    if credentials is None:
        credentials = resolve_path(environ=dict(env))
    if credentials.name == PROJECT_FILE:
        return "sqlite:///" + str(credentials.expanduser().absolute().parent / PROJECT_STORE)
    from platformdirs import user_data_dir

    return "sqlite:///" + str(Path(user_data_dir("devtrack", appauthor=False)) / "snapshots.db")


def open_store(url: str | None = None, *, retention: Retention | None = None,
               credentials: Path | None = None) -> SnapshotStore:
    """Open (creating and migrating) the store a connection URL names, by default the one of
    the ``credentials`` file (see :func:`default_url`)."""
    url = url or default_url(credentials=credentials)
    scheme = url.split(":", 1)[0].lower()
    if scheme == "postgres":
        scheme = "postgresql"
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise StoreError(
            f"unsupported snapshot store URL scheme {scheme!r} (supported: {', '.join(sorted(BACKENDS))}); "
            f"set {STORE_ENV} to e.g. sqlite:///path/to/snapshots.db"
        )
    return factory(url, retention or Retention())


# ---------------------------------------------------------------------- the schema

#: Ordered migrations, in the portable dialect of :mod:`.sqldb` (SQLite's types; PostgreSQL
#: gets its own by :func:`.sqldb.pg_ddl`); each runs once, recorded in ``schema_migrations``.
MIGRATIONS: list[tuple[int, str]] = [
    (1, """
        CREATE TABLE payloads (hash TEXT PRIMARY KEY, body BLOB NOT NULL);
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            plugin TEXT NOT NULL,
            fetched_at REAL NOT NULL,
            ok INTEGER NOT NULL,
            status TEXT NOT NULL,
            metrics TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            payload TEXT REFERENCES payloads(hash)
        );
        CREATE INDEX snapshots_by_plugin ON snapshots(plugin, ok, fetched_at);
        CREATE INDEX snapshots_by_time ON snapshots(fetched_at);
        CREATE TABLE plugin_state (plugin TEXT PRIMARY KEY, body TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    """),
    # Add-ons (which the store does not know) keep their own numbered migrations here.
    (2, """
        CREATE TABLE extension_migrations (
            name TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL,
            PRIMARY KEY (name, version))
    """),
    # Each add-on migration's SQL beside its record, so `devtrack store migrate` can build the
    # add-ons' tables on another database without the core importing any add-on.
    (3, "ALTER TABLE extension_migrations ADD COLUMN statements TEXT"),
    # Each plugin's newest snapshot (latest, latest_all) is one index step, not a sort of its history.
    (4, "CREATE INDEX snapshots_newest ON snapshots(plugin, fetched_at, id)"),
    # Team mode (:mod:`.leases`): which instance polls each snapshot key, until when, whether a
    # fetch of it runs anywhere, and a version bumped by every finished fetch (followers reload).
    (5, """
        CREATE TABLE refresh_leases (
            key TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            holder_name TEXT NOT NULL,
            ttl REAL NOT NULL,
            expires_at REAL NOT NULL,
            fetch_by TEXT,
            fetch_until REAL,
            version INTEGER NOT NULL DEFAULT 0)
    """),
    # Each plugin's newest good snapshot (latest_all(good=True), the dashboard's read) is one
    # step back along this index; with (plugin, ok, fetched_at) alone PostgreSQL sorted each
    # plugin's whole good history for the id tie-break. It also serves history(), so it
    # replaces the old index.
    (6, """
        CREATE INDEX snapshots_good_newest ON snapshots(plugin, ok, fetched_at, id);
        DROP INDEX snapshots_by_plugin
    """),
]


def _ts(when: datetime) -> float:
    return when.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


class SqlStore:
    """The store on either database (``driver``); safe to share between threads and processes.

    Writers that must not interleave across processes (a save beside the pruning of its
    payload, two migrations at once) take the driver's named lock inside their transaction.
    """

    def __init__(self, driver: Driver, retention: Retention) -> None:
        self.driver = driver
        self.backend = driver.name
        self.url = driver.safe_url
        self.retention = retention
        try:
            self._migrate()
        except StoreError:
            driver.close()
            raise
        except Exception as exc:
            driver.close()
            raise StoreError(f"cannot prepare the snapshot store {self.url}: {exc}") from None

    def _tx(self) -> Any:
        return self.driver.transaction()

    def _migrate(self) -> None:
        with self._tx() as db:
            self.driver.lock(db, "migrate")
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                       "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            done = {v for (v,) in db.execute("SELECT version FROM schema_migrations").fetchall()}
            for version, sql in MIGRATIONS:
                if version in done:
                    continue
                for statement in self.driver.ddl(sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, utcnow().isoformat()))

    def migrate_extension(self, name: str, migrations: list[tuple[int, str]]) -> None:
        """Run an add-on's migrations that have not run yet, each once (recorded by name).

        Why here: an add-on's state (alerts' incidents) must live beside the snapshots and
        survive restarts, while the store itself knows nothing of add-ons. The SQL is in the
        portable dialect, as the store's own.

        Each migration's SQL is recorded with it (and filled in for one recorded before the
        store kept it), so a copy of the store can replay the schema (:meth:`extensions`).
        """
        with self._tx() as db:
            self.driver.lock(db, "migrate")
            done = {v: sql for v, sql in db.execute(
                "SELECT version, statements FROM extension_migrations WHERE name = ?", (name,)).fetchall()}
            for version, sql in migrations:
                if version in done:
                    if done[version] is None:
                        db.execute("UPDATE extension_migrations SET statements = ? WHERE name = ? AND version = ?",
                                   (sql, name, version))
                    continue
                for statement in self.driver.ddl(sql):
                    db.execute(statement)
                db.execute("INSERT INTO extension_migrations (name, version, applied_at, statements) "
                           "VALUES (?, ?, ?, ?)", (name, version, utcnow().isoformat(), sql))

    def extensions(self) -> dict[str, list[tuple[int, str | None]]]:
        """Every add-on's applied migrations, by name, in order: (version, its SQL or ``None``
        when it ran before the store recorded SQL)."""
        out: dict[str, list[tuple[int, str | None]]] = {}
        for name, version, sql in self.query(
                "SELECT name, version, statements FROM extension_migrations ORDER BY name, version"):
            out.setdefault(name, []).append((int(version), sql))
        return out

    def transaction(self) -> Any:
        """``with store.transaction() as db: db.execute(…)`` (portable SQL, ``?`` placeholders;
        ``db.insert(…)`` returns the new row's id): one write transaction."""
        return self._tx()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.driver.query(sql, params)

    def schema_version(self) -> int:
        return int(self.query("SELECT MAX(version) FROM schema_migrations")[0][0] or 0)

    # ------------------------------------------------------------------ snapshots

    def save(self, data: IntegrationData) -> int:
        """Store one fetch; good fetches' content is de-duplicated by hash."""
        ok = data.error is None
        digest = None
        body = None
        if ok:
            raw = data.model_dump_json(exclude={"fetched_at"}).encode()
            digest = hashlib.sha256(raw).hexdigest()
            body = zlib.compress(raw, 6)
        error = data.error.model_dump_json() if data.error else None
        metrics = json.dumps(data.health.metrics, default=str)
        return self.driver.save_snapshot(
            (data.id, _ts(data.fetched_at), int(ok), data.health.status, metrics, error, digest),
            None if digest is None or body is None else (digest, body))

    _COLS = "s.id, s.plugin, s.fetched_at, s.ok, s.status, s.error, p.body"

    def _row(self, row: tuple[Any, ...]) -> Snapshot:
        sid, plugin, ts, ok, status, error, body = row
        when = _dt(ts)
        data = None
        if body is not None:
            data = IntegrationData.model_validate_json(zlib.decompress(body))
            data = data.model_copy(update={"fetched_at": when, "id": plugin})
        err = ConnectionResult.model_validate_json(error) if error else None
        return Snapshot(sid, plugin, when, bool(ok), status, err, data)

    def latest(self, plugin: str, *, good: bool = False) -> Snapshot | None:
        where = "s.plugin = ?" + (" AND s.ok = 1" if good else "")
        rows = self.query(
            f"SELECT {self._COLS} FROM snapshots s LEFT JOIN payloads p ON p.hash = s.payload "
            f"WHERE {where} ORDER BY s.fetched_at DESC, s.id DESC LIMIT 1", (plugin,))
        return self._row(rows[0]) if rows else None

    def latest_all(self, *, good: bool = False) -> dict[str, Snapshot]:
        """The newest (good) snapshot of every plugin that has one."""
        rows = self.query(self.driver.newest_per_plugin(self._COLS, good))
        return {r[1]: self._row(r) for r in rows}

    def history(self, plugin: str, metric: str, since: datetime) -> list[tuple[datetime, Any]]:
        """One health metric of a plugin's good snapshots since a time, oldest first."""
        expr, key = self.driver.metric(metric)
        rows = self.query(
            f"SELECT fetched_at, {expr} FROM snapshots "
            "WHERE plugin = ? AND ok = 1 AND fetched_at >= ? ORDER BY fetched_at",
            (key, plugin, _ts(since)))
        return [(_dt(ts), value) for ts, value in rows if value is not None]

    # ------------------------------------------------------------------ coordinator state

    def save_state(self, state: PluginState) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO plugin_state VALUES (?, ?) "
                       "ON CONFLICT (plugin) DO UPDATE SET body = excluded.body", (state.id, state.model_dump_json()))

    def states(self) -> dict[str, PluginState]:
        out: dict[str, PluginState] = {}
        for plugin, body in self.query("SELECT plugin, body FROM plugin_state"):
            try:
                out[plugin] = PluginState.model_validate_json(body)
            except ValueError:
                continue  # written by a newer or broken version: start that plugin afresh
        return out

    def secret_key(self) -> bytes:
        """A random per-store key for credential fingerprints (created once, by whichever
        process asks first)."""
        with self._tx() as db:
            db.execute("INSERT INTO meta VALUES ('fingerprint_key', ?) ON CONFLICT DO NOTHING",
                       (secrets.token_bytes(32),))
            return bytes(db.execute("SELECT value FROM meta WHERE key = 'fingerprint_key'").fetchone()[0])

    # ------------------------------------------------------------------ retention

    def prune(self, now: datetime | None = None) -> int:
        """Apply the retention policy; returns how many snapshots were removed."""
        now = now or utcnow()
        r = self.retention
        full_cut = _ts(now - timedelta(hours=r.full_hours))
        hourly_cut = _ts(now - timedelta(days=r.hourly_days))
        daily_cut = _ts(now - timedelta(days=r.daily_days))
        keep = ("SELECT MAX(id) FROM snapshots GROUP BY plugin "
                "UNION SELECT MAX(id) FROM snapshots WHERE ok = 1 GROUP BY plugin")
        bucket = self.driver.bucket("fetched_at")
        with self._tx() as db:
            self.driver.lock(db, "payloads")  # no save may point at a payload being dropped
            before = db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
            db.execute(f"DELETE FROM snapshots WHERE fetched_at < ? AND id NOT IN ({keep})", (daily_cut,))
            # failed fetches matter while they are recent; their history is the good data's gaps
            db.execute(f"DELETE FROM snapshots WHERE ok = 0 AND fetched_at < ? AND id NOT IN ({keep})",
                       (full_cut,))
            for lo, hi, size in ((hourly_cut, full_cut, 3600), (daily_cut, hourly_cut, 86400)):
                db.execute(
                    f"DELETE FROM snapshots WHERE fetched_at >= ? AND fetched_at < ? AND id NOT IN ({keep}) "
                    "AND id NOT IN (SELECT MAX(id) FROM snapshots WHERE fetched_at >= ? AND fetched_at < ? "
                    f"GROUP BY plugin, {bucket})",
                    (lo, hi, lo, hi, size))
            db.execute("DELETE FROM payloads WHERE hash NOT IN "
                       "(SELECT payload FROM snapshots WHERE payload IS NOT NULL)")
            removed = before - db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
        return int(removed)

    def stats(self) -> dict[str, Any]:
        snaps = self.query("SELECT COUNT(*) FROM snapshots")[0][0]
        payloads = self.query("SELECT COUNT(*) FROM payloads")[0][0]
        return {"url": self.url, "backend": self.backend, "snapshots": int(snaps), "payloads": int(payloads),
                "bytes": self.driver.size()}

    def vacuum(self) -> None:
        self.driver.vacuum()

    def reconnect(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers now (then its connections
        start afresh): the check made while it is known to be away."""
        self.driver.reconnect()

    def close(self) -> None:
        self.driver.close()


class SqliteStore(SqlStore):
    """One SQLite file in WAL mode (or ``sqlite:///:memory:``)."""

    def __init__(self, url: str, retention: Retention) -> None:
        driver = SqliteDriver(url)
        self.path = driver.path
        super().__init__(driver, retention)


class PostgresStore(SqlStore):
    """A PostgreSQL database shared by a team's instances (psycopg 3, a connection pool)."""

    def __init__(self, url: str, retention: Retention) -> None:
        super().__init__(PostgresDriver(url), retention)


BACKENDS: dict[str, Callable[[str, Retention], SnapshotStore]] = {
    "sqlite": SqliteStore, "postgresql": PostgresStore,
}
