"""The issue's browser tests with the sandbox: every view shows the seeded records; a failing
service shows its last good data with a stale marker and the error; an auth failure shows
"needs attention" and stops polling (the emulator's request count proves it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox
from devtrack.web.server import ServerThread
from devtrack.web.views_routes import ViewsRuntime

from .. import webauth
from ..web.browser import browser, page  # noqa: F401 (fixtures)
from ..web.test_browser import shot
from .conftest import CONNECTIONS


@pytest.fixture
def served(manager: IntegrationManager) -> Iterator[tuple[ServerThread, ViewsRuntime]]:
    """The web app with the refresh coordinator running (as in devtrack serve), every plugin fetched once."""
    app = webauth.app(manager)
    runtime: ViewsRuntime = app.state.views
    runtime.start(intervals={p: 600 for p in CONNECTIONS}, tick=0.1)
    try:
        states = runtime.refresher.refresh(timeout=120)
        assert all(s.error is None for s in states), [s.error for s in states]
        with ServerThread(app) as srv:
            yield srv, runtime
    finally:
        runtime.stop()


def _wait(cond: Any, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.05)


def test_each_view_shows_the_seeded_records(page: Any, served: tuple[ServerThread, ViewsRuntime]) -> None:  # noqa: F811
    srv, runtime = served
    good = runtime.refresher.coordinator.good
    webauth.login(page, srv.url, "/")
    for pid in CONNECTIONS:  # a card per connection: "Vercel" and "Vercel · personal"
        card = page.locator(f'[data-card="{pid}"]')
        expect(card).to_be_visible()
        expect(card.locator("[data-status]")).not_to_have_text("pending")
    expect(page.locator("[data-event]").first).to_be_visible()
    shot(page, "views-dashboard")

    # The view merges both Vercel accounts (and every other provider's deployments): the newest comes first.
    newest = max((d for data in good.values() for d in data.records.deployments), key=lambda d: d.created_at)
    page.get_by_role("link", name="Deployments", exact=True).click()
    expect(page.get_by_role("heading", name="Recent deployments")).to_be_visible()
    expect(page.locator("svg[data-chart=deploy-outcomes] rect").first).to_be_attached()
    expect(page.locator("tbody tr").first).to_contain_text(newest.project or "")
    shot(page, "views-deployments")

    page.get_by_role("link", name="Errors", exact=True).click()
    issue = good["sentry"].records.errors[0]
    expect(page.get_by_text(issue.title).first).to_be_visible()
    expect(page.locator("svg[data-chart=errors-per-day]")).to_be_visible()
    shot(page, "views-errors")

    page.get_by_role("link", name="Code", exact=True).click()
    pr = good["github"].records.pull_requests[0]
    expect(page.get_by_text(pr.title).first).to_be_visible()
    expect(page.get_by_text("views commit 2")).to_be_visible()
    shot(page, "views-code")

    page.get_by_role("link", name="Infrastructure", exact=True).click()
    for name in (good["aws-ec2"].records.instances[0].id, good["upstash"].records.databases[0].name,
                 good["supabase"].records.projects[0].name, good["cloudflare"].records.zones[0].name,
                 good["cloudflare"].records.workers[0].name):
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    shot(page, "views-infra")

    page.get_by_role("link", name="AI usage", exact=True).click()
    expect(page.locator("svg[data-chart=cost-per-day] rect").first).to_be_attached()
    top_model = max(good["helicone"].health.metrics["cost_by_model"].items(), key=lambda kv: kv[1])[0]
    expect(page.locator('[data-table="Per model"] tbody tr').first).to_contain_text(top_model)
    shot(page, "views-ai-usage")

    # the manual refresh button posts with the CSRF token and comes back to the same page
    page.get_by_role("button", name="Refresh now").click()
    expect(page).to_have_url(srv.url + "/ai-usage")


def test_failing_service_shows_last_good_data_stale_and_the_error(
        page: Any, served: tuple[ServerThread, ViewsRuntime], sb: Sandbox) -> None:  # noqa: F811
    srv, runtime = served
    issue = runtime.refresher.coordinator.good["sentry"].records.errors[0]
    sb.faults("sentry").add(route="**", status=500)
    [state] = runtime.refresher.refresh(["sentry"], timeout=60)
    assert state.error is not None
    webauth.login(page, srv.url, "/errors")
    source = page.locator('[data-source="sentry"]')
    expect(source.locator("[data-stale]")).to_be_visible()
    expect(source.locator("[data-error]")).to_contain_text(state.error.message[:40])
    expect(page.get_by_text(issue.title).first).to_be_visible()  # the last good data
    page.goto(srv.url + "/")
    expect(page.locator('[data-card="sentry"] [data-stale]')).to_be_visible()
    shot(page, "views-stale-sentry")


def test_auth_failure_needs_attention_and_stops_polling(
        page: Any, served: tuple[ServerThread, ViewsRuntime], sb: Sandbox,  # noqa: F811
        manager: IntegrationManager, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, runtime = served
    coord = runtime.refresher.coordinator
    coord.intervals["vercel"] = 1.0  # poll Vercel every second from now on
    coord.states["vercel"].next_due = None
    token = sb.credentials()["vercel"]["token"]
    manager.set_credentials("vercel", {"token": "wrong" + token[5:]})  # the save hook triggers a refresh
    _wait(lambda: coord.states["vercel"].needs_attention)
    emulator = sb.emulator("vercel")
    count = emulator.requests.count()
    webauth.login(page, srv.url, "/")
    card = page.locator('[data-card="vercel"]')
    expect(card.locator("[data-status]")).to_have_text("needs attention")
    expect(card.locator("[data-attention]")).to_contain_text("Needs attention")
    expect(card.locator("[data-stale]")).to_be_visible()  # the last good data is still shown
    shot(page, "views-needs-attention")
    time.sleep(3.5)  # more than three intervals
    assert emulator.requests.count() == count
    manager.set_credentials("vercel", {"token": token})
    _wait(lambda: coord.states["vercel"].error is None)
    assert emulator.requests.count() > count
    page.reload()
    expect(card.locator("[data-status]")).not_to_have_text("needs attention")
