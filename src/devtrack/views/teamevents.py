"""Team mode's live events: each instance's event bus forwarded to the others over PostgreSQL's
LISTEN/NOTIFY, so a page open on any instance hears every instance's refreshes and alerts.

Why here and not in the bus: :mod:`devtrack.events` stays free of databases; this bridge taps
it (:attr:`EventBus.taps`) only when the store is PostgreSQL. A sender thread NOTIFYs through
the store's pool (the publisher never waits on the database); a listener thread keeps a
connection of its own LISTENing, reconnecting after an outage, and publishes the others'
events on the local bus with their ``origin`` (its own are skipped, and a remote event is
never forwarded again). NOTIFY payloads must stay under 8000 bytes: an event too big is sent
with its short fields only, marked ``truncated``.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from .. import redact
from ..events import Event, EventBus

log = logging.getLogger(__name__)

CHANNEL = "devtrack_events"
#: PostgreSQL refuses a payload of 8000 bytes or more.
MAX_PAYLOAD = 7900
#: Seconds between reconnection attempts of the listener (doubling up to the last).
RECONNECT = (0.5, 1.0, 2.0, 5.0)
QUEUE_SIZE = 1000


def _first_line(exc: BaseException) -> str:
    """An outage's reason, secrets masked (libpq's later lines are hints)."""
    lines = redact.safe_str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def encode(event: Event, origin: str) -> str | None:
    """The NOTIFY payload of an event, or ``None`` if even its short form is too big."""
    doc: dict[str, Any] = {"o": origin, "k": event.kind, "t": event.time, "d": event.data}
    text = json.dumps(doc, default=str, separators=(",", ":"))
    if len(text.encode()) <= MAX_PAYLOAD:
        return text
    short = {k: v for k, v in event.data.items()
             if isinstance(v, str | int | float | bool | type(None)) and len(str(v)) <= 200}
    text = json.dumps({**doc, "d": {**short, "truncated": True}}, default=str, separators=(",", ":"))
    return text if len(text.encode()) <= MAX_PAYLOAD else None


def decode(payload: str) -> tuple[str, str, float, dict[str, Any]] | None:
    """(origin, kind, time, data) of a payload, or ``None`` if it is not one of ours."""
    try:
        doc = json.loads(payload)
        origin, kind, when, data = doc["o"], doc["k"], float(doc["t"]), doc["d"]
    except (ValueError, KeyError, TypeError):
        return None
    if not (isinstance(origin, str) and isinstance(kind, str) and isinstance(data, dict)):
        return None
    return origin, kind, when, data


class EventBridge:
    """Forwards ``bus``'s own events to the other instances on ``store``, and theirs to it.

    ``on_remote(kind, data)`` is called (on the listener thread) after each remote event is
    published here: ``devtrack serve`` wakes its coordinator on a remote ``snapshot.stored``.
    """

    def __init__(self, bus: EventBus, store: Any, origin: str,
                 on_remote: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.bus = bus
        self.store = store
        self.origin = origin
        self.on_remote = on_remote
        #: Set while the listener is LISTENing (tests wait for it).
        self.listening = threading.Event()
        self._queue: queue.Queue[Event] = queue.Queue(QUEUE_SIZE)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conn: Any = None

    def start(self) -> EventBridge:
        self.bus.taps.append(self._tap)
        for name, target in (("devtrack-events-send", self._send), ("devtrack-events-listen", self._listen)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        if self._tap in self.bus.taps:
            self.bus.taps.remove(self._tap)
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    # ------------------------------------------------------------------ out

    def _tap(self, event: Event) -> None:
        if event.origin is None and not self._stop.is_set():
            try:
                self._queue.put_nowait(event)
            except queue.Full:  # the database is away: live pages miss these, data is not lost
                pass

    def _send(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                event = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            payload = encode(event, self.origin)
            if payload is None:
                continue
            for attempt in range(2):  # a pooled connection the server dropped fails once
                try:
                    self.store.query("SELECT pg_notify(?, ?)", (CHANNEL, payload))
                    failing = False
                    break
                except Exception as exc:
                    if attempt and not failing:
                        log.warning("team events: cannot forward live events: %s", _first_line(exc))
                        failing = True

    # ------------------------------------------------------------------ in

    def _listen(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            conn = None
            try:
                conn = self.store.driver.dedicated()
                conn.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                if attempt:
                    log.info("team events: listening again")
                attempt = 0
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=0.5):
                        self._receive(note.payload)
            except Exception as exc:
                self.listening.clear()
                if attempt == 0:
                    log.warning("team events: lost the other instances' live events (%s); reconnecting",
                                _first_line(exc))
                self._stop.wait(RECONNECT[min(attempt, len(RECONNECT) - 1)])
                attempt += 1
            finally:
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
        self.listening.clear()

    def _receive(self, payload: str) -> None:
        decoded = decode(payload)
        if decoded is None or decoded[0] == self.origin:
            return
        origin, kind, when, data = decoded
        self.bus.publish(kind, data, origin=origin, at=when)
        if self.on_remote is not None:
            try:
                self.on_remote(kind, data)
            except Exception as exc:
                log.error("team events: after %s: %s", kind, redact.format_exception(exc))
