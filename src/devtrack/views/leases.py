"""Team mode: one poller per connection across the ``devtrack serve`` instances of one store.

Why: several instances sharing a database (PostgreSQL, or one SQLite file) would otherwise each
poll every vendor, multiplying its API calls, its rate-limit use and the alerts. So each
snapshot key has a row in ``refresh_leases`` (store migration 5):

- a **lease** (``holder``, ``expires_at``): the instance that fetches the key on schedule. The
  holder renews it on every coordinator tick; it lapses ``ttl`` seconds after the last renewal
  (``ttl`` = the connection's interval, at least two ticks, at most :data:`MAX_TTL`), so when
  the holder dies without a word another instance takes it over within the interval plus a
  tick; an instance that stops cleanly expires its leases at once (:meth:`Leases.release`).
- an **in-flight claim** (``fetch_by``, ``fetch_until``): whoever fetches the key (on schedule
  or a manual refresh) claims it first, renewed each tick like the lease. A manual refresh on
  any instance that finds a claim waits for that fetch and reads its snapshot instead of
  fetching again, so concurrent refreshes on N instances make one vendor fetch.
- a **version**, bumped when a fetch ends: the other instances reload that key's snapshot and
  state from the store, so every instance's pages show the same data.

Times come from the database's clock, so instances on hosts whose clocks differ still agree
on when a lease lapsed. :class:`Leases` is the SQL; :class:`Team` plugs it into a
:class:`~.coordinator.Coordinator` (which calls it from a few hooks only).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import redact

if TYPE_CHECKING:
    from ..integrations.contract import IntegrationData
    from .coordinator import Coordinator
    from .state import PluginState
    from .store import SnapshotStore

log = logging.getLogger(__name__)

#: A lease never lasts longer than this without renewal (a slow interval still hands over soon).
MAX_TTL = 30.0
#: Seconds between checks of a fetch another instance runs.
WAIT_POLL = 0.2
#: Seconds a manual refresh waits at most for another instance's fetch.
WAIT_LIMIT = 300.0

#: The database's clock, in epoch seconds.
_NOW_SQL = {
    "postgresql": "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8",
    "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0",
}


@dataclass(frozen=True)
class Instance:
    """This process among a team's: a random id, and ``host:pid`` to show people."""

    id: str
    name: str

    @classmethod
    def new(cls) -> Instance:
        return cls(secrets.token_hex(6), f"{socket.gethostname()}:{os.getpid()}")


@dataclass(frozen=True)
class Lease:
    """One key's row, with the database time it was read at (``now``)."""

    key: str
    holder: str
    holder_name: str
    expires_at: float
    fetch_by: str | None
    fetch_until: float | None
    version: int
    now: float

    @property
    def held(self) -> bool:
        return bool(self.holder) and self.expires_at >= self.now

    @property
    def fetching(self) -> str | None:
        """The instance whose fetch of the key runs now, if one does."""
        if self.fetch_by and self.fetch_until is not None and self.fetch_until >= self.now:
            return self.fetch_by
        return None


_COLS = "key, holder, holder_name, expires_at, fetch_by, fetch_until, version"


