"""The alerts' lane on the dashboard's timeline: when each incident opened and resolved.

The core's timeline (:mod:`devtrack.views.timeline`) has an ``incidents`` slot and knows no
add-on; importing this module fills it. A timeline source is given the connections and the
window, not a store, so the stores to read are *followed* here: the web app follows its views'
store (the one its refresh coordinator and alerts engine write). While a store is away (a
getter or a read raises :class:`~devtrack.views.sqldb.StoreError`) its incidents last read are drawn. Items carry the rule, the
connection, the title (redacted when the incident was made, and again here) and both times;
never a message or a channel.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import redact
from ..views import timeline
from ..views.sqldb import StoreError
from .incidents import Incident, Incidents

if TYPE_CHECKING:
    from ..views.current import Current
    from ..views.store import SnapshotStore

StoreGetter = Callable[[], "SnapshotStore | None"]  # None: that store's owner is gone

_followed: list[StoreGetter] = []
#: Each getter's incidents last read, drawn while its store is away.
_last: dict[StoreGetter, list[Incident]] = {}


def follow(getter: StoreGetter) -> None:
    """Draw the incidents of the store ``getter`` returns (read at each render)."""
    if getter not in _followed:
        _followed.append(getter)


def unfollow(getter: StoreGetter) -> None:
    if getter in _followed:
        _followed.remove(getter)
    _last.pop(getter, None)


def _found(since: datetime, now: datetime) -> list[Incident]:
    """The incidents of every followed store (each store once) in the window."""
    seen: set[int] = set()
    out: list[Incident] = []
    for getter in list(_followed):
        try:
            store = getter()
            if store is None:
                unfollow(getter)
                continue
            if id(store) in seen:
                continue
            seen.add(id(store))
            _last[getter] = Incidents(store).between(since, now)
        except StoreError:
            pass
        out.extend(_last.get(getter, []))
    return out


def _item(inc: Incident, what: str, when: datetime, labels: dict[str, str]) -> timeline.Item:
    title = redact.redactor(inc.title)
    return {"kind": "incident", "lane": "incident", "time": when.isoformat(),
            "title": f"{'Opened' if what == 'opened' else 'Resolved'}: {title}",
            "level": "bad" if what == "opened" else "ok", "url": "/alerts", "event": what,
            "incident": inc.id, "rule": inc.rule, "connection": inc.connection,
            "connection_label": labels.get(inc.connection, inc.connection),
            "opened_at": inc.started_at.isoformat(),
            "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None}


def incidents(current: list[Current], since: datetime, now: datetime) -> list[timeline.Item]:
    """The timeline source: a marker where each incident opened and one where it resolved, in the window."""
    labels = {c.id: c.name for c in current}
    out: list[timeline.Item] = []
    for inc in _found(since, now):
        if since <= inc.started_at <= now:
            out.append(_item(inc, "opened", inc.started_at, labels))
        if inc.resolved_at is not None and since <= inc.resolved_at <= now:
            out.append(_item(inc, "resolved", inc.resolved_at, labels))
    return out


def register() -> None:
    """Fill the timeline's ``incidents`` slot (idempotent)."""
    timeline.register("incidents", incidents)


register()


def app_store(app: Any) -> StoreGetter:
    """A getter of a web app's views store that does not keep the app alive."""
    import weakref

    ref = weakref.ref(app)

    def store() -> SnapshotStore | None:
        alive = ref()
        return alive.state.views.store if alive is not None else None  # type: ignore[no-any-return]

    return store
