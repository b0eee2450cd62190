"""The lease table on both databases: one holder per key until its lease lapses or is released,
one in-flight claim per key, versions that tell the others to reload; then two coordinators on
one store against the sandbox: one fetch per connection, the same data on both."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtrack.sandbox import Sandbox
from devtrack.views.coordinator import Coordinator
from devtrack.views.leases import Instance, Leases
from devtrack.views.store import SnapshotStore, open_store

from .conftest import until


@pytest.fixture
def store(store_url: str) -> Iterator[SnapshotStore]:
    s = open_store(store_url)
    yield s
    s.close()


def two(store: SnapshotStore) -> tuple[Leases, Leases]:
    return Leases(store, Instance("a" * 12, "host-a:1")), Leases(store, Instance("b" * 12, "host-b:2"))


def test_one_holder_until_the_lease_lapses_then_another_takes_it(store: SnapshotStore) -> None:
    a, b = two(store)
    rows = a.acquire({"vercel": 0.6, "sentry": 60})
    assert {k: (r.holder, r.holder_name, r.held) for k, r in rows.items()} == {
        "vercel": (a.me, "host-a:1", True), "sentry": (a.me, "host-a:1", True)}
    rows = b.acquire({"vercel": 0.6, "sentry": 60})
    assert {k: r.holder for k, r in rows.items()} == {"vercel": a.me, "sentry": a.me}
    # a renews within the ttl and keeps it; once a stops renewing, b gets vercel but not sentry
    time.sleep(0.3)
    a.acquire({"vercel": 0.6, "sentry": 60})
    time.sleep(0.4)
    assert b.acquire({"vercel": 0.6, "sentry": 60})["vercel"].holder == a.me
    assert until(lambda: b.acquire({"vercel": 0.6, "sentry": 60})["vercel"].holder == b.me, 5)
    rows = a.acquire({"vercel": 0.6, "sentry": 60})
    assert (rows["vercel"].holder, rows["sentry"].holder) == (b.me, a.me)


def test_release_hands_every_lease_over_at_once(store: SnapshotStore) -> None:
    a, b = two(store)
    a.acquire({"vercel": 60, "sentry": 60})
    assert a.claim("vercel", 60)[0]
    a.release()
    rows = b.acquire({"vercel": 60, "sentry": 60})
    assert {k: r.holder for k, r in rows.items()} == {"vercel": b.me, "sentry": b.me}
    assert rows["vercel"].fetching is None and b.claim("vercel", 60)[0]


def test_one_claim_per_key_and_finish_bumps_the_version(store: SnapshotStore) -> None:
    a, b = two(store)
    won, row = a.claim("vercel", 60)  # no lease row yet: a claim makes one
    assert won and row.fetching == a.me and row.version == 0
    won, row = b.claim("vercel", 60)
    assert not won and row.fetching == a.me
    assert a.claim("vercel", 60)[0]  # its own claim again: still its own
    assert a.finish("vercel") == 1
    assert b.read("vercel")["vercel"].fetching is None
    # a scheduled claim yields to a fetch that finished since the version it saw
    won, row = b.claim("vercel", 60, version=0)
    assert not won and row.fetching is None and row.version == 1
    assert b.claim("vercel", 60, version=1)[0]
    assert b.finish("vercel") == 2
    # finishing after the claim was taken over still bumps the version, keeps the other's claim
    assert a.claim("sentry", 0.3)[0]
    assert until(lambda: b.claim("sentry", 60)[0], 5)
    assert a.finish("sentry") == 1 and b.read("sentry")["sentry"].fetching == b.me


def test_claims_of_the_holder_are_renewed_with_its_lease(store: SnapshotStore) -> None:
    a, b = two(store)
    assert a.claim("vercel", 0.6)[0]
    for _ in range(4):
        time.sleep(0.3)
        a.acquire({"vercel": 0.6})
        assert not b.claim("vercel", 0.6)[0]
    assert until(lambda: b.claim("vercel", 0.6)[0], 5)


def test_concurrent_claims_from_threads_one_wins(store: SnapshotStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    leases = [Leases(store, Instance(f"{i:012d}", f"h:{i}")) for i in range(6)]
    for round_ in range(5):
        key = f"k{round_}"
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda ls: ls.claim(key, 60)[0], leases))
        assert results.count(True) == 1, results
        with ThreadPoolExecutor(6) as pool:
            held = list(pool.map(lambda ls: ls.acquire({key: 60})[key].holder, leases))
        assert len(set(held)) == 1


# ---------------------------------------------------------------------- two coordinators


def requests(sb: Sandbox, *services: str) -> int:
    return sum(len(sb.emulator(s).requests) for s in services)


async def test_two_coordinators_one_store_one_fetch_same_data(
        sb: Sandbox, sandbox_manager: Any, store_url: str) -> None:
    stores = [open_store(store_url), open_store(store_url)]
    coords = [Coordinator(sandbox_manager, s, leases=Leases(s), intervals={"sentry": 600, "vercel": 600},
                          tick=0.2, quiet=True) for s in stores]
    a, b = coords
    try:
        assert a.team is not None and b.team is not None
        sb.reset()
        alone = requests(sb, "sentry")
        await asyncio.gather(a.refresh("sentry"), b.refresh("sentry"))
        once = requests(sb, "sentry") - alone
        assert once > 0
        assert a.good["sentry"].model_dump(exclude={"fetched_at"}) == b.good["sentry"].model_dump(exclude={"fetched_at"})
        assert a.good["sentry"].fetched_at == b.good["sentry"].fetched_at

        # both tick: one holds each connection, the other fetches nothing on schedule
        ids = ["sentry", "vercel"]
        before = requests(sb, "sentry", "vercel")
        held = [await c.team.tick(ids) for c in coords]  # type: ignore[union-attr]
        assert held[0] | held[1] == set(ids) and not held[0] & held[1]
        holder = a if "vercel" in held[0] else b
        follower = b if holder is a else a
        await holder.refresh("vercel")
        fetched = requests(sb, "sentry", "vercel") - before
        await follower.team.tick(ids)  # type: ignore[union-attr]
        assert follower.good["vercel"].fetched_at == holder.good["vercel"].fetched_at
        assert follower.states["vercel"].last_success == holder.states["vercel"].last_success
        # the follower's manual refresh while nothing runs: it fetches, once, and the holder reloads
        await follower.refresh("vercel")
        assert requests(sb, "sentry", "vercel") - before == 2 * fetched
        await holder.team.tick(ids)  # type: ignore[union-attr]
        assert holder.good["vercel"].fetched_at == follower.good["vercel"].fetched_at
        assert holder.states["vercel"].next_due == follower.states["vercel"].next_due
    finally:
        for c, s in zip(coords, stores):
            c.close()
            s.close()


async def test_a_scheduled_fetch_that_yields_to_another_instance_keeps_polling(
        sb: Sandbox, sandbox_manager: Any, store_url: str) -> None:
    """The holder's scheduled fetch finds that another instance fetched meanwhile: it takes that
    fetch's result instead of fetching, and it still fetches on its next turn."""
    stores = [open_store(store_url), open_store(store_url)]
    holder, other = (Coordinator(sandbox_manager, s, leases=Leases(s), tick=0.2, quiet=True) for s in stores)

    def sentry_snapshots() -> int:
        return len(stores[0].query("SELECT id FROM snapshots WHERE plugin = 'sentry'"))

    async def settle(task_of: Coordinator) -> None:
        for _ in range(200):
            if "sentry" not in task_of._inflight:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the scheduled fetch did not end")

    try:
        assert holder.team is not None and other.team is not None
        assert await holder.team.tick(["sentry"]) == {"sentry"}
        await other.refresh("sentry")  # a manual refresh elsewhere, which the holder has not seen
        before = sentry_snapshots()
        # the holder's tick started its scheduled fetch before it could see that one (as tick does)
        holder._inflight["sentry"] = asyncio.ensure_future(holder._fetch("sentry", scheduled=True))
        await settle(holder)
        assert sentry_snapshots() == before  # it yielded: no second fetch
        assert holder.good["sentry"].fetched_at == other.good["sentry"].fetched_at
        # its next turn, having seen that fetch: now it fetches itself
        holder._inflight["sentry"] = asyncio.ensure_future(holder._fetch("sentry", scheduled=True))
        await settle(holder)
        assert sentry_snapshots() == before + 1
    finally:
        for c, s in zip((holder, other), stores):
            c.close()
            s.close()


async def test_a_credentials_change_is_fetched_at_once_even_when_a_reload_replaces_the_state(
        sb: Sandbox, sandbox_manager: Any, store_url: str) -> None:
    """The tick reloads a connection whose version moved (another fetch ended) and so replaces
    its state with the stored one, due in ten minutes; a credentials change seen in the same
    tick must still make it due now (it was lost once, and a connection with a fixed token
    waited a whole interval)."""
    store = open_store(store_url)
    coord = Coordinator(sandbox_manager, store, leases=Leases(store), intervals={"vercel": 600}, tick=0.2, quiet=True)
    try:
        assert coord.team is not None
        await coord.refresh("vercel")  # stored: next due in 600 s
        assert "vercel" in await coord.team.tick(["vercel"])  # this instance holds it
        Leases(store, Instance("c" * 12, "host-c:3")).finish("vercel")  # a fetch elsewhere ended
        coord._on_saved("vercel")  # the credentials changed
        assert "vercel" in await coord.tick()
    finally:
        coord.close()
        store.close()
