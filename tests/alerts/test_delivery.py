"""Delivery: never on the refresh's time, retried with backoff, rate-limited per channel,
muted on request, every attempt in the history."""

from __future__ import annotations

import time
from typing import Any

from devtrack.alerts import manage

from ..timing import active_since
from .conftest import Harness, only_rule
from .receivers import BlackHole, JsonReceiver, wait_for
from .test_rules_end_to_end import produce, undo


def _timed_refresh(harness: Harness, ids: list[str]) -> float:
    started = time.perf_counter()
    harness.refresh(ids, drain=0)
    return active_since(started)


def _history(harness: Harness, channel: str) -> list[dict[str, Any]]:
    return [d for d in manage.overview(harness.store)["deliveries"] if d["channel"] == channel]


def test_a_receiver_that_is_down_does_not_slow_a_refresh_and_shows_in_history(
        sb: Any, harness: Harness, json_receiver: JsonReceiver) -> None:
    store = harness.manager.store
    only_rule(store, "deploy-failed")
    harness.refresh(["vercel"])

    produce(sb, "vercel", "production_deploy_failed")  # an incident with no channel at all
    without = _timed_refresh(harness, ["vercel"])
    undo(sb, "vercel", "production_deploy_failed")
    harness.refresh(["vercel"])

    hole = BlackHole()  # takes the connection, never answers: Apprise waits for its timeout
    try:
        manage.add_channel(store, hole.url, "down")
        manage.add_channel(store, json_receiver.url, "up")
        json_receiver.clear()
        produce(sb, "vercel", "production_deploy_failed")
        with_down = _timed_refresh(harness, ["vercel"])
        # The incident's refresh took no longer than one with nothing to send (measured with the
        # host's pauses left out); a delivery on the refresh's time would add Apprise's timeout.
        assert with_down < without + 1.5, (with_down, without)
        # The channel that works is not held up by the one that hangs.
        assert wait_for(lambda: any(t.startswith("[DevTrack] started") for t in json_receiver.titles()), 8)
        assert wait_for(lambda: any(d["status"] == "failed" for d in _history(harness, "down")), 30)
    finally:
        hole.close()
    failed = next(d for d in _history(harness, "down") if d["status"] == "failed")
    assert failed["kind"] == "started" and failed["attempt"] == 1 and "retrying in 2 s" in failed["detail"]
    assert manage.overview(harness.store)["pending"] >= 1  # still in the outbox, to be retried


def fail_once(sb: Any, harness: Harness, receiver: JsonReceiver) -> None:
    """An incident whose message to channel ``hook`` fails its first attempt (a retry waits)."""
    store = harness.manager.store
    only_rule(store, "upstash-inactive")
    harness.refresh(["upstash"])
    manage.add_channel(store, receiver.url, "hook")
    receiver.fail_next = 1
    produce(sb, "upstash", "database_inactive")
    harness.refresh(["upstash"], drain=0)


def test_a_failed_delivery_is_retried_with_backoff(sb: Any, harness: Harness, json_receiver: JsonReceiver) -> None:
    fail_once(sb, harness, json_receiver)
    # the attempt is written to the history just after the receiver has the message
    assert wait_for(lambda: len(json_receiver.messages) == 1 and len(_history(harness, "hook")) == 2, 20)
    statuses = [(d["status"], d["attempt"]) for d in reversed(_history(harness, "hook"))]
    assert statuses == [("failed", 1), ("sent", 2)]
    assert manage.overview(harness.store)["pending"] == 0


def test_the_rate_limit_holds_messages_back_without_losing_them(
        sb: Any, harness: Harness, json_receiver: JsonReceiver) -> None:
    store = harness.manager.store
    only_rule(store, "sentry-new-issue")
    harness.refresh(["sentry"])
    manage.add_channel(store, json_receiver.url, "hook")
    from devtrack.alerts import config

    config.update(store, lambda alerts: alerts.update(rate_limit={"messages": 1, "per_seconds": 3600}))
    produce(sb, "sentry", "issue_burst", count=3)
    harness.refresh(["sentry"])
    assert len(json_receiver.messages) == 1
    assert [d["status"] for d in _history(harness, "hook")].count("rate_limited") >= 2
    assert manage.overview(harness.store)["pending"] == 2  # held back, not dropped


def test_a_muted_connection_tracks_incidents_and_sends_nothing(
        sb: Any, harness: Harness, json_receiver: JsonReceiver) -> None:
    store = harness.manager.store
    only_rule(store, "supabase-unhealthy")
    harness.refresh(["supabase"])
    manage.add_channel(store, json_receiver.url, "hook")
    json_receiver.clear()
    manage.mute(harness.manager, harness.store, "supabase", "2h")
    produced = produce(sb, "supabase", "service_unhealthy")
    harness.refresh(["supabase"])
    assert json_receiver.messages == []
    view = manage.overview(harness.store)
    assert any(i["subject"] == produced["project"] and i["muted"] for i in view["open"])
    assert any(d["status"] == "muted" for d in view["deliveries"])
    manage.unmute(harness.manager, harness.store, "supabase")
    undo(sb, "supabase", "service_unhealthy")
    harness.refresh(["supabase"])
    assert json_receiver.titles() == [t for t in json_receiver.titles() if "resolved" in t]
