"""The JSON API over a real socket: the CLI's operations, classified errors, masked secrets."""

from __future__ import annotations

from devtrack.integrations.manager import IntegrationManager
from devtrack.redact import mask

from .conftest import ApiClient
from .echo import GOOD_TOKEN, EchoService


def test_list_mirrors_the_cli_with_nothing_configured(api: ApiClient) -> None:
    body = api.get("/api/v1/integrations").json()
    ids = [p["id"] for p in body]
    assert ids[:8] == ["github", "vercel", "supabase", "sentry", "helicone", "upstash", "aws-ec2", "cloudflare"]
    echo = next(p for p in body if p["id"] == "echo")
    assert echo["enabled"] is True and echo["configured"] is False and echo["test_result"] is None
    assert {f["key"]: f["secret"] for f in echo["fields"]} == {"url": False, "token": True, "workspace": False}


def test_save_then_show_is_masked(api: ApiClient, echo: EchoService, manager: IntegrationManager) -> None:
    r = api.send("PUT", "/api/v1/integrations/echo/credentials",
                 json={"values": {"url": echo.url, "token": GOOD_TOKEN}})
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "id": "echo", "credentials": {"url": echo.url, "token": mask(GOOD_TOKEN)},
                        "cleared": [], "warnings": []}
    shown = api.get("/api/v1/integrations/echo").json()
    assert shown["credentials"]["token"] == mask(GOOD_TOKEN) and shown["configured"] is True
    assert GOOD_TOKEN not in r.text and GOOD_TOKEN not in api.get("/api/v1/integrations/echo").text
    # A blank value keeps what is stored; a new plain value replaces its field only.
    api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"token": "", "workspace": "w1"}})
    assert manager.stored_credentials("echo") == {"url": echo.url, "token": GOOD_TOKEN, "workspace": "w1"}


def test_invalid_credentials_are_field_errors_and_nothing_is_written(api: ApiClient, manager: IntegrationManager) -> None:
    r = api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"url": "ftp://nope"}})
    assert r.status_code == 422
    err = r.json()
    assert err["ok"] is False and err["error"]["kind"] == "config"
    assert set(err["error"]["fields"]) >= {"url"}
    r = api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"url": "http://127.0.0.1:1"}})
    assert r.status_code == 422 and "token" in r.json()["error"]["fields"]
    r = api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"nope": "x"}})
    assert r.status_code == 422 and "nope" in r.json()["error"]["fields"]
    assert manager.stored_credentials("echo") == {}


def test_enable_disable_test_and_data(api: ApiClient, echo: EchoService, manager: IntegrationManager) -> None:
    assert api.send("POST", "/api/v1/integrations/echo/disable").json() == {"ok": True, "id": "echo", "enabled": False}
    assert manager.is_enabled("echo") is False
    assert api.send("POST", "/api/v1/integrations/echo/enable").json()["enabled"] is True
    assert manager.is_enabled("echo") is True

    r = api.send("POST", "/api/v1/integrations/echo/test").json()
    assert r["ok"] is False and r["kind"] == "config"  # nothing configured yet

    api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"url": echo.url, "token": "wrong-token-123456"}})
    r = api.send("POST", "/api/v1/integrations/echo/test")
    assert r.json()["kind"] == "auth" and "wrong-token-123456" not in r.text  # the echoed token is masked

    api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"token": GOOD_TOKEN}})
    r = api.send("POST", "/api/v1/integrations/echo/test").json()
    assert r["ok"] is True and r["kind"] == "ok" and "tester" in r["message"]
    listed = {p["id"]: p for p in api.get("/api/v1/integrations").json()}
    assert listed["echo"]["test_result"]["ok"] is True and listed["echo"]["last_tested"]

    data = api.get("/api/v1/integrations/echo/data").json()
    assert data["health"]["status"] == "healthy" and data["events"][0]["title"] == "echoed"


