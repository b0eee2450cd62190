"""One HTTP client for every plugin: timeouts, retries, rate limits, size caps, redaction.

Plugins describe *what* to ask; this module owns *how*: connect/read timeouts, retries with
exponential backoff and full jitter on 429, 5xx and connection errors (honouring
``Retry-After`` and the vendors' rate-limit reset headers, but never past the call's
deadline), a status → result-kind table, a cap on response size, pagination helpers,
``DEVTRACK_<PLUGIN>_BASE_URL`` overrides, and redaction of every secret it sends.

A header value no HTTP library can send (a token with a line break, a tab or a non-ASCII
character) is refused here, before httpx sees it, as a ``config`` result that names the
credential and not its value: httpx's own error would quote the whole header, token included.

Imported lazily by plugins (it pulls in httpx).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import re
import ssl
import threading
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import httpx

from .. import redact
from .. import __version__
from .contract import DEADLINE, ConnectionResult, ResultKind, url_problem

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
USER_AGENT = f"devtrack/{__version__}"

_STATUS_KINDS: dict[int, ResultKind] = {
    400: ResultKind.CONFIG,
    401: ResultKind.AUTH,
    403: ResultKind.PERMISSION,
    404: ResultKind.NOT_FOUND,
    408: ResultKind.TIMEOUT,
    410: ResultKind.NOT_FOUND,
    422: ResultKind.CONFIG,
    429: ResultKind.RATE_LIMITED,
}


_SSL_CONTEXTS: dict[tuple[str, str], ssl.SSLContext] = {}
_SSL_LOCK = threading.Lock()


def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per CA bundle, shared by every client: building one loads
    the bundle, which otherwise costs tens of milliseconds of event-loop time per client.
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` are honoured, as httpx does."""
    key = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    with _SSL_LOCK:
        ctx = _SSL_CONTEXTS.get(key)
        if ctx is None:
            import certifi

            cafile, capath = key
            if cafile or capath:
                ctx = ssl.create_default_context(cafile=cafile or None, capath=capath or None)
            else:
                ctx = ssl.create_default_context(cafile=certifi.where())
            _SSL_CONTEXTS[key] = ctx
        return ctx


def kind_for_status(status: int) -> ResultKind:
    """The result kind of a final HTTP status."""
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    if status >= 500:
        return ResultKind.UNAVAILABLE
    if 300 <= status < 400:
        return ResultKind.INVALID_RESPONSE
    return ResultKind.ERROR


_HINTS: dict[ResultKind, str] = {
    ResultKind.AUTH: "Check the token: it may be wrong, revoked or expired.",
    ResultKind.PERMISSION: "The credentials work but lack a permission or scope for this.",
    ResultKind.NOT_FOUND: "Check the ids (project, team, organization) in the settings.",
    ResultKind.RATE_LIMITED: "The service is rate-limiting requests; DevTrack will try again later.",
    ResultKind.UNAVAILABLE: "The service is having trouble; try again in a few minutes.",
    ResultKind.CONFIG: "The service refused the request as malformed; check the settings.",
    ResultKind.INVALID_RESPONSE: "Check the base URL: a proxy or a login page may be answering instead.",
}


#: What the credential sent in each authentication header is called, to name it in a refusal.
_HEADER_CREDENTIALS = {
    "authorization": "token",
    "x-api-key": "API key",
    "x-goog-api-key": "API key",
    "x-auth-key": "API key",
    "helicone-auth": "Helicone API key",
}


