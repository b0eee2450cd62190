"""The LISTEN/NOTIFY bridge between two event buses on one PostgreSQL store: the other's events
arrive with its origin, one's own never come back, a big event is cut under PostgreSQL's payload
limit, and the listener reconnects after the database went away."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtrack.events import Event, EventBus
from devtrack.views.store import SnapshotStore, open_store
from devtrack.views.teamevents import MAX_PAYLOAD, EventBridge, decode, encode

from .conftest import until


@pytest.fixture
def stores(pg_url: str) -> Iterator[list[SnapshotStore]]:
    made = [open_store(pg_url), open_store(pg_url)]
    yield made
    for s in made:
        s.close()


def test_a_big_event_is_cut_to_its_short_fields() -> None:
    event = Event(1, "refresh.finished", {"connection": "vercel", "ok": False, "error": "x" * 20000})
    payload = encode(event, "abc")
    assert payload is not None and len(payload.encode()) <= MAX_PAYLOAD
    origin, kind, _, data = decode(payload)  # type: ignore[misc]
    assert (origin, kind, data) == ("abc", "refresh.finished", {"connection": "vercel", "ok": False, "truncated": True})
    assert decode("not json") is None and decode('{"o": 1}') is None


def test_events_cross_once_with_their_origin_and_survive_an_outage(stores: list[SnapshotStore], pg_server: Any) -> None:
    buses = [EventBus(), EventBus()]
    heard: list[tuple[str, dict[str, Any]]] = []
    bridges = [EventBridge(buses[0], stores[0], "a" * 12),
               EventBridge(buses[1], stores[1], "b" * 12, lambda kind, data: heard.append((kind, data)))]
    for b in bridges:
        b.start()
    try:
        assert all(b.listening.wait(30) for b in bridges)
        buses[0].publish("snapshot.stored", {"connection": "vercel", "fetched_at": "t1"})
        assert until(lambda: buses[1].since(0), 20)
        [got] = buses[1].since(0)
        assert (got.kind, got.data, got.origin) == ("snapshot.stored", {"connection": "vercel", "fetched_at": "t1"}, "a" * 12)
        assert heard == [("snapshot.stored", {"connection": "vercel", "fetched_at": "t1"})]
        until(lambda: False, 0.5)
        assert [e.origin for e in buses[0].since(0)] == [None]  # its own never came back, B's copy not forwarded

        pg_server.stop_server()
        assert until(lambda: not bridges[1].listening.is_set(), 30)
        pg_server.start_again()
        assert until(lambda: all(b.listening.is_set() for b in bridges), 60)
        buses[0].publish("alert.opened", {"id": 1, "title": "down"})
        assert until(lambda: [e.kind for e in buses[1].since(0)] == ["snapshot.stored", "alert.opened"], 30), \
            buses[1].since(0)
    finally:
        for b in bridges:
            b.stop()
