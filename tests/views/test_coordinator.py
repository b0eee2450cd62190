"""The refresh coordinator against the sandbox: last good data, stale marker, logging once,
backoff, Retry-After, and the auth failure that stops polling."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest

from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox
from devtrack.views.coordinator import Coordinator
from devtrack.views.keys import Keys
from devtrack.views.store import SqliteStore

from .conftest import CONNECTIONS, PLUGINS


async def test_refresh_all_stores_every_plugin(manager: IntegrationManager, store: SqliteStore) -> None:
    coord = Coordinator(manager, store)
    states = await coord.refresh_many()
    assert [s.id for s in states] == CONNECTIONS
    assert {s.id: s.error for s in states} == {p: None for p in CONNECTIONS}
    assert {Keys(manager).cid(k) for k in store.latest_all(good=True)} == set(CONNECTIONS)
    github = coord.good["github"]
    assert [c.subject for c in github.records.commits][:3] == ["views commit 2", "views commit 1", "views commit 0"]
    assert github.records.pull_requests and github.health.metrics["dirty_files"] == 1
    # a second coordinator (a restarted server) starts from the stored data
    again = Coordinator(manager, store)
    assert set(again.good) == set(CONNECTIONS) and again.states["vercel"].last_success is not None
    coord.close()
    again.close()


async def test_failure_keeps_last_good_logs_once_and_recovery_once(
        manager: IntegrationManager, store: SqliteStore, sb: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    coord = Coordinator(manager, store)
    await coord.refresh("sentry")
    good = coord.good["sentry"]
    assert good.records.errors
    sb.faults("sentry").add(route="**", status=500)
    caplog.set_level(logging.INFO, logger="devtrack.views.coordinator")
    for _ in range(3):
        st = await coord.refresh("sentry")
    assert st.failures == 3 and st.error is not None and st.error.kind in ("unavailable", "error")
    current = {c.id: c for c in coord.current()}["sentry"]
    assert current.data is good and current.stale() and current.error is not None
    failed = [r for r in caplog.records if "sentry refresh failed" in r.getMessage()]
    assert len(failed) == 1
    sb.faults("sentry").clear()
    await coord.refresh("sentry")
    await coord.refresh("sentry")
    recovered = [r for r in caplog.records if "sentry recovered" in r.getMessage()]
    assert len(recovered) == 1 and "after 3 failed" in recovered[0].getMessage()
    current = {c.id: c for c in coord.current()}["sentry"]
    assert current.error is None and not current.stale()
    coord.close()


async def test_backoff_doubles_and_caps(manager: IntegrationManager, store: SqliteStore, sb: Sandbox) -> None:
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    coord = Coordinator(manager, store, intervals={"upstash": 10}, max_backoff=35, clock=lambda: now)
    sb.faults("upstash").add(route="**", status=503)
    gaps = []
    for _ in range(4):
        st = await coord.refresh("upstash")
        assert st.next_due is not None
        gaps.append((st.next_due - now).total_seconds())
    assert gaps == [10, 20, 35, 35]
    coord.close()


async def test_rate_limit_retry_after_is_respected(manager: IntegrationManager, store: SqliteStore,
                                                   sb: Sandbox) -> None:
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    coord = Coordinator(manager, store, intervals={"vercel": 5}, clock=lambda: now)
    sb.faults("vercel").add(route="**", status=429, retry_after=600)
    st = await coord.refresh("vercel")
    assert st.error is not None and st.error.kind == "rate_limited"
    assert st.next_due is not None and st.next_due - now >= timedelta(seconds=600)
    coord.close()


async def test_auth_failure_stops_polling_until_credentials_change(
        manager: IntegrationManager, store: SqliteStore, sb: Sandbox) -> None:
    good_token = sb.credentials()["vercel"]["token"]
    emulator = sb.emulator("vercel")
    # Only the failing account may talk to the emulator: the personal one shares its token.
    manager.remove_connection("vercel:personal")
    coord = Coordinator(manager, store, intervals={p: 0.5 for p in PLUGINS} | {"vercel": 1}, tick=0.1)
    stop = asyncio.Event()
    runner = asyncio.create_task(coord.run(stop))
    try:
        await _until(lambda: "vercel" in coord.good, 30)
        await asyncio.to_thread(manager.set_credentials, "vercel", {"token": "wrong" + good_token[5:]})
        await _until(lambda: coord.states["vercel"].needs_attention, 15)
        st = coord.states["vercel"]
        assert st.error is not None and st.error.kind == "auth" and st.next_due is None
        count = emulator.requests.count()
        await asyncio.sleep(3.5)  # > 3 intervals: nothing may reach Vercel meanwhile
        assert emulator.requests.count() == count
        assert {c.id: c for c in coord.current()}["vercel"].status() == "needs_attention"
        assert store.states()["vercel"].needs_attention  # what devtrack status shows
        await asyncio.to_thread(manager.set_credentials, "vercel", {"token": good_token})
        await _until(lambda: coord.states["vercel"].error is None, 20)
        assert not coord.states["vercel"].needs_attention and emulator.requests.count() > count
    finally:
        stop.set()
        await runner
        coord.close()


async def test_credentials_changed_by_another_process_resume_polling(
        manager: IntegrationManager, store: SqliteStore, sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """No save hook fires for a change made elsewhere: the fingerprint comparison sees it."""
    import devtrack.views.coordinator as module

    monkeypatch.setattr(module, "FINGERPRINT_EVERY", 0.2)
    coord = Coordinator(manager, store, intervals={"supabase": 1}, tick=0.1)
    sb.faults("supabase").add(route="**", status=401, times=1)
    st = await coord.refresh("supabase")
    assert st.needs_attention
    other = IntegrationManager(manager.store, environ=manager.environ)  # another process: no hook
    token = manager.stored_credentials("supabase")["access_token"]
    other.set_credentials("supabase", {"access_token": token + "x"})
    await coord.tick()
    assert not coord.states["supabase"].needs_attention
    # tick() started every due plugin's fetch in the background. Let them end on their own, each
    # within its deadline: one cancelled by the loop's teardown in the middle of a connect once
    # left that teardown waiting for ever (a full-suite run hung here).
    pending = [t for t in coord._inflight.values() if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=30)
    coord.close()


async def _until(cond: object, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
