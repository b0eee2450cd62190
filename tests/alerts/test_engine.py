"""The engine's contract beyond one rule: failures counted before an alert, listeners told of
every incident, a rule switched off closing its incidents quietly."""

from __future__ import annotations

from typing import Any

import httpx

from devtrack.alerts import add_listener, manage, remove_listener
from devtrack.alerts.events import IncidentEvent

from .conftest import Harness, only_rule
from .receivers import JsonReceiver
from .test_rules_end_to_end import produce, undo


def test_other_failures_alert_after_n_in_a_row(sb: Any, harness: Harness, json_receiver: JsonReceiver) -> None:
    store = harness.manager.store
    only_rule(store, "connection-failing", failures="2")
    manage.add_channel(store, json_receiver.url, "hook")
    harness.refresh(["vercel"])
    httpx.post(sb.url("vercel") + "/__sandbox/faults", json={"route": "/**", "malformed": True}).raise_for_status()
    harness.refresh(["vercel"])
    assert json_receiver.messages == []  # one failure is not yet an alert
    harness.refresh(["vercel"])
    assert json_receiver.titles() == ["[DevTrack] started: Vercel is failing (invalid_response)"]
    assert "failed 2 refresh(es) in a row" in json_receiver.messages[0]["message"]
    httpx.delete(sb.url("vercel") + "/__sandbox/faults").raise_for_status()
    harness.refresh(["vercel"])
    assert [t.split(":")[0] for t in json_receiver.titles()] == ["[DevTrack] started", "[DevTrack] resolved"]


def test_listeners_hear_started_and_resolved(sb: Any, harness: Harness) -> None:
    heard: list[IncidentEvent] = []
    add_listener(heard.append)
    try:
        only_rule(harness.manager.store, "upstash-inactive")
        harness.refresh(["upstash"])
        heard.clear()
        produced = produce(sb, "upstash", "database_inactive")
        harness.refresh(["upstash"])
        undo(sb, "upstash", "database_inactive")
        harness.refresh(["upstash"])
    finally:
        remove_listener(heard.append)
    assert [(e.kind, e.rule, e.connection, e.subject) for e in heard] == [
        ("started", "upstash-inactive", "upstash", produced["database"]),
        ("resolved", "upstash-inactive", "upstash", produced["database"])]
    assert heard[0].incident_id == heard[1].incident_id and heard[0].to_json()["kind"] == "started"


def test_a_rule_switched_off_closes_its_incidents_quietly(sb: Any, harness: Harness,
                                                          json_receiver: JsonReceiver) -> None:
    store = harness.manager.store
    only_rule(store, "supabase-unhealthy")
    harness.refresh(["supabase"])
    manage.add_channel(store, json_receiver.url, "hook")
    assert any(i["rule"] == "supabase-unhealthy" for i in manage.overview(harness.store)["open"])
    manage.set_rule(store, "supabase-unhealthy", {"enabled": "false"})
    harness.refresh(["supabase"])
    assert manage.overview(harness.store)["open"] == []
    assert json_receiver.messages == []


def test_a_broken_alerts_section_never_stops_refreshing_and_is_not_overwritten(
        sb: Any, sandbox_manager: Any, tmp_path: Any, caplog: Any) -> None:
    import json

    path = sandbox_manager.store.path
    doc = json.loads(path.read_text())
    doc["alerts"] = {"channels": {"x": {"url": 7}}}
    path.write_text(json.dumps(doc))
    before = path.read_bytes()
    h = Harness(path, f"sqlite:///{tmp_path / 'snapshots.db'}")
    try:
        states = h.refresh(["upstash"])
    finally:
        h.close()
    assert [s.error for s in states] == [None]
    assert path.read_bytes() == before
    assert "alerts.channels.x must be an object with a string url" in caplog.text


def test_old_history_and_resolved_incidents_are_pruned(store_url: str) -> None:
    import time
    from datetime import timedelta

    from devtrack.alerts.incidents import KEEP_DAYS, Incidents
    from devtrack.integrations.contract import utcnow
    from devtrack.views.store import open_store

    store = open_store(store_url)
    try:
        incidents = Incidents(store)
        old = utcnow() - timedelta(days=KEEP_DAYS + 1)
        gone = incidents.start("ai-budget", "helicone", "2026-01-01", "t", "m", {}, old, False)
        kept = incidents.start("ai-budget", "helicone", "2026-01-02", "t", "m", {}, old, False)
        assert gone and kept
        incidents.resolve(gone.id, "done", old)
        incidents.record("test", "sent", "old", when=time.time() - (KEEP_DAYS + 1) * 86400)
        incidents.record("test", "sent", "new")
        incidents.prune()
        assert [i.id for i in incidents.recent()] == [kept.id]  # still open: kept however old
        assert [d["title"] for d in incidents.history()] == ["new"]
    finally:
        store.close()


def test_serves_coordinator_runs_the_rules(sb: Any, sandbox_manager: Any, tmp_path: Any,
                                           monkeypatch: Any, json_receiver: JsonReceiver) -> None:
    from .. import webauth

    monkeypatch.setenv("DEVTRACK_STORE_URL", f"sqlite:///{tmp_path / 'snapshots.db'}")
    only_rule(sandbox_manager.store, "upstash-inactive")
    manage.add_channel(sandbox_manager.store, json_receiver.url, "hook")
    app = webauth.app(sandbox_manager)
    runtime = app.state.views
    runtime.start(intervals={"upstash": 600}, tick=0.1)  # as devtrack serve starts it
    try:
        runtime.refresher.refresh(["upstash"], timeout=60)
        assert runtime.alerts.dispatcher.drain(10)  # the seeded data's own incidents
        json_receiver.clear()
        produced = produce(sb, "upstash", "database_inactive")
        # A manual refresh joins a fetch already in flight: the serve loop's own first round can
        # still be reading Upstash from before the event on a busy machine. Refresh until a fetch
        # that started after it has run; the incident must still send exactly one message.
        for _ in range(3):
            runtime.refresher.refresh(["upstash"], timeout=60)
            assert runtime.alerts.dispatcher.drain(10)
            if json_receiver.messages:
                break
        assert len(json_receiver.messages) == 1 and produced["database"] in json_receiver.messages[0]["message"]
    finally:
        runtime.stop()


def test_a_removed_connections_incidents_are_closed_quietly(harness: Harness) -> None:
    from devtrack.integrations.contract import utcnow

    gone = harness.engine.incidents.start("deploy-failed", "vercel:gone", "web", "t", "m", {}, utcnow(), False)
    assert gone is not None
    only_rule(harness.manager.store, "upstash-inactive")
    harness.refresh(["upstash"])
    closed = harness.engine.incidents.get(gone.id)
    assert closed is not None and not closed.open and closed.resolution == "the connection was removed"
