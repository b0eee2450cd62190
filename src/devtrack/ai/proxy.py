"""The AI proxy: an ASGI app that relays OpenAI, Anthropic and Gemini calls with DevTrack's keys.

``/openai/v1/…``, ``/anthropic/…``, ``/google/…`` (under ``/ai`` when the web app mounts it)
go to the vendor, or through Helicone's proxy hosts when Helicone is synced (see
:mod:`.routing` for the exact header policy). Why a plain ASGI callable and not a framework
router: the request is relayed as it is and the answer is streamed back chunk by chunk as
it arrives (no decoding, no buffering; :mod:`.relay_client` says why aiohttp carries it), with
the vendor's status, headers and error body untouched.

Safety: every request must carry the local proxy token where the SDK sends its key; a
request with an ``Origin`` header (any browser page) is refused before anything else; the
path and headers cannot choose where the keys go (:mod:`.inbound`); a client that hangs up
has its upstream request cancelled at once, whether the answer has started or not (nobody
pays for tokens nobody reads); logs hold the provider, method, path, status and time, never
headers, queries or bodies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import redact
from ..credentials import Doc
from . import proxy_token, relay_client
from .inbound import api_path, client_headers
from .routing import RoutingError, presented_token, response_headers, upstream, upstream_headers, upstream_url
from .specs import SPECS, ProviderSpec

if TYPE_CHECKING:
    import aiohttp

    from ..integrations.manager import IntegrationManager
    from .routing import Upstream

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Largest request body relayed (prompts with images can be large; anything bigger is refused).
MAX_REQUEST_BYTES = 32 * 1024 * 1024
ERROR_HEADER = b"x-devtrack-proxy-error"

_ANTHROPIC_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                    413: "request_too_large", 429: "rate_limit_error", 504: "timeout_error"}
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 413: "INVALID_ARGUMENT", 502: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


#: Injected headers that name a place or an account, not a credential: the status page
#: shows them on purpose, so masking them would only hide what the user needs to see.
_NOT_SECRET = frozenset({"helicone-target-url", "helicone-organization-id"})


class UpstreamBroke(Exception):
    """The vendor's stream broke off after the answer started: the client's connection is cut."""


def error_body(provider: ProviderSpec | None, status: int, message: str, kind: str) -> bytes:
    """The proxy's own errors in the vendor's envelope, so each SDK raises its usual error."""
    if provider is None or provider.id == "openai":
        body: Any = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    elif provider.id == "anthropic":
        body = {"type": "error", "error": {"type": _ANTHROPIC_TYPES.get(status, "api_error"), "message": message}}
    else:
        body = {"error": {"code": status, "message": message, "status": _GOOGLE_STATUS.get(status, "INTERNAL")}}
    return json.dumps(body).encode()


async def _answer(send: Send, provider: ProviderSpec | None, status: int, message: str, kind: str) -> None:
    body = error_body(provider, status, message, kind)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (ERROR_HEADER, kind.encode()),
    ]})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


@dataclass
class _Progress:
    #: The whole answer has been handed to the server (a hang-up after that is the normal end).
    complete: bool = False


async def _hangup(receive: Receive) -> None:
    """Returns when the client has gone (the request body was read before, so nothing else comes)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _unless_client_leaves(exchange: Coroutine[Any, Any, int], receive: Receive, progress: _Progress) -> int:
    """The exchange's status, or 499 once the client hung up: then the exchange is cancelled.

    Why a race and not a check between chunks: a model can be silent for a long time (thinking
    before its first byte, or between two), and the upstream must hear of the hang-up then.
    Why the exchange runs in this task and the watcher in another, not the other way round: a
    new task starts only on the loop's next turn, and at load each turn waits behind every
    other stream's events; the request goes upstream without waiting for one.
    """
    this = asyncio.current_task()
    assert this is not None
    watching = True
    hung_up = False

    def cut(_: asyncio.Task[None]) -> None:
        nonlocal hung_up
        if watching and not progress.complete and not gone.cancelled():
            hung_up = True
            this.cancel()

    gone = asyncio.create_task(_hangup(receive))
    gone.add_done_callback(cut)
    try:
        return await exchange
    except asyncio.CancelledError:
        if hung_up and this.uncancel() == 0:
            return 499
        raise
    finally:
        watching = False
        gone.cancel()


