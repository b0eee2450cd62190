"""The base of every vendor emulator: seeded data, auth, rate limits and error envelopes.

A vendor emulator subclasses :class:`Emulator`, declares its routes (Starlette), overrides
:meth:`Emulator.error` with the vendor's own error envelope, and says which credentials and
environment overrides point a plugin at it. Serving, request recording and fault injection
come from :class:`~devtrack.sandbox.server.EmulatorServer`; see the package docstring for a
complete example.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from .faults import FaultSet
from .recorder import RequestLog
from .server import EmulatorServer
from .server import Response as RawResponse

__all__ = ["Emulator", "VendorError", "RateLimiter", "RateState", "SandboxEvent", "env_base_url_key", "LOOPBACK"]

LOOPBACK = "127.0.0.1"


def env_base_url_key(plugin_id: str) -> str:
    """``DEVTRACK_<PLUGIN>_BASE_URL``, the override that points a plugin at another host."""
    return f"DEVTRACK_{plugin_id}_BASE_URL".upper().replace("-", "_")


class VendorError(Exception):
    """Raise from a route to answer with a ready response (usually ``emulator.error(...)``)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window resets
    exceeded: bool

    @property
    def reset_in(self) -> int:
        return max(0, int(self.reset_at - time.time() + 0.999))


@dataclass(frozen=True)
class SandboxEvent:
    """Something an alert rule watches, that the emulator can be told to make happen and undo.

    ``produce(options)`` changes the emulator's data and returns what it changed (ids, names),
    which ``undo(that)`` gets back; both run on the server thread, between requests.
    """

    description: str
    produce: Callable[[dict[str, Any]], dict[str, Any]]
    undo: Callable[[dict[str, Any]], Any]


