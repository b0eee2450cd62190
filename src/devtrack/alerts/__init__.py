"""Alerts: tell the developer when something breaks, once, wherever they are.

An add-on: the core (the refresh coordinator, the snapshot store) knows nothing of it. The
commands and the web app that build a coordinator call :func:`attach`, which registers a
post-refresh hook; after every stored refresh the built-in rules (:mod:`.rules`) judge the
snapshots, :mod:`.incidents` turns conditions into incidents kept in the snapshot store (one
message when one starts, one when it resolves, nothing while it holds, across restarts), and
:mod:`.delivery` sends them through Apprise channels (:mod:`.channels`) on a worker thread,
with retries, a per-channel rate limit and every attempt in the history.

Light to import: Apprise (slow to load its 100+ plugins) is imported only to send or check a
channel URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .events import IncidentEvent, Listener, add_listener, remove_listener

if TYPE_CHECKING:
    from ..views.coordinator import Coordinator
    from .engine import AlertEngine

__all__ = ["attach", "add_listener", "remove_listener", "IncidentEvent", "Listener"]


def attach(coordinator: Coordinator, **options: Any) -> AlertEngine:
    """Run the alert rules after every refresh ``coordinator`` stores; returns the engine
    (``engine.close()`` when done: it waits a little for deliveries in flight).

    A coordinator with an event bus (``devtrack serve``'s) hears each incident there too, as
    ``alert.opened`` / ``alert.resolved``, so live pages update their banner and Alerts page."""
    from .engine import AlertEngine
    from .events import bus_event

    engine = AlertEngine(coordinator.manager, coordinator.store, **options)
    bus = getattr(coordinator, "events", None)
    if bus is not None:
        engine.listeners.append(lambda event: bus.publish(*bus_event(event)))
    coordinator.post_refresh.append(engine.on_refresh)
    return engine
