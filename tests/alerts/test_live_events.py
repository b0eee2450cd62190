"""Incidents reach live pages: with ``devtrack serve``'s runtime (the web app's coordinator and
its alerts engine), an incident the sandbox causes is ``alert.opened`` on ``/api/v1/events``
and ``alert.resolved`` once undone; in Chromium the dashboard's banner and the Alerts page's
open incidents change without a reload. The stream goes to the leak scan."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from devtrack.alerts import manage
from devtrack.web.server import ServerThread
from devtrack.web.views_routes import ViewsRuntime

from .. import leakscan, webauth
from ..web.browser import browser, page  # noqa: F401 (fixtures)
from .conftest import only_rule
from .receivers import JsonReceiver, SmtpReceiver
from .test_rules_end_to_end import produce, undo

Served = tuple[ServerThread, ViewsRuntime]


@pytest.fixture
def served(sandbox_manager: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           json_receiver: JsonReceiver, smtp_receiver: SmtpReceiver) -> Iterator[Served]:
    """The web app as ``devtrack serve`` runs it, the deploy-failed rule alone switched on, a
    json:// and a mailto:// (with a password) channel, every connection refreshed once (what the
    seeded data holds already may open incidents: those are not the tests')."""
    monkeypatch.setenv("DEVTRACK_STORE_URL", f"sqlite:///{tmp_path / 'snapshots.db'}")
    store = sandbox_manager.store
    manage.add_channel(store, json_receiver.url, "hook")
    manage.add_channel(store, smtp_receiver.url, "mail")
    only_rule(store, "deploy-failed")
    app = webauth.app(sandbox_manager)
    runtime: ViewsRuntime = app.state.views
    ids = sandbox_manager.fetchable()
    runtime.start(intervals={i: 3600 for i in ids}, tick=0.1)
    try:
        runtime.refresher.refresh(timeout=120)
        with ServerThread(app) as srv:
            yield srv, runtime
    finally:
        runtime.stop()


def _until(lines: Iterator[str], kind: str, seen: list[str]) -> dict[str, Any]:
    """Read the stream up to the first event ``kind`` about Vercel; every line read goes into ``seen``."""
    current = ""
    for line in lines:
        seen.append(line)
        if line.startswith("event:"):
            current = line[6:].strip()
        elif line.startswith("data:") and current == kind and json.loads(line[5:])["connection"] == "vercel":
            return json.loads(line[5:])  # type: ignore[no-any-return]
    raise AssertionError(f"the stream ended before {kind}")


def _stream_secrets(sb: Any) -> list[str]:
    return [v for creds in sb.credentials().values() for v in creds.values()
            if len(v) >= 10 and not v.startswith(("http://", "https://"))] + [SmtpReceiver.PASSWORD]


def test_an_incident_opens_and_resolves_on_the_event_stream(served: Served, sb: Any) -> None:
    srv, runtime = served
    bus = runtime.events
    assert bus is not None
    seen: list[str] = []
    before = [i["id"] for i in manage.overview(runtime.store)["open"]]
    with webauth.client(srv.url, timeout=60) as c, \
            c.stream("GET", "/api/v1/events", headers={"Last-Event-ID": str(bus.last_id)}) as resp:
        lines = resp.iter_lines()

        def make() -> None:
            produce(sb, "vercel", "production_deploy_failed")
            runtime.refresher.refresh(["vercel"], timeout=60)

        worker = threading.Thread(target=make)
        worker.start()  # while the stream is open: the event arrives live
        opened = _until(lines, "alert.opened", seen)
        worker.join(60)
        assert opened["rule"] == "deploy-failed" and opened["connection"] == "vercel"
        assert opened["severity"] == "error" and "failed" in opened["title"].lower()
        assert set(opened) == {"id", "title", "connection", "rule", "severity", "time"}
        listed = [i["id"] for i in manage.overview(runtime.store)["open"]]
        assert listed == [opened["id"], *before]  # newest first

        undo(sb, "vercel", "production_deploy_failed")
        threading.Thread(target=lambda: runtime.refresher.refresh(["vercel"], timeout=60)).start()
        resolved = _until(lines, "alert.resolved", seen)
    assert resolved["id"] == opened["id"] and resolved["severity"] == "info"
    assert [i["id"] for i in manage.overview(runtime.store)["open"]] == before
    text = "\n".join(seen)
    leakscan.record("event stream", text)
    assert not [s for s in _stream_secrets(sb) if s in text]


def test_the_banner_and_the_alerts_page_change_without_a_reload(
        page: Any, served: Served, sb: Any) -> None:  # noqa: F811
    srv, runtime = served
    webauth.login(page, srv.url, "/")
    expect(page.locator("[data-card=vercel]")).to_be_visible()
    banner = page.locator("[data-alerts-banner]")
    before = len(manage.overview(runtime.store)["open"])  # the seeded data's own, if any
    expect(banner.locator("[data-incident]")).to_have_count(min(before, 5))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    page.evaluate("window.__sameDocument = 'yes'")  # lost on any reload

    produce(sb, "vercel", "production_deploy_failed")
    runtime.refresher.refresh(["vercel"], timeout=60)
    opened = manage.overview(runtime.store)["open"]  # newest first
    assert len(opened) == before + 1 and opened[0]["connection"] == "vercel"
    expect(banner.get_by_role("heading")).to_have_text(
        f"{before + 1} open incident{'s' if before else ''}", timeout=15_000)
    expect(banner.locator(f'[data-incident="{opened[0]["id"]}"]')).to_have_text(opened[0]["title"])
    assert page.evaluate("window.__sameDocument") == "yes" and navigations == []

    page.goto(srv.url + "/alerts")
    expect(page.locator(f'[data-open-incidents] [data-incident="{opened[0]["id"]}"]')).to_be_visible()
    page.evaluate("window.__sameDocument = 'yes'")
    navigations.clear()
    undo(sb, "vercel", "production_deploy_failed")
    runtime.refresher.refresh(["vercel"], timeout=60)
    expect(page.locator(f'[data-incident="{opened[0]["id"]}"]')).to_have_count(0, timeout=15_000)
    expect(page.get_by_role("heading", name=f"Open incidents ({before})")).to_be_visible()
    assert page.evaluate("window.__sameDocument") == "yes" and navigations == []
    leakscan.record("html", page.content())
    assert SmtpReceiver.PASSWORD not in page.content()