def test_errors_are_classified(api: ApiClient) -> None:
    r = api.get("/api/v1/integrations/nope")
    assert r.status_code == 404
    assert r.json()["ok"] is False and r.json()["error"]["kind"] == "not_found"
    r = api.send("PUT", "/api/v1/integrations/echo/credentials", content=b"not json",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["kind"] == "invalid_request"
    r = api.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found"
    r = api.send("POST", "/api/v1/ai/providers/mistral/test")
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found"


def test_openapi_documents_the_api(api: ApiClient) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/integrations", "/api/v1/integrations/{plugin_id}",
                 "/api/v1/integrations/{plugin_id}/credentials", "/api/v1/integrations/{plugin_id}/test",
                 "/api/v1/integrations/{plugin_id}/enable", "/api/v1/integrations/{plugin_id}/data",
                 "/api/v1/ai/providers", "/api/v1/session"):
        assert path in paths, path
    assert not any(p.startswith("/settings") for p in paths)
    page = api.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text and "/static/docs.js" in page.text


def test_ai_provider_key_saved_masked_and_tested(api: ApiClient, manager: IntegrationManager) -> None:
    from .echo import GOOD_AI_KEY

    before = api.get("/api/v1/ai/providers").json()
    assert [p["id"] for p in before["providers"]] == ["openai", "anthropic", "google"]
    assert before["helicone"]["routed"] is False
    r = api.send("PUT", "/api/v1/ai/providers/openai/key", json={"api_key": GOOD_AI_KEY})
    assert r.status_code == 200 and r.json()["masked"] == mask(GOOD_AI_KEY) and GOOD_AI_KEY not in r.text
    assert manager.store.read()["ai_providers"]["openai"] == {"api_key": GOOD_AI_KEY}
    assert api.send("PUT", "/api/v1/ai/providers/openai/key", json={"api_key": ""}).json()["source"] == "store"
    assert manager.store.read()["ai_providers"]["openai"] == {"api_key": GOOD_AI_KEY}
    t = api.send("POST", "/api/v1/ai/providers/openai/test").json()
    assert t["ok"] is True and t["kind"] == "ok" and "2 models" in t["message"]
    api.send("PUT", "/api/v1/ai/providers/openai/key", json={"api_key": "sk-wrong-key-000000"})
    t = api.send("POST", "/api/v1/ai/providers/openai/test").json()
    assert t["ok"] is False and t["kind"] == "auth"
    t = api.send("POST", "/api/v1/ai/providers/anthropic/test").json()
    assert t["kind"] == "config"
    listed = api.get("/api/v1/ai/providers")
    assert "sk-wrong-key-000000" not in listed.text and GOOD_AI_KEY not in listed.text


def test_a_secret_reference_is_shown_as_itself_in_the_api_and_settings(api: ApiClient, echo: EchoService,
                                                                        manager: IntegrationManager) -> None:
    r = api.send("PUT", "/api/v1/integrations/echo/credentials",
                 json={"values": {"url": echo.url, "token": "env:ECHO_REF_NOT_SET"}})
    assert r.status_code == 200, r.text
    assert r.json()["credentials"]["token"] == "from env:ECHO_REF_NOT_SET"
    assert api.get("/api/v1/integrations/echo").json()["credentials"]["token"] == "from env:ECHO_REF_NOT_SET"
    assert "from env:ECHO_REF_NOT_SET" in api.get("/settings/integrations/echo").text
    tested = api.send("POST", "/api/v1/integrations/echo/test").json()
    assert tested["ok"] is False and tested["status"] == "config"
    assert "env:ECHO_REF_NOT_SET" in tested["message"] and "export ECHO_REF_NOT_SET=" in tested["message"]
    assert manager.stored_credentials("echo")["token"] == "env:ECHO_REF_NOT_SET"


def test_no_keychain_the_secret_stays_in_the_file_and_the_answer_says_so(
        api: ApiClient, echo: EchoService, manager: IntegrationManager, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from devtrack import keychain, secretstore

    # This server process has no session bus (as on a headless box): keyring finds no keychain.
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert keychain.probe() is not None
    manager.store.update(lambda doc: secretstore.set_preference(doc, "keyring"))
    r = api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"url": echo.url, "token": GOOD_TOKEN}})
    assert r.status_code == 200
    assert any("no keychain answers" in w and "move-secrets --to keyring" in w for w in r.json()["warnings"])
    assert manager.stored_credentials("echo")["token"] == GOOD_TOKEN
    form = api.send("POST", "/settings/integrations/echo/credentials",
                    data={"csrf_token": api.csrf, "url": echo.url, "token": GOOD_TOKEN}, follow_redirects=False)
    assert "kept=file" in form.headers["location"]
    page = api.get(form.headers["location"])
    assert "data-kept-in-file" in page.text and GOOD_TOKEN not in page.text
