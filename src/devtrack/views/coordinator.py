"""The refresh coordinator: fetches each plugin on its own interval and keeps the last good data.

Why it exists: pages must answer from memory while services are slow or down, and services
must not be hammered when they fail. So per plugin: an interval (defaults below, overridden by
``DEVTRACK_REFRESH_<PLUGIN>`` seconds or the constructor), the last good data served while a
refresh runs or fails, a failure logged once and a recovery once, exponential backoff on
repeated failures (never sooner than a vendor's ``Retry-After``), and an auth failure that
stops polling and marks the plugin "needs attention" until its credentials change (seen by a
manager save hook in this process, or a changed credentials fingerprint from another).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import redact
from ..events import EventBus
from ..text import plural
from ..integrations.contract import IntegrationData, ResultKind, utcnow
from ..integrations.manager import CredentialsInvalid, IntegrationManager
from .current import Current, collect
from .keys import Keys
from .leases import Leases, Team
from .outage import StoreHealth
from .state import PluginState
from .store import SnapshotStore

log = logging.getLogger(__name__)

#: Seconds between refreshes: fast-moving sources more often, slow or metered ones less.
DEFAULT_INTERVALS: dict[str, float] = {
    "github": 60, "vercel": 120, "sentry": 120, "cloudflare": 300,
    "supabase": 300, "upstash": 300, "aws-ec2": 300, "helicone": 300,
}
DEFAULT_INTERVAL = 300.0
MIN_INTERVAL = 1.0
MAX_BACKOFF = 3600.0
#: How often a "needs attention" plugin's credentials are compared with the failed ones.
FINGERPRINT_EVERY = 5.0
PRUNE_EVERY = 3600.0


def interval_env(plugin_id: str) -> str:
    """The variable overriding a plugin's interval; it applies to every connection of it."""
    return f"DEVTRACK_REFRESH_{plugin_id}".upper().replace("-", "_")


def default_interval(manager: IntegrationManager, cid: str, stored: float | None = None,
                     configured: dict[str, float] | None = None, *, warn: bool = True) -> float:
    """A connection's refresh interval: ``DEVTRACK_REFRESH_<PLUGIN>``, else the one given for
    the connection or its plugin, else the one stored, else the plugin's default."""
    plugin = manager.plugin_of(cid)
    raw = manager.environ.get(interval_env(plugin))
    if raw:
        try:
            return max(MIN_INTERVAL, float(raw))
        except ValueError:
            if warn:
                log.warning("ignoring %s=%r: not a number of seconds", interval_env(plugin), raw)
    configured = configured or {}
    value = configured.get(cid, configured.get(plugin))
    if value is None:
        value = stored if stored is not None else DEFAULT_INTERVALS.get(plugin, DEFAULT_INTERVAL)
    return max(MIN_INTERVAL, float(value))


#: Seconds that stopping waits for cancelled fetches to unwind.
STOP_WAIT = 5.0


@dataclass(frozen=True)
class Refreshed:
    """What a post-refresh hook is told about one stored refresh of one connection."""

    coordinator: Coordinator
    id: str
    data: IntegrationData
    state: PluginState
    #: The connection's last good data before this refresh (``None``: none yet).
    previous: IntegrationData | None


#: Called (on a worker thread) after each refresh is stored; add-ons such as alerts append
#: theirs to :attr:`Coordinator.post_refresh`. A hook must be quick and never raise into the
#: refresh: an exception is logged and the refresh goes on.
PostRefreshHook = Callable[[Refreshed], None]


