"""``GET /api/v1/events``: the event bus as server-sent events, for pages that update themselves.

Protected like every API route (the security middleware checks the token or login cookie
before this runs). Each event is ``id: N`` / ``event: KIND`` / ``data: JSON``; a comment line
every :data:`HEARTBEAT` seconds keeps proxies and the browser from timing the stream out and
lets a vanished client be noticed. A client that reconnects with ``Last-Event-ID`` (the
browser's ``EventSource`` does) gets the events it missed that the bus still holds. The stream
ends when the client hangs up (Starlette cancels the generator) and when the server shuts down
(:meth:`EventBus.close`, called by :func:`devtrack.web.server.make_server`'s server), so
uvicorn never waits on an open stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ..events import Event, EventBus

router = APIRouter()

#: Seconds between keep-alive comments when nothing happens.
HEARTBEAT = 15.0
#: Milliseconds the browser waits before reconnecting after a drop.
RETRY_MS = 2000


class EventMark:
    """Notes the bus's last event id as each request starts, before its handler reads anything
    (``request.state.events_after``). A page carries it, and its live script opens the stream
    from there: an event between reading the page's data and opening the stream is replayed,
    not missed (a page that opened its stream "from now" once kept a resolved incident)."""

    def __init__(self, app: Any, bus: EventBus) -> None:
        self.app = app
        self.bus = bus

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["events_after"] = self.bus.last_id
        await self.app(scope, receive, send)


def frame(event: Event) -> str:
    """One event in the SSE wire format (JSON has no raw newline, so one ``data:`` line)."""
    return f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(event.data, default=str)}\n\n"


def _last_id(request: Request, bus: EventBus) -> int:
    """Where to resume: ``Last-Event-ID`` (or ``?after=``); a fresh stream starts from now."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after")
    if raw is None:
        return bus.last_id
    try:
        return max(0, int(raw))
    except ValueError:
        return bus.last_id


async def stream(bus: EventBus, last_id: int, heartbeat: float = HEARTBEAT,
                 max_age: float | None = None) -> AsyncIterator[str]:
    """The SSE text of a stream; ``max_age`` seconds ends it (the client resumes from its last id)."""
    ends = time.monotonic() + max_age if max_age else None
    # ``id`` without data sets where the browser resumes from, even before any event arrives
    yield f"retry: {RETRY_MS}\nid: {last_id}\n: connected\n\n"
    while not bus.closed:
        left = heartbeat if ends is None else min(heartbeat, ends - time.monotonic())
        if left <= 0:
            break
        events = await bus.wait(last_id, left)
        if not events:
            if bus.closed or (ends is not None and time.monotonic() >= ends):
                break
            yield ": heartbeat\n\n"
            continue
        for event in events:
            last_id = event.id
            yield frame(event)


@router.get("/api/v1/events", tags=["events"], response_class=StreamingResponse)
def events(request: Request) -> StreamingResponse:
    """Server-sent events: ``refresh.started``, ``refresh.finished`` and ``snapshot.stored`` per
    connection, ``alert.opened`` and ``alert.resolved``; resumes after ``Last-Event-ID``."""
    bus: EventBus = request.app.state.events
    heartbeat = float(getattr(request.app.state, "events_heartbeat", HEARTBEAT))
    max_age = getattr(request.app.state, "events_max_age", None)  # streams end and resume (tests)
    return StreamingResponse(
        stream(bus, _last_id(request, bus), heartbeat, max_age), media_type="text/event-stream",
        headers={"x-accel-buffering": "no"},
    )