def header_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value, said without quoting it.

    Surrounding spaces and tabs do not count: they are stripped before sending.
    """
    for char in value.strip(" \t"):
        if unicodedata.category(char) == "Cc":
            name = {"\n": "a line break", "\r": "a line break", "\t": "a tab"}.get(char, "a control character")
            return f"{name} (U+{ord(char):04X})"
        if ord(char) > 0x7E:
            return f"a non-ASCII character (U+{ord(char):04X})"
    return None


def _env_source(value: str) -> str | None:
    """The environment variable a refused header value came from, if one holds it (its name only)."""
    for key in sorted(os.environ, key=lambda k: (not k.startswith("DEVTRACK_"), k)):
        held = os.environ[key].strip()
        if len(held) >= redact.MIN_REDACT_LENGTH and held in value and header_problem(held):
            return key
    return None


class HttpError(Exception):
    """A request that finally failed, already classified and with a user-facing message."""

    def __init__(
        self,
        kind: ResultKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(redact.redactor(message))
        self.kind = kind
        self.message = redact.redactor(message)
        self.status = status
        self.retry_after = retry_after
        self.body = body
        self.headers = dict(headers or {})

    def result(self, **details: Any) -> ConnectionResult:
        extra = {"status": self.status} if self.status else {}
        if self.retry_after is not None:
            extra["retry_after"] = round(self.retry_after, 1)
        return ConnectionResult.failure(self.kind, self.message, **extra, **details)


def http_error_result(exc: HttpError, **details: Any) -> ConnectionResult:
    return exc.result(**details)


def base_url_for(plugin_id: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """The service's base URL: ``DEVTRACK_<PLUGIN>_BASE_URL`` if set, else ``default``.

    For a named connection (the one the manager is calling the plugin for),
    ``DEVTRACK_<PLUGIN>__<NAME>__BASE_URL`` comes first: the plugin-wide one points every
    connection elsewhere (the sandbox relies on it) unless a connection has its own.
    An override must be https, or plain http on a loopback host (the sandbox).
    """
    from .connections import CONNECTION, env_key, parse

    env = os.environ if environ is None else environ
    keys = [env_key(plugin_id, None, "base_url")]
    cid = CONNECTION.get()
    if cid is not None:
        owner, name = parse(cid)
        if owner == plugin_id and name is not None:
            keys.insert(0, env_key(plugin_id, name, "base_url"))
    key = next((k for k in keys if (env.get(k) or "").strip()), keys[-1])
    value = (env.get(key) or "").strip() or default
    problem = url_problem(value)
    if problem:
        raise HttpError(ResultKind.CONFIG, f"{key if env.get(key) else 'base URL'} {problem}")
    return value.rstrip("/")


def _retry_after(resp: httpx.Response) -> float | None:
    """Seconds to wait, from ``Retry-After`` or a vendor's reset header."""
    h = resp.headers
    raw = h.get("retry-after")
    if raw:
        raw = raw.strip()
        if re.fullmatch(r"\d+(\.\d+)?", raw):
            return float(raw)
        try:
            when = email.utils.parsedate_to_datetime(raw)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    for name in ("x-ratelimit-reset", "x-sentry-rate-limit-reset", "ratelimit-reset", "x-rate-limit-reset"):
        raw = h.get(name)
        if raw and re.fullmatch(r"\d+(\.\d+)?", raw.strip()):
            value = float(raw)
            # Epoch seconds (GitHub, Sentry), epoch ms, or a delay in seconds.
            if value > 1e12:
                return max(0.0, value / 1000 - time.time())
            if value > 1e9:
                return max(0.0, value - time.time())
            return value
    return None


def vendor_message(body: Any) -> str | None:
    """Pull the human message out of the common error envelopes."""
    if isinstance(body, str):
        return body.strip()[:200] or None
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        for key in ("message", "msg", "detail"):
            if isinstance(err.get(key), str):
                return err[key]
    if isinstance(err, str) and err:
        return err
    for key in ("message", "detail", "error_description", "msg"):
        if isinstance(body.get(key), str) and body[key]:
            return body[key]
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        if isinstance(first, dict) and isinstance(first.get("message"), str):
            code = first.get("code")
            return f"{first['message']}" + (f" (code {code})" if code is not None else "")
        if isinstance(first, str):
            return first
    return None


def _is_rate_limit(resp: httpx.Response) -> bool:
    if resp.status_code == 429:
        return True
    # GitHub answers an exhausted quota with 403 and x-ratelimit-remaining: 0.
    return resp.status_code == 403 and resp.headers.get("x-ratelimit-remaining") == "0"


