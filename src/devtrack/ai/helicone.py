"""Whether AI traffic goes through Helicone: read from the Helicone integration at use time.

Nothing is copied when Helicone is saved: the proxy, ``devtrack ai status`` and Settings → AI
Providers all ask :func:`helicone_state` about the current store document, so routing follows
the stored Helicone credentials however they got there (Settings, the CLI, the JSON API,
``devtrack sandbox``, a file edited by hand). Helicone routes when its integration is enabled
and has an API key (a secret reference is resolved here, raising
:class:`devtrack.secretrefs.Unresolvable` when it cannot be), after the
``DEVTRACK_HELICONE_<FIELD>`` environment overrides the integration itself applies; disabling or removing it routes traffic straight to the vendors.

Light: no HTTP library, and no I/O except to resolve a secret reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..credentials import Doc
from ..integrations.manager import env_key
from ..integrations.plugins.helicone import key_traits

HELICONE = "helicone"
FIELDS = ("api_key", "region", "org_id")


def region_of(key: str, region: str | None) -> str:
    """The region in force: the one saved, else what the key's prefix says (``eu-…``), else ``us``."""
    chosen = (region or "").strip().lower()
    if chosen in ("us", "eu"):
        return chosen
    return "eu" if key_traits(key)[1] else "us"


def helicone_state(doc: Doc, environ: Mapping[str, str]) -> dict[str, str] | None:
    """``{"api_key", "region"[, "org_id"]}`` when proxied traffic goes through Helicone, else ``None``."""
    entry: Any = (doc.get("integrations") or {}).get(HELICONE)
    entry = entry if isinstance(entry, dict) else {}
    if not entry.get("enabled", True):
        return None
    stored = entry.get("credentials")
    values = {k: str(v).strip() for k, v in (stored if isinstance(stored, dict) else {}).items()
              if k in FIELDS and v not in (None, "")}
    for name in FIELDS:
        override = (environ.get(env_key(HELICONE, name)) or "").strip()
        if override:
            values[name] = override
    key = values.get("api_key", "")
    if not key:
        return None
    if not (environ.get(env_key(HELICONE, "api_key")) or "").strip():
        from .. import redact, secretrefs

        ref = secretrefs.parse(key)
        # A reference is read now (raising secretrefs.Unresolvable when it cannot be); never
        # silently routed around Helicone.
        key = secretrefs.resolve(ref, environ) if ref is not None else secretrefs.literal(key)
        redact.register([key])
    out = {"api_key": key, "region": region_of(key, values.get("region"))}
    if values.get("org_id"):
        out["org_id"] = values["org_id"]
    return out
