"""Delivery: the outbox is sent on worker threads, never on the refresh's.

Each message (an incident's start or end, for one channel) waits in the store's outbox until
it is sent. A failed attempt is retried with exponential backoff (2 s, 4 s, 8 s … at most 10
min, :data:`MAX_ATTEMPTS` attempts in all); a channel that has sent its quota of the rate
window (``alerts.rate_limit``, default 10 messages a minute) has its next messages held back,
not dropped. Every attempt, success or failure, is a line in the history. Messages left when a
process exits are sent by the next one (``devtrack serve`` or the next ``views refresh``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .. import redact
from .incidents import Incidents, OutboxItem

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
FIRST_BACKOFF = 2.0
MAX_BACKOFF = 600.0
#: Seconds an attempt holds its item: another process leaves it alone meanwhile.
LEASE = 60.0
WORKERS = 4

Sender = Callable[[str, str, str, str], None]  # (url, title, body, apprise kind)
Channels = Callable[[], dict[str, str]]  # name -> URL
Rate = Callable[[], tuple[int, int]]  # (messages, per seconds)


def backoff(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1`` after ``attempt`` failed ones."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempt - 1))


APPRISE_KINDS = {"started": "failure", "resolved": "success", "test": "info"}


class Dispatcher:
    """Sends what is due in the outbox, on a pool of worker threads."""

    def __init__(self, incidents: Incidents, channels: Channels, rate: Rate, sender: Sender | None = None) -> None:
        self.incidents = incidents
        self.channels = channels
        self.rate = rate
        self.sender: Sender = sender or apprise_send
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy: set[int] = set()
        self._busy_lock = threading.Lock()
        self._idle = threading.Condition(self._busy_lock)
        self._pool: ThreadPoolExecutor | None = None
        self._rate_lock = threading.Lock()
        self._sending: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        #: The snapshot database is away (its outbox with it): said once, and once when back.
        self._store_away = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Dispatcher:
        if self._thread is None:
            self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="devtrack-alerts-send")
            self._thread = threading.Thread(target=self._main, name="devtrack-alerts", daemon=True)
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    def wake(self) -> None:
        self._wake.set()

    def drain(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until nothing due now is left or in flight; ``True`` if so."""
        deadline = time.monotonic() + timeout
        self.wake()
        while time.monotonic() < deadline:
            # The outbox first, then the workers: an item leaves "due" (claimed) only after it is
            # marked busy, so in this order one of the two always sees it.
            try:
                due = bool(self.incidents.due(time.time(), limit=1))
            except Exception as exc:  # the store away: what is left waits in its outbox
                if self._away(exc):
                    return False
                raise
            with self._busy_lock:
                busy = bool(self._busy)
            if not due and not busy:
                return True
            time.sleep(0.05)
            self.wake()
        return False

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ the loop

    def _main(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self._tick()
            except Exception as exc:  # the store went away for a moment: try again shortly
                if not self._away(exc):
                    log.error("alert delivery: %s", redact.format_exception(exc))
                wait = 5.0
            else:
                if self._store_away:
                    self._store_away = False
                    log.info("alert delivery: the snapshot database is back; sending what waits in the outbox")
            self._wake.wait(wait)
            self._wake.clear()

    def _away(self, exc: Exception) -> bool:
        """``True`` if ``exc`` is the store being away (said once per outage, without a traceback:
        the messages wait in its outbox and go out when it is back)."""
        from ..views.sqldb import StoreUnavailable

        if not isinstance(exc, StoreUnavailable):
            return False
        if not self._store_away:
            self._store_away = True
            log.warning("alert delivery paused: %s; messages wait in the outbox", exc)
        return True

    def _tick(self) -> float:
        """Hand the due items to the pool; returns seconds until the next one is due."""
        now = time.time()
        for item in self.incidents.due(now):
            with self._busy_lock:  # busy before the claim: drain() never sees it in neither place
                if item.id in self._busy:
                    continue
                self._busy.add(item.id)
            if not self.incidents.claim(item, LEASE):
                with self._busy_lock:
                    self._busy.discard(item.id)
                continue
            assert self._pool is not None
            self._pool.submit(self._attempt, item)
        nxt = self.incidents.next_due()
        return 30.0 if nxt is None else max(0.05, min(30.0, nxt - time.time()))

    def _attempt(self, item: OutboxItem) -> None:
        try:
            self._send(item)
        except Exception as exc:  # the store away: the item's lease ends and it is tried again
            if not self._away(exc):
                log.error("alert delivery to %s: %s", item.channel, redact.format_exception(exc))
        finally:
            with self._busy_lock:
                self._busy.discard(item.id)
            self._wake.set()

    def _send(self, item: OutboxItem) -> None:
        attempt = item.attempts + 1
        url = self.channels().get(item.channel)
        if url is None:
            self.incidents.done(item.id)
            self.incidents.record(item.kind, "dropped", item.title, channel=item.channel, incident=item.incident,
                                  attempt=attempt, detail="the channel was removed")
            return
        messages, per = self.rate()
        with self._rate_lock:  # sends in flight count against the quota too
            used = self.incidents.sent_since(item.channel, time.time() - per) + self._sending.get(item.channel, 0)
            allowed = used < messages
            if allowed:
                self._sending[item.channel] = self._sending.get(item.channel, 0) + 1
        if not allowed:
            later = time.time() + per / max(1, messages)
            self.incidents.postpone(item.id, later)
            self.incidents.record(item.kind, "rate_limited", item.title, channel=item.channel,
                                  incident=item.incident, attempt=attempt,
                                  detail=f"more than {messages} messages in {per} s: held back")
            return
        try:
            self.sender(url, item.title, item.body, APPRISE_KINDS.get(item.kind, "info"))
        except Exception as exc:
            self._sent(item.channel)
            reason = redact.redactor(str(exc) or type(exc).__name__)
            if attempt >= MAX_ATTEMPTS:
                self.incidents.done(item.id)
                detail = f"{reason}; gave up after {attempt} attempts"
            else:
                wait = backoff(attempt)
                self.incidents.retry_at(item.id, time.time() + wait)
                detail = f"{reason}; retrying in {wait:g} s"
            self.incidents.record(item.kind, "failed", item.title, channel=item.channel, incident=item.incident,
                                  attempt=attempt, detail=detail)
            return
        self.incidents.done(item.id)
        self.incidents.record(item.kind, "sent", item.title, channel=item.channel, incident=item.incident,
                              attempt=attempt)
        self._sent(item.channel)

    def _sent(self, channel: str) -> None:
        with self._rate_lock:
            self._sending[channel] = max(0, self._sending.get(channel, 0) - 1)


def apprise_send(url: str, title: str, body: str, kind: str) -> None:
    from .channels import send

    send(url, title, body, kind)
