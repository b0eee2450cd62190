"""Safety for a local web app that holds secrets: one ASGI middleware in front of everything.

Why it is one pure-ASGI layer rather than per-route dependencies: a new route (or the
``/ai/`` mount) cannot forget a check, and streaming responses pass through untouched.

Every request, in order:

1. **Host allow-list** — a page on ``evil.example`` whose DNS re-points to 127.0.0.1 (DNS
   rebinding) still sends ``Host: evil.example``; it is refused with 421.
2. **Access token** (only when one is configured, which a non-loopback bind requires) —
   ``Authorization: Bearer <token>`` or the login cookie; else 401 (pages redirect to /login).
   The exempt prefixes (the ``/ai/`` proxy) skip it: an SDK has one key to send, and there it
   is the proxy's own token, which the proxy checks on every request.
3. **State-changing methods** — the ``Origin`` must be this server's own origin (or ``null``
   with ``Sec-Fetch-Site: same-origin``, which is how browsers send our own form posts under
   ``Referrer-Policy: no-referrer``), and a CSRF
   token bound to the session cookie must come in ``X-CSRF-Token`` or a ``csrf_token`` form
   field. A request authenticated by a bearer token carries no ambient credential, so it
   needs no CSRF token (a foreign ``Origin`` is still refused).
4. **Response headers** — strict CSP (no inline script or style), ``X-Frame-Options: DENY``,
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
#: Largest form body buffered to find the CSRF field (credential forms are tiny).
MAX_FORM_BYTES = 64 * 1024

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

        bearer = _bearer(headers.get("authorization", ""))
        by_bearer = self.guard.check_token(bearer)
        if self.guard.access_token and not path.startswith(PUBLIC_PREFIXES + self.exempt_prefixes):
            if not (by_bearer or self.guard.check_auth_cookie(cookies.get(AUTH_COOKIE))):
                if wants_json or method not in SAFE_METHODS:
                    await _deny(send, 401, "auth", "An access token is required.", True)
                else:
                    await _redirect(send, "/login?next=" + quote(path, safe="/"))
                return

        if method not in SAFE_METHODS and not path.startswith(self.exempt_prefixes):
            origin = headers.get("origin")
            scheme = scope.get("scheme", "http")
            if origin is None and by_bearer:
                pass  # a script holding the token: no browser, no ambient credential
            elif origin != f"{scheme}://{host}" and not _null_but_same_origin(origin, headers):
                await _deny(send, 403, "origin", "Cross-origin request refused.", wants_json)
                return
            if not by_bearer:
                token = headers.get(CSRF_HEADER)
                if token is None and headers.get("content-type", "").startswith(
                    "application/x-www-form-urlencoded"
                ):
                    token, receive = await _form_field(receive, CSRF_FIELD)
                if not self.guard.check_csrf(cookies.get(SESSION_COOKIE), token):
                    await _deny(
                        send, 403, "csrf",
                        "Missing or invalid CSRF token: reload the page and try again.", wants_json,
                    )
                    return
        await self.app(scope, receive, send)

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


async def _form_field(receive: Receive, name: str) -> tuple[str | None, Receive]:
    """Read a urlencoded body to find one field, then hand the same body on downstream."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        body = message.get("body", b"")
        size += len(body)
        if size > MAX_FORM_BYTES:
            break
        chunks.append(body)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(name)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return (values[0] if values else None), replay


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