class Leases:
    """The ``refresh_leases`` table of one store, as seen by one instance."""

    def __init__(self, store: SnapshotStore, instance: Instance | None = None) -> None:
        self.store = store
        self.instance = instance or Instance.new()
        self._now_sql = _NOW_SQL[store.backend]

    @property
    def me(self) -> str:
        return self.instance.id

    def _now(self, db: Any) -> float:
        return float(db.execute(self._now_sql).fetchone()[0])

    def _rows(self, db: Any, now: float, key: str | None = None) -> dict[str, Lease]:
        where, params = ("WHERE key = ?", (key,)) if key is not None else ("", ())
        rows = db.execute(f"SELECT {_COLS} FROM refresh_leases {where}", params).fetchall()
        return {r[0]: Lease(r[0], r[1], r[2], float(r[3]), r[4], None if r[5] is None else float(r[5]),
                            int(r[6]), now) for r in rows}

    def acquire(self, ttls: dict[str, float]) -> dict[str, Lease]:
        """Take or renew the lease of each key (``key -> ttl``) that nobody else holds, renew
        this instance's in-flight claims; returns every row (held by anyone)."""
        with self.store.transaction() as db:
            now = self._now(db)
            for key, ttl in ttls.items():
                db.execute(
                    "INSERT INTO refresh_leases (key, holder, holder_name, ttl, expires_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, holder_name = excluded.holder_name, "
                    "ttl = excluded.ttl, expires_at = excluded.expires_at "
                    "WHERE refresh_leases.holder = excluded.holder OR refresh_leases.expires_at < ?",
                    (key, self.me, self.instance.name, ttl, now + ttl, now))
            db.execute("UPDATE refresh_leases SET fetch_until = ? + ttl WHERE fetch_by = ?", (now, self.me))
            return self._rows(db, now)

    def read(self, key: str | None = None) -> dict[str, Lease]:
        with self.store.transaction() as db:
            return self._rows(db, self._now(db), key)

    def claim(self, key: str, ttl: float, version: int | None = None) -> tuple[bool, Lease]:
        """Claim the fetch of ``key`` unless another instance's fetch of it runs (or, with
        ``version``, unless a fetch finished since that version was seen); the row after."""
        with self.store.transaction() as db:
            now = self._now(db)
            db.execute("INSERT INTO refresh_leases (key, holder, holder_name, ttl, expires_at) "
                       "VALUES (?, '', '', ?, 0) ON CONFLICT DO NOTHING", (key, ttl))
            sql = ("UPDATE refresh_leases SET fetch_by = ?, fetch_until = ? WHERE key = ? "
                   "AND (fetch_by IS NULL OR fetch_by = ? OR fetch_until < ?)")
            params: tuple[Any, ...] = (self.me, now + ttl, key, self.me, now)
            if version is not None:
                sql += " AND version = ?"
                params += (version,)
            won = bool(db.execute(sql, params).rowcount)
            return won, self._rows(db, now, key)[key]

    def finish(self, key: str) -> int:
        """This instance's fetch of ``key`` ended (its snapshot and state are stored): drop the
        claim and bump the version; returns the new version."""
        with self.store.transaction() as db:
            db.execute("UPDATE refresh_leases SET version = version + 1, "
                       "fetch_until = CASE WHEN fetch_by = ? THEN NULL ELSE fetch_until END, "
                       "fetch_by = CASE WHEN fetch_by = ? THEN NULL ELSE fetch_by END WHERE key = ?",
                       (self.me, self.me, key))
            row = db.execute("SELECT version FROM refresh_leases WHERE key = ?", (key,)).fetchone()
            return int(row[0]) if row else 0

    def release(self) -> None:
        """Stopping: every lease of this instance lapses now and its claims go."""
        with self.store.transaction() as db:
            db.execute("UPDATE refresh_leases SET expires_at = 0 WHERE holder = ?", (self.me,))
            db.execute("UPDATE refresh_leases SET fetch_by = NULL, fetch_until = NULL WHERE fetch_by = ?",
                       (self.me,))


