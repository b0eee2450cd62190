"""The local proxy token: what every client of the AI proxy sends instead of a provider key.

Generated once (``secrets.token_urlsafe``), kept in the store at ``ai_proxy.token`` (mode 600
like every credential), printed by ``devtrack ai token``. A client only swaps its base URL
and its key; the real keys never leave DevTrack.
"""

from __future__ import annotations

import hmac
import secrets

from .. import redact
from ..credentials import CredentialStore, Doc

PREFIX = "dtp-"
FIELD = "token"


def stored_token(doc: Doc) -> str | None:
    value = (doc.get("ai_proxy") or {}).get(FIELD)
    if isinstance(value, str) and value:
        redact.register([value])
        return value
    return None


def ensure_token(store: CredentialStore, rotate: bool = False) -> str:
    """The token, created on first use (or replaced when ``rotate``), in one locked write."""
    if not rotate:
        existing = stored_token(store.read())
        if existing:
            return existing

    def change(doc: Doc) -> str:
        proxy = doc.setdefault("ai_proxy", {})
        current = stored_token(doc)
        if current and not rotate:
            return current  # another process created it meanwhile
        proxy[FIELD] = PREFIX + secrets.token_urlsafe(32)
        return str(proxy[FIELD])

    token = store.update(change)
    redact.register([token])
    return token


def matches(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; no token configured means nothing matches."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
