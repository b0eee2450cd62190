"""The server's start-up hooks: the app's openers run on its loop once it listens, and a server
that owns its process settles its heap (``web.server.settle_heap``) while a test's thread does not."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtrack.web.server import ServerThread


class OpenedApp:
    """A bare ASGI app with an ``aopen`` and a state with openers: it answers what ran, and where."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.loops: list[asyncio.AbstractEventLoop] = []

        class State:
            openers = [self._first, self._failing, self._second]

        self.state = State()

    async def _first(self) -> None:
        self.ran.append("first")
        self.loops.append(asyncio.get_running_loop())

    async def _failing(self) -> None:
        raise OSError("cannot open")

    async def _second(self) -> None:
        self.ran.append("second")

    async def aopen(self) -> None:
        self.ran.append("aopen")
        self.loops.append(asyncio.get_running_loop())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.loops.append(asyncio.get_running_loop())
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": ",".join(self.ran).encode()})


def test_openers_run_on_the_servers_loop_before_the_first_request(caplog: pytest.LogCaptureFixture) -> None:
    app = OpenedApp()
    with caplog.at_level(logging.WARNING, logger="devtrack.web.server"), ServerThread(app) as srv:
        assert app.ran == ["first", "second", "aopen"]  # before any request; one failing stops none
        assert httpx.get(srv.url + "/").text == "first,second,aopen"
    assert len(set(map(id, app.loops))) == 1, "openers and requests ran on different loops"
    warnings = [r.getMessage() for r in caplog.records if r.name == "devtrack.web.server"]
    assert warnings == ["opening at start-up failed: OSError"]


def test_a_thread_server_leaves_its_processs_heap_alone() -> None:
    before = gc.get_freeze_count()
    with ServerThread(OpenedApp()) as srv:
        assert httpx.get(srv.url + "/").status_code == 200
    assert gc.get_freeze_count() == before


def test_a_server_owning_its_process_settles_the_heap_and_still_collects(tmp_path: Path) -> None:
    """Served in the foreground (as `devtrack serve` and `devtrack ai proxy` are), what was alive
    at start-up is frozen; a reference cycle a request makes is still collected."""
    code = """
import gc, sys
from devtrack.web.server import bind_socket, make_server, url_of

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    cycle = []
    cycle.append(cycle)
    del cycle
    body = f"{gc.get_freeze_count()} {gc.collect()}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})

sock = bind_socket("127.0.0.1", 0)
print(url_of(sock), flush=True)
make_server(app).run(sockets=[sock])
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        for _ in range(100):
            try:
                frozen, collected = map(int, httpx.get(url, timeout=5).text.split())
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer")
        assert frozen > 10_000, "the imports and the server should be in the permanent generation"
        assert collected >= 1, "the request's reference cycle was not collected"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err


def test_a_served_proxy_opens_its_upstream_session_before_its_first_request(tmp_path: Path) -> None:
    from devtrack.ai.proxy import create_proxy_app
    from devtrack.credentials import CredentialStore
    from devtrack.integrations.manager import IntegrationManager
    from devtrack.web.app import create_app

    manager = IntegrationManager(store=CredentialStore(str(tmp_path / "c.json")), environ={})
    proxy = create_proxy_app(manager)
    assert proxy._session is None  # imported or built, it opens nothing
    with ServerThread(proxy):
        assert proxy._session is not None and not proxy._session.closed
    assert proxy._session is None  # and the server closed it

    app = create_app(manager, no_auth=True)
    mounted = app.state.closers[0].__self__
    with ServerThread(app):
        assert mounted._session is not None
    assert mounted._session is None
