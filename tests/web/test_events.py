"""``GET /api/v1/events`` over a real socket: events published from another thread arrive,
``Last-Event-ID`` resumes, the route needs the token, a hang-up frees the subscriber, and
stopping the server with streams open does not hang."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devtrack.events import EventBus
from devtrack.integrations.manager import IntegrationManager
from devtrack.web.server import ServerThread

from .. import webauth
from ..timing import active_since


def _frames(lines: Iterator[str], n: int) -> list[dict[str, Any]]:
    """The next ``n`` events of a stream (comments and the retry line skipped)."""
    out: list[dict[str, Any]] = []
    cur: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if "event" in cur:
                out.append(cur)
                if len(out) == n:
                    return out
            cur = {}
        elif line.startswith(("id:", "event:", "data:")):
            key, _, value = line.partition(":")
            cur[key] = json.loads(value) if key == "data" else value.strip()
    return out


def _wait(cond: Any, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.02)


@pytest.fixture
def served(manager: IntegrationManager) -> Iterator[tuple[ServerThread, EventBus]]:
    app = webauth.app(manager)
    with ServerThread(app) as srv:
        yield srv, app.state.events


def test_published_events_stream_and_resume(served: tuple[ServerThread, EventBus]) -> None:
    srv, bus = served
    with webauth.client(srv.url, timeout=10) as c, c.stream("GET", "/api/v1/events") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        _wait(lambda: bus.subscribers == 1)
        threading.Thread(target=lambda: [bus.publish("refresh.started", {"connection": f"c{i}"})
                                         for i in range(3)]).start()
        got = _frames(resp.iter_lines(), 3)
    assert [g["data"]["connection"] for g in got] == ["c0", "c1", "c2"]
    assert [g["event"] for g in got] == ["refresh.started"] * 3
    first = int(got[0]["id"])
    assert [int(g["id"]) for g in got] == [first, first + 1, first + 2]

    bus.publish("snapshot.stored", {"connection": "c3"})  # while no one listened
    with webauth.client(srv.url, timeout=10) as c, \
            c.stream("GET", "/api/v1/events", headers={"Last-Event-ID": str(first)}) as resp:
        again = _frames(resp.iter_lines(), 3)
    assert [g["data"]["connection"] for g in again] == ["c1", "c2", "c3"]


def test_stream_needs_the_token(served: tuple[ServerThread, EventBus]) -> None:
    srv, _ = served
    resp = httpx.get(srv.url + "/api/v1/events", timeout=10)
    assert resp.status_code == 401
    assert resp.json()["error"]["kind"] == "auth"


def test_hang_up_frees_the_subscriber_and_shutdown_ends_open_streams(manager: IntegrationManager) -> None:
    app = webauth.app(manager)
    app.state.events_heartbeat = 0.2  # a hang-up is noticed at the next write
    srv = ServerThread(app).start()
    try:
        bus: EventBus = app.state.events
        with webauth.client(srv.url, timeout=10) as c, c.stream("GET", "/api/v1/events"):
            _wait(lambda: bus.subscribers == 1)
        _wait(lambda: bus.subscribers == 0)

        clients = [webauth.client(srv.url, timeout=30) for _ in range(3)]
        opened = [c.stream("GET", "/api/v1/events") for c in clients]  # kept open: never exited
        for o in opened:
            o.__enter__()
        _wait(lambda: bus.subscribers == 3)
        started = time.perf_counter()
        srv.stop()
        assert not srv.thread.is_alive()  # type: ignore[union-attr]
        assert active_since(started) < 4.0  # the streams ended; uvicorn's 5 s grace never ran out
    finally:
        srv.stop()
