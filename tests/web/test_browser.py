"""Browser tests: Chromium drives the real pages served on a real socket.

Screenshots of every page go to ``artifacts/screenshots/`` (gitignored).
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from devtrack.integrations.manager import IntegrationManager
from devtrack.redact import mask
from devtrack.web.server import ServerThread

from .. import webauth
from .browser import browser, page  # noqa: F401 (fixtures)
from .conftest import ARTIFACTS, ApiClient
from .echo import GOOD_AI_KEY, GOOD_TOKEN, EchoService


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_save_credentials_reload_shows_masked_value(page: Any, server: ServerThread, echo: EchoService,
                                                    manager: IntegrationManager) -> None:
    webauth.login(page, server.url, "/settings/integrations/echo")
    expect(page.get_by_role("heading", name="Echo Service")).to_be_visible()
    page.get_by_label("Service URL").fill(echo.url)
    page.get_by_label("API token").fill(GOOD_TOKEN)
    page.get_by_label("Workspace").fill("acme")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    assert manager.stored_credentials("echo") == {"url": echo.url, "token": GOOD_TOKEN, "workspace": "acme"}

    page.reload()
    expect(page.locator("[data-saved]")).to_have_text(f"Saved: {mask(GOOD_TOKEN)}")
    expect(page.get_by_label("API token")).to_have_value("")
    expect(page.get_by_label("Service URL")).to_have_value(echo.url)
    assert GOOD_TOKEN not in page.content()
    assert GOOD_TOKEN not in page.request.get(page.url).text()
    shot(page, "settings-integration-detail")

    # Saving again with the secret left blank keeps the stored secret.
    page.get_by_label("Workspace").fill("beta")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    assert manager.stored_credentials("echo")["token"] == GOOD_TOKEN
    assert manager.stored_credentials("echo")["workspace"] == "beta"


def test_invalid_input_shows_field_errors_in_place(page: Any, server: ServerThread, manager: IntegrationManager) -> None:
    webauth.login(page, server.url, "/settings/integrations/echo")
    page.get_by_label("Service URL").fill("ftp://example.com")
    page.get_by_label("API token").fill("some-secret-value-123")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#e-url")
    expect(error).to_contain_text("http(s)")
    expect(page.get_by_label("Service URL")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Service URL")).to_have_value("ftp://example.com")  # what was typed stays
    expect(page.get_by_label("API token")).to_have_value("")  # a secret is never echoed back
    assert "some-secret-value-123" not in page.content()
    shot(page, "settings-integration-field-errors")

    page.get_by_label("Service URL").fill("http://127.0.0.1:9")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#e-token")).to_contain_text("required")
    assert manager.stored_credentials("echo") == {}


def test_toggle_enable_with_mouse_and_keyboard(page: Any, server: ServerThread, manager: IntegrationManager) -> None:
    webauth.login(page, server.url, "/settings/integrations")
    switch = page.get_by_role("switch", name="Enable Sentry")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    assert manager.is_enabled("sentry") is False
    page.reload()
    expect(page.get_by_role("switch", name="Enable Sentry")).to_have_attribute("aria-checked", "false")

    # Keyboard: focus the switch and press Space; the focus ring is visible.
    switch = page.get_by_role("switch", name="Enable Sentry")
    switch.focus()
    outline = switch.evaluate("el => getComputedStyle(el).outlineStyle")
    page.keyboard.press("Space")
    expect(switch).to_have_attribute("aria-checked", "true")
    assert manager.is_enabled("sentry") is True
    assert outline != "none"


def test_keyboard_reaches_the_form(page: Any, server: ServerThread) -> None:
    webauth.login(page, server.url, "/settings/integrations/echo")
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
    for target in ("f-url", "f-token", "f-workspace", "Save", "Test connection"):
        assert target in reached, (target, reached)


def test_test_connection_shows_loading_then_classified_result(page: Any, server: ServerThread, echo: EchoService,
                                                              manager: IntegrationManager) -> None:
    manager.set_credentials("echo", {"url": echo.url, "token": GOOD_TOKEN})
    echo.delay = 0.6
    webauth.login(page, server.url, "/settings/integrations/echo")
    row_dot = page.locator('.row[data-plugin="echo"] [data-dot]')
    expect(row_dot).to_have_attribute("aria-label", "never tested")
    button = page.get_by_role("button", name="Test connection")
    button.click()
    expect(page.locator("button[aria-busy=true]")).to_have_text("Testing…")
    result = page.locator("[data-result] .result")
    expect(result.locator(".kind")).to_have_text("ok")
    expect(result).to_contain_text("Connected as tester")
    expect(row_dot).to_have_attribute("aria-label", "passing")
    expect(button).to_be_enabled()
    shot(page, "settings-integration-test-ok")

    # A wrong token: the auth error, and the token the service echoed back is masked.
    echo.delay = 0.0
    manager.set_credentials("echo", {"token": "wrong-token-abcdef123"})
    page.reload()
    page.get_by_role("button", name="Test connection").click()
    expect(result.locator(".kind")).to_have_text("auth")
    expect(result).to_contain_text("rejected the token")
    expect(row_dot).to_have_attribute("aria-label", "failing")
    assert "wrong-token-abcdef123" not in page.content()
    page.reload()  # the result was recorded: it survives a reload, with the time
    expect(page.locator('.row[data-plugin="echo"] [data-tested]')).to_contain_text("failing")
    expect(page.locator("[data-result] .result .kind")).to_have_text("auth")
    shot(page, "settings-integration-test-auth")


def test_forms_work_without_javascript(browser: Any, server: ServerThread, echo: EchoService,
                                       manager: IntegrationManager) -> None:
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    try:
        manager.set_credentials("echo", {"url": echo.url, "token": GOOD_TOKEN})
        webauth.login(pg, server.url, "/settings/integrations/echo")
        pg.get_by_role("button", name="Test connection").click()
        expect(pg.locator("[data-result] .result .kind")).to_have_text("ok")
        pg.get_by_role("switch", name="Enable Echo Service").click()
        expect(pg.get_by_role("switch", name="Enable Echo Service")).to_have_attribute("aria-checked", "false")
        assert manager.is_enabled("echo") is False
    finally:
        context.close()


def test_configure_an_ai_provider_key(page: Any, server: ServerThread, manager: IntegrationManager) -> None:
    webauth.login(page, server.url, "/settings/ai")
    expect(page.locator("[data-helicone]")).to_contain_text("not routed")
    card = page.locator("#ai-openai")
    card.get_by_label("API key").fill(GOOD_AI_KEY)
    card.get_by_role("button", name="Save").click()
    card = page.locator("#ai-openai")
    expect(card.locator("[data-saved]")).to_have_text(f"Saved: {mask(GOOD_AI_KEY)}")
    expect(card.get_by_label("API key")).to_have_value("")
    assert manager.store.read()["ai_providers"]["openai"] == {"api_key": GOOD_AI_KEY}
    assert GOOD_AI_KEY not in page.content()
    card.get_by_role("button", name="Test").click()
    expect(card.locator(".result .kind")).to_have_text("ok")
    expect(card.locator(".result")).to_contain_text("2 models")
    expect(card.locator("[data-dot]")).to_have_attribute("aria-label", "passing")
    expect(page.locator("#ai-anthropic")).to_contain_text("ANTHROPIC_API_KEY")
    shot(page, "settings-ai")


def test_dark_scheme_and_docs_page_render(browser: Any, server: ServerThread) -> None:
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    try:
        webauth.login(pg, server.url, "/settings/integrations")
        bg = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        nums = [int(n) for n in re.findall(r"\d+", bg)[:3]]
        assert sum(nums) < 3 * 80, bg  # a dark background
        shot(pg, "settings-integrations-dark")
    finally:
        context.close()


def test_integrations_list_screenshot(page: Any, server: ServerThread, echo: EchoService,
                                      manager: IntegrationManager) -> None:
    """The page as the README shows it: one passing, one failing, the rest never tested."""
    manager.set_credentials("echo", {"url": echo.url, "token": GOOD_TOKEN})
    api = ApiClient(server.url)  # Playwright's sync API owns this thread's event loop
    assert api.send("POST", "/api/v1/integrations/echo/test").json()["ok"] is True
    assert api.send("POST", "/api/v1/integrations/vercel/test").json()["ok"] is False
    api.close()
    manager.set_enabled("cloudflare", False)
    webauth.login(page, server.url, "/settings/integrations")
    expect(page.locator('.row[data-plugin="echo"] [data-dot]')).to_have_attribute("aria-label", "passing")
    expect(page.locator('.row[data-plugin="vercel"] [data-dot]')).to_have_attribute("aria-label", "failing")
    expect(page.locator('.row[data-plugin="github"] [data-dot]')).to_have_attribute("aria-label", "never tested")
    shot(page, "settings-integrations")
