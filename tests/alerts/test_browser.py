"""The Alerts page in Chromium: add a ``json://`` channel, send a test, see it arrive (at the
receiver and on the page); the dashboard shows open incidents at the top; the URL of a channel
with secrets is never put into the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import utcnow
from devtrack.integrations.manager import IntegrationManager
from devtrack.web.server import ServerThread

from .. import webauth
from ..web.browser import browser, page  # noqa: F401 (fixtures)
from ..web.test_browser import shot
from .receivers import JsonReceiver, SmtpReceiver, wait_for


@pytest.fixture
def served(_isolated_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerThread]:
    monkeypatch.setenv("DEVTRACK_STORE_URL", f"sqlite:///{tmp_path / 'snapshots.db'}")
    manager = IntegrationManager(store=CredentialStore(_isolated_store))
    app = webauth.app(manager)
    with ServerThread(app) as srv:
        srv.app_state = app.state  # type: ignore[attr-defined]
        yield srv
    app.state.views.stop()


def test_add_a_json_channel_send_a_test_and_see_it_arrive(
        page: Any, served: ServerThread, json_receiver: JsonReceiver) -> None:  # noqa: F811
    webauth.login(page, served.url, "/alerts")
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    expect(page.get_by_text("No channel yet")).to_be_visible()

    page.get_by_label("Apprise URL").fill("bogus://nothing")
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator("[data-error]")).to_contain_text("Apprise knows no service 'bogus://'")

    page.get_by_label("Apprise URL").fill(json_receiver.url)
    page.get_by_label("Name (optional)").fill("hook")
    page.get_by_role("button", name="Add channel").click()
    row = page.locator('[data-channel="hook"]')
    expect(row).to_contain_text("JSON")
    row.get_by_role("button", name="Send test").click()
    expect(page.locator("[data-test-result]")).to_contain_text("Test to hook: sent")
    assert wait_for(lambda: json_receiver.titles() == ["[DevTrack] test: alerts reach this channel"], 5)
    expect(page.locator('[data-history] [data-status="sent"]').first).to_contain_text("test")
    shot(page, "alerts-page")

    rule = page.locator('[data-rule="ai-budget"]')
    rule.get_by_role("switch").click()
    expect(page.locator('[data-rule="ai-budget"]').get_by_role("switch")).to_have_attribute("aria-checked", "false")


def test_a_channel_with_secrets_is_masked_and_the_dashboard_shows_open_incidents(
        page: Any, served: ServerThread, smtp_receiver: SmtpReceiver) -> None:  # noqa: F811
    webauth.login(page, served.url, "/alerts")
    page.get_by_label("Apprise URL").fill(smtp_receiver.url)
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator("[data-channels]")).to_contain_text("E-Mail")
    assert SmtpReceiver.PASSWORD not in page.content()

    from devtrack.alerts.incidents import Incidents

    incidents = Incidents(served.app_state.views.store)  # type: ignore[attr-defined]
    incidents.start("deploy-failed", "vercel", "web", "Vercel: production deploy of web failed",
                    "The production deployment dpl_1 of web failed.", {}, utcnow(), False)
    page.goto(served.url + "/")
    banner = page.locator("[data-alerts-banner]")
    expect(banner).to_contain_text("1 open incident")
    expect(banner).to_contain_text("Vercel: production deploy of web failed")
    shot(page, "alerts-dashboard")
    banner.get_by_role("link").first.click()
    expect(page.locator("[data-open-incidents]")).to_contain_text("production deploy of web failed")
