"""Incident state, the delivery outbox, the history and mutes: tables in the snapshot store.

Why there: incidents must survive restarts (a condition that holds across a restart sends
nothing more), and the store already follows the project's credentials file. The tables are
the alerts add-on's own, created by its own migrations (``store.migrate_extension``).

- ``alert_incidents``: one row per (rule, connection, subject) episode; open while
  ``resolved_at`` is null, and at most one open per key.
- ``alert_outbox``: messages still to deliver (a started or resolved incident × a channel),
  with attempts and when to try next; a process that exits leaves them for the next.
- ``alert_history``: every attempt, test and mute decision, newest last.
- ``alert_mutes``: a rule id or a connection id, muted until a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..views.store import SnapshotStore

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
        CREATE TABLE alert_incidents (
            id INTEGER PRIMARY KEY,
            rule TEXT NOT NULL, connection TEXT NOT NULL, subject TEXT NOT NULL,
            title TEXT NOT NULL, message TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}',
            started_at REAL NOT NULL, resolved_at REAL, resolution TEXT, muted INTEGER NOT NULL DEFAULT 0);
        CREATE UNIQUE INDEX alert_incidents_open ON alert_incidents(rule, connection, subject)
            WHERE resolved_at IS NULL;
        CREATE TABLE alert_outbox (
            id INTEGER PRIMARY KEY, incident INTEGER, kind TEXT NOT NULL, channel TEXT NOT NULL,
            title TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            next_at REAL NOT NULL, created_at REAL NOT NULL);
        CREATE TABLE alert_history (
            id INTEGER PRIMARY KEY, time REAL NOT NULL, incident INTEGER, kind TEXT NOT NULL,
            channel TEXT, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
            title TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
        CREATE INDEX alert_history_by_time ON alert_history(time);
        CREATE TABLE alert_mutes (target TEXT PRIMARY KEY, until REAL NOT NULL)
    """),
]


#: Days of history and resolved incidents kept (the snapshots' own longest retention).
KEEP_DAYS = 90.0


def _ts(when: datetime) -> float:
    return when.timestamp()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc)


@dataclass(frozen=True)
class Incident:
    id: int
    rule: str
    connection: str
    subject: str
    title: str
    message: str
    details: dict[str, Any]
    started_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    muted: bool

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "connection": self.connection, "subject": self.subject,
                "title": self.title, "message": self.message, "open": self.open,
                "started_at": self.started_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "resolution": self.resolution, "muted": self.muted}


@dataclass(frozen=True)
class OutboxItem:
    id: int
    incident: int | None
    kind: str
    channel: str
    title: str
    body: str
    attempts: int
    next_at: float


_INCIDENT_COLS = "id, rule, connection, subject, title, message, details, started_at, resolved_at, resolution, muted"


def _incident(row: tuple[Any, ...]) -> Incident:
    iid, rule, conn, subject, title, message, details, started, resolved, resolution, muted = row
    try:
        extra = json.loads(details)
    except ValueError:
        extra = {}
    return Incident(iid, rule, conn, subject, title, message, extra if isinstance(extra, dict) else {},
                    _dt(started), _dt(resolved), resolution, bool(muted))  # type: ignore[arg-type]


