"""Where new secrets go (the file or the keychain), and every place a secret is stored.

The credentials file stays the index of what is configured; its top-level ``secrets`` object
says how secrets are kept::

    "secrets": {"store": "keyring",          # new secrets go to the keychain ("file": here)
                "id": "3f9a1c2b",            # names this file's keychain entries
                "pending_delete": [...]}     # keychain entries a move to the file still has to remove

A keychain entry DevTrack makes is ``keyring:<where>@<id>`` (``keyring:vercel:acme/token@3f9a1c2b``):
the id keeps two projects' ``vercel`` connections apart in one keychain.

A *location* is one place in the document that may hold a secret (a connection's secret field,
an AI provider's key). Locators list them; whoever adds a kind of secret to the file adds a
locator (see :data:`LOCATORS`), and ``move-secrets`` moves them all without knowing what they are.
"""

from __future__ import annotations

import secrets as _random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import secretrefs

Doc = dict[str, Any]
STORES = ("file", "keyring")


@dataclass(frozen=True)
class Location:
    """One place a secret may be stored: its path in the document and how people call it."""

    path: tuple[str, ...]
    label: str  # "vercel:acme token"
    account: str  # the keychain account, without the file's id: "vercel:acme/token"


Locator = Callable[[Doc], Iterable[Location]]


def _ai_providers(doc: Doc) -> Iterable[Location]:
    """Each AI provider's stored key: ``ai_providers.<id>.api_key``."""
    for pid, entry in sorted((doc.get("ai_providers") or {}).items()):
        if isinstance(entry, dict) and isinstance(entry.get("api_key"), str):
            yield Location(("ai_providers", pid, "api_key"), f"AI provider {pid} key", f"ai:{pid}/api_key")


def _alert_channels(doc: Doc) -> Iterable[Location]:
    """Each alert channel's Apprise URL (it holds its service's secrets): ``alerts.channels.<name>.url``.

    Here, not in the alerts add-on: ``move-secrets`` and the diagnostics bundle must find them
    without importing it (the path is all a locator knows)."""
    alerts = doc.get("alerts")
    channels = alerts.get("channels") if isinstance(alerts, dict) else None
    for name, entry in sorted(channels.items()) if isinstance(channels, dict) else []:
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            yield Location(("alerts", "channels", name, "url"), f"alert channel {name} URL", channel_account(name))


def channel_account(name: str) -> str:
    """The keychain account of a channel's URL, without the file's id."""
    return f"alerts:{name}/url"


#: Locators of secrets that need no registry; the integration manager adds its own per call.
LOCATORS: list[Locator] = [_ai_providers, _alert_channels]


def section(doc: Doc) -> dict[str, Any]:
    value = doc.get("secrets")
    if not isinstance(value, dict):
        value = doc["secrets"] = {}
    return value


def preference(doc: Doc) -> str:
    """``keyring`` or ``file``: where this file's new secrets go."""
    value = (doc.get("secrets") or {}).get("store") if isinstance(doc.get("secrets"), dict) else None
    return value if value in STORES else "file"


def set_preference(doc: Doc, store: str) -> None:
    if store not in STORES:
        raise ValueError(f"unknown secret store {store!r}: expected one of {', '.join(STORES)}")
    section(doc)["store"] = store
    if store == "keyring":
        file_id(doc)


def file_id(doc: Doc) -> str:
    """This file's id for its keychain entries (made on first use, kept in the document)."""
    sec = section(doc)
    value = sec.get("id")
    if not (isinstance(value, str) and value.isalnum()):
        value = sec["id"] = _random.token_hex(4)
    return value


def account(doc: Doc, loc: Location) -> str:
    return f"{loc.account}@{file_id(doc)}"


def is_own(doc: Doc, acct: str) -> bool:
    """Whether ``acct`` is an entry DevTrack made for this file (and so may delete)."""
    sid = (doc.get("secrets") or {}).get("id") if isinstance(doc.get("secrets"), dict) else None
    return bool(sid) and acct.endswith(f"@{sid}")


def get(doc: Doc, path: tuple[str, ...]) -> Any:
    node: Any = doc
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def put(doc: Doc, path: tuple[str, ...], value: str) -> None:
    node: Any = doc
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def locations(doc: Doc, extra: Iterable[Locator] = ()) -> list[Location]:
    """Every location holding a value now, from every locator."""
    out: list[Location] = []
    for locator in (*LOCATORS, *extra):
        out.extend(loc for loc in locator(doc) if isinstance(get(doc, loc.path), str) and get(doc, loc.path))
    return out


def referenced_accounts(doc: Doc, extra: Iterable[Locator] = ()) -> set[str]:
    """Keychain accounts some location of ``doc`` points to."""
    out: set[str] = set()
    for loc in locations(doc, extra):
        ref = secretrefs.parse(get(doc, loc.path))
        if ref is not None and ref.kind == "keyring":
            out.add(ref.target)
    return out


def check(doc: Doc, where: str) -> str | None:
    """Why the ``secrets`` section of a file is malformed, or ``None``."""
    value = doc.get("secrets")
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"{where}: 'secrets' must be an object"
    if "store" in value and value["store"] not in STORES:
        return f"{where}: secrets.store must be \"file\" or \"keyring\""
    if "id" in value and not (isinstance(value["id"], str) and value["id"].isalnum()):
        return f"{where}: secrets.id must be letters and digits"
    pending = value.get("pending_delete", [])
    if not (isinstance(pending, list) and all(isinstance(p, str) for p in pending)):
        return f"{where}: secrets.pending_delete must be a list of strings"
    return None
