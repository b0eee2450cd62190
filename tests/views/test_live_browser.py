"""Issue 17's live dashboard in Chromium: an emulator's data changes through the sandbox's
``/__sandbox`` API, "Refresh now" shows each connection's progress, and the card changes in
place — the page is never navigated or reloaded."""

from __future__ import annotations

import json
from typing import Any

import httpx
from playwright.sync_api import expect

from devtrack.sandbox import Sandbox
from devtrack.web.server import ServerThread
from devtrack.web.views_routes import ViewsRuntime

from .. import leakscan, webauth
from .conftest import CONNECTIONS
from ..web.browser import browser, page  # noqa: F401 (fixtures)
from ..web.test_browser import shot
from .test_browser import served  # noqa: F401 (fixture)


def _databases(sb: Sandbox) -> list[dict[str, Any]]:
    """The emulator's own database list, as the Upstash API answers it."""
    creds = sb.credentials()["upstash"]
    with httpx.Client(base_url=sb.url("upstash"), verify=False, timeout=10) as c:  # noqa: S501 (sandbox's own CA)
        resp = c.get("/v2/redis/databases", auth=(creds["email"], creds["api_key"]))
    resp.raise_for_status()
    body = resp.json()
    assert isinstance(body, list) and len(body) > 2
    return body


def test_refresh_now_changes_the_card_in_place(page: Any, served: tuple[ServerThread, ViewsRuntime],  # noqa: F811
                                               sb: Sandbox) -> None:
    srv, _ = served
    webauth.login(page, srv.url, "/")
    card = page.locator('[data-card="upstash"]')
    databases = card.locator("dl.metrics div", has_text="databases").locator("dd")
    everything = _databases(sb)
    expect(databases).to_have_text(str(len(everything)))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    page.evaluate("window.__sameDocument = 'yes'")  # lost on any reload

    # Upstash now answers its database list with two databases (the sandbox's fault API
    # replaces the answer of that route: the data changed at the service).
    with httpx.Client(base_url=sb.url("upstash"), verify=False, timeout=10) as c:  # noqa: S501
        c.post("/__sandbox/faults", json={"route": "/v2/redis/databases", "status": 200,
                                          "body": everything[:2]}).raise_for_status()

    page.get_by_role("button", name="Refresh now").click()
    progress = page.locator("[data-progress]")
    expect(progress.locator('[data-progress-item="upstash"]')).to_be_attached()
    expect(databases).to_have_text("2", timeout=30_000)
    expect(progress).to_contain_text("Refreshed")
    expect(progress.locator("li")).to_have_count(0, timeout=10_000)  # the progress clears itself
    expect(page.get_by_role("button", name="Refresh now")).to_be_enabled()
    assert page.evaluate("window.__sameDocument") == "yes"
    assert navigations == []
    shot(page, "live-dashboard-after-refresh")

    # The timeline: hovering a deploy shows its commit and the errors that followed it.
    followed = page.locator(".tl .mark[data-kind=deploy][aria-label*='new errors after it (']").first
    followed.scroll_into_view_if_needed()
    followed.hover()
    hover = page.locator("[data-tl-card]")
    expect(hover).to_be_visible()
    expect(hover).to_contain_text("commit")
    expect(hover).to_contain_text("New errors after it")
    expect(hover.locator("ul.followed li").first).to_be_visible()
    page.keyboard.press("Escape")
    expect(hover).to_be_hidden()


def test_the_event_stream_names_connections_and_never_a_secret(
        served: tuple[ServerThread, ViewsRuntime], sb: Sandbox) -> None:  # noqa: F811
    """The stream is a new surface: what it says about every refresh (the first one and a failing
    one) goes to the leak scan, and holds no credential the sandbox handed out."""
    srv, runtime = served
    sb.faults("sentry").add(route="**", status=401)
    runtime.refresher.refresh(["sentry"], timeout=60)
    with webauth.client(srv.url, timeout=30) as c, \
            c.stream("GET", "/api/v1/events", headers={"Last-Event-ID": "0"}) as resp:
        text, finished = "", []
        for line in resp.iter_lines():
            text += line + "\n"
            if line.startswith("data:") and '"ok":' in line:
                finished.append(json.loads(line[5:])["connection"])
            if finished.count("sentry") == 2 and set(finished) >= set(CONNECTIONS):  # the first refresh, then ours
                break
    leakscan.record("event stream", text)
    assert "event: refresh.started" in text and "event: snapshot.stored" in text
    assert '"error": "auth"' in text  # the failing refresh, by its kind only
    secrets = {v for fields in sb.credentials().values() for v in fields.values() if len(v) >= 10}
    assert not [s for s in secrets if s in text and not s.startswith(("http://", "https://"))]


