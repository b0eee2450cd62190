"""Settings → Integrations with several accounts per plugin, through the real app on a socket:
"Add account" checks the name, the first Save creates the connection, Remove asks first."""

from __future__ import annotations

from devtrack.integrations.manager import IntegrationManager

from .conftest import ApiClient
from .echo import GOOD_TOKEN, EchoService


def _form(api: ApiClient, path: str, **fields: str):  # type: ignore[no-untyped-def]
    return api.send("POST", path, data={"csrf_token": api.csrf, **fields}, follow_redirects=False)


def test_add_account_with_a_bad_name_says_what_a_name_may_hold(api: ApiClient, manager: IntegrationManager) -> None:
    page = api.get("/settings/integrations/echo/add", params={"name": "Acme Team"})
    assert page.status_code == 422
    assert "may hold only lowercase letters, digits and single dashes" in page.text
    assert 'value="Acme Team"' in page.text  # what was typed stays
    empty = api.get("/settings/integrations/echo/add", params={"name": ""})
    assert empty.status_code == 422 and "Enter a name for the account" in empty.text
    assert manager.connection_ids("echo") == ["echo"]  # nothing created


def test_add_account_then_first_save_creates_it_and_lists_it(api: ApiClient, echo: EchoService,
                                                            manager: IntegrationManager) -> None:
    step = api.get("/settings/integrations/echo/add", params={"name": "acme"}, follow_redirects=False)
    assert step.status_code == 303 and step.headers["location"] == "/settings/integrations/echo:acme?new=1"
    form = api.get(step.headers["location"])
    assert form.status_code == 200 and "Echo Service · acme" in form.text and "data-new" in form.text
    assert manager.connection_ids("echo") == ["echo"]  # not before Save
    # Without ?new=1 an unknown named connection is not found, not a blank form.
    assert api.get("/settings/integrations/echo:nope").status_code == 404

    saved = _form(api, "/settings/integrations/echo:acme/credentials", url=echo.url, token=GOOD_TOKEN)
    assert saved.status_code == 303 and saved.headers["location"].startswith("/settings/integrations/echo:acme?flash=saved")
    assert manager.connection_ids("echo") == ["echo", "echo:acme"]
    assert manager.stored_credentials("echo:acme")["token"] == GOOD_TOKEN
    assert manager.stored_credentials("echo") == {}  # the default account is untouched

    tested = _form(api, "/settings/integrations/echo:acme/test")
    assert tested.status_code == 303
    page = api.get("/settings/integrations/echo:acme")
    assert 'data-plugin="echo:acme"' in page.text and ">Echo Service · acme</a>" in page.text
    assert 'aria-label="Enable Echo Service · acme"' in page.text
    assert GOOD_TOKEN not in page.text
    assert manager.connection_status("echo:acme").test_result.ok is True  # type: ignore[union-attr]
    assert manager.connection_status("echo").test_result is None

    off = _form(api, "/settings/integrations/echo:acme/enabled", enabled="0")
    assert off.status_code == 303 and manager.is_enabled("echo:acme") is False and manager.is_enabled("echo")

    again = api.get("/settings/integrations/echo/add", params={"name": "acme"})
    assert again.status_code == 422 and "Echo Service · acme already exists" in again.text


def test_remove_asks_first_and_needs_the_csrf_token(api: ApiClient, manager: IntegrationManager) -> None:
    manager.save_credentials("echo:acme", {"url": "http://127.0.0.1:9", "token": GOOD_TOKEN})
    # The first press only leads to the confirmation (this works without JavaScript).
    first = _form(api, "/settings/integrations/echo:acme/remove")
    assert first.status_code == 303 and first.headers["location"].endswith("?remove=1#remove")
    assert manager.exists("echo:acme")
    confirm = api.get(first.headers["location"].split("#")[0])
    assert "Remove Echo Service · acme?" in confirm.text and 'name="confirm" value="yes"' in confirm.text
    # Without the CSRF token the confirmed post is refused and nothing is lost.
    forged = api.http.post("/settings/integrations/echo:acme/remove", data={"confirm": "yes"},
                           headers={"Origin": api.base}, follow_redirects=False)
    assert forged.status_code == 403 and manager.exists("echo:acme")

    done = _form(api, "/settings/integrations/echo:acme/remove", confirm="yes")
    assert done.status_code == 303 and done.headers["location"] == "/settings/integrations/echo?flash=removed&removed=echo:acme"
    assert manager.connection_ids("echo") == ["echo"]
    assert "Removed echo:acme." in api.get(done.headers["location"]).text
    # The default connection has no Remove; posting one anyway is a clear 400.
    assert "Remove…" not in api.get("/settings/integrations/echo").text
    default = _form(api, "/settings/integrations/echo/remove", confirm="yes")
    assert default.status_code == 400 and "devtrack integrations unset echo" in default.text