class Team:
    """A coordinator's part in a team: which connections it polls, and the others' data.

    The coordinator asks :meth:`tick` which connections are its own to poll, runs every fetch
    through :meth:`fetch`, and calls :meth:`release` when it stops.
    """

    def __init__(self, coordinator: Coordinator, leases: Leases, *, announce_reloads: bool = True) -> None:
        """``announce_reloads``: publish ``snapshot.stored`` on this coordinator's bus when
        another instance's snapshot is loaded (off when a bridge forwards theirs already)."""
        self.coordinator = coordinator
        self.leases = leases
        self.announce_reloads = announce_reloads
        #: The version of each key this instance's memory holds.
        self.seen: dict[str, int] = {}
        #: Connection id -> ``host:pid`` of the instance polling it (from the last tick).
        self.pollers: dict[str, str] = {}
        self._last_renewal = 0.0

    @property
    def instance(self) -> Instance:
        return self.leases.instance

    def ttl(self, cid: str) -> float:
        c = self.coordinator
        return min(MAX_TTL, max(c.interval(cid), 2 * c.tick_seconds))

    # ------------------------------------------------------------------ the tick

    async def tick(self, ids: list[str]) -> set[str]:
        """Renew and take leases (at most once per half tick: wake-ups come more often), load
        what the others stored since, and return the ids this instance polls."""
        c = self.coordinator
        keys = {cid: c.keys.key(cid) for cid in ids}
        if time.monotonic() - self._last_renewal >= c.tick_seconds / 2:
            rows = await asyncio.to_thread(self.leases.acquire, {keys[cid]: self.ttl(cid) for cid in ids})
            self._last_renewal = time.monotonic()
        else:
            rows = await asyncio.to_thread(self.leases.read)
        mine: set[str] = set()
        for cid, key in keys.items():
            row = rows.get(key)
            if row is None:
                continue
            if row.holder == self.leases.me and row.held:
                mine.add(cid)
            self.pollers[cid] = row.holder_name if row.held else ""
            if cid in c._inflight:
                continue
            if key not in self.seen or row.version > self.seen[key]:  # rows read before a fetch
                await self.reload(cid, row.version)                    # of ours ended are older
            st = c.states.get(cid)
            if st is not None:
                st.refreshing = row.fetching not in (None, self.leases.me)
        return mine

    async def reload(self, cid: str, version: int) -> None:
        """Load a connection's newest good snapshot and state from the store into memory."""
        c = self.coordinator
        key = c.keys.key(cid)
        good, state = await asyncio.to_thread(self._load, key)
        self.seen[key] = max(version, self.seen.get(key, version))  # never back to an older one
        if state is not None:
            c.states[cid] = state.model_copy(update={"id": cid, "refreshing": False})
        if good is not None:
            before = c.good.get(cid)
            c.good[cid] = good.model_copy(update={"id": cid})
            if self.announce_reloads and (before is None or before.fetched_at != good.fetched_at):
                c._publish("snapshot.stored", cid, fetched_at=good.fetched_at.isoformat())

    def _load(self, key: str) -> tuple[IntegrationData | None, PluginState | None]:
        from .state import PluginState

        store = self.coordinator.store
        snap = store.latest(key, good=True)
        rows = store.query("SELECT body FROM plugin_state WHERE plugin = ?", (key,))
        state = None
        if rows:
            try:
                state = PluginState.model_validate_json(rows[0][0])
            except ValueError:
                state = None
        return (snap.data if snap is not None else None), state

    # ------------------------------------------------------------------ fetching

    async def fetch(self, cid: str, scheduled: bool,
                    run: Callable[[str], Awaitable[PluginState]]) -> PluginState:
        """Fetch ``cid`` here (``run``) unless another instance is fetching it: then wait for
        that fetch and load its result. A scheduled fetch also yields to one that finished
        since this instance last looked (a manual refresh elsewhere)."""
        c = self.coordinator
        key, ttl = c.keys.key(cid), self.ttl(cid)
        deadline = time.monotonic() + WAIT_LIMIT
        while True:
            won, row = await asyncio.to_thread(
                self.leases.claim, key, ttl, self.seen.get(key, 0) if scheduled else None)
            if won:
                break
            if scheduled and row.fetching is None:  # a fetch finished elsewhere meanwhile
                await self.reload(cid, row.version)
                return c.state(cid)
            c.state(cid).refreshing = True
            row = await self._wait(key, row, deadline)
            if row.version != self.seen.get(key) or scheduled or time.monotonic() >= deadline:
                await self.reload(cid, row.version)
                return c.state(cid)
            # the other fetch vanished without a result (its instance died): fetch here
        try:
            return await run(cid)
        finally:
            try:
                self.seen[key] = await asyncio.to_thread(self.leases.finish, key)
            except Exception as exc:  # the store went away: the claim lapses by itself
                log.error("team: ending the fetch of %s: %s", cid, redact.safe_str(exc))

    async def _wait(self, key: str, row: Lease, deadline: float) -> Lease:
        """Until the fetch ``row`` shows running elsewhere ends (or lapses); the row then."""
        while row.fetching not in (None, self.leases.me) and time.monotonic() < deadline:
            await asyncio.sleep(WAIT_POLL)
            row = (await asyncio.to_thread(self.leases.read, key)).get(key, row)
        return row

    def release(self) -> None:
        try:
            self.leases.release()
        except Exception as exc:
            log.error("team: releasing the leases: %s", redact.safe_str(exc))
