"""Safety for a local web app that holds secrets: one ASGI middleware in front of everything.

Why it is one pure-ASGI layer rather than per-route dependencies: a new route (or the
``/ai/`` mount) cannot forget a check, and streaming responses pass through untouched.

Every request, in order:

1. **Host allow-list** — a page on ``evil.example`` whose DNS re-points to 127.0.0.1 (DNS
   rebinding) still sends ``Host: evil.example``; it is refused with 421.
2. **Access token** (``devtrack serve`` always has one, loopback too: other accounts on the
   machine reach 127.0.0.1 as well; see ``access``) — ``Authorization: Bearer <token>`` or the
   login cookie; else 401 (pages redirect to /login). ``GET /login?token=…`` (the link
   ``devtrack serve`` prints) sets the cookie and redirects, so the token leaves the address
   bar at once. The exempt prefixes (the ``/ai/`` proxy) skip it: an SDK has one key to send,
   and there it is the proxy's own token, which the proxy checks on every request.
3. **Body size** — a declared ``Content-Length`` over the cap is answered 413 before a byte of
   the body is read; a chunked body is counted while it is read, and 413 comes as soon as it
   passes the cap. The cap is :data:`MAX_BODY_BYTES` (forms and the JSON API, whose largest
   real body is a few KiB); under ``/ai/`` it is :data:`MAX_AI_BODY_BYTES` (prompts with
   images), where the proxy counts the body itself. Other bodies are read whole here (so the
   CSRF field of a form is found wherever it sits) and handed on whole. The server then
   closes the connection once the client had time to read the 413 (``server.HeaderDeadline``).
4. **State-changing methods** — the ``Origin`` must be this server's own origin (or ``null``
   with ``Sec-Fetch-Site: same-origin``, which is how browsers send our own form posts under
   ``Referrer-Policy: no-referrer``), and a CSRF
   token bound to the session cookie must come in ``X-CSRF-Token`` or a ``csrf_token`` form
   field. A request authenticated by a bearer token carries no ambient credential, so it
   needs no CSRF token (a foreign ``Origin`` is still refused).
5. **Response headers** — strict CSP (no inline script or style), ``X-Frame-Options: DENY``,
   ``nosniff``, ``no-referrer``, ``no-store``; never any CORS header.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

from .. import redact

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "devtrack_sid"
AUTH_COOKIE = "devtrack_auth"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
#: Paths reachable without the access token: the login form and what it needs to look right.
PUBLIC_PREFIXES = ("/login", "/static/")
#: Largest body of a form or JSON API call (credential forms and API bodies are a few KiB).
MAX_BODY_BYTES = 1024 * 1024
#: Largest body under ``/ai/``: prompts with images are large (the proxy's own limit, too).
MAX_AI_BODY_BYTES = 32 * 1024 * 1024
AI_PREFIX = "/ai/"

#: One policy for every page, ``/docs`` too (Swagger UI is served from ``/static/swagger-ui/``):
#: no third-party host anywhere, no inline script or style, no eval.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]


class BindRefused(Exception):
    """Binding this address would expose the secrets to the network without an access token."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, ``localhost``)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, access_token: str | None) -> None:
    """Refuse a non-loopback bind unless an access token protects every request."""
    if not is_loopback(host) and not access_token:
        raise BindRefused(
            f"refusing to listen on {host}: it is reachable from other machines and DevTrack "
            "holds your credentials. Set an access token (DEVTRACK_ACCESS_TOKEN or --token), "
            "or bind 127.0.0.1."
        )


def default_allowed_hosts(bind_host: str = "127.0.0.1") -> list[str]:
    """Loopback names, plus the bound address when it is a specific non-loopback one."""
    hosts = list(LOOPBACK_NAMES)
    name = bind_host.strip("[]").lower()
    if name not in hosts and name not in ("0.0.0.0", "::", ""):
        hosts.append(name)
    return hosts