class Incidents:
    """The alerts tables of one snapshot store."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        store.migrate_extension("alerts", MIGRATIONS)

    # ------------------------------------------------------------------ incidents

    def open_for(self, rule: str, connection: str) -> dict[str, Incident]:
        rows = self.store.query(f"SELECT {_INCIDENT_COLS} FROM alert_incidents WHERE rule = ? AND connection = ? "
                                "AND resolved_at IS NULL", (rule, connection))
        return {r[3]: _incident(r) for r in rows}

    def open_all(self) -> list[Incident]:
        rows = self.store.query(f"SELECT {_INCIDENT_COLS} FROM alert_incidents WHERE resolved_at IS NULL "
                                "ORDER BY started_at DESC, id DESC")
        return [_incident(r) for r in rows]

    def recent(self, limit: int = 100) -> list[Incident]:
        rows = self.store.query(f"SELECT {_INCIDENT_COLS} FROM alert_incidents ORDER BY id DESC LIMIT ?", (limit,))
        return [_incident(r) for r in rows]

    def between(self, since: datetime, until: datetime, limit: int = 500) -> list[Incident]:
        """Incidents open at some moment from ``since`` to ``until``, oldest first (the timeline's)."""
        rows = self.store.query(f"SELECT {_INCIDENT_COLS} FROM alert_incidents WHERE started_at <= ? AND "
                                "(resolved_at IS NULL OR resolved_at >= ?) ORDER BY started_at, id LIMIT ?",
                                (_ts(until), _ts(since), limit))
        return [_incident(r) for r in rows]

    def get(self, incident_id: int) -> Incident | None:
        rows = self.store.query(f"SELECT {_INCIDENT_COLS} FROM alert_incidents WHERE id = ?", (incident_id,))
        return _incident(rows[0]) if rows else None

    def start(self, rule: str, connection: str, subject: str, title: str, message: str,
              details: dict[str, Any], when: datetime, muted: bool) -> Incident | None:
        """Open an incident; ``None`` if one is open for the key already (another process won)."""
        with self.store.transaction() as db:
            iid = db.insert(
                "INSERT INTO alert_incidents (rule, connection, subject, title, message, details, "
                "started_at, muted) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (rule, connection, subject, title, message, json.dumps(details, default=str), _ts(when), int(muted)))
        return None if iid is None else self.get(iid)

    def resolve(self, incident_id: int, resolution: str, when: datetime) -> bool:
        """Close an open incident; ``False`` if it was closed already (another process won)."""
        with self.store.transaction() as db:
            cur = db.execute("UPDATE alert_incidents SET resolved_at = ?, resolution = ? "
                             "WHERE id = ? AND resolved_at IS NULL", (_ts(when), resolution, incident_id))
            return bool(cur.rowcount)

    # ------------------------------------------------------------------ outbox

    def enqueue(self, incident: int | None, kind: str, channel: str, title: str, body: str, when: float) -> int:
        with self.store.transaction() as db:
            return int(db.insert("INSERT INTO alert_outbox (incident, kind, channel, title, body, next_at, created_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (incident, kind, channel, title, body, when, when)) or 0)

    def due(self, now: float, limit: int = 50) -> list[OutboxItem]:
        rows = self.store.query("SELECT id, incident, kind, channel, title, body, attempts, next_at FROM alert_outbox "
                                "WHERE next_at <= ? ORDER BY next_at, id LIMIT ?", (now, limit))
        return [OutboxItem(*r) for r in rows]

    def pending(self) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM alert_outbox")[0][0])

    def next_due(self) -> float | None:
        value = self.store.query("SELECT MIN(next_at) FROM alert_outbox")[0][0]
        return None if value is None else float(value)

    def claim(self, item: OutboxItem, lease: float) -> bool:
        """Take an item for one attempt (pushing its time on by ``lease`` seconds meanwhile), so
        two processes never send it twice; ``False`` if another took it."""
        with self.store.transaction() as db:
            cur = db.execute("UPDATE alert_outbox SET next_at = ?, attempts = attempts + 1 "
                             "WHERE id = ? AND next_at = ? AND attempts = ?",
                             (item.next_at + lease, item.id, item.next_at, item.attempts))
            return bool(cur.rowcount)

    def done(self, item_id: int) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM alert_outbox WHERE id = ?", (item_id,))

    def retry_at(self, item_id: int, when: float) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE alert_outbox SET next_at = ? WHERE id = ?", (when, item_id))

    def postpone(self, item_id: int, when: float) -> None:
        """Later, without counting an attempt (the channel's rate limit)."""
        with self.store.transaction() as db:
            db.execute("UPDATE alert_outbox SET next_at = ?, "
                       "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = ?", (when, item_id))

    def sent_since(self, channel: str, since: float) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM alert_history WHERE channel = ? AND status = 'sent' "
                                    "AND time >= ?", (channel, since))[0][0])

    # ------------------------------------------------------------------ history

    def record(self, kind: str, status: str, title: str, *, channel: str | None = None,
               incident: int | None = None, attempt: int = 0, detail: str = "", when: float | None = None) -> None:
        import time

        with self.store.transaction() as db:
            db.execute("INSERT INTO alert_history (time, incident, kind, channel, status, attempt, title, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (time.time() if when is None else when, incident, kind, channel, status, attempt, title, detail))

    def history(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT id, time, incident, kind, channel, status, attempt, title, detail "
                                "FROM alert_history ORDER BY id DESC LIMIT ?", (limit,))
        return [{"id": r[0], "time": _dt(r[1]).isoformat(), "incident": r[2], "kind": r[3],  # type: ignore[union-attr]
                 "channel": r[4], "status": r[5], "attempt": r[6], "title": r[7], "detail": r[8]} for r in rows]

    def prune(self, keep_days: float = KEEP_DAYS) -> None:
        """Forget history lines, resolved incidents and ended mutes older than ``keep_days``."""
        import time

        cut = time.time() - keep_days * 86400
        with self.store.transaction() as db:
            db.execute("DELETE FROM alert_history WHERE time < ?", (cut,))
            db.execute("DELETE FROM alert_incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?", (cut,))
            db.execute("DELETE FROM alert_mutes WHERE until < ?", (time.time(),))

    # ------------------------------------------------------------------ mutes

    def mute(self, target: str, until: datetime) -> None:
        with self.store.transaction() as db:
            db.execute("INSERT INTO alert_mutes VALUES (?, ?) "
                       "ON CONFLICT (target) DO UPDATE SET until = excluded.until", (target, _ts(until)))

    def unmute(self, target: str) -> bool:
        with self.store.transaction() as db:
            return bool(db.execute("DELETE FROM alert_mutes WHERE target = ?", (target,)).rowcount)

    def mutes(self, now: datetime) -> dict[str, datetime]:
        rows = self.store.query("SELECT target, until FROM alert_mutes WHERE until > ?", (_ts(now),))
        return {t: _dt(u) for t, u in rows}  # type: ignore[misc]