class ProxyApp:
    """The proxy as an ASGI app bound to one manager (its store and environment)."""

    def __init__(self, manager: IntegrationManager, *, timeout: float = 600.0) -> None:
        self.manager = manager
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._doc_key: tuple[int, int, int] | None = None
        self._doc: Doc | None = None

    # ------------------------------------------------------------------ state

    def doc(self) -> Doc:
        """The store's document, re-read only when the file changed (atomic writes = new inode)."""
        path = self.manager.store.path
        try:
            st = os.stat(path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            key = (0, 0, 0)
        if self._doc is None or key != self._doc_key:
            self._doc = self.manager.store.read()
            self._doc_key = key
        return self._doc

    def token(self) -> str:
        return proxy_token.stored_token(self.doc()) or proxy_token.ensure_token(self.manager.store)

    def session(self) -> aiohttp.ClientSession:
        """The upstream session of the running event loop (a session is bound to its loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:
            self._session = relay_client.open_session(self.timeout)
            self._loop = loop
        return self._session

    async def aopen(self) -> None:
        """Open the upstream session now, on the server's loop: a served proxy pays aiohttp's
        import before its first request rather than in it (an imported proxy still does not)."""
        self.session()

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope.get("path", "/")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        provider_id, _, rest = path.lstrip("/").partition("/")
        provider = SPECS.get(provider_id)
        headers: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
        if "origin" in headers:
            await _answer(send, provider, 403, "The DevTrack AI proxy refuses requests from web pages.", "origin")
            return
        if provider is None:
            await _answer(send, None, 404, "Unknown provider: use /openai/v1, /anthropic or /google.", "not_found")
            return
        query = scope.get("query_string", b"").decode("latin-1")
        started = time.perf_counter()
        status = await self._relay(provider, "/" + rest, query, headers, scope, receive, send)
        log.info("ai proxy %s %s /%s → %s in %.0f ms", provider.id, scope.get("method"), rest.split("?")[0],
                 status, (time.perf_counter() - started) * 1000)

    async def _relay(self, provider: ProviderSpec, path: str, query: str, headers: dict[str, str],
                     scope: Scope, receive: Receive, send: Send) -> int:
        try:
            doc = self.doc()
            if not proxy_token.matches(self.token(), presented_token(provider, headers, query)):
                raise RoutingError(401, "Missing or wrong DevTrack proxy token: use the output of "
                                        "`devtrack ai token` as this client's API key.", "proxy_token")
            up = upstream(provider, doc, self.manager.environ)
            url = upstream_url(up, api_path(path), query)
            body = await _read_body(receive)
        except RoutingError as exc:
            await _answer(send, provider, exc.status, exc.message, exc.kind)
            return exc.status
        except _TooLarge:
            await _answer(send, provider, 413, "Request body too large for the proxy.", "too_large")
            return 413
        except ConnectionAbortedError:
            return 499
        raw = client_headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", []))
        redact.register([v for k, v in up.injected if k not in _NOT_SECRET])
        progress = _Progress()
        exchange = self._exchange(provider, up, scope.get("method", "GET"), url, raw, body, send, progress)
        return await _unless_client_leaves(exchange, receive, progress)

    async def _exchange(self, provider: ProviderSpec, up: Upstream, method: str, url: str,
                        headers: list[tuple[str, str]], body: bytes, send: Send, progress: _Progress) -> int:
        """Send upstream and relay the answer; cancelling it closes the upstream connection."""
        try:
            resp = await relay_client.send(self.session(), method, url, upstream_headers(up, headers), body)
        except relay_client.UpstreamTimeout:
            await _answer(send, provider, 504, f"{provider.name} did not answer in time.", "timeout")
            return 504
        except relay_client.UpstreamUnreachable as exc:
            where = "Helicone" if up.via_helicone else provider.name
            await _answer(send, provider, 502, f"Cannot reach {where}: {exc}.", "network")
            return 502
        try:
            await send({"type": "http.response.start", "status": resp.status, "headers": [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in response_headers(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers)
            ]})
            try:
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except relay_client.stream_errors() as exc:
                log.warning("ai proxy %s: the upstream stream broke off (%s)", provider.id, type(exc).__name__)
                raise UpstreamBroke(f"{provider.name}'s stream broke off") from None
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            progress.complete = True
        finally:
            if progress.complete:
                resp.release()  # read to its end: the connection goes back to the pool
            else:
                resp.close()  # an answer not read to its end closes the connection
        return resp.status

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.aopen()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_proxy_app(manager: IntegrationManager | None = None) -> ProxyApp:
    """The proxy for ``manager`` (default: the process-wide one); mount it or serve it."""
    if manager is None:
        from ..integrations.manager import get_manager

        manager = get_manager()
    return ProxyApp(manager)
