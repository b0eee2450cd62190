"""The snapshot store: every fetch's health and records with its time, behind one interface.

``open_store(url)`` picks the backend from a connection URL. SQLite is the one built in
(``sqlite:///path/to/file.db``); a team backend (PostgreSQL) implements :class:`SnapshotStore`
and registers its scheme in ``BACKENDS``.

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
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from ..integrations.contract import ConnectionResult, IntegrationData, utcnow
from .state import PluginState

STORE_ENV = "DEVTRACK_STORE_URL"
#: A project's store, relative to the directory of its ``.credentials.json``.
PROJECT_STORE = Path(".devtrack") / "snapshots.db"


class StoreError(RuntimeError):
    """The store URL is unusable or the database cannot be opened."""


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

    def save(self, data: IntegrationData) -> int: ...
    def latest(self, plugin: str, *, good: bool = False) -> Snapshot | None: ...
    def latest_all(self, *, good: bool = False) -> dict[str, Snapshot]: ...
    def history(self, plugin: str, metric: str, since: datetime) -> list[tuple[datetime, Any]]: ...
    def save_state(self, state: PluginState) -> None: ...
    def states(self) -> dict[str, PluginState]: ...
    def secret_key(self) -> bytes: ...
    def prune(self, now: datetime | None = None) -> int: ...
    def stats(self) -> dict[str, Any]: ...
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
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise StoreError(
            f"unsupported snapshot store URL scheme {scheme!r} (supported: {', '.join(sorted(BACKENDS))}); "
            f"set {STORE_ENV} to e.g. sqlite:///path/to/snapshots.db"
        )
    return factory(url, retention or Retention())


# ---------------------------------------------------------------------- SQLite

#: Ordered migrations; each runs once, recorded in ``schema_migrations``.
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
]


def _ts(when: datetime) -> float:
    return when.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


class SqliteStore:
    """One SQLite file in WAL mode; safe to share between threads (one lock) and processes."""

    def __init__(self, url: str, retention: Retention) -> None:
        self.url = url
        self.retention = retention
        raw = url.split(":", 1)[1]
        if not raw.startswith("///"):
            raise StoreError("a SQLite store URL looks like sqlite:///relative.db or sqlite:////abs/path.db")
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
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the snapshot store {self.path}: {exc}") from None
        if self.path is not None:
            os.chmod(self.path, 0o600)  # it holds the records of the user's services

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                       "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            done = {v for (v,) in db.execute("SELECT version FROM schema_migrations")}
            for version, sql in MIGRATIONS:
                if version in done:
                    continue
                for statement in filter(str.strip, sql.split(";")):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, utcnow().isoformat()))

    def migrate_extension(self, name: str, migrations: list[tuple[int, str]]) -> None:
        """Run an add-on's migrations that have not run yet, each once (recorded by name).

        Why here: an add-on's state (alerts' incidents) must live beside the snapshots and
        survive restarts, while the store itself knows nothing of add-ons.
        """
        with self._tx() as db:
            done = {v for (v,) in db.execute("SELECT version FROM extension_migrations WHERE name = ?", (name,))}
            for version, sql in migrations:
                if version in done:
                    continue
                for statement in filter(str.strip, sql.split(";")):
                    db.execute(statement)
                db.execute("INSERT INTO extension_migrations VALUES (?, ?, ?)",
                           (name, version, utcnow().isoformat()))

    def transaction(self) -> Any:
        """``with store.transaction() as db: db.execute(…)``: one write transaction, serialised
        with the store's own (and across processes by SQLite)."""
        return self._tx()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] or 0)

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
        with self._tx() as db:
            if digest is not None:
                db.execute("INSERT OR IGNORE INTO payloads VALUES (?, ?)", (digest, body))
            cur = db.execute(
                "INSERT INTO snapshots (plugin, fetched_at, ok, status, metrics, error, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (data.id, _ts(data.fetched_at), int(ok), data.health.status, metrics, error, digest),
            )
            return int(cur.lastrowid or 0)

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
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLS} FROM snapshots s LEFT JOIN payloads p ON p.hash = s.payload "
                f"WHERE {where} ORDER BY s.fetched_at DESC, s.id DESC LIMIT 1", (plugin,)).fetchone()
        return self._row(row) if row else None

    def latest_all(self, *, good: bool = False) -> dict[str, Snapshot]:
        """The newest (good) snapshot of every plugin that has one."""
        cond = "WHERE ok = 1" if good else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM snapshots s LEFT JOIN payloads p ON p.hash = s.payload "
                f"WHERE s.id IN (SELECT (SELECT id FROM snapshots i WHERE i.plugin = o.plugin "
                f"{'AND i.ok = 1' if good else ''} ORDER BY i.fetched_at DESC, i.id DESC LIMIT 1) "
                f"FROM (SELECT DISTINCT plugin FROM snapshots {cond}) o)").fetchall()
        return {r[1]: self._row(r) for r in rows}

    def history(self, plugin: str, metric: str, since: datetime) -> list[tuple[datetime, Any]]:
        """One health metric of a plugin's good snapshots since a time, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT fetched_at, json_extract(metrics, ?) FROM snapshots "
                "WHERE plugin = ? AND ok = 1 AND fetched_at >= ? ORDER BY fetched_at",
                (f'$."{metric}"', plugin, _ts(since))).fetchall()
        return [(_dt(ts), value) for ts, value in rows if value is not None]

    # ------------------------------------------------------------------ coordinator state

    def save_state(self, state: PluginState) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO plugin_state VALUES (?, ?)", (state.id, state.model_dump_json()))

    def states(self) -> dict[str, PluginState]:
        with self._lock:
            rows = self._db.execute("SELECT plugin, body FROM plugin_state").fetchall()
        out: dict[str, PluginState] = {}
        for plugin, body in rows:
            try:
                out[plugin] = PluginState.model_validate_json(body)
            except ValueError:
                continue  # written by a newer or broken version: start that plugin afresh
        return out

    def secret_key(self) -> bytes:
        """A random per-store key for credential fingerprints (created once)."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'fingerprint_key'").fetchone()
            if row:
                return bytes(row[0])
            key = secrets.token_bytes(32)
            db.execute("INSERT INTO meta VALUES ('fingerprint_key', ?)", (key,))
            return key

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
        with self._tx() as db:
            before = db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
            db.execute(f"DELETE FROM snapshots WHERE fetched_at < ? AND id NOT IN ({keep})", (daily_cut,))
            # failed fetches matter while they are recent; their history is the good data's gaps
            db.execute(f"DELETE FROM snapshots WHERE ok = 0 AND fetched_at < ? AND id NOT IN ({keep})",
                       (full_cut,))
            for lo, hi, bucket in ((hourly_cut, full_cut, 3600), (daily_cut, hourly_cut, 86400)):
                db.execute(
                    f"DELETE FROM snapshots WHERE fetched_at >= ? AND fetched_at < ? AND id NOT IN ({keep}) "
                    "AND id NOT IN (SELECT MAX(id) FROM snapshots WHERE fetched_at >= ? AND fetched_at < ? "
                    "GROUP BY plugin, CAST(fetched_at / ? AS INTEGER))",
                    (lo, hi, lo, hi, bucket))
            db.execute("DELETE FROM payloads WHERE hash NOT IN "
                       "(SELECT payload FROM snapshots WHERE payload IS NOT NULL)")
            removed = before - db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
        return int(removed)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            snaps = self._db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
            payloads = self._db.execute("SELECT COUNT(*) FROM payloads").fetchone()[0]
        size = 0
        if self.path is not None:
            size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"url": self.url, "snapshots": snaps, "payloads": payloads, "bytes": size}

    def vacuum(self) -> None:
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")

    def close(self) -> None:
        with self._lock:
            self._db.close()


BACKENDS: dict[str, Callable[[str, Retention], SnapshotStore]] = {"sqlite": SqliteStore}
