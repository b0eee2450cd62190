"""Incident opened/resolved events for whoever listens in this process (the web app's live
event stream, for one): a listener is called on the thread that evaluated the rules, must be
quick, and its exceptions are logged and ignored."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncidentEvent:
    kind: Literal["started", "resolved"]
    incident_id: int
    rule: str
    connection: str
    subject: str
    title: str
    message: str
    time: str  # ISO 8601, UTC

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Listener = Callable[[IncidentEvent], None]

#: The live event bus's kind (``devtrack.events``) of each incident event.
BUS_KINDS = {"started": "alert.opened", "resolved": "alert.resolved"}


def bus_event(event: IncidentEvent) -> tuple[str, dict[str, Any]]:
    """The bus's ``(kind, data)`` of an incident event: the documented keys only (no message,
    no subject: they may quote what a rule saw), the title redacted once more."""
    from ..redact import redactor

    return BUS_KINDS[event.kind], {
        "id": event.incident_id, "title": redactor(event.title), "connection": event.connection or None,
        "rule": event.rule, "severity": "error" if event.kind == "started" else "info", "time": event.time}

_listeners: list[Listener] = []
_lock = threading.Lock()


def add_listener(callback: Listener) -> None:
    """Call ``callback`` for every incident that starts or resolves in this process."""
    with _lock:
        _listeners.append(callback)


def remove_listener(callback: Listener) -> None:
    with _lock:
        if callback in _listeners:
            _listeners.remove(callback)


def emit(event: IncidentEvent, own: list[Listener] | None = None) -> None:
    """Call every process-wide listener, then ``own`` (one engine's: its web app's bus)."""
    from ..redact import format_exception

    with _lock:
        listeners = list(_listeners)
    for callback in [*listeners, *(own or [])]:
        try:
            callback(event)
        except Exception as exc:  # a listener never breaks alerting
            log.error("alert listener failed: %s", format_exception(exc))
