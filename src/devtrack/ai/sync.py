"""Helicone → AI proxy: mirror the Helicone credentials into the store's ``ai_proxy`` namespace.

Why a store hook: every path that changes credentials (CLI, web form, JSON API, tests)
goes through :class:`~devtrack.integrations.manager.IntegrationManager`, whose save hooks
run inside the same locked, atomic write. So the proxy's copy can never disagree with
what was saved, and removing or disabling Helicone removes the copy in that same write.

Kept free of heavy imports: ``IntegrationManager.__init__`` installs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..credentials import Doc
    from ..integrations.manager import IntegrationManager

HELICONE = "helicone"
#: Where the copy lives: ``doc["ai_proxy"]["helicone"] = {"api_key", "region", "org_id"}``.
PROXY_KEY = "helicone"


def region_of(key: str, region: str | None) -> str:
    """The region in force: the one saved, else ``eu`` for ``eu-`` keys, else ``us``."""
    chosen = (region or "").strip().lower()
    if chosen in ("us", "eu"):
        return chosen
    return "eu" if key.lower().startswith("eu-") else "us"


def helicone_copy(doc: Doc) -> dict[str, str] | None:
    """What the proxy should hold for Helicone given the integration entry, or ``None``."""
    entry: Any = doc.get("integrations", {}).get(HELICONE)
    if not isinstance(entry, dict) or not entry.get("enabled", True):
        return None
    creds = entry.get("credentials") or {}
    key = str(creds.get("api_key") or "").strip()
    if not key:
        return None
    out = {"api_key": key, "region": region_of(key, creds.get("region"))}
    org = str(creds.get("org_id") or "").strip()
    if org:
        out["org_id"] = org
    return out


def sync_helicone(doc: Doc) -> None:
    """Make ``doc["ai_proxy"]["helicone"]`` match the Helicone integration (in place)."""
    proxy = doc.setdefault("ai_proxy", {})
    copy = helicone_copy(doc)
    if copy is None:
        proxy.pop(PROXY_KEY, None)
    else:
        proxy[PROXY_KEY] = copy


def helicone_hook(manager: IntegrationManager, doc: Doc, plugin_id: str) -> None:
    """The save hook: runs on every credential change, acts on Helicone's."""
    if plugin_id == HELICONE:
        sync_helicone(doc)


def install_hooks(manager: IntegrationManager) -> None:
    """Register the AI hooks on a manager (idempotent)."""
    if helicone_hook not in manager.save_hooks:
        manager.save_hooks.append(helicone_hook)