class ServiceClient:
    """An async HTTP client bound to one service, used as ``async with``."""

    def __init__(
        self,
        plugin_id: str,
        base_url: str,
        *,
        service: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        secrets: Iterable[str | None] = (),
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_retries: int = 3,
        backoff_base: float = 0.25,
        backoff_max: float = 8.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        verify: bool | str = True,
        classify: Callable[[httpx.Response, Any], ResultKind | None] | None = None,
    ) -> None:
        self.plugin_id = plugin_id
        self.service = service or plugin_id
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_bytes = max_bytes
        self.classify = classify
        self.requests_sent = 0
        redact.register(secrets)
        if auth is not None:
            redact.redactor.add_basic(*auth)
        hdrs = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        for name, value in hdrs.items():
            if name.lower() in _HEADER_CREDENTIALS:
                redact.register([value, value.split(" ", 1)[-1]])
        #: Raised by every request: a header no library can send (left out of the client).
        self._refused = next((e for e in (self._header_refusal(n, v) for n, v in hdrs.items()) if e), None)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={n: v.strip(" \t") for n, v in hdrs.items() if not header_problem(v)},
            auth=httpx.BasicAuth(*auth) if auth else None,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            verify=shared_ssl_context() if verify is True else verify,
        )

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ core

    def _header_refusal(self, name: str, value: str) -> HttpError | None:
        """A ``config`` error naming the credential in header ``name`` if ``value`` cannot be sent."""
        problem = header_problem(value)
        if problem is None:
            return None
        what = _HEADER_CREDENTIALS.get(name.lower(), f"value of the {name} header")
        source = _env_source(value)
        if source and source.endswith("_KEY") and name.lower() == "authorization":
            what = "API key"  # OPENAI_API_KEY: a key, though sent as a bearer token
        origin = f" (from {source})" if source else ""
        return HttpError(
            ResultKind.CONFIG,
            f"The {self.service} {what}{origin} contains {problem}, which cannot be sent in an HTTP header; "
            "re-enter it without that character.",
        )

    def _remaining(self) -> float | None:
        deadline = DEADLINE.get()
        return None if deadline is None else deadline - time.monotonic()

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_max, self.backoff_base * (2**attempt)))

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request, retrying what is worth retrying; raise :class:`HttpError` otherwise.

        ``idempotent`` defaults to true for GET/HEAD; read-only POST queries pass ``True``.
        """
        if self._refused is not None:  # a fresh error each time: no traceback piles up on one
            raise HttpError(self._refused.kind, self._refused.message)
        for name, value in (headers or {}).items():
            if refusal := self._header_refusal(name, value):
                raise refusal
        headers = {n: v.strip(" \t") for n, v in headers.items()} if headers else None
        retryable = idempotent if idempotent is not None else method.upper() in ("GET", "HEAD", "OPTIONS")
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        where = f"{method.upper()} {path}"
        attempt = 0
        while True:
            sent = time.monotonic()
            try:
                resp = await self._send(method, path, clean_params, json, headers)
            except HttpError as exc:
                took = time.monotonic() - sent
                if retryable and exc.kind in (ResultKind.NETWORK, ResultKind.TIMEOUT) and attempt < self.max_retries:
                    wait = self._backoff(attempt)
                    if self._affordable(wait, took):
                        log.info("%s: %s failed (%s), retry %d in %.2fs", self.service, where, exc.kind, attempt + 1, wait)
                        await asyncio.sleep(wait)
                        attempt += 1
                        continue
                raise
            if resp.is_success:
                return resp
            body = _safe_body(resp)
            rate_limited = _is_rate_limit(resp)
            retry_after = _retry_after(resp) if (rate_limited or resp.status_code >= 500) else None
            if (rate_limited or resp.status_code in RETRY_STATUSES) and retryable and attempt < self.max_retries:
                wait = retry_after if retry_after is not None else self._backoff(attempt)
                if self._affordable(wait, time.monotonic() - sent):
                    log.info("%s: %s answered %d, retry %d in %.2fs", self.service, where, resp.status_code, attempt + 1, wait)
                    await asyncio.sleep(wait)
                    attempt += 1
                    continue
            raise self._error(resp, body, rate_limited, retry_after)

    def _affordable(self, wait: float, took: float) -> bool:
        """Whether waiting ``wait`` and trying again (which took ``took`` last time) still
        leaves time to report within the deadline; if not, the failure is reported now,
        classified, rather than becoming a timeout."""
        remaining = self._remaining()
        return remaining is None or wait + 2 * took + 0.5 < remaining

    async def _send(
        self, method: str, path: str, params: Mapping[str, Any], body: Any, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        self.requests_sent += 1
        try:
            req = self._client.build_request(method, path, params=params or None, json=body, headers=headers)
            resp = await self._client.send(req, stream=True)
        except httpx.ConnectTimeout:
            raise HttpError(ResultKind.TIMEOUT, f"{self.service} did not accept a connection in time ({self._host()}).") from None
        except httpx.TimeoutException:
            raise HttpError(ResultKind.TIMEOUT, f"{self.service} did not answer in time ({self._host()}).") from None
        except httpx.ConnectError as exc:
            raise HttpError(
                ResultKind.NETWORK,
                f"Cannot connect to {self.service} at {self._host()}: {_reason(exc)}. Check the network or the base URL.",
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise HttpError(
                ResultKind.NETWORK, f"The connection to {self.service} broke off: {_reason(exc)}."
            ) from None
        except httpx.HTTPError as exc:
            raise HttpError(ResultKind.NETWORK, f"Request to {self.service} failed: {_reason(exc)}.") from None
        try:
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise self._too_big()
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_raw():
                size += len(chunk)
                if size > self.max_bytes:
                    raise self._too_big()
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise HttpError(ResultKind.TIMEOUT, f"{self.service} stopped sending its answer ({self._host()}).") from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise HttpError(
                ResultKind.NETWORK, f"{self.service}'s answer was cut off: {_reason(exc)}."
            ) from None
        finally:
            await resp.aclose()
        raw = b"".join(chunks)
        encoding = resp.headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate", "br"):
            decoded = httpx.Response(resp.status_code, headers=resp.headers, content=raw)
            raw = decoded.read()
        out = httpx.Response(
            resp.status_code,
            headers={k: v for k, v in resp.headers.items() if k.lower() not in ("content-encoding", "transfer-encoding")},
            content=raw,
            request=resp.request,
        )
        return out

    def _too_big(self) -> HttpError:
        return HttpError(
            ResultKind.INVALID_RESPONSE,
            f"{self.service} sent an answer larger than {self.max_bytes // (1024 * 1024)} MB; refused.",
        )

    def _host(self) -> str:
        return httpx.URL(self.base_url).netloc.decode()

    def _error(self, resp: httpx.Response, body: Any, rate_limited: bool, retry_after: float | None) -> HttpError:
        custom = self.classify(resp, body) if self.classify else None
        if custom is not None:
            kind = custom
        elif rate_limited:
            kind = ResultKind.RATE_LIMITED
        elif _looks_html(resp) and resp.status_code < 500:
            # A login page, a captive portal or a wrong base URL: not the vendor's API at all.
            # (An HTML page with a 5xx is a proxy's error page: the service is unavailable.)
            kind = ResultKind.INVALID_RESPONSE
        else:
            kind = kind_for_status(resp.status_code)
        detail = vendor_message(body) if not _looks_html(resp) else None
        if _looks_html(resp):
            detail = "the answer was an HTML page, not the API's JSON"
        msg = f"{self.service} answered {resp.status_code}"
        if detail:
            msg += f": {detail.strip().rstrip('.')}"
        hint = _HINTS.get(kind)
        msg += "." + (f" {hint}" if hint else "")
        if kind == ResultKind.RATE_LIMITED and retry_after is not None:
            msg += f" Retry after {retry_after:.0f}s."
        return HttpError(kind, msg, status=resp.status_code, retry_after=retry_after, body=body, headers=resp.headers)

    # ------------------------------------------------------------------ helpers

    def json_of(self, resp: httpx.Response) -> Any:
        """The JSON body, or an ``invalid_response`` error that says what came instead."""
        if _looks_html(resp):
            raise HttpError(
                ResultKind.INVALID_RESPONSE,
                f"{self.service} answered with an HTML page instead of JSON (status {resp.status_code}); "
                "check the base URL, or the service may be down.",
                status=resp.status_code,
            )
        try:
            return json.loads(resp.content)
        except ValueError:
            raise HttpError(
                ResultKind.INVALID_RESPONSE,
                f"{self.service} answered with malformed JSON (status {resp.status_code}).",
                status=resp.status_code,
            ) from None

    async def get_json(self, path: str, *, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.json_of(await self.request("GET", path, params=params, **kw))

    async def post_json(
        self, path: str, body: Any, *, params: Mapping[str, Any] | None = None, idempotent: bool = False, **kw: Any
    ) -> Any:
        return self.json_of(await self.request("POST", path, params=params, json=body, idempotent=idempotent, **kw))

    async def paginate_link(
        self, path: str, *, params: Mapping[str, Any] | None = None, max_pages: int = 50
    ) -> AsyncIterator[httpx.Response]:
        """Follow ``Link: <…>; rel="next"`` (GitHub, Sentry) up to ``max_pages`` pages.

        Sentry always sends a next link and marks the last page with ``results="false"``.
        """
        url: str | None = path
        query: Mapping[str, Any] | None = params
        for _ in range(max_pages):
            if url is None:
                return
            resp = await self.request("GET", url, params=query)
            yield resp
            url = next_link(resp.headers.get("link", ""), self.base_url)
            query = None


def next_link(header: str, base_url: str = "") -> str | None:
    """The ``rel="next"`` target of a Link header, if it promises results.

    Returned relative to ``base_url`` when it lies under it, so the client's base applies.
    """
    for part in header.split(","):
        m = re.search(r"<([^>]+)>", part)
        if not m or not re.search(r'rel="?next"?', part):
            continue
        if re.search(r'results="?false"?', part):
            return None
        target = m.group(1)
        if base_url and target.startswith(base_url):
            target = target[len(base_url):] or "/"
        return target
    return None


async def paginate(
    fetch: Callable[[Any], Awaitable[tuple[list[T], Any]]],
    *,
    first: Any = None,
    max_items: int = 1000,
    max_pages: int = 50,
) -> list[T]:
    """Generic cursor pagination: ``fetch(cursor) -> (items, next_cursor or None)``."""
    out: list[T] = []
    cursor = first
    for _ in range(max_pages):
        items, cursor = await fetch(cursor)
        out.extend(items)
        if cursor is None or len(out) >= max_items or not items:
            break
    return out[:max_items]


def _safe_body(resp: httpx.Response) -> Any:
    try:
        return json.loads(resp.content)
    except ValueError:
        return resp.text[:500]


def _looks_html(resp: httpx.Response) -> bool:
    ctype = resp.headers.get("content-type", "").lower()
    if "html" in ctype:
        return True
    head = resp.content[:200].lstrip().lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


def _reason(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    return redact.redactor(text)[:200]
