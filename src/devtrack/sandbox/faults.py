"""Fault injection: what an emulator should do wrong, for which requests, and how often.

A :class:`Fault` matches requests by route pattern (``/v6/deployments``,
``/v1/projects/{ref}/health``, ``/api/0/*``, ``/**``) and optional method, and fires for the
next ``times`` matching requests (``None``: always). The server consults a service's
:class:`FaultSet` for every request before the emulator sees it, so faults need no code in the
emulators themselves. Thread-safe: tests add faults from their thread while the server runs.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["Fault", "FaultSet", "route_regex", "route_matches", "PAYLOAD_FAULTS"]

#: Faults that replace or break the response; at most one per Fault.
PAYLOAD_FAULTS = ("malformed", "html", "truncate", "reset", "trickle", "oversize")


@lru_cache(maxsize=512)
def route_regex(pattern: str) -> re.Pattern[str]:
    """Compile a route pattern: ``{name}`` and ``*`` match one segment, ``**`` anything."""
    out = []
    for token in re.split(r"(\{[^}/]+\}|\*\*|\*)", pattern):
        if token == "**":
            out.append(".*")
        elif token == "*" or (token.startswith("{") and token.endswith("}")):
            out.append("[^/]+")
        else:
            out.append(re.escape(token))
    return re.compile("".join(out) + "/?")


def route_matches(pattern: str | None, path: str) -> bool:
    """Whether ``path`` matches ``pattern`` (``None`` matches every path)."""
    return pattern is None or route_regex(pattern).fullmatch(path) is not None


@dataclass
class Fault:
    """One misbehaviour. Latency combines with anything; the payload faults are exclusive.

    - ``latency``: seconds to wait before answering;
    - ``status`` (+ ``retry_after``, ``body``, ``headers``): answer this status with the
      vendor's own error envelope (unless ``body`` is given) instead of calling the emulator;
    - ``malformed``: a ``200`` (or ``status``) declaring JSON that does not parse;
    - ``html``: a ``502`` (or ``status``) HTML error page, like a proxy in front of the API;
    - ``truncate``: the real response, with ``Content-Length`` larger than the bytes sent,
      then the connection is closed;
    - ``reset``: the connection is reset (RST) without any response;
    - ``trickle``: the real response sent in small chunks over ``trickle`` seconds;
    - ``oversize``: a ``200`` valid JSON body of this many bytes.
    """

    route: str | None = None
    method: str | None = None
    times: int | None = None
    latency: float = 0.0
    status: int | None = None
    retry_after: float | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    malformed: bool = False
    html: bool = False
    truncate: bool = False
    reset: bool = False
    trickle: float | None = None
    oversize: int | None = None
    #: How many requests this fault has fired for.
    fired: int = 0

    def __post_init__(self) -> None:
        chosen = [name for name in PAYLOAD_FAULTS if getattr(self, name)]
        if len(chosen) > 1:
            raise ValueError(f"a fault can break the payload one way only, got {chosen}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        if self.method:
            self.method = self.method.upper()
        if self.route is not None:
            route_regex(self.route)  # fail early on a bad pattern

    @property
    def kind(self) -> str:
        """A short name for logs: the payload fault, else ``status`` or ``latency``."""
        for name in PAYLOAD_FAULTS:
            if getattr(self, name):
                return name
        return "status" if self.status is not None else "latency"

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method.upper()) and route_matches(self.route, path)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"kind": self.kind}


class FaultSet:
    """The faults armed on one service; the first matching, unexhausted fault wins."""

    def __init__(self, service: str = "") -> None:
        self.service = service
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, route: str | None = None, **spec: Any) -> Fault:
        """Arm a fault, e.g. ``add(route="/v6/deployments", status=429, retry_after=1, times=1)``."""
        fault = spec.pop("fault", None) or Fault(route=route, **spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, counting it as fired (exhausted ones are dropped)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    if fault.times is not None and fault.fired >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    def __len__(self) -> int:
        return len(self.list())
