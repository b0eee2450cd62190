"""Channel URLs are secrets like the others: ``move-secrets`` moves them to a real Secret Service
(gnome-keyring on a private D-Bus) and back, a new one goes to the keychain when that is
preferred, and a URL may be a reference (``env:NAME``) shown as itself. A reference that does
not resolve fails its channel's sends with the reason, naming it; the others still deliver.
Every ``devtrack`` in the keychain test is a subprocess, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtrack.alerts import manage

from .. import leakscan
from ..core.helpers import run_cli
from ..secret_service import SecretService, secret_service  # noqa: F401 (fixture)
from .conftest import Harness, only_rule
from .receivers import JsonReceiver, SmtpReceiver, wait_for
from .test_rules_end_to_end import produce


def _doc(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _cli(*args: str) -> dict[str, Any]:
    out = run_cli(*args, "--json", timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    leakscan.record("cli output", out.stdout + out.stderr)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_move_secrets_moves_channel_urls_to_the_keychain_and_back(
        secret_service: SecretService, _isolated_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        json_receiver: JsonReceiver, smtp_receiver: SmtpReceiver) -> None:
    monkeypatch.setenv("DEVTRACK_STORE_URL", f"sqlite:///{tmp_path / 'snapshots.db'}")
    path = _isolated_store
    _cli("alerts", "channels", "add", json_receiver.url, "--name", "hook")
    _cli("alerts", "channels", "add", smtp_receiver.url, "--name", "mail")
    assert SmtpReceiver.PASSWORD in path.read_text()

    moved = _cli("integrations", "move-secrets", "--to", "keyring")
    assert sorted(moved["moved"]) == ["alert channel hook URL", "alert channel mail URL"]
    assert SmtpReceiver.PASSWORD not in path.read_text()
    channels = _doc(path)["alerts"]["channels"]
    file_id = _doc(path)["secrets"]["id"]
    assert channels["mail"]["url"] == f"keyring:alerts:mail/url@{file_id}"
    assert secret_service.lookup(f"alerts:mail/url@{file_id}") == smtp_receiver.url
    assert secret_service.lookup(f"alerts:hook/url@{file_id}") == json_receiver.url

    listed = {c["name"]: c for c in _cli("alerts", "channels", "list")["channels"]}
    assert listed["mail"]["url"] == f"from keyring:alerts:mail/url@{file_id}"
    assert listed["mail"]["service"] == "E-Mail" and listed["hook"]["service"] == "JSON"

    tested = _cli("alerts", "channels", "test")
    assert [r["ok"] for r in tested["results"]] == [True, True], tested
    assert wait_for(lambda: json_receiver.titles() == ["[DevTrack] test: alerts reach this channel"], 10)
    assert wait_for(lambda: smtp_receiver.titles() == ["[DevTrack] test: alerts reach this channel"], 10)

    # The keychain is preferred now: a new channel's URL goes there too.
    added = _cli("alerts", "channels", "add", json_receiver.url.replace("/alerts", "/second"), "--name", "second")
    assert added["stored"] == "keyring" and added["warnings"] == []
    assert _doc(path)["alerts"]["channels"]["second"]["url"] == f"keyring:alerts:second/url@{file_id}"
    _cli("alerts", "channels", "remove", "second")
    assert secret_service.lookup(f"alerts:second/url@{file_id}") is None  # no orphan left behind

    back = _cli("integrations", "move-secrets", "--to", "file")
    assert sorted(back["moved"]) == ["alert channel hook URL", "alert channel mail URL"]
    assert _doc(path)["alerts"]["channels"]["mail"]["url"] == smtp_receiver.url
    assert secret_service.accounts() == {}


def test_an_env_reference_is_a_channel_url_and_an_unresolvable_one_fails_alone(
        harness: Harness, sb: Any, json_receiver: JsonReceiver, smtp_receiver: SmtpReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = harness.manager.store
    monkeypatch.setenv("DEVTRACK_TEST_MAIL_URL", smtp_receiver.url)
    monkeypatch.setenv("DEVTRACK_TEST_GONE_URL", json_receiver.url.replace("/alerts", "/gone"))
    mail = manage.add_channel(store, "env:DEVTRACK_TEST_MAIL_URL", "mail")
    assert mail == {"name": "mail", "service": "E-Mail", "url": "from env:DEVTRACK_TEST_MAIL_URL",
                    "stored": "reference", "warnings": []}
    manage.add_channel(store, "env:DEVTRACK_TEST_GONE_URL", "gone")
    manage.add_channel(store, json_receiver.url, "hook")
    text = store.path.read_text()
    assert SmtpReceiver.PASSWORD not in text and "env:DEVTRACK_TEST_MAIL_URL" in text

    with pytest.raises(manage.AlertsError, match="env:DEVTRACK_TEST_UNSET: the variable DEVTRACK_TEST_UNSET is not set"):
        manage.add_channel(store, "env:DEVTRACK_TEST_UNSET", "unset")
    with pytest.raises(manage.AlertsError, match="not a valid env: reference"):
        manage.add_channel(store, "env:not a name", "bad")

    monkeypatch.delenv("DEVTRACK_TEST_GONE_URL")  # gone from the environment DevTrack runs in
    listed = {c["name"]: c for c in manage.list_channels(store)}
    assert listed["gone"]["service"] == "unresolved" and "DEVTRACK_TEST_GONE_URL is not set" in listed["gone"]["url"]
    assert listed["mail"]["url"] == "from env:DEVTRACK_TEST_MAIL_URL"
    harness.restart()  # a process started in that environment
    only_rule(store, "deploy-failed")
    harness.refresh(["vercel"])
    json_receiver.clear()
    smtp_receiver.clear()

    produce(sb, "vercel", "production_deploy_failed")
    harness.refresh(["vercel"])
    assert [t.split(":")[0] for t in smtp_receiver.titles()] == ["[DevTrack] started"]
    assert [t.split(":")[0] for t in json_receiver.titles()] == ["[DevTrack] started"]  # hook only
    failed = [d for d in manage.overview(harness.store)["deliveries"] if d["channel"] == "gone"]
    assert failed and failed[0]["status"] == "failed", failed
    assert "env:DEVTRACK_TEST_GONE_URL: the variable DEVTRACK_TEST_GONE_URL is not set" in failed[0]["detail"]

    tested = {r["name"]: r for r in manage.test_channels(store, harness.store)}
    assert tested["mail"]["ok"] and tested["hook"]["ok"]
    assert not tested["gone"]["ok"] and "env:DEVTRACK_TEST_GONE_URL" in tested["gone"]["error"]
