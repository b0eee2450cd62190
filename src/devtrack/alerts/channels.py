"""Channels: where alerts go, as Apprise URLs (``slack://…``, ``mailto://…``, ``json://…``).

A channel URL holds its service's secrets (a webhook token, a password), so it lives in the
credential store (``alerts.channels`` in the same file, with its locking and atomic writes), is
shown only as Apprise's own privacy form (``url(privacy=True)``), and every part of it that
Apprise hides is registered with the redactor, so no log line or message can quote it.

Apprise is imported here only, inside the functions that need it: loading its plugins takes a
good part of a second, which ``devtrack status`` must not pay.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .. import redact

#: Query parameters Apprise adds to every privacy URL with their defaults: noise when shown.
_NOISE = {"overflow", "retry", "wait", "optional", "cto", "method", "format", "emojis", "tz"}
#: What a channel name may be (the CLI's and the web form's argument).
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NAME_MAX = 40
#: Seconds one delivery may take (Apprise's own socket timeouts are longer).
SEND_TIMEOUT = 10.0


class InvalidChannel(ValueError):
    """A URL Apprise cannot use; the message is Apprise's reason, without the URL's secrets."""


class DeliveryFailed(RuntimeError):
    """A notification the service did not accept; the message says why (secrets masked)."""


@dataclass(frozen=True)
class Checked:
    service: str  # Apprise's name for the service, e.g. "JSON", "E-Mail", "Slack"
    masked: str


def name_problem(name: str) -> str | None:
    if not name:
        return "a channel name is needed"
    if len(name) > NAME_MAX:
        return f"the channel name {name!r} is longer than {NAME_MAX} characters"
    if not NAME_RE.match(name):
        return (f"the channel name {name!r} may hold only lowercase letters, digits and single dashes "
                "between them (e.g. team-slack)")
    return None


def _apprise() -> Any:
    import apprise

    # Apprise's own log lines quote URLs; DevTrack reads them through LogCapture instead and
    # reports them redacted, so they must not also reach the root logger's stderr.
    logging.getLogger("apprise").propagate = False
    return apprise


def _reasons(text: str, url: str) -> str:
    """Apprise's warnings and errors as one line, the URL itself and its timestamps dropped."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\S+ \S+ - [A-Z]+ - ", "", line.strip()).replace(url, "this URL")
        if not line:
            continue
        out.append(line.rstrip("."))
    return "; ".join(dict.fromkeys(out))


def secret_parts(url: str, masked: str) -> list[str]:
    """The parts of ``url`` that Apprise's privacy form hides: those are its secrets."""
    parts = urlsplit(url)
    candidates = [parts.password or "", parts.username or ""]
    candidates += [p for p in parts.path.split("/") if p]
    candidates += [v for _, v in parse_qsl(parts.query)]
    host = parts.netloc.rsplit("@", 1)[-1]
    candidates += [p for p in host.split(":") if p]
    shown = unquote(masked).lower()
    return [c for c in candidates if c and c.lower() not in shown]


def register(url: str, masked: str | None = None) -> None:
    """Mask ``url`` and its secret parts wherever DevTrack prints anything from now on."""
    masked = masked if masked is not None else _privacy(url)
    secrets = secret_parts(url, masked)
    if secrets:  # a URL with nothing to hide (json://host/path) stays readable
        redact.register([url, *secrets])


def _privacy(url: str) -> str:
    """Apprise's privacy form of ``url`` without its default parameters; the scheme alone if
    Apprise cannot read it."""
    apprise = _apprise()
    with apprise.LogCapture(level=logging.ERROR):
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return urlsplit(url).scheme + "://…"
    return _quiet(plugin.url(privacy=True))


def _quiet(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _NOISE]
    return urlunsplit(parts._replace(query=urlencode(query, safe="@,/:"))).rstrip("?")


def check(url: str) -> Checked:
    """Whether Apprise can use ``url``; raises :class:`InvalidChannel` with Apprise's reason."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidChannel("the channel URL is empty; e.g. slack://TOKEN_A/TOKEN_B/TOKEN_C or "
                             "json://example.com/hook (see https://github.com/caronc/apprise/wiki)")
    url = url.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidChannel("the channel URL holds a line break or another control character")
    apprise = _apprise()
    with apprise.LogCapture(level=logging.WARNING) as out:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        scheme = urlsplit(url).scheme if "://" in url else ""
        reason = _reasons(out.getvalue(), url)
        if scheme and scheme.lower() not in {s.lower() for s in _schemes()}:
            reason = f"Apprise knows no service {scheme + '://'!r}"
        elif not scheme:
            reason = "it is not a URL (expected SERVICE://…, e.g. slack://… or mailto://…)"
        redact.register(secret_parts(url, ""))  # the reason must not quote what it refused
        raise InvalidChannel(redact.redactor(f"Apprise cannot use this URL: {reason or 'it does not parse'}"))
    masked = _quiet(plugin.url(privacy=True))
    register(url, masked)
    return Checked(str(getattr(plugin, "service_name", "") or type(plugin).__name__), masked)


def _schemes() -> set[str]:
    apprise = _apprise()
    try:
        out: set[str] = set()
        for entry in apprise.Apprise().details()["schemas"]:
            out.update(entry.get("protocols") or [])
            out.update(entry.get("secure_protocols") or [])
        return out
    except Exception:  # an Apprise that describes itself differently: no better reason then
        return set()


def send(url: str, title: str, body: str, kind: str = "info") -> None:
    """Deliver one notification through ``url``; raises :class:`DeliveryFailed` with the reason.

    ``kind`` is Apprise's notification type: info, success, warning or failure.
    """
    apprise = _apprise()
    register(url)
    obj = apprise.Apprise()
    with apprise.LogCapture(level=logging.WARNING) as out:
        if not obj.add(url):
            raise DeliveryFailed(redact.redactor(f"Apprise cannot use this URL: {_reasons(out.getvalue(), url)}"))
        for plugin in obj:
            for attr in ("socket_connect_timeout", "socket_read_timeout"):
                if hasattr(plugin, attr):
                    setattr(plugin, attr, min(float(getattr(plugin, attr) or SEND_TIMEOUT), SEND_TIMEOUT))
        ok = obj.notify(body=body, title=title, notify_type=kind)
    if not ok:
        reason = _reasons(out.getvalue(), url) or "the service did not accept the notification"
        raise DeliveryFailed(redact.redactor(reason))
