"""``devtrack alerts …`` as real processes against a real credentials file, and ``devtrack
views refresh`` raising an alert through a real receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.helpers import assert_no_secret, run_cli
from .receivers import JsonReceiver, SmtpReceiver, wait_for
from .test_rules_end_to_end import produce

SLACK = "slack://T0AAAAAAA/B0BBBBBBB/xoxbSecretWebhookToken1234"
SLACK_SECRET = "xoxbSecretWebhookToken1234"


def _json(out: Any) -> Any:
    return json.loads(out.stdout)


def test_channels_add_list_remove_with_the_url_masked(_isolated_store: Path) -> None:
    out = run_cli("alerts", "channels", "add", "--name", "team", "--json", input=SLACK + "\n")
    assert out.returncode == 0, out.stderr
    added = _json(out)
    assert added["name"] == "team" and added["service"] == "Slack" and SLACK_SECRET not in added["url"]
    stored = json.loads(_isolated_store.read_text())
    assert stored["alerts"]["channels"]["team"]["url"] == SLACK
    listed = run_cli("alerts", "channels", "list", "--json")
    table = run_cli("alerts", "channels", "list")
    assert [c["name"] for c in _json(listed)["channels"]] == ["team"]
    assert_no_secret([out.stdout, out.stderr, listed.stdout, table.stdout, table.stderr], [SLACK_SECRET])
    again = run_cli("alerts", "channels", "add", SLACK, "--name", "team", "--json")
    assert again.returncode == 1 and _json(again)["error"]["kind"] == "conflict"
    assert_no_secret([again.stdout, again.stderr], [SLACK_SECRET])
    gone = run_cli("alerts", "channels", "remove", "team", "--json")
    assert gone.returncode == 0 and _json(gone) == {"ok": True, "removed": "team"}
    assert json.loads(_isolated_store.read_text())["alerts"]["channels"] == {}
    missing = run_cli("alerts", "channels", "remove", "team")
    assert missing.returncode == 1 and "no channel named 'team'" in missing.stderr and "Traceback" not in missing.stderr


def test_an_invalid_url_is_refused_with_apprises_reason_and_nothing_written(_isolated_store: Path) -> None:
    for url, reason in (("bogus://x", "Apprise knows no service 'bogus://'"),
                        ("not a url", "it is not a URL"), ("json://", "Unparseable JSON URL")):
        out = run_cli("alerts", "channels", "add", url, "--json")
        assert out.returncode == 2, out.stderr
        error = _json(out)["error"]
        assert error["kind"] == "usage" and reason in error["message"], error
        assert not _isolated_store.exists()
    plain = run_cli("alerts", "channels", "add", "bogus://x")
    assert plain.returncode == 2 and plain.stderr.startswith("error: Apprise cannot use this URL")
    assert "Traceback" not in plain.stderr and "ERROR:apprise" not in plain.stderr


def test_a_corrupt_file_is_never_overwritten(_isolated_store: Path) -> None:
    _isolated_store.write_text('{"version": 2, "integrations": {}, "alerts": {"channels": []}}')
    before = _isolated_store.read_bytes()
    out = run_cli("alerts", "channels", "add", "json://127.0.0.1:9/x", "--json")
    assert out.returncode == 1 and "alerts.channels must be an object" in _json(out)["error"]["message"]
    assert _isolated_store.read_bytes() == before


def test_rules_set_mute_and_their_errors(_isolated_store: Path) -> None:
    rules = _json(run_cli("alerts", "rules", "--json"))["rules"]
    assert len(rules) == 11 and all(r["enabled"] for r in rules)
    out = run_cli("alerts", "set", "ai-budget", "budget_usd=50", "enabled=on", "--json")
    assert out.returncode == 0, out.stderr
    rule = _json(out)["rule"]
    assert rule["enabled"] and {s["key"]: s["value"] for s in rule["settings"]} == {"budget_usd": 50.0}
    for args, words in ((["set", "ai-budgt", "enabled=off"], "did you mean 'ai-budget'"),
                        (["set", "ai-budget", "budget_usd=lots"], "expected a number"),
                        (["set", "ai-budget", "nope=1"], "has no setting 'nope'"),
                        (["set", "ai-budget", "budget_usd"], "expected KEY=VALUE"),
                        (["mute", "sentry-spike", "--for", "2x"], "invalid duration '2x'"),
                        (["mute", "vercle", "--for", "2h"], "did you mean 'vercel'")):
        bad = run_cli("alerts", *args)
        assert bad.returncode in (1, 2) and words in bad.stderr, (args, bad.stderr)
        assert "Traceback" not in bad.stderr
    muted = _json(run_cli("alerts", "mute", "vercel", "--for", "2h", "--json"))
    assert muted["ok"] and muted["target"] == "vercel"
    history = _json(run_cli("alerts", "history", "--json"))
    assert [m["target"] for m in history["mutes"]] == ["vercel"] and history["open"] == []
    assert _json(run_cli("alerts", "unmute", "vercel", "--json"))["was_muted"] is True


def test_channels_test_sends_and_records(_isolated_store: Path) -> None:
    smtp = SmtpReceiver()
    try:
        assert run_cli("alerts", "channels", "add", "--name", "mail", input=smtp.url + "\n").returncode == 0
        out = run_cli("alerts", "channels", "test", "--json")
        assert out.returncode == 0 and _json(out)["results"] == [{"name": "mail", "ok": True, "error": None}]
        assert smtp.titles() == ["[DevTrack] test: alerts reach this channel"]
        deliveries = _json(run_cli("alerts", "history", "--json"))["deliveries"]
        assert [(d["kind"], d["channel"], d["status"]) for d in deliveries] == [("test", "mail", "sent")]
        assert_no_secret([out.stdout, json.dumps(deliveries)], [SmtpReceiver.PASSWORD])
    finally:
        smtp.close()


def test_views_refresh_runs_the_rules(sb: Any, sandbox_env: dict[str, str], tmp_path: Path) -> None:
    receiver = JsonReceiver()
    env = {"DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 'snapshots.db'}"}
    try:
        assert run_cli("alerts", "channels", "add", receiver.url, "--name", "hook", env=env).returncode == 0
        for rule in ("deploy-errors", "sentry-new-issue", "connection-failing"):
            run_cli("alerts", "set", rule, "enabled=false", env=env)
        assert run_cli("views", "refresh", "vercel", env=env).returncode == 0
        receiver.clear()
        produced = produce(sb, "vercel", "production_deploy_failed")
        out = run_cli("views", "refresh", "vercel", env=env)
        assert out.returncode == 0, out.stderr
        assert wait_for(lambda: len(receiver.messages) == 1, 5)  # sent before the command exited
        assert produced["deployment"] in receiver.messages[0]["message"]
        opened = _json(run_cli("alerts", "history", "--json", env=env))["open"]
        assert any(i["rule"] == "deploy-failed" for i in opened)
        # the one screen of `devtrack status` says so too, for people and for scripts
        status = run_cli("status", env=env)
        assert status.returncode == 0 and f"Open incidents ({len(opened)})" in status.stdout, status.stdout
        assert all(i["title"][:40] in status.stdout for i in opened)
        listed = _json(run_cli("status", "--json", env=env))["open_incidents"]
        assert [i["id"] for i in listed] == [i["id"] for i in opened] and all(i["open"] for i in listed)
    finally:
        receiver.close()