def split_host(header: str) -> str:
    """The host name of a ``Host``/``Origin`` authority, without port and brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") > 1:  # a bare IPv6 address without a port
        return header
    return header.rsplit(":", 1)[0] if ":" in header else header


class Guard:
    """The secrets behind sessions: per-process, so a restart invalidates every token."""

    def __init__(self, access_token: str | None = None) -> None:
        self.access_token = access_token or None
        self._key = secrets.token_bytes(32)
        redact.register([self.access_token])  # e.g. uvicorn's access log of GET /login?token=…

    def share_key(self, secret: bytes) -> None:
        """Use a key derived from ``secret`` (the shared store's) instead of this process's own,
        so instances of one team behind one name accept each other's login cookies and CSRF
        tokens, and a restart keeps browsers logged in. The access token still decides who
        gets a cookie."""
        self._key = hmac.new(secret, b"devtrack web sessions", hashlib.sha256).digest()

    def csrf_token(self, session_id: str) -> str:
        """The token a page of this session must send back: an HMAC of the session id."""
        return hmac.new(self._key, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session_id: str | None, token: str | None) -> bool:
        if not session_id or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session_id), token)

    def auth_cookie_value(self) -> str:
        """The login cookie: derived from the token, so the token itself never sits in a cookie."""
        assert self.access_token
        return hmac.new(self._key, b"auth:" + self.access_token.encode(), hashlib.sha256).hexdigest()

    def check_token(self, candidate: str | None) -> bool:
        if not self.access_token or not candidate:
            return False
        return hmac.compare_digest(self.access_token.encode(), candidate.encode())

    def check_auth_cookie(self, value: str | None) -> bool:
        return bool(self.access_token and value and hmac.compare_digest(self.auth_cookie_value(), value))


def new_session_id() -> str:
    return secrets.token_urlsafe(24)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        out.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return out


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header is treated as no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


class SecurityMiddleware:
    """The checks described in the module docstring, for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: Guard,
        allowed_hosts: Iterable[str],
        exempt_prefixes: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.guard = guard
        self.allowed_hosts = {split_host(h) for h in allowed_hosts}
        #: Mounted sub-apps that enforce their own authentication (the AI proxy): the Host
        #: allow-list and access token still apply, the browser-form CSRF rules do not.
        self.exempt_prefixes = tuple(exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope.get("path", "/")
        method: str = scope.get("method", "GET").upper()
        wants_json = path.startswith("/api/") or "application/json" in headers.get("accept", "")
        cookies = _cookies(headers)
        session_id = cookies.get(SESSION_COOKIE) or ""
        fresh = not session_id
        if fresh:
            session_id = new_session_id()
        scope.setdefault("state", {})["session_id"] = session_id
        send = self._with_headers(send, path, session_id if fresh else None)

        host = headers.get("host", "")
        if not host or split_host(host) not in self.allowed_hosts:
            await _deny(send, 421, "host", "This host name is not allowed (DNS rebinding protection).", wants_json)
            return

        if path == "/login" and method == "GET" and self.guard.access_token:
            link_token = _query_value(scope, "token")
            if link_token is not None:
                await self._link_login(send, link_token, _query_value(scope, "next"), wants_json)
                return

        bearer = _bearer(headers.get("authorization", ""))
        by_bearer = self.guard.check_token(bearer)
        if self.guard.access_token and not path.startswith(PUBLIC_PREFIXES + self.exempt_prefixes):
            if not (by_bearer or self.guard.check_auth_cookie(cookies.get(AUTH_COOKIE))):
                if wants_json or method not in SAFE_METHODS:
                    await _deny(send, 401, "auth", "An access token is required.", True)
                else:
                    await _redirect(send, "/login?next=" + quote(path, safe="/"))
                return

        cap = MAX_AI_BODY_BYTES if path.startswith(AI_PREFIX) else MAX_BODY_BYTES
        declared = _declared_length(headers)
        if declared is None:
            await _deny(send, 400, "bad_request", "The Content-Length header is not a number.", wants_json)
            return
        if declared > cap:
            await _too_large(send, cap, wants_json)
            return

        exempt = path.startswith(self.exempt_prefixes)
        if method not in SAFE_METHODS and not exempt:
            origin = headers.get("origin")
            scheme = scope.get("scheme", "http")
            if origin is None and by_bearer:
                pass  # a script holding the token: no browser, no ambient credential
            elif origin != f"{scheme}://{host}" and not _null_but_same_origin(origin, headers):
                await _deny(send, 403, "origin", "Cross-origin request refused.", wants_json)
                return
        if not exempt:  # the exempt sub-apps (the AI proxy) read and count their own bodies
            try:
                body = await _read_body(receive, cap)
            except BodyTooLarge:
                await _too_large(send, cap, wants_json)
                return
            except ClientGone:
                return
            receive = _replay(body, receive)
            if method not in SAFE_METHODS and not by_bearer:
                token = headers.get(CSRF_HEADER)
                if token is None and headers.get("content-type", "").startswith(
                    "application/x-www-form-urlencoded"
                ):
                    token = _form_field(body, CSRF_FIELD)
                if not self.guard.check_csrf(cookies.get(SESSION_COOKIE), token):
                    await _deny(
                        send, 403, "csrf",
                        "Missing or invalid CSRF token: reload the page and try again.", wants_json,
                    )
                    return
        await self.app(scope, receive, send)

    async def _link_login(self, send: Send, token: str, target: str | None, as_json: bool) -> None:
        """``/login?token=…``: the cookie for a right token, then away from the URL holding it."""
        if not self.guard.check_token(token):
            await _deny(send, 401, "auth", "That access token is not right: open the link devtrack serve "
                        "printed, or log in at /login.", as_json)
            return
        cookie = f"{AUTH_COOKIE}={self.guard.auth_cookie_value()}; Path=/; HttpOnly; SameSite=Strict"
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", safe_next(target).encode()), (b"content-length", b"0"),
            (b"set-cookie", cookie.encode())]})
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    def _with_headers(send: Send, path: str, new_session: str | None) -> Send:
        """Add the security headers (and a fresh session cookie) to whatever is answered."""
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = [
                    (k, v) for k, v in message.get("headers", [])
                    if not k.lower().startswith(b"access-control-")
                ]
                raw.append((b"content-security-policy", CSP.encode()))
                raw.extend(SECURITY_HEADERS)
                if not path.startswith("/static/"):
                    raw.append((b"cache-control", b"no-store"))
                if new_session:
                    cookie = f"{SESSION_COOKIE}={new_session}; Path=/; HttpOnly; SameSite=Strict"
                    raw.append((b"set-cookie", cookie.encode()))
                message["headers"] = raw
            await send(message)

        return wrapped


