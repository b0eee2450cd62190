"""What the coordinator knows about one integration between fetches, persisted with the
snapshots so ``devtrack status`` (another process) can show it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ..integrations.contract import ConnectionResult


class PluginState(BaseModel):
    """Refresh bookkeeping of one plugin: when, how it went, when next."""

    id: str
    interval: float = 300.0
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    #: Consecutive failed fetches; 0 after a success. Drives the backoff.
    failures: int = 0
    #: The latest attempt's error, ``None`` when it succeeded.
    error: ConnectionResult | None = None
    #: Auth failed: polling stops until the credentials change.
    needs_attention: bool = False
    #: Keyed hash of the credentials that failed auth (never the values themselves).
    fingerprint: str | None = None
    next_due: datetime | None = None
    refreshing: bool = False
