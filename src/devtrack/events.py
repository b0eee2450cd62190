"""An in-process event bus: what just happened, for pages that update themselves.

Why: a page kept open all day must change when the data does, without polling every view.
Producers (the refresh coordinator on its own thread and event loop, the alerts) call
:meth:`EventBus.publish` from any thread; subscribers (the web app's ``/api/v1/events``
stream, on the server's loop) wait on :meth:`EventBus.wait` and read :meth:`EventBus.since`.
A bounded ring buffer keeps the most recent events with increasing ids, so a client that lost
its stream resumes from its ``Last-Event-ID`` without missing anything still held.

The core knows no web: this module imports nothing of DevTrack's. Where the bus lives: the web
app creates one (``app.state.events``) and hands it to the refresh coordinator it starts
(``Coordinator(events=...)``, kept as ``coordinator.events``); an add-on publishes into either.

Event kinds (``kind``, then the keys of ``data``):

- ``refresh.started``: a fetch of one connection began — ``connection``, ``label``;
- ``refresh.finished``: it ended — ``connection``, ``label``, ``ok`` (bool), ``status``
  (the card's status word: ``healthy``, ``degraded``, ``down``, ``needs_attention``, …),
  ``error`` (the result kind, or ``None``);
- ``snapshot.stored``: its snapshot was written — ``connection``, ``fetched_at`` (ISO time);
- ``alert.opened`` / ``alert.resolved``: an alert incident began or ended (published by the
  alerts add-on) — ``id``, ``title``, ``connection`` (may be ``None``), ``rule``, ``severity``
  (``error`` when opened, ``info`` when resolved), ``time``. Pages re-fetch their ``data-live``
  regions on these, as after a refresh (the dashboard's banner, the Alerts page's lists).
- ``store.unavailable`` / ``store.available``: the snapshot database went away or came back
  (published by ``devtrack.views.outage``) — ``available``, ``since`` (ISO time or ``None``),
  ``message`` (the pages' banner text; no URL). Pages re-fetch their ``data-live`` regions.

Data must be JSON-serialisable and must never carry a secret (the stream is a new surface of
the leak scan).

Team mode: a bridge (:mod:`devtrack.views.teamevents`, wired only on a PostgreSQL store) taps
the bus (:attr:`EventBus.taps`) to forward this process's events to the other instances, and
publishes theirs here with their ``origin`` (the sending instance's id), which it never
forwards back.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Events kept for resuming streams; an older ``Last-Event-ID`` gets what is still held.
DEFAULT_SIZE = 1000
KINDS = ("refresh.started", "refresh.finished", "snapshot.stored", "alert.opened", "alert.resolved",
         "store.unavailable", "store.available")


@dataclass(frozen=True)
class Event:
    """One thing that happened; ``id`` increases by one per event of this bus."""

    id: int
    kind: str
    data: dict[str, Any]
    time: float = field(default_factory=time.time)
    #: The instance that published it, when another one did (``None``: this process).
    origin: str | None = None


class _Waiter:
    """A subscriber's wake-up call on its own event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.flag = asyncio.Event()

    def wake(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.flag.set)
        except RuntimeError:  # that loop is closed: its subscriber is gone
            pass


class EventBus:
    """Thread-safe publish, async wait, ring buffer of recent events."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._events: deque[Event] = deque(maxlen=size)
        self._next = 1
        self._lock = threading.Lock()
        self._waiters: set[_Waiter] = set()
        self.closed = False
        #: Called with every event after it is recorded (on the publisher's thread: a tap must
        #: be quick and must not raise; an exception is dropped).
        self.taps: list[Callable[[Event], None]] = []

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._next - 1

    def publish(self, kind: str, data: dict[str, Any], *, origin: str | None = None,
                at: float | None = None) -> Event:
        """Record an event and wake every subscriber; callable from any thread. ``origin`` and
        ``at``: another instance's event, and when it happened there."""
        with self._lock:
            event = Event(self._next, kind, dict(data), time.time() if at is None else at, origin)
            self._next += 1
            self._events.append(event)
            waiters = list(self._waiters)
        for w in waiters:
            w.wake()
        for tap in list(self.taps):
            try:
                tap(event)
            except Exception:  # a tap's trouble never fails the publisher
                pass
        return event

    def since(self, last_id: int) -> list[Event]:
        """Events after ``last_id`` still held (all held ones for 0; none for the future)."""
        with self._lock:
            return [e for e in self._events if e.id > last_id]

    async def wait(self, last_id: int, timeout: float) -> list[Event]:
        """Events after ``last_id``, waiting up to ``timeout`` seconds for one; ``[]`` on timeout
        or once the bus is closed."""
        waiter = _Waiter()
        with self._lock:
            self._waiters.add(waiter)
        try:
            while not self.closed:
                found = self.since(last_id)
                if found:
                    return found
                try:
                    await asyncio.wait_for(waiter.flag.wait(), timeout)
                except TimeoutError:
                    return []
                waiter.flag.clear()
            return []
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def close(self) -> None:
        """End every wait now and from now on (the server is shutting down)."""
        with self._lock:
            self.closed = True
            waiters = list(self._waiters)
        for w in waiters:
            w.wake()

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._waiters)
