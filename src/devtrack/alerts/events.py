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


def emit(event: IncidentEvent) -> None:
    from ..redact import format_exception

    with _lock:
        listeners = list(_listeners)
    for callback in listeners:
        try:
            callback(event)
        except Exception as exc:  # a listener never breaks alerting
            log.error("alert listener failed: %s", format_exception(exc))
