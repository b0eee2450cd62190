"""The sandbox's events API (``/__sandbox/events``): list, produce, undo, refuse, reset."""

from __future__ import annotations

from typing import Any

import httpx


def test_list_produce_undo_and_refuse(sb: Any) -> None:
    base = sb.url("upstash") + "/__sandbox/events"
    listed = httpx.get(base).json()
    assert listed["service"] == "upstash" and "database_inactive" in listed["events"] and listed["active"] == {}
    made = httpx.post(base, json={"event": "database_inactive"})
    assert made.status_code == 201
    db = made.json()["produced"]["database"]
    emu = sb.emulator("upstash")
    assert next(d for d in emu.databases if d["database_id"] == db)["state"] == "suspended"
    assert db == httpx.get(base).json()["active"]["database_inactive"]["database"]
    assert httpx.delete(base + "/database_inactive").json() == {"event": "database_inactive", "undone": True}
    assert next(d for d in emu.databases if d["database_id"] == db)["state"] == "active"
    assert httpx.delete(base + "/database_inactive").json()["undone"] is False  # nothing to undo
    assert httpx.post(base, json={"event": "nope"}).status_code == 400
    assert "no event 'nope'" in httpx.post(base, json={"event": "nope"}).json()["error"]
    assert httpx.post(base, json=["database_inactive"]).status_code == 400
    assert httpx.delete(base + "/nope").status_code == 404


def test_a_reset_undoes_every_event_and_removes_what_they_added(sb: Any) -> None:
    vercel, sentry = sb.emulator("vercel"), sb.emulator("sentry")
    deployments, issues = len(vercel.deployments), len(sentry.issues)
    httpx.post(sb.url("vercel") + "/__sandbox/events", json={"event": "production_deploy_failed"}).raise_for_status()
    httpx.delete(sb.url("vercel") + "/__sandbox/events/production_deploy_failed").raise_for_status()
    assert len(vercel.deployments) == deployments + 2  # the failed one and its recovery
    httpx.post(sb.url("sentry") + "/__sandbox/events", json={"event": "issue_burst", "count": 5}).raise_for_status()
    assert len(sentry.issues) == issues + 5
    assert httpx.post(sb.url("sentry") + "/__sandbox/reset").status_code == 200
    httpx.post(sb.url("vercel") + "/__sandbox/reset").raise_for_status()
    assert len(vercel.deployments) == deployments and len(sentry.issues) == issues
    assert sentry.active_events == {} and vercel.active_events == {}
