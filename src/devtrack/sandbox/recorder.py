"""The request log of one emulator: what a client sent, without what it must keep secret.

Only header *names* are kept. Query values whose name looks secret are masked, and JSON
bodies pass through the project's redactor, so a log can be printed or served by the admin
endpoint without leaking a credential.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .faults import route_matches

__all__ = ["RecordedRequest", "RequestLog", "SECRET_PARAM_HINTS"]

SECRET_PARAM_HINTS = ("key", "token", "secret", "password", "signature", "credential", "auth")
MAX_BODY_RECORDED = 64 * 1024


def _secret_param(name: str) -> bool:
    low = name.lower()
    return any(h in low for h in SECRET_PARAM_HINTS)


@dataclass
class RecordedRequest:
    """One request as the emulator saw it."""

    service: str
    method: str
    path: str
    query: list[tuple[str, str]]
    header_names: list[str]
    time: float = field(default_factory=time.time)
    status: int | None = None
    fault: str | None = None
    body: Any = None

    @property
    def params(self) -> dict[str, str]:
        """Query parameters as a dict (the last value of a repeated name wins)."""
        return dict(self.query)

    @property
    def param_names(self) -> list[str]:
        return [k for k, _ in self.query]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def make_record(
    service: str, method: str, path: str, raw_query: str, header_names: list[str],
    body: bytes = b"", content_type: str = "",
) -> RecordedRequest:
    """Build a record with secrets already removed."""
    query = [(k, "***" if _secret_param(k) else v)
             for k, v in parse_qsl(raw_query, keep_blank_values=True)]
    parsed: Any = None
    if body and len(body) <= MAX_BODY_RECORDED:
        from ..redact import redactor

        text = redactor(body.decode("utf-8", "replace"))
        if "json" in content_type:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
        elif "x-www-form-urlencoded" in content_type:
            parsed = {k: ("***" if _secret_param(k) else v)
                      for k, v in parse_qsl(text, keep_blank_values=True)}
        else:
            parsed = text
    names = sorted({h.lower() for h in header_names})
    return RecordedRequest(service, method.upper(), path, query, names, body=parsed)


class RequestLog:
    """Thread-safe, append-only until :meth:`clear`."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def append(self, record: RecordedRequest) -> None:
        with self._lock:
            self._items.append(record)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def all(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def find(self, route: str | None = None, method: str | None = None) -> list[RecordedRequest]:
        """Requests matching a route pattern (see :mod:`.faults`) and method."""
        return [r for r in self.all()
                if (method is None or r.method == method.upper()) and route_matches(route, r.path)]

    def count(self, route: str | None = None, method: str | None = None) -> int:
        return len(self.find(route, method))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
