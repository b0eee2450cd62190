"""The JSON API takes connection ids (issue 14): ``vercel:acme`` in a path segment, the ``:``
sent as is or as ``%3A``, over a real socket."""

from __future__ import annotations

from devtrack.integrations.manager import IntegrationManager
from devtrack.redact import mask

from .conftest import ApiClient
from .echo import GOOD_TOKEN, EchoService


def test_a_named_connection_through_the_api(api: ApiClient, echo: EchoService, manager: IntegrationManager) -> None:
    r = api.send("PUT", "/api/v1/integrations/echo:second/credentials",
                 json={"values": {"url": echo.url, "token": GOOD_TOKEN}})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "echo:second" and r.json()["credentials"]["token"] == mask(GOOD_TOKEN)
    assert manager.stored_credentials("echo") == {}  # the default connection is untouched
    for path in ("/api/v1/integrations/echo:second", "/api/v1/integrations/echo%3Asecond"):
        shown = api.get(path).json()
        assert shown["id"] == "echo:second" and shown["plugin"] == "echo" and shown["configured"] is True, shown
    tested = api.send("POST", "/api/v1/integrations/echo%3Asecond/test").json()
    assert tested["ok"] is True and tested["id"] == "echo:second" and tested["plugin"] == "echo", tested
    data = api.get("/api/v1/integrations/echo:second/data").json()
    assert data["id"] == "echo:second" and data["plugin"] == "echo"
    listed = next(p for p in api.get("/api/v1/integrations").json() if p["id"] == "echo")
    assert [c["id"] for c in listed["connections"]] == ["echo", "echo:second"]
    assert listed["connections"][1]["test_result"]["ok"] is True

    bad = api.get("/api/v1/integrations/echo:Second")
    assert bad.status_code == 400 and "lowercase letters" in bad.json()["error"]["message"]
    missing = api.get("/api/v1/integrations/echo:secnd")
    assert missing.status_code == 404 and "did you mean 'echo:second'?" in missing.json()["error"]["message"]
    default = api.send("DELETE", "/api/v1/integrations/echo")
    assert default.status_code == 400 and "unset" in default.json()["error"]["message"]
    assert api.send("DELETE", "/api/v1/integrations/echo:second").json() == {"ok": True, "id": "echo:second", "removed": True}
    assert manager.connection_ids("echo") == ["echo"]
