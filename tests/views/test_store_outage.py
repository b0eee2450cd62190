"""A snapshot database that goes away under a running ``devtrack serve`` (the real command, on a
real PostgreSQL the suite stops and starts, against the sandbox): pages keep the last data with
a banner, polling pauses (the emulators' request logs prove no vendor is called), a manual
refresh is told why, nothing logs a traceback; once the database is back the banner goes and
every connection is fetched again at once. The CLI with the database down: one line, exit 1.
A server started while the database is down serves the banner and comes up once it answers."""

from __future__ import annotations

from devtrack.redact import MASK

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.views.coordinator import interval_env
from devtrack.views.keys import Keys
from devtrack.views.store import open_store

from .. import leakscan, webauth
from ..pgserver import PgServer
from ..web.serve_proc import ServeProcess
from .conftest import CONNECTIONS, PLUGINS
from ..thirdparty import THIRD_PARTY

#: Polled every 2 s, so a pause is seen within seconds; Sentry every 10 min, so only the
#: re-fetch after the outage can explain a second Sentry snapshot.
FAST, SLOW = "2", "600"
BANNER = "The snapshot database is unreachable"


def _wait(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        assert time.monotonic() < end, f"not reached in {timeout} s: {what}"
        time.sleep(0.1)


def _vendor_requests(sb: Sandbox) -> int:
    """Requests every emulator served (their own logs, over HTTP)."""
    return sum(httpx.get(sb.url(s) + "/__sandbox/requests").json()["count"] for s in sb.ports())


def _newest(url: str, manager_env: dict[str, str]) -> dict[str, datetime]:
    """Each connection's newest snapshot time, read from the database itself."""
    from devtrack.credentials import CredentialStore
    from devtrack.integrations.manager import IntegrationManager

    manager = IntegrationManager(CredentialStore(Path(manager_env["DEVTRACK_CREDENTIALS"])), environ=manager_env)
    store = open_store(url)
    try:
        return {cid: snap.fetched_at for cid, snap in Keys(manager).by_cid(store.latest_all()).items()}
    finally:
        store.close()


def _serve_env(views_env: dict[str, str], pg_url: str) -> dict[str, str]:
    env = dict(os.environ) | {"DEVTRACK_ACCESS_TOKEN": webauth.TOKEN, "DEVTRACK_STORE_URL": pg_url}
    for plugin in [*PLUGINS, *THIRD_PARTY]:
        env[interval_env(plugin)] = FAST
    env[interval_env("sentry")] = SLOW
    return env


@pytest.fixture
def down(pg_server: PgServer) -> Iterator[PgServer]:
    """The server, started again after the test whatever happened (the next test needs it)."""
    yield pg_server
    if not pg_server.running:
        pg_server.start_again()


class _Stream(threading.Thread):
    """The server's live event stream (what live pages hear), read from now on: ``(kind, data)``."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.open = threading.Event()
        self.start()
        assert self.open.wait(10), "the event stream did not open"

    def run(self) -> None:
        kind = ""
        with webauth.client(self.url, timeout=None) as client, client.stream("GET", "/api/v1/events") as r:
            self.open.set()
            for line in r.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind.startswith("store."):
                    self.events.append((kind, json.loads(line[6:])))


def _store(client: httpx.Client) -> dict[str, Any]:
    r = client.get("/api/v1/views/dashboard")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


#: In the database URL of the outage test: its server trusts loopback, so any password works,
#: and this one must appear in no output, page or log line (the leak scan reads them all).
URL_PASSWORD = "pg-url-pw-" + "7f3a9c2e41"
leakscan.add_secrets(URL_PASSWORD)


def test_serve_keeps_the_last_data_pauses_and_catches_up(
        sb: Sandbox, views_env: dict[str, str], pg_url: str, down: PgServer, tmp_path: Path) -> None:
    pg_url = pg_url.replace("postgresql://postgres@", f"postgresql://postgres:{URL_PASSWORD}@")
    assert URL_PASSWORD in pg_url
    env = _serve_env(views_env, pg_url)
    with ServeProcess(env, tmp_path, tty=False) as served, webauth.client(served.url, timeout=30) as client:
        first = _wait(lambda: (n := _newest(pg_url, env)) and set(n) >= set(CONNECTIONS) and n, 90,
                      "every connection stored once")
        before = _store(client)
        assert before["store"] == {"available": True, "since": None, "message": ""}
        cards = {c["id"]: c for c in before["cards"]}
        assert all(cards[cid]["last_refresh"] for cid in CONNECTIONS)
        page = client.get("/")
        assert page.status_code == 200 and BANNER not in page.text
        stream = _Stream(served.url)

        down.stop_server()
        during = _wait(lambda: (v := _store(client))["store"]["available"] is False and v, 30, "the outage seen")
        since = datetime.fromisoformat(during["store"]["since"])
        assert during["store"]["message"].startswith(BANNER) and since.strftime("%H:%M UTC") in during["store"]["message"]
        assert "postgresql://" not in during["store"]["message"]  # the page's words, no URL
        # The last data, as before the outage.
        assert {c["id"]: c["last_refresh"] for c in during["cards"]} == {c["id"]: c["last_refresh"] for c in before["cards"]}

        time.sleep(3)  # fetches that were under way when it went are over
        calls = _vendor_requests(sb)
        for path in ("/", "/deployments", "/errors", "/alerts"):
            r = client.get(path)
            assert r.status_code == 200 and BANNER in r.text and "refreshing is paused" in r.text, path
        assert all(c["name"] in client.get("/").text for c in before["cards"] if c["id"] in CONNECTIONS)
        alerts = client.get("/api/v1/alerts")
        assert alerts.status_code == 200 and alerts.json()["store"]["available"] is False

        refresh = client.post("/api/v1/views/refresh")
        assert refresh.status_code == 503, refresh.text
        error = refresh.json()["error"]
        assert error["kind"] == "unavailable" and error["message"].startswith(BANNER)
        form = client.post("/views/refresh", data={"back": "/"}, follow_redirects=False)
        assert form.status_code == 303

        time.sleep(7)  # three intervals of the fast connections and two probes
        assert _vendor_requests(sb) == calls, "a vendor was called while the database was away"

        restarted = datetime.now(timezone.utc)
        down.start_again()
        _wait(lambda: _store(client)["store"]["available"], 20, "the banner gone")
        assert BANNER not in client.get("/").text
        # Every connection fetched again, Sentry too though its interval is 10 minutes.
        fresh = _wait(lambda: (n := _newest(pg_url, env)) and all(n[c] > restarted for c in CONNECTIONS) and n, 30,
                      "a fresh snapshot of every connection")
        assert fresh["sentry"] > first["sentry"]
        assert client.post("/api/v1/views/refresh").status_code == 202
        # Live pages heard both, so the banner came and went without a reload.
        _wait(lambda: len(stream.events) >= 2, 10, "store events on the live stream")
        (went, gone), back = stream.events[:2], stream.events[2:]
        assert went == ("store.unavailable", during["store"]) and not back
        assert gone == ("store.available", {"available": True, "since": None, "message": ""})
    err = served.err
    leakscan.record("cli output", served.out + err)
    assert URL_PASSWORD not in served.out + err and f"postgres:{MASK}@" in served.out + err
    assert "Traceback" not in err, err
    away = [line for line in err.splitlines() if "unavailable" in line and "refreshing is paused" in line]
    assert len(away) == 1, err
    assert sum("available again" in line for line in err.splitlines()) == 1, err


def test_serve_started_while_the_database_is_down_comes_up_when_it_answers(
        sb: Sandbox, views_env: dict[str, str], pg_url: str, down: PgServer, tmp_path: Path) -> None:
    env = _serve_env(views_env, pg_url)
    down.stop_server()
    with ServeProcess(env, tmp_path, tty=False) as served, webauth.client(served.url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200 and BANNER in page.text
        assert _store(client)["store"]["available"] is False
        assert client.get("/alerts").status_code == 200
        assert client.post("/api/v1/views/refresh").status_code == 503
        time.sleep(4)
        assert _vendor_requests(sb) == 0

        down.start_again()
        _wait(lambda: _store(client)["store"]["available"], 20, "the store opened")
        _wait(lambda: set(_newest(pg_url, env)) >= set(CONNECTIONS), 60, "every connection stored")
        assert BANNER not in client.get("/").text
    assert "Traceback" not in served.err, served.err


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devtrack.cli.app", *args], env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args", [("status",), ("views", "deployments"), ("alerts", "history"),
                                  ("views", "refresh", "vercel")])
def test_the_cli_with_the_database_down_says_so_in_one_line(
        views_env: dict[str, str], pg_url: str, down: PgServer, args: tuple[str, ...]) -> None:
    env = dict(os.environ) | {"DEVTRACK_STORE_URL": pg_url}
    assert _cli(env, *args).returncode == 0
    down.stop_server()
    done = _cli(env, *args)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "snapshot database" in lines[0], done.stderr
    as_json = _cli(env, *args, "--json")
    assert as_json.returncode == 1 and '"kind": "unavailable"' in as_json.stdout, as_json.stdout
