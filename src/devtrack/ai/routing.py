"""Where a proxied request goes and what it carries: pure functions, no I/O.

The proxy (:mod:`.proxy`) asks :func:`plan` for the upstream URL and the exact header list
of each request. Keeping this pure makes the header policy easy to read and to test:

- removed from the client's request: hop-by-hop headers, ``Host``/``Content-Length``
  (recomputed), every place a key travels (``Authorization``, ``x-api-key``,
  ``x-goog-api-key``, ``?key=``: there the client sent the *proxy token*), browser
  context (``Origin``, ``Referer``, ``Cookie``, ``Sec-Fetch-*``), forwarding headers;
  ``Helicone-Auth`` and ``Helicone-Target-URL`` (DevTrack owns Helicone routing);
- the ``Helicone-*`` headers :mod:`.inbound` allows (properties, user id, cache, sessions:
  none that routes) pass through when the request goes through Helicone, and are dropped
  when it goes straight to the vendor;
- added: the stored provider key where the vendor expects it and, through Helicone,
  ``Helicone-Auth``, ``Helicone-Organization-Id`` when set, and ``Helicone-Target-URL`` for
  Gemini; ``Accept-Encoding: identity`` when the client asked for no encoding (the body is
  relayed as raw bytes, so the client must be able to read what upstream sends).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from ..credentials import Doc
from ..integrations.contract import url_problem
from .helicone import helicone_state
from .specs import ProviderSpec, key_header_value, provider_key

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade",
})
DROPPED = HOP_BY_HOP | frozenset({
    "host", "content-length", "authorization", "x-api-key", "x-goog-api-key",
    "origin", "referer", "cookie", "forwarded", "x-forwarded-for", "x-forwarded-host",
    "x-forwarded-proto", "x-forwarded-port", "x-real-ip", "helicone-auth", "helicone-target-url",
})
#: Response headers not relayed: hop-by-hop, and cookies (they would land on DevTrack's origin).
RESPONSE_DROPPED = HOP_BY_HOP | frozenset({"set-cookie", "alt-svc", "strict-transport-security"})
KEY_PARAMS = frozenset({"key"})


class RoutingError(Exception):
    """The proxy cannot send this request upstream; ``status`` and a safe message for the client."""

    def __init__(self, status: int, message: str, kind: str = "config") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


@dataclass(frozen=True)
class Upstream:
    """Where one provider's traffic goes right now."""

    provider: ProviderSpec
    base: str
    via_helicone: bool
    key_source: str | None
    injected: tuple[tuple[str, str], ...] = field(repr=False)


def _url(name: str, default: str, environ: Mapping[str, str]) -> str:
    value = (environ.get(name) or "").strip() or default
    problem = url_problem(value)
    if problem:
        raise RoutingError(500, f"{name if environ.get(name) else 'the base URL'} {problem}")
    return value.rstrip("/")


def direct_base(p: ProviderSpec, environ: Mapping[str, str]) -> str:
    """The vendor's API base (``DEVTRACK_<PROVIDER>_BASE_URL`` or the real one)."""
    return _url(p.base_env, p.default_base, environ)


def helicone_base(p: ProviderSpec, environ: Mapping[str, str]) -> str:
    return _url(p.helicone_env, p.helicone_base, environ)


def upstream(p: ProviderSpec, doc: Doc, environ: Mapping[str, str]) -> Upstream:
    """Direct to the vendor, or through Helicone when the Helicone integration is on."""
    from ..secretrefs import Unresolvable

    try:
        key, source = provider_key(p, doc, environ)
        helicone = helicone_state(doc, environ)
    except Unresolvable as exc:
        raise RoutingError(503, f"DevTrack cannot read a key it needs: {exc}", "config") from None
    if not key:
        raise RoutingError(
            401,
            f"DevTrack has no {p.name} key: run `devtrack ai set {p.id}` or set "
            f"{' or '.join(p.env_vars)} where the proxy runs.",
            "auth",
        )
    injected: list[tuple[str, str]] = [(p.key_header, key_header_value(p, key))]
    if helicone is None:
        return Upstream(p, direct_base(p, environ), False, source, tuple(injected))
    injected.append(("helicone-auth", f"Bearer {helicone['api_key']}"))
    if helicone.get("org_id"):
        injected.append(("helicone-organization-id", helicone["org_id"]))
    if p.needs_target_url:
        injected.append(("helicone-target-url", direct_base(p, environ)))
    return Upstream(p, helicone_base(p, environ), True, source, tuple(injected))


def presented_token(p: ProviderSpec, headers: Mapping[str, str], query: str) -> str | None:
    """The proxy token, read from where this provider's SDK sends its key."""
    scheme, _, bearer = headers.get("authorization", "").partition(" ")
    bearer = bearer.strip() if scheme.lower() == "bearer" else ""
    if p.id == "openai":
        return bearer or None
    if p.id == "anthropic":
        return headers.get("x-api-key", "").strip() or bearer or None
    from_query = next((v for k, v in parse_qsl(query) if k in KEY_PARAMS), "")
    return headers.get("x-goog-api-key", "").strip() or from_query.strip() or None


def upstream_url(up: Upstream, path: str, query: str) -> str:
    """``path`` is what follows ``/<provider>`` on the proxy (it includes OpenAI's ``/v1``)."""
    prefix = up.provider.api_prefix
    if prefix:
        if path != prefix and not path.startswith(prefix + "/"):
            raise RoutingError(404, f"unknown path {path!r}: {up.provider.name} clients use the base "
                                    f"URL …/{up.provider.id}{prefix}", "not_found")
        path = path[len(prefix):]
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in KEY_PARAMS]
    return up.base + path + (f"?{urlencode(kept)}" if kept else "")


def upstream_headers(up: Upstream, client: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The exact header list sent upstream (see the module docstring)."""
    out: list[tuple[str, str]] = []
    for name, value in client:
        low = name.lower()
        if low in DROPPED or low.startswith("sec-fetch-"):
            continue
        if low.startswith("helicone-") and not up.via_helicone:
            continue
        if any(low == k for k, _ in up.injected):
            continue
        out.append((low, value))
    if not any(k == "accept-encoding" for k, _ in out):
        out.append(("accept-encoding", "identity"))
    out.extend(up.injected)
    return out


def response_headers(raw: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in raw if k.lower() not in RESPONSE_DROPPED]
