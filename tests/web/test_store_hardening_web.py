"""The credential store's refusals over a real socket: field errors for control characters,
``{ok: false, error: {kind: "config"}}`` for a store DevTrack cannot use, nothing written."""

from __future__ import annotations

import html
from pathlib import Path

from devtrack.integrations.manager import IntegrationManager
from devtrack.store_json import MAX_DEPTH

from .conftest import ApiClient
from .echo import GOOD_TOKEN, EchoService

BROKEN = "echo_tok_BROKEN_4d2a\n8e1f0c7b"


def _label(manager: IntegrationManager, key: str) -> str:
    return next(f.label for f in manager.plugin_class("echo").credentials_model.fields() if f.key == key)


def test_api_refuses_a_control_character_naming_the_field(api: ApiClient, echo: EchoService,
                                                          manager: IntegrationManager) -> None:
    r = api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"url": echo.url, "token": BROKEN}})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["kind"] == "config"
    assert err["fields"] == {
        "token": f"{_label(manager, 'token')} contains a line break (U+000A); enter the value on one line, without it"
    }
    assert manager.stored_credentials("echo") == {}
    assert "BROKEN_4d2a" not in r.text and "8e1f0c7b" not in r.text


def test_form_refuses_a_control_character_naming_the_field(api: ApiClient, echo: EchoService,
                                                           manager: IntegrationManager) -> None:
    form = {"url": echo.url, "token": "echo_tok_BROKEN_4d2a\x1b8e1f0c7b", "csrf_token": api.csrf}
    r = api.http.post("/settings/integrations/echo/credentials", headers={"Origin": api.base}, data=form)
    assert r.status_code == 422
    page = html.unescape(r.text)
    assert f"{_label(manager, 'token')} contains a control character (U+001B); enter the value on one line" in page
    assert manager.stored_credentials("echo") == {}
    assert "BROKEN_4d2a" not in r.text and "8e1f0c7b" not in r.text


def test_a_store_that_cannot_be_written_is_a_json_config_error(api: ApiClient, echo: EchoService,
                                                               manager: IntegrationManager) -> None:
    store = manager.store.path
    r = api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"url": echo.url, "token": GOOD_TOKEN}})
    assert r.status_code == 200, r.text
    before = store.read_bytes()
    victim = store.parent / "victim.txt"
    victim.write_text("precious\n")
    manager.store.lock_path.unlink()
    manager.store.lock_path.symlink_to(victim)
    r = api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"workspace": "w1"}})
    assert r.status_code == 500
    body = r.json()
    assert body["ok"] is False and body["error"]["kind"] == "config", body
    assert "is a symbolic link" in body["error"]["message"] and f"rm {manager.store.lock_path}" in body["error"]["message"]
    assert store.read_bytes() == before and victim.read_text() == "precious\n"


def test_a_store_that_cannot_be_read_is_a_json_config_error(api: ApiClient, manager: IntegrationManager) -> None:
    store: Path = manager.store.path
    store.write_text('{"version": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    r = api.get("/api/v1/integrations")
    assert r.status_code == 500
    body = r.json()
    assert body["ok"] is False and body["error"]["kind"] == "config", body
    assert f"nested more than {MAX_DEPTH} levels deep" in body["error"]["message"]
    assert "line 1, column" in body["error"]["message"]