def test_a_dropped_stream_resumes_without_losing_events(page: Any, manager: Any) -> None:  # noqa: F811
    """The server ends every stream after half a second; an event published while the page is
    between streams still reaches it (EventSource resumes with Last-Event-ID)."""
    app = webauth.app(manager)
    app.state.events_max_age = 0.5
    bus = app.state.events
    with ServerThread(app) as srv:
        webauth.login(page, srv.url, "/settings/integrations")
        page.evaluate("""() => { window.__events = [];
            document.addEventListener('devtrack:event', e => window.__events.push(e.detail.id)); }""")
        _wait(lambda: bus.subscribers == 1)
        _wait(lambda: bus.subscribers == 0)  # dropped: the browser waits before reconnecting
        gone = bus.publish("snapshot.stored", {"connection": "vercel", "fetched_at": "2026-12-02T00:00:00"})
        _wait(lambda: str(gone.id) in page.evaluate("window.__events"))
        later = bus.publish("snapshot.stored", {"connection": "vercel", "fetched_at": "2026-12-02T00:00:01"})
        _wait(lambda: str(later.id) in page.evaluate("window.__events"))
        assert page.evaluate("window.__events").count(str(gone.id)) == 1  # once, not again on resume
        assert page.url.endswith("/settings/integrations")
        page.goto("about:blank")  # no stream left to reconnect once the server stops


def test_an_event_between_serving_a_page_and_opening_its_stream_reaches_it(page: Any, manager: Any) -> None:  # noqa: F811
    """The page's data is read, then an incident resolves, then the page's script opens its
    stream: the stream starts from the id the page was served with, so the event is replayed
    (opened "from now", it was missed and the page kept showing the incident)."""
    app = webauth.app(manager)
    bus = app.state.events
    between: list[int] = []

    class PublishingMidPage:
        """The app, with an event published as the settings page's answer starts (its data read)."""

        state = app.state

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def sending(message: Any) -> None:
                if (message["type"] == "http.response.start" and scope["path"] == "/settings/integrations"
                        and armed and not between):
                    between.append(bus.publish("alert.resolved", {"connection": "vercel", "id": 1}).id)
                await send(message)

            await app(scope, receive, sending if scope["type"] == "http" else send)

    armed = False
    with ServerThread(PublishingMidPage()) as srv:
        webauth.login(page, srv.url, "/settings/integrations")
        page.add_init_script("""window.__events = [];
            document.addEventListener('devtrack:event', e => window.__events.push(e.detail.id));""")
        armed = True
        page.goto(srv.url + "/settings/integrations")
        _wait(lambda: bool(between) and str(between[0]) in page.evaluate("window.__events"))
        assert page.locator('meta[name="devtrack-events-after"]').get_attribute("content") == str(between[0] - 1)
        page.goto("about:blank")


def _wait(cond: Any, timeout: float = 15) -> None:
    import time

    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.05)


def test_without_javascript_refresh_now_posts_and_the_page_comes_back(
        browser: Any, served: tuple[ServerThread, ViewsRuntime], sb: Sandbox) -> None:  # noqa: F811
    srv, runtime = served
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    try:
        webauth.login(pg, srv.url, "/infra")
        before = runtime.refresher.coordinator.states["upstash"].last_attempt
        with pg.expect_navigation():
            pg.get_by_role("button", name="Refresh now").click()
        assert pg.url == srv.url + "/infra"
        expect(pg.get_by_role("heading", name="Upstash databases")).to_be_visible()
        _wait(lambda: runtime.refresher.coordinator.states["upstash"].last_attempt != before, 60)
        expect(pg.locator("[data-progress]")).to_be_empty()  # nothing live without the script
    finally:
        context.close()