def _null_but_same_origin(origin: str | None, headers: dict[str, str]) -> bool:
    """A form POST from our own page under ``Referrer-Policy: no-referrer`` says ``Origin: null``.

    Browsers then still say where it came from in ``Sec-Fetch-Site``, which no page can set;
    an opaque-origin attacker (a sandboxed iframe) gets ``cross-site`` there.
    """
    return origin == "null" and headers.get("sec-fetch-site") == "same-origin"


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class BodyTooLarge(Exception):
    """The body passed the cap while it was read."""


class ClientGone(Exception):
    """The client hung up before its body was complete."""


def _declared_length(headers: dict[str, str]) -> int | None:
    """The declared body size (0 when none is declared); ``None`` when it is not a number."""
    value = headers.get("content-length")
    if value is None:
        return 0
    value = value.strip()
    return int(value) if value.isdigit() else None


async def _read_body(receive: Receive, cap: int) -> bytes:
    """The whole body, counted as it comes: :class:`BodyTooLarge` as soon as it passes ``cap``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        body = message.get("body", b"")
        size += len(body)
        if size > cap:
            raise BodyTooLarge
        chunks.append(body)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands on the body read here, whole, then whatever comes next (a hang-up)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _form_field(body: bytes, name: str) -> str | None:
    """One field of a urlencoded body."""
    values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(name)
    return values[0] if values else None


def _query_value(scope: Scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True).get(name)
    return values[0] if values else None


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this server only (never ``//host`` or a URL)."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or not all(0x21 <= ord(c) <= 0x7E for c in target)):
        return "/"
    return target


async def _too_large(send: Send, cap: int, as_json: bool) -> None:
    await _deny(send, 413, "too_large",
                f"The request body is larger than {cap // (1024 * 1024)} MiB, the most this server takes.",
                as_json)


async def _deny(send: Send, status: int, kind: str, message: str, as_json: bool) -> None:
    if as_json:
        body = json.dumps({"ok": False, "error": {"kind": kind, "message": message}}).encode()
        ctype = b"application/json"
    else:
        body = message.encode()
        ctype = b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
