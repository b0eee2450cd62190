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
from .state import PluginState

if TYPE_CHECKING:
    from ..integrations.manager import IntegrationManager
    from .store import SnapshotStore

#: Data older than this many refresh intervals is stale even without an error (e.g. nothing
#: has been refreshing it: ``devtrack serve`` is not running).
STALE_AFTER_INTERVALS = 3


@dataclass
class Current:
    id: str
    name: str
    enabled: bool
    configured: bool
    interval: float
    state: PluginState | None
    data: IntegrationData | None

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
    doc = manager.store.read()
    out: list[Current] = []
    for pid in manager.ids():
        try:
            name = manager.plugin_class(pid).name
        except KeyError:
            continue
        out.append(Current(
            id=pid, name=name, enabled=manager.is_enabled(pid, doc), configured=manager.is_configured(pid, doc),
            interval=intervals.get(pid, 300.0), state=states.get(pid), data=good.get(pid),
        ))
    return out


def from_store(manager: IntegrationManager, store: SnapshotStore) -> list[Current]:
    """The current picture as stored: for processes that do not run the coordinator."""
    from .coordinator import DEFAULT_INTERVAL, DEFAULT_INTERVALS, interval_env

    states = store.states()
    good = {pid: s.data for pid, s in store.latest_all(good=True).items() if s.data is not None}
    intervals: dict[str, float] = {}
    for pid in manager.ids():
        st = states.get(pid)
        raw = manager.environ.get(interval_env(pid))
        try:
            intervals[pid] = float(raw) if raw else (st.interval if st else DEFAULT_INTERVALS.get(pid, DEFAULT_INTERVAL))
        except ValueError:
            intervals[pid] = DEFAULT_INTERVALS.get(pid, DEFAULT_INTERVAL)
    return collect(manager, states, good, intervals)