class Coordinator:
    """Schedules fetches; ``current()`` is the in-memory cache pages read."""

    def __init__(
        self,
        manager: IntegrationManager,
        store: SnapshotStore,
        *,
        intervals: dict[str, float] | None = None,
        max_backoff: float = MAX_BACKOFF,
        tick: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        quiet: bool = False,
        events: EventBus | None = None,
        health: StoreHealth | None = None,
        leases: Leases | None = None,
    ) -> None:
        """``quiet``: the caller reports each refresh's outcome itself (``devtrack views
        refresh``), so failures and recoveries are logged at debug level, not a second time.
        ``events``: where each fetch's start, end and stored snapshot are published (live pages).
        ``health``: the store's (see :mod:`.outage`): no fetch while the store is away, every
        connection fetched once it is back.
        ``leases``: team mode (:mod:`.leases`): poll only the connections this instance holds,
        and read the others' from the store."""
        self.manager = manager
        self.events = events
        self.store = store
        self.intervals = dict(intervals or {})
        self.max_backoff = max_backoff
        self.tick_seconds = tick
        self.clock = clock
        #: Memory is keyed by connection id; the store by :class:`Keys` (GitHub's by repository).
        self.keys = Keys(manager)
        self.states: dict[str, PluginState] = {
            cid: st.model_copy(update={"id": cid, "refreshing": False})  # a previous process may have died mid-fetch
            for cid, st in self.keys.by_cid(store.states()).items()
        }
        self.good: dict[str, IntegrationData] = {
            cid: snap.data.model_copy(update={"id": cid})
            for cid, snap in self.keys.by_cid(store.latest_all(good=True)).items() if snap.data is not None
        }
        self._key = store.secret_key()
        self._inflight: dict[str, asyncio.Task[PluginState]] = {}
        self._changed: set[str] = set()
        self._changed_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._last_fingerprint_check = 0.0
        self._last_prune = 0.0
        #: The level of the once-per-episode failure, attention and recovery messages.
        self._notice = logging.DEBUG if quiet else logging.WARNING
        self._recovery = logging.DEBUG if quiet else logging.INFO
        #: Run after every stored refresh, in order (see :data:`PostRefreshHook`).
        self.post_refresh: list[PostRefreshHook] = []
        #: Team mode: set with ``leases`` (``None``: this process polls everything itself).
        self.team: Team | None = None if leases is None else Team(self, leases, announce_reloads=events is not None)
        manager.saved_hooks.append(self._on_saved)
        self._own_health = health is None
        self.health = health or StoreHealth(store.reconnect, events=events, quiet=quiet)
        self._recoveries = self.health.recoveries

    # ------------------------------------------------------------------ configuration

    def interval(self, plugin_id: str) -> float:
        return default_interval(self.manager, plugin_id, configured=self.intervals)

    def state(self, plugin_id: str) -> PluginState:
        st = self.states.get(plugin_id)
        if st is None:
            st = self.states[plugin_id] = PluginState(id=plugin_id, interval=self.interval(plugin_id))
        return st

    def fingerprint(self, plugin_id: str) -> str | None:
        """Keyed hash of the credentials in effect (stored values and overrides)."""
        try:
            creds = self.manager.credentials(plugin_id)
        except CredentialsInvalid:
            return None
        text = "\x00".join(f"{f.key}={creds.value(f.key) or ''}" for f in creds.fields())
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:32]

    # ------------------------------------------------------------------ reading

    def current(self) -> list[Current]:
        """Every plugin's state and last good data, from memory (never waits on a service)."""
        return collect(self.manager, dict(self.states), dict(self.good),
                       {i: self.interval(i) for i in self.manager.connection_ids()})

    # ------------------------------------------------------------------ refreshing

    async def refresh(self, plugin_id: str) -> PluginState:
        """Fetch one plugin now (a manual refresh too); joins a fetch already running.
        :class:`~.sqldb.StoreUnavailable` while the store is away: the fetch would be lost."""
        self.health.check()
        task = self._inflight.get(plugin_id)
        if task is None or task.done():
            task = asyncio.ensure_future(self._fetch(plugin_id, scheduled=False))
            self._inflight[plugin_id] = task
        return await asyncio.shield(task)

    async def refresh_many(self, ids: Iterable[str] | None = None) -> list[PluginState]:
        ids = list(ids) if ids is not None else await asyncio.to_thread(self.manager.fetchable)
        return list(await asyncio.gather(*(self.refresh(i) for i in ids)))

    async def _fetch(self, plugin_id: str, *, scheduled: bool) -> PluginState:
        """Fetch here, or in team mode wherever a fetch of it runs already."""
        if self.team is None:
            return await self._fetch_here(plugin_id)
        try:
            return await self.team.fetch(plugin_id, scheduled, self._fetch_here)
        finally:  # it may have yielded to another instance's fetch: no _fetch_here to end it
            if self._inflight.get(plugin_id) is asyncio.current_task():
                self._inflight.pop(plugin_id, None)

    async def _fetch_here(self, plugin_id: str) -> PluginState:
        st = self.state(plugin_id)
        st.interval = self.interval(plugin_id)
        st.refreshing = True
        stored: IntegrationData | None = None
        previous = self.good.get(plugin_id)
        outcome: dict[str, Any] = {"ok": False, "status": "failing", "error": "error"}
        self._publish("refresh.started", plugin_id)
        try:
            data = await self.manager.fetch(plugin_id)
            now = self.clock()
            data = data.model_copy(update={"fetched_at": now, "id": plugin_id})
            await asyncio.to_thread(self.store.save, data.model_copy(update={"id": self.keys.key(plugin_id)}))
            stored = data
            self._publish("snapshot.stored", plugin_id, fetched_at=now.isoformat())
            if data.error is None:
                self._succeeded(st, data, now)
                outcome = {"ok": True, "status": data.health.status, "error": None}
            else:
                fp = await asyncio.to_thread(self.fingerprint, plugin_id) \
                    if data.error.kind == ResultKind.AUTH else None
                self._failed(st, data, now, fp)
                outcome = {"ok": False, "status": "needs_attention" if st.needs_attention else "failing",
                           "error": str(data.error.kind)}
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the store failed: keep serving memory, try again later
            if not self.health.failed(exc):  # an outage is logged once, by the health
                log.error("refresh of %s could not be stored: %s", plugin_id, redact.format_exception(exc))
            st.next_due = self.clock() + timedelta(seconds=st.interval)
        finally:
            st.refreshing = False
            self._inflight.pop(plugin_id, None)
            self._publish("refresh.finished", plugin_id, **outcome)
        try:
            self.health.check()
            await asyncio.to_thread(self.store.save_state, st.model_copy(update={"id": self.keys.key(plugin_id)}))
        except Exception as exc:
            if not self.health.failed(exc):
                log.error("state of %s could not be stored: %s", plugin_id, redact.format_exception(exc))
        if stored is not None and self.post_refresh:
            await asyncio.to_thread(self._run_post_refresh, Refreshed(self, plugin_id, stored, st, previous))
        return st

    def _run_post_refresh(self, event: Refreshed) -> None:
        for hook in list(self.post_refresh):
            try:
                hook(event)
            except Exception as exc:  # an add-on's failure never breaks refreshing
                if not self.health.failed(exc):
                    log.error("after the refresh of %s: %s", event.id, redact.format_exception(exc))

    def _publish(self, kind: str, cid: str, **data: Any) -> None:
        """Tell live pages (never lets a subscriber's trouble fail a refresh)."""
        if self.events is None:
            return
        try:
            label = self.manager.label(cid)
        except Exception:
            label = cid
        self.events.publish(kind, {"connection": cid, "label": label, **data})

    def _succeeded(self, st: PluginState, data: IntegrationData, now: datetime) -> None:
        if st.failures or st.needs_attention:
            log.log(self._recovery, "%s recovered after %s", st.id,
                    plural(st.failures, "failed refresh", "failed refreshes"))
        self.good[st.id] = data
        st.last_attempt = st.last_success = now
        st.failures = 0
        st.error = None
        st.needs_attention = False
        st.fingerprint = None
        st.next_due = now + timedelta(seconds=st.interval)

    def _failed(self, st: PluginState, data: IntegrationData, now: datetime, fingerprint: str | None) -> None:
        assert data.error is not None
        error = data.error
        st.last_attempt = now
        st.failures += 1
        st.error = error
        if error.kind == ResultKind.AUTH:
            if not st.needs_attention:
                log.log(self._notice, "%s needs attention: %s Polling stops until its credentials change.",
                        st.id, error.message)
            st.needs_attention = True
            st.fingerprint = fingerprint
            st.next_due = None
            return
        if st.failures == 1:
            log.log(self._notice, "%s refresh failed (%s): %s", st.id, error.kind, error.message)
        backoff = min(self.max_backoff, st.interval * 2 ** (st.failures - 1))
        retry_after = error.details.get("retry_after")
        if isinstance(retry_after, int | float):
            backoff = max(backoff, float(retry_after))
        st.next_due = now + timedelta(seconds=backoff)

    # ------------------------------------------------------------------ credentials changes

    def _on_saved(self, plugin_id: str) -> None:
        """Manager hook, called once a credential change is written (maybe on another thread):
        a fetch started now reads the new credentials."""
        with self._changed_lock:
            self._changed.add(plugin_id)
        self.wake()

    def wake(self) -> None:
        """Run a tick now rather than at the next one (callable from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:
                pass

    def _take_changes(self) -> set[str]:
        with self._changed_lock:
            out, self._changed = self._changed, set()
        return out

    def _reconsider(self, now: datetime, check_fingerprints: bool) -> None:
        """Credentials changed: a plugin needing attention may be polled again, at once."""
        changed = self._take_changes()
        for pid, st in self.states.items():
            if pid in changed:
                if st.needs_attention:
                    log.info("%s credentials changed: polling resumes", pid)
                st.needs_attention = False
                st.next_due = now
            elif st.needs_attention and check_fingerprints and self.fingerprint(pid) != st.fingerprint:
                log.info("%s credentials changed: polling resumes", pid)
                st.needs_attention = False
                st.next_due = now

    # ------------------------------------------------------------------ the loop

    async def tick(self) -> list[str]:
        """Start the fetches that are due; returns their ids (they run in the background)."""
        loop = asyncio.get_running_loop()
        now = self.clock()
        if not self._store_ready(now):
            return []
        check = loop.time() - self._last_fingerprint_check >= FINGERPRINT_EVERY
        if check:
            self._last_fingerprint_check = loop.time()
        ids = await asyncio.to_thread(self.manager.fetchable)
        polled = set(ids) if self.team is None else await self.team.tick(ids)
        # After the team's reloads, which replace states: a credentials change makes its
        # connection due now, whatever the state another instance stored says.
        await asyncio.to_thread(self._reconsider, now, check)
        started: list[str] = []
        for pid in ids:
            st = self.state(pid)
            if st.needs_attention or pid in self._inflight or pid not in polled:
                continue
            if st.next_due is None or st.next_due <= now:
                self._inflight[pid] = asyncio.ensure_future(self._fetch(pid, scheduled=True))
                started.append(pid)
        if loop.time() - self._last_prune >= PRUNE_EVERY:
            self._last_prune = loop.time()
            await asyncio.to_thread(self.store.prune)
        return started

    def _store_ready(self, now: datetime) -> bool:
        """``False`` while the store is away; once it is back, every connection is due now
        (what happened meanwhile was fetched by nobody)."""
        if not self.health.available:
            return False
        if self.health.recoveries != self._recoveries:
            self._recoveries = self.health.recoveries
            for st in self.states.values():
                if not st.needs_attention:
                    st.next_due = now
        return True

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Poll until ``stop`` is set (or the task is cancelled); in-flight fetches are cancelled."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception as exc:  # never let one bad tick end polling
                    if not self.health.failed(exc):
                        log.error("refresh tick failed: %s", redact.format_exception(exc))
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, timeout=self.tick_seconds,
                                   return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                self._wake.clear()
        finally:
            for task in list(self._inflight.values()):
                task.cancel()
            if self._inflight:
                # Bounded: a library task cancelled mid-connect can fail to end, and stopping
                # `devtrack serve` must not wait for it.
                await asyncio.wait(set(self._inflight.values()), timeout=STOP_WAIT)
            if self.team is not None:  # another instance takes over at its next tick
                await asyncio.to_thread(self.team.release)  # never raises: a lease left lapses
            self._loop = None

    def close(self) -> None:
        if self._on_saved in self.manager.saved_hooks:
            self.manager.saved_hooks.remove(self._on_saved)
        if self._own_health:
            self.health.close()


class RefreshThread:
    """Runs a coordinator on its own event loop in a daemon thread (``devtrack serve``).

    Its own loop means page requests never queue behind fetch work, and the server's
    configuration (uvicorn runs with lifespan off) does not matter.
    """

    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> RefreshThread:
        self._thread = threading.Thread(target=self._main, name="devtrack-refresh", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self.coordinator.run(self._stop)

        asyncio.run(main())

    def refresh(self, ids: Iterable[str] | None = None, timeout: float | None = None) -> list[PluginState]:
        """A manual refresh from another thread; waits for it (``timeout`` seconds at most)."""
        if self._loop is None:
            raise RuntimeError("the refresh thread is not running")
        fut = asyncio.run_coroutine_threadsafe(self.coordinator.refresh_many(ids), self._loop)
        return fut.result(timeout)

    def trigger(self, ids: Iterable[str] | None = None) -> None:
        """Start a manual refresh and return at once (pages never wait on services)."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.coordinator.refresh_many(ids), self._loop)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)
        self.coordinator.close()
