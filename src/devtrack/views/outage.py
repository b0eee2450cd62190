"""The snapshot database's health while ``devtrack serve`` runs: up, or away since when and why.

Why it exists: a shared PostgreSQL store can go away (a restart, a network cut) while pages stay
open. Then pages keep showing the last data they have with a banner saying so, fetching pauses
(a fetch whose snapshot cannot be stored would be lost, and would spend the vendor's rate limit
for nothing), and nobody waits on the database's connect timeout over and over. Once it answers
again, every connection is fetched at once and the banner goes.

One :class:`StoreHealth` per store user (the web app's views runtime, a coordinator): whoever
sees a :class:`~.sqldb.StoreUnavailable` reports it with :meth:`StoreHealth.failed`; the outage
is logged once (a warning, no traceback), live pages hear ``store.unavailable``, and a probe
thread calls ``probe`` (``store.reconnect()``, a ``SELECT 1`` on a fresh connection) every
:data:`PROBE_EVERY` seconds until it works: then one info line, ``store.available``, and the
``recovered`` hooks run (on the probe thread). With SQLite nothing here ever happens: a file
does not raise StoreUnavailable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ..events import EventBus
from ..integrations.contract import utcnow
from .sqldb import StoreError, StoreUnavailable

log = logging.getLogger(__name__)
#: The outage's two lines are shown even where the log level is warning (``devtrack serve``):
#: someone who read "unavailable" must also read "available again".
log.setLevel(logging.INFO)

#: Seconds between two probes while the database is away.
PROBE_EVERY = 3.0

T = TypeVar("T")


def banner_text(since: datetime, now: datetime | None = None) -> str:
    """What pages say during an outage (no URL, no reason: those are in the log and the API)."""
    now = now or utcnow()
    when = since.strftime("%H:%M UTC" if since.date() == now.date() else "%Y-%m-%d %H:%M UTC")
    return (f"The snapshot database is unreachable (since {when}): showing the last data; "
            "refreshing is paused until it is back.")


class StoreHealth:
    """Whether the store answers; during an outage, a probe every few seconds until it does."""

    def __init__(self, probe: Callable[[], None], *, events: EventBus | None = None,
                 every: float = PROBE_EVERY, clock: Callable[[], datetime] = utcnow,
                 quiet: bool = False) -> None:
        """``probe``: raises a :class:`StoreError` unless the database answers (and is usable
        again). ``quiet``: the caller reports the outage itself (a CLI command): debug level."""
        self._probe = probe
        self.events = events
        self.every = every
        self.clock = clock
        self._level = logging.DEBUG if quiet else logging.WARNING
        self._recovered_level = logging.DEBUG if quiet else logging.INFO
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: When the outage began (``None``: the store answers) and the store's message about it.
        self.since: datetime | None = None
        self.message = ""
        #: How many outages ended: a poller compares it with the count it last saw.
        self.recoveries = 0
        #: Called (on the probe thread) when an outage ends; an exception is logged, one line.
        self.recovered: list[Callable[[], None]] = []
        #: The last value each :meth:`read` key gave, served while the store is away.
        self._last: dict[str, Any] = {}

    @property
    def available(self) -> bool:
        return self.since is None

    def status(self) -> dict[str, Any]:
        """For the JSON API: ``available``, ``since`` (ISO time or ``None``), ``message``."""
        since = self.since
        return {"available": since is None, "since": since.isoformat() if since else None,
                "message": banner_text(since, self.clock()) if since else ""}

    def banner(self) -> str | None:
        since = self.since
        return banner_text(since, self.clock()) if since else None

    def check(self) -> None:
        """Raise :class:`StoreUnavailable` (with the store's message) while the store is away."""
        if self.since is not None:
            raise StoreUnavailable(self.message)

    # ------------------------------------------------------------------ outage and recovery

    def failed(self, exc: BaseException) -> bool:
        """Report a store call's failure; ``True`` if it was the store being away (the outage
        starts, or goes on), ``False`` for any other error (the caller reports that itself)."""
        if not isinstance(exc, StoreUnavailable):
            return False
        with self._lock:
            if self.since is not None or self._stop.is_set():
                return True
            self.since = self.clock()
            self.message = str(exc)
            self._thread = threading.Thread(target=self._watch, name="devtrack-store-probe", daemon=True)
            self._thread.start()
        log.log(self._level, "%s; showing the last data, refreshing is paused until it answers "
                "(checked every %g s)", self.message, self.every)
        self._publish("store.unavailable")
        return True

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self._probe()
            except StoreError as exc:
                self.message = str(exc)
                continue
            except Exception as exc:  # a probe's own bug: say it in one line, keep probing
                log.warning("checking the snapshot database: %s", exc)
                continue
            self._back()
            return

    def _back(self) -> None:
        with self._lock:
            since, self.since = self.since, None
            self.recoveries += 1
        away = (self.clock() - since).total_seconds() if since else 0.0
        log.log(self._recovered_level, "the snapshot database is available again (away %.0f s): refreshing resumes",
                away)
        self._publish("store.available")
        for hook in list(self.recovered):
            try:
                hook()
            except StoreError as exc:  # it went away again at once
                self.failed(exc)
            except Exception as exc:
                log.error("after the snapshot database came back: %s", exc)

    def _publish(self, kind: str) -> None:
        if self.events is not None:
            self.events.publish(kind, self.status())

    # ------------------------------------------------------------------ reading through it

    def read(self, key: str, call: Callable[[], T], default: T) -> T:
        """``call()``, remembered under ``key``; while the store is away (or when ``call`` finds
        it away) the last value remembered, else ``default``, without waiting on the database."""
        if self.since is None:
            try:
                value = call()
            except StoreUnavailable as exc:
                self.failed(exc)
            else:
                self._last[key] = value
                return value
        return self._last.get(key, default)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop probing (the server is stopping)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(self.every + 10)
