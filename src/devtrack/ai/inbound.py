"""What the proxy takes from a client: a path and headers that cannot choose where keys go.

A client of the proxy holds only the local token and DevTrack adds the real keys, so nothing
it sends may decide *where* a request (and so a key) is sent:

- :func:`api_path` normalises the path before anything checks it: percent-decoded until it
  no longer changes (``%2e%2e``, ``%2f``, ``%252e``), ``\\`` read as ``/``, dot segments
  removed. A path that climbs above the provider's root is refused; the result is encoded
  again segment by segment, so a decoded ``?`` or ``#`` stays part of the path.
- :func:`client_headers` drops every header that names another host or URL (forwarding and
  rewrite headers) and lets through only an allow-list of Helicone's observability headers.
  Pure functions, no I/O: :mod:`.proxy` calls them before :mod:`.routing` builds the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, unquote

from .routing import RoutingError

#: Helicone headers a client may send: they change what Helicone records or how it retries
#: and caches, never where the request goes. Everything else named ``Helicone-*`` is dropped,
#: so a header Helicone adds later is refused until it is looked at. Dropped on purpose, from
#: Helicone's header directory (docs.helicone.ai/helicone-headers/header-directory) and its
#: integration guides:
#:
#: - ``Helicone-Target-URL``: "the URL to proxy the request to" on gateway.helicone.ai;
#: - ``Helicone-OpenAI-Api-Base`` (and the ``Helicone-<Provider>-Api-Base`` family): "the URL
#:   to proxy the request to" on oai.helicone.ai; with it, the OpenAI key goes to that URL;
#: - ``Helicone-Target-Provider``: which provider the gateway treats the target as;
#: - ``Helicone-Fallbacks``: a JSON list of other target URLs (and headers) to try in turn;
#: - ``Helicone-Posthog-Host`` / ``-Key``: Helicone sends the request's log to that host;
#: - ``Helicone-Auth``: whose Helicone account logs the call (DevTrack sets its own).
HELICONE_ALLOWED = frozenset({
    "helicone-user-id", "helicone-request-id",
    "helicone-session-id", "helicone-session-path", "helicone-session-name",
    "helicone-cache-enabled", "helicone-cache-bucket-max-size", "helicone-cache-seed",
    "helicone-retry-enabled", "helicone-retry-num", "helicone-retry-factor",
    "helicone-retry-min-timeout", "helicone-retry-max-timeout",
    "helicone-omit-request", "helicone-omit-response",
    "helicone-model-override", "helicone-prompt-id", "helicone-ratelimit-policy",
    "helicone-stream-force-format",
})
HELICONE_ALLOWED_PREFIXES = ("helicone-property-",)
#: Headers by which a server or a proxy in front of it learns which host or URL it serves.
FORWARDING = frozenset({
    "forwarded", "x-real-ip", "x-original-url", "x-original-uri", "x-rewrite-url",
    "x-original-host", "x-host", "x-http-host-override", "x-envoy-original-path",
})
FORWARDING_PREFIXES = ("x-forwarded-",)

#: Characters a path segment keeps as they are (RFC 3986 ``pchar`` less the unreserved ones,
#: which ``quote`` never encodes): Gemini's ``models/x:generateContent`` needs the colon.
SEGMENT_SAFE = "!$&'()*+,;=:@"
MAX_DECODES = 4


def _refused(path: str) -> RoutingError:
    return RoutingError(400, "The path leaves the provider's API; send the vendor's own path.", "bad_path")


def api_path(path: str) -> str:
    """``path`` (what follows ``/<provider>``, decoded once by the server) safe to join to a base.

    Raises :class:`~.routing.RoutingError` (400, ``bad_path``) when the path climbs above the
    provider's root or is encoded more than :data:`MAX_DECODES` times over.
    """
    decoded = path
    for _ in range(MAX_DECODES):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        if unquote(decoded) != decoded:
            raise _refused(path)
    segments: list[str] = []
    for segment in decoded.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise _refused(path)
            segments.pop()
            continue
        segments.append(segment)
    out = "/" + "/".join(quote(s, safe=SEGMENT_SAFE) for s in segments)
    return out + "/" if segments and decoded.endswith(("/", "\\")) else out


def _allowed(low: str) -> bool:
    if low in FORWARDING or low.startswith(FORWARDING_PREFIXES):
        return False
    if low.startswith("helicone-"):
        return low in HELICONE_ALLOWED or low.startswith(HELICONE_ALLOWED_PREFIXES)
    return True


def client_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The client's headers less those that could steer the request (see the module docstring)."""
    return [(name, value) for name, value in headers if _allowed(name.lower())]
