"""``/api/v1/alerts``: what the page shows, as JSON, and the same changes for scripts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.web.server import ServerThread

from .. import webauth
from .receivers import JsonReceiver, SmtpReceiver, wait_for


@pytest.fixture
def client(_isolated_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DEVTRACK_STORE_URL", f"sqlite:///{tmp_path / 'snapshots.db'}")
    app = webauth.app(IntegrationManager(store=CredentialStore(_isolated_store)))
    with ServerThread(app) as srv, webauth.client(srv.url) as c:
        yield c
    app.state.views.stop()


def test_channels_rules_and_the_overview(client: Any, json_receiver: JsonReceiver, smtp_receiver: SmtpReceiver) -> None:
    added = client.post("/api/v1/alerts/channels", json={"url": json_receiver.url, "name": "hook"})
    assert added.status_code == 201 and added.json()["service"] == "JSON"
    mail = client.post("/api/v1/alerts/channels", json={"url": smtp_receiver.url})
    assert mail.status_code == 201 and mail.json()["name"] == "e-mail"
    assert SmtpReceiver.PASSWORD not in mail.text
    bad = client.post("/api/v1/alerts/channels", json={"url": "bogus://x"})
    assert bad.status_code == 422 and bad.json()["error"]["kind"] == "usage"
    clash = client.post("/api/v1/alerts/channels", json={"url": json_receiver.url, "name": "hook"})
    assert clash.status_code == 409

    tested = client.post("/api/v1/alerts/channels/hook/test")
    assert tested.status_code == 200 and tested.json()["ok"] is True
    assert wait_for(lambda: len(json_receiver.messages) == 1, 5)
    assert client.post("/api/v1/alerts/channels/nope/test").status_code == 404

    rule = client.put("/api/v1/alerts/rules/ai-budget", json={"enabled": False, "budget_usd": 20})
    assert rule.status_code == 200
    assert rule.json()["rule"]["enabled"] is False and rule.json()["rule"]["settings"][0]["value"] == 20.0
    assert client.put("/api/v1/alerts/rules/ai-budget", json={"budget_usd": "lots"}).status_code == 422
    assert client.put("/api/v1/alerts/rules/nope", json={"enabled": True}).status_code == 404

    view = client.get("/api/v1/alerts").json()
    assert [c["name"] for c in view["channels"]] == ["e-mail", "hook"]
    assert SmtpReceiver.PASSWORD not in str(view)
    assert [(d["kind"], d["channel"], d["status"]) for d in view["deliveries"]] == [("test", "hook", "sent")]
    assert client.delete("/api/v1/alerts/channels/hook").json() == {"ok": True, "removed": "hook"}
    assert client.delete("/api/v1/alerts/channels/hook").status_code == 404