class RateLimiter:
    """A fixed-window counter per key (token). ``limit=0`` disables limiting."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> RateState:
        now = time.time()
        with self._lock:
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.window:
                start, used = now, 0
            used += 1
            self._windows[key] = (start, used)
        limit = self.limit or 1_000_000
        return RateState(limit, max(0, limit - used), start + self.window, bool(self.limit) and used > limit)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


class Emulator:
    """One vendor's API. Subclasses set the class attributes and implement :meth:`routes`."""

    #: The sandbox's name for this service (and the ``<service>_emulator`` module name).
    service: ClassVar[str]
    #: The plugins this emulator serves (usually one: the service).
    plugin_ids: ClassVar[tuple[str, ...]] = ()
    #: The vendor's API path prefix, included in the base-URL override (e.g. ``/client/v4``).
    base_path: ClassVar[str] = ""
    #: Scale knobs and their defaults, named ``<service>_<things>``.
    default_scale: ClassVar[dict[str, int]] = {}
    #: Requests per window per token, and the window in seconds (0: unlimited).
    rate_limit: ClassVar[int] = 0
    rate_window: ClassVar[float] = 60.0

    def __init__(self, *, seed: int = 0, scale: dict[str, int] | None = None) -> None:
        self.seed = seed
        self.scale = {**self.default_scale, **{k: v for k, v in (scale or {}).items()
                                               if k in self.default_scale}}
        self.rng = random.Random(f"{seed}/{self.service}")
        #: A fixed "now" for seeded timestamps, so every run sees the same relative ages.
        self.now = time.time()
        self.faults = FaultSet(self.service)
        self.requests = RequestLog()
        self.limiter = RateLimiter(self.rate_limit, self.rate_window)
        self.server: EmulatorServer | None = None
        #: Produced events not undone yet: name -> what ``produce`` returned.
        self.active_events: dict[str, dict[str, Any]] = {}
        self._events_lock = threading.Lock()
        self.seed_data()

    # ------------------------------------------------------------------ to override

    def seed_data(self) -> None:
        """Build the deterministic data set from ``self.rng`` and ``self.scale``."""

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """The vendor's error envelope for ``status``; override per vendor."""
        return JSONResponse({"error": {"code": status, "message": message, **extra}}, status)

    def credentials(self, url: str) -> dict[str, dict[str, str]]:
        """Working credentials per plugin id, for an emulator served at ``url``."""
        return {}

    def env(self, url: str) -> dict[str, str]:
        """Environment overrides pointing each plugin at ``url`` (plus the vendor's prefix)."""
        return {env_base_url_key(p): url + self.base_path for p in self.plugin_ids}

    def rate_headers(self, state: RateState) -> dict[str, str]:
        """The vendor's rate-limit headers; default: the common ``X-RateLimit-*`` trio."""
        return {
            "x-ratelimit-limit": str(state.limit),
            "x-ratelimit-remaining": str(state.remaining),
            "x-ratelimit-reset": str(int(state.reset_at)),
        }

    def rate_limited(self, state: RateState) -> Response:
        """The vendor's 429; default: :meth:`error` with ``Retry-After``."""
        resp = self.error(429, "Too many requests")
        resp.headers["retry-after"] = str(state.reset_in)
        return resp

    def on_reset(self) -> None:
        """Clear per-run counters (rate-limit windows); the seeded data stays."""
        self.limiter.reset()

    def sandbox_events(self) -> dict[str, SandboxEvent]:
        """The events this emulator can produce for the alert rules; override per vendor."""
        return {}

    # ------------------------------------------------------------------ events

    def produce(self, name: str, **options: Any) -> dict[str, Any]:
        """Make event ``name`` happen (see :meth:`sandbox_events`); returns what changed.

        Producing an event that is active undoes it first, so the data never holds two copies.
        """
        events = self.sandbox_events()
        if name not in events:
            known = ", ".join(sorted(events)) or "none"
            raise ValueError(f"the {self.service} emulator has no event {name!r} (events: {known})")
        with self._events_lock:
            if name in self.active_events:
                events[name].undo(self.active_events.pop(name))
            done = events[name].produce(options)
            self.active_events[name] = done
        return done

    def undo(self, name: str) -> bool:
        """Undo event ``name`` if it is active; ``False`` if it was not."""
        with self._events_lock:
            done = self.active_events.pop(name, None)
            if done is None:
                return False
            self.sandbox_events()[name].undo(done)
        return True

    def undo_all(self) -> None:
        for name in list(self.active_events):
            self.undo(name)

    def _events_api(self, method: str, rest: str, body: Any) -> tuple[int, Any]:
        """``/__sandbox/events``: list, produce (POST) and undo (DELETE ``events/NAME``)."""
        if method == "GET" and not rest:
            return 200, {"service": self.service, "active": dict(self.active_events), "events": {
                n: e.description for n, e in self.sandbox_events().items()}}
        if method == "POST" and not rest:
            if not isinstance(body, dict) or not isinstance(body.get("event"), str):
                return 400, {"error": 'expected {"event": NAME, …options}'}
            options = {k: v for k, v in body.items() if k != "event"}
            return 201, {"event": body["event"], "produced": self.produce(body["event"], **options)}
        if method == "DELETE" and rest:
            if rest not in self.sandbox_events():
                return 404, {"error": f"the {self.service} emulator has no event {rest!r}"}
            return 200, {"event": rest, "undone": self.undo(rest)}
        return 404, {"error": f"no events endpoint {method} /__sandbox/events/{rest}".rstrip("/")}

    # ------------------------------------------------------------------ helpers for routes

    @staticmethod
    def bearer(request: Request) -> str | None:
        """The token of an ``Authorization: Bearer`` header, or ``None``."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None

    @staticmethod
    def basic(request: Request) -> tuple[str, str] | None:
        """The (user, password) of an ``Authorization: Basic`` header, or ``None``."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    def limit(self, request: Request, key: str) -> None:
        """Count a request against ``key``'s window: adds the rate headers, raises the 429."""
        if not self.limiter.limit:
            return
        state = self.limiter.hit(key)
        request.scope.setdefault("state", {}).setdefault("sandbox_headers", {}).update(self.rate_headers(state))
        if state.exceeded:
            raise VendorError(self.rate_limited(state))

    def fail(self, status: int, message: str, **extra: Any) -> VendorError:
        """``raise self.fail(404, "Not found")``: the vendor's envelope as an exception."""
        return VendorError(self.error(status, message, **extra))

    def int_param(self, request: Request, name: str, default: int, lo: int = 0, hi: int | None = None) -> int:
        """An integer query parameter, with the vendor's 400 when it is not one or out of range."""
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self.fail(400, f"Invalid query parameter {name}: must be an integer") from None
        if value < lo or (hi is not None and value > hi):
            raise self.fail(400, f"Invalid query parameter {name}: must be between {lo} and {hi}")
        return value

    def hex_id(self, n: int = 24) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def token(self, prefix: str, n: int = 32) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(n))

    def ago(self, seconds: float) -> float:
        """Epoch seconds ``seconds`` before the emulator's fixed now."""
        return self.now - seconds

    # ------------------------------------------------------------------ serving

    def app(self) -> Any:
        """The ASGI app: the routes, vendor errors for 404/405, the rate headers added."""

        async def vendor_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, VendorError)
            return exc.response

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            return self.error(exc.status_code, exc.detail or "Not found")

        inner = Starlette(routes=self.routes(),
                          exception_handlers={VendorError: vendor_error, HTTPException: http_error})

        async def app(scope: Any, receive: Any, send: Any) -> None:
            async def send_with_headers(message: dict[str, Any]) -> None:
                extra = scope.get("state", {}).get("sandbox_headers")
                if message["type"] == "http.response.start" and extra:
                    names = {k.lower().encode() for k in extra}
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
                    message = {**message, "headers": headers}
                await send(message)

            await inner(scope, receive, send_with_headers)

        return app

    def raw_error(self, status: int, message: str) -> RawResponse:
        """:meth:`error` as the server's response type (for ``status`` faults)."""
        resp = self.error(status, message)
        headers = [(k, v) for k, v in resp.headers.items() if k.lower() != "content-length"]
        return RawResponse(status, headers, bytes(resp.body))

    def serve(self, host: str = LOOPBACK, port: int = 0, ssl_context: Any = None) -> EmulatorServer:
        """Start serving in a background thread; returns the running server."""
        if self.server is None:
            self.server = EmulatorServer(
                self.app(), service=self.service, faults=self.faults, requests=self.requests,
                error_factory=self.raw_error, on_reset=self._reset_all, events=self._events_api,
                host=host, port=port, ssl_context=ssl_context,
            ).start()
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError(f"the {self.service} emulator is not running")
        return self.server.url

    def _reset_all(self) -> None:
        self.undo_all()
        self.on_reset()

    def reset(self) -> None:
        """Clear faults, the request log and counters; undo every produced event."""
        self.faults.clear()
        self.requests.clear()
        self._reset_all()


def page(items: list[Any], offset: int, limit: int) -> list[Any]:
    """A slice that tolerates offsets past the end."""
    return items[offset: offset + limit] if offset >= 0 else []


def first(items: Iterable[Any], **match: Any) -> Any | None:
    """The first item whose keys equal ``match`` (dicts), or ``None``."""
    for item in items:
        if all(item.get(k) == v for k, v in match.items()):
            return item
    return None
