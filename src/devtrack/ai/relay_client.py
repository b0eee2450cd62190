"""The AI proxy's upstream HTTP client: one aiohttp session per event loop, bytes relayed as they are.

Why aiohttp here when the plugins use httpx: at 200 concurrent streams (``bench/bench_proxy.py``)
httpx added about 10 ms to the 99th percentile of the time to a stream's first byte and
aiohttp none. httpx's path through httpcore and anyio gives the event loop up several times
per request (a pool event, two locks, a checkpoint after each socket write) and pauses and
resumes reading around every read; under load each of those turns waits behind the other
streams' events. aiohttp parses in its protocol's callback and wakes the reader once. It also
costs the proxy about 40% less CPU per stream. Only the proxy imports it, on its first request.

What is sent is exactly the header list the proxy built (:func:`.routing.upstream_headers`):
no ``User-Agent``, ``Accept`` or ``Content-Type`` of aiohttp's own, no cookies kept between
requests, the URL not re-quoted, the answer not decompressed.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

#: Seconds an idle upstream connection is kept: a new TLS connection to a vendor costs a
#: handshake on the way to the first byte.
KEEPALIVE_EXPIRY = 30.0
#: Longest response head line or header field accepted from a vendor (aiohttp's default is 8 KiB).
MAX_FIELD = 64 * 1024
#: Headers aiohttp would add on its own; the proxy sends only what it chose.
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class UpstreamTimeout(Exception):
    """The vendor did not connect or answer in time (the proxy answers 504)."""


class UpstreamUnreachable(Exception):
    """No answer could be had (the proxy answers 502); ``str()`` names the kind of failure only."""


def _tls() -> ssl.SSLContext:
    """The same trust as the plugins' httpx: certifi's bundle, so a Python without system CAs works."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def open_session(read_timeout: float) -> aiohttp.ClientSession:
    """A session for the running loop: no connection limit, nothing added, nothing decoded."""
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_EXPIRY, ssl=_tls()),
        timeout=aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=read_timeout),
        auto_decompress=False, skip_auto_headers=_NO_AUTO_HEADERS, cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False, max_line_size=MAX_FIELD, max_field_size=MAX_FIELD,
    )


async def send(session: aiohttp.ClientSession, method: str, url: str, headers: list[tuple[str, str]],
               body: bytes) -> aiohttp.ClientResponse:
    """The response once its head has arrived; the body is read by the caller as it streams."""
    import aiohttp
    from multidict import CIMultiDict
    from yarl import URL

    try:
        return await session.request(method, URL(url, encoded=True), headers=CIMultiDict(headers),
                                     data=body or None, allow_redirects=False, compress=None)
    except asyncio.TimeoutError:  # aiohttp's connect and read timeouts are both TimeoutErrors
        raise UpstreamTimeout from None
    except aiohttp.ClientError as exc:
        raise UpstreamUnreachable(type(exc).__name__) from None


def stream_errors() -> tuple[type[BaseException], ...]:
    """What reading a started answer raises when the vendor's stream breaks off or stalls."""
    import aiohttp

    return (aiohttp.ClientError, asyncio.TimeoutError)
