"""Secrets are bound to where they go, over a real socket: the JSON API and the HTML form.

Host A is the echo service (it accepts GOOD_TOKEN); host B is a stranger's recording listener.
Changing the URL to B without a token clears the saved one, the answer says so, and B is
never sent the token entered for A.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from devtrack.integrations.manager import IntegrationManager

from ..core.listener import Listener
from .browser import browser, page  # noqa: F401 (fixtures)
from .conftest import ARTIFACTS, ApiClient
from .echo import GOOD_TOKEN, EchoService

PUT = "/api/v1/integrations/echo/credentials"
FORM = "/settings/integrations/echo/credentials"
NOTE = "Changing this clears the saved API token unless you enter it again in the same save."


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def stranger() -> Iterator[Listener]:
    with Listener() as ear:
        yield ear


def _configure_a(api: ApiClient, echo: EchoService) -> None:
    r = api.send("PUT", PUT, json={"values": {"url": echo.url, "token": GOOD_TOKEN}})
    assert r.status_code == 200, r.text
    assert api.send("POST", "/api/v1/integrations/echo/test").json()["ok"] is True  # works at A


def _post_form(api: ApiClient, **fields: str) -> httpx.Response:
    form = {"url": "", "token": "", "workspace": "", **fields, "csrf_token": api.csrf}
    return api.http.post(FORM, headers={"Origin": api.base}, data=form)


def test_api_put_of_a_new_url_clears_the_token_and_lists_it(
        api: ApiClient, echo: EchoService, stranger: Listener, manager: IntegrationManager) -> None:
    _configure_a(api, echo)
    r = api.send("PUT", PUT, json={"values": {"url": stranger.url}})
    test = api.send("POST", "/api/v1/integrations/echo/test").json()
    leaked = stranger.received(GOOD_TOKEN)
    assert not leaked, "host B was sent the token entered for host A"
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cleared"] == ["token"] and body["credentials"] == {"url": stranger.url}
    assert manager.stored_credentials("echo") == {"url": stranger.url}
    assert test["ok"] is False and test["kind"] == "config" and "API token" in test["message"]


def test_api_put_with_a_new_token_keeps_it(api: ApiClient, echo: EchoService, stranger: Listener,
                                           manager: IntegrationManager) -> None:
    _configure_a(api, echo)
    r = api.send("PUT", PUT, json={"values": {"url": stranger.url, "token": "echo_tok_for_B_123456"}})
    assert r.status_code == 200 and r.json()["cleared"] == []
    assert manager.stored_credentials("echo")["token"] == "echo_tok_for_B_123456"
    api.send("POST", "/api/v1/integrations/echo/test")
    assert stranger.received("Bearer echo_tok_for_B_123456")
    leaked = stranger.received(GOOD_TOKEN)
    assert not leaked, "host B was sent the token entered for host A"


@pytest.mark.parametrize("suffix", ["", "/", "//"])
def test_api_put_of_the_same_url_keeps_the_token(api: ApiClient, echo: EchoService, suffix: str,
                                                 manager: IntegrationManager) -> None:
    _configure_a(api, echo)
    r = api.send("PUT", PUT, json={"values": {"url": echo.url + suffix, "token": ""}})
    assert r.status_code == 200 and r.json()["cleared"] == []
    kept = manager.stored_credentials("echo").get("token") == GOOD_TOKEN
    assert kept, "the token was cleared although the URL did not change"


def test_api_delete_of_the_url_lists_the_token_it_cleared(api: ApiClient, echo: EchoService,
                                                          manager: IntegrationManager) -> None:
    _configure_a(api, echo)
    r = api.send("DELETE", PUT, params={"keys": "url"})
    assert r.status_code == 200, r.text
    assert r.json()["cleared"] == ["token"] and manager.stored_credentials("echo") == {}


def test_form_notes_the_binding_and_says_what_a_save_cleared(
        api: ApiClient, echo: EchoService, stranger: Listener, manager: IntegrationManager) -> None:
    page = html.unescape(api.get("/settings/integrations/echo").text)
    assert NOTE not in page  # nothing saved yet, nothing to clear
    _configure_a(api, echo)
    page = html.unescape(api.get("/settings/integrations/echo").text)
    assert NOTE in page
    url_help = page[page.index('id="h-url"'):page.index('id="h-token"')]
    assert NOTE in url_help  # beside the URL field, not elsewhere

    r = _post_form(api, url=stranger.url)
    assert r.status_code == 303 and "cleared=token" in r.headers["location"]
    after = html.unescape(api.get(r.headers["location"]).text)
    assert "Cleared the saved API token: it was entered for the previous Service URL" in after
    assert "Enter it again below" in after
    assert NOTE not in after  # no saved token left to clear
    assert manager.stored_credentials("echo") == {"url": stranger.url}
    api.http.post("/settings/integrations/echo/test", headers={"Origin": api.base}, data={"csrf_token": api.csrf})
    leaked = stranger.received(GOOD_TOKEN)
    assert not leaked, "host B was sent the token entered for host A"
    assert GOOD_TOKEN not in after


def test_form_resave_of_the_shown_url_keeps_the_token(api: ApiClient, echo: EchoService,
                                                      manager: IntegrationManager) -> None:
    """The form sends every field back; a URL left as shown must not clear anything."""
    _configure_a(api, echo)
    r = _post_form(api, url=echo.url, workspace="acme")
    assert r.status_code == 303 and "cleared" not in r.headers["location"]
    kept = manager.stored_credentials("echo").get("token") == GOOD_TOKEN
    assert kept, "the token was cleared although the URL did not change"
    page = html.unescape(api.get(r.headers["location"]).text)
    assert "Saved." in page and "Cleared the saved" not in page


def test_a_forged_cleared_parameter_names_only_real_secret_fields(api: ApiClient, echo: EchoService) -> None:
    page = api.get("/settings/integrations/echo?flash=saved&cleared=<b>x</b>,url").text
    assert "Cleared the saved" not in page and "<b>x</b>" not in page


def test_browser_sees_the_note_and_what_was_cleared(page: Any, api: ApiClient, echo: EchoService,
                                                     stranger: Listener, manager: IntegrationManager) -> None:
    """Chromium on the real form: the note beside the URL field, then the notice after a save."""
    _configure_a(api, echo)
    # The browser takes this client's cookies: logged in however the suite's server requires.
    page.context.add_cookies([{"name": c.name, "value": c.value or "", "url": api.base} for c in api.http.cookies.jar])
    page.goto(api.base + "/settings/integrations/echo")
    expect(page.locator("#h-url [data-binds]")).to_have_text(NOTE)
    shot(page, "settings-integration-url-note")
    page.get_by_label("Service URL").fill(stranger.url)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("[data-cleared]")).to_contain_text("Cleared the saved API token")
    expect(page.locator("[data-binds]")).to_have_count(0)
    shot(page, "settings-integration-cleared-token")
    assert manager.stored_credentials("echo") == {"url": stranger.url}
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("[data-result]")).to_contain_text("config")
    leaked = stranger.received(GOOD_TOKEN)
    assert not leaked, "host B was sent the token entered for host A"
