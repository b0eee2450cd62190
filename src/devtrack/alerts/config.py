"""The ``alerts`` section of the credential file: channels (secret URLs) and rule settings.

::

    "alerts": {"channels": {"NAME": {"url": "slack://…", "added": "2026-12-01T…"}},
               "rules": {"RULE": {"enabled": false, "SETTING": value, …}},
               "rate_limit": {"messages": 10, "per_seconds": 60}}

Written only through :meth:`CredentialStore.update` (lock, fresh re-read, atomic rename); read
strictly: a value of the wrong type is reported with its place in the file and nothing is
written over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import secretrefs
from ..credentials import CredentialStore, StoreCorrupt

SECTION = "alerts"
DEFAULT_RATE = {"messages": 10, "per_seconds": 60}


def _fail(path: Path, where: str, what: str) -> StoreCorrupt:
    return StoreCorrupt(f"{path}: {SECTION}.{where} {what}; fix or move it away.")


def section(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """The validated ``alerts`` section of ``doc`` (created empty in ``doc`` if missing)."""
    raw = doc.setdefault(SECTION, {})
    if not isinstance(raw, dict):
        raise StoreCorrupt(f"{path}: {SECTION!r} must be an object; fix or move it away.")
    channels = raw.setdefault("channels", {})
    if not isinstance(channels, dict):
        raise _fail(path, "channels", "must be an object of named channels")
    for name, entry in channels.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise _fail(path, f"channels.{name}", "must be an object with a string url")
    rules = raw.setdefault("rules", {})
    if not isinstance(rules, dict) or not all(isinstance(v, dict) for v in rules.values()):
        raise _fail(path, "rules", "must be an object of rule settings objects")
    for rule, entry in rules.items():
        if "enabled" in entry and not isinstance(entry["enabled"], bool):
            raise _fail(path, f"rules.{rule}.enabled", "must be true or false")
    rate = raw.setdefault("rate_limit", dict(DEFAULT_RATE))
    if not isinstance(rate, dict) or not all(type(rate.get(k)) is int and rate[k] > 0 for k in DEFAULT_RATE):
        raise _fail(path, "rate_limit", "must be {\"messages\": N, \"per_seconds\": S} with positive integers")
    return raw


def read(store: CredentialStore) -> dict[str, Any]:
    """The current section (a copy: changes go through :func:`update`)."""
    return section(store.read(), store.path)


def update(store: CredentialStore, change: Any) -> Any:
    """Apply ``change(section)`` under the store's lock; nothing is written if it raises."""
    return store.update(lambda doc: change(section(doc, store.path)))


def register_url(url: str) -> None:
    """Register a channel URL's secrets with the redactor (the whole URL if Apprise cannot read it)."""
    from . import channels

    try:
        channels.register(url)
    except Exception:  # a URL Apprise no longer reads: mask it whole at least
        from .. import redact

        redact.register([url])


def resolve(stored: str, environ: Mapping[str, str] | None = None) -> str:
    """The URL a stored channel value stands for: a reference (``env:``, ``file:``, ``op://``,
    ``keyring:``) read now, its secrets registered with the redactor; a literal as itself.
    Raises :class:`secretrefs.Unresolvable` naming the reference."""
    ref = secretrefs.parse(stored)
    if ref is None:
        return secretrefs.literal(stored)
    url = secretrefs.resolve(ref, environ)
    register_url(url)
    return url


def register_secrets(store: CredentialStore, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read the section and register every channel URL's secrets with the redactor (a reference's
    value too, where it resolves now; one that does not is reported when its channel sends)."""
    alerts = read(store)
    for entry in alerts["channels"].values():
        try:
            url = resolve(entry["url"], environ)
        except secretrefs.Unresolvable:
            continue
        register_url(url)
    return alerts
