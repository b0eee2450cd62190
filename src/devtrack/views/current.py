"""What the views know about each integration right now: its state plus its last good data.

Two sources produce the same :class:`Current` list: the running coordinator (memory) and the
snapshot store (``devtrack status``, or a web app with no coordinator). The views are built
from it and never from a live fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..integrations.contract import ConnectionResult, IntegrationData, utcnow
from ..integrations.connections import label
from .keys import Keys
from .state import PluginState

if TYPE_CHECKING:
    from ..integrations.manager import IntegrationManager
    from .store import SnapshotStore

#: Data older than this many refresh intervals is stale even without an error (e.g. nothing
#: has been refreshing it: ``devtrack serve`` is not running).
STALE_AFTER_INTERVALS = 3


@dataclass
class Current:
    """One connection's picture: ``id`` is the connection id, ``name`` its label
    ("Vercel · acme"), ``plugin`` the plugin it belongs to (its id, for a default connection)."""

    id: str
    name: str
    enabled: bool
    configured: bool
    interval: float
    state: PluginState | None
    data: IntegrationData | None
    plugin: str = ""

    def __post_init__(self) -> None:
        if not self.plugin:
            self.plugin = self.id.split(":", 1)[0]

    @property
    def error(self) -> ConnectionResult | None:
        return self.state.error if self.state else None

    @property
    def needs_attention(self) -> bool:
        return bool(self.state and self.state.needs_attention)

    @property
    def last_refresh(self) -> datetime | None:
        return self.data.fetched_at if self.data else None

    def stale(self, now: datetime | None = None) -> bool:
        """Shown data is not known to be current: the last refresh failed, or it is old."""
        if self.data is None:
            return False
        if self.error is not None:
            return True
        age = ((now or utcnow()) - self.data.fetched_at).total_seconds()
        return age > STALE_AFTER_INTERVALS * self.interval

    def status(self) -> str:
        """One word for the card: needs_attention, disabled, unconfigured, pending, failing,
        or the plugin's own health status."""
        if not self.enabled:
            return "disabled"
        if self.needs_attention:
            return "needs_attention"
        if not self.configured:
            return "unconfigured"
        if self.data is None:
            return "failing" if self.error else "pending"
        return self.data.health.status


def collect(
    manager: IntegrationManager,
    states: dict[str, PluginState],
    good: dict[str, IntegrationData],
    intervals: dict[str, float],
) -> list[Current]:
    """A :class:`Current` per connection the manager lists now, so a removed connection leaves
    every view. A connection that is not configured (or not enabled) shows no stored state or
    data: those are of credentials no longer in use."""
    doc = manager.store.read()
    out: list[Current] = []
    for cid in manager.connection_ids(doc=doc):
        pid = manager.plugin_of(cid)
        try:
            name = manager.plugin_class(pid).name
        except KeyError:
            continue
        enabled, configured = manager.is_enabled(cid, doc), manager.is_configured(cid, doc)
        live = enabled and configured
        out.append(Current(
            id=cid, name=label(cid, name), enabled=enabled, configured=configured,
            interval=intervals.get(cid, 300.0), state=states.get(cid) if live else None,
            data=good.get(cid) if live else None, plugin=pid,
        ))
    return out


def from_store(manager: IntegrationManager, store: SnapshotStore) -> list[Current]:
    """The current picture as stored: for processes that do not run the coordinator."""
    from .coordinator import default_interval

    keys = Keys(manager)
    states = {cid: st.model_copy(update={"id": cid}) for cid, st in keys.by_cid(store.states()).items()}
    good = {cid: s.data.model_copy(update={"id": cid})
            for cid, s in keys.by_cid(store.latest_all(good=True)).items() if s.data is not None}
    intervals: dict[str, float] = {}
    for cid in manager.connection_ids():
        st = states.get(cid)
        intervals[cid] = default_interval(manager, cid, st.interval if st else None, warn=False)
    return collect(manager, states, good, intervals)
