"""Team mode end to end: real ``devtrack serve`` processes sharing one PostgreSQL store, the
sandbox's emulators counting what they are asked.

Three instances poll the vendors as often as one does; every instance shows the same data;
the holder killed with SIGKILL is replaced within two intervals, one stopped cleanly at once;
a manual refresh sent to all three at once is one fetch; an incident is one message; an event
of one instance reaches the others' live streams."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.alerts.conftest import only_rule
from tests.alerts.receivers import JsonReceiver

from .conftest import Member, Stream, Team, until

pytestmark = pytest.mark.slow

FAST = ("vercel", "sentry")
INTERVAL = 2.0
#: Seconds each polling run is measured for (five intervals).
WINDOW = 10.0


def settled(team: Team, keys: tuple[str, ...] = FAST, count: int = 1) -> None:
    """Wait until every key has ``count`` snapshots more than now."""
    base = {k: len(team.snapshots(k)) for k in keys}
    assert until(lambda: all(len(team.snapshots(k)) >= base[k] + count for k in keys), 90), team.diagnose(keys)


def measure(team: Team) -> int:
    """Vendor requests of the fast connections in one window (they poll every INTERVAL)."""
    start = time.time()
    time.sleep(WINDOW)  # the measured window itself: what polling does in that time
    return team.requests(FAST, start, start + WINDOW)


def cards(member: Member) -> dict[str, Any]:
    view = member.get("/api/v1/views/dashboard")
    return {c["id"]: {k: c.get(k) for k in ("metrics", "records", "last_refresh", "status")} for c in view["cards"]}


def test_three_instances_poll_as_often_as_one_and_show_the_same_data(team_factory: Any) -> None:
    team = team_factory(vercel=INTERVAL, sentry=INTERVAL)
    [alone] = team.start(1)
    settled(team)
    one = measure(team)
    alone.stop()

    members = team.start(3)
    settled(team)
    three = measure(team)
    print(f"\nvendor requests of {FAST} in {WINDOW:g} s ({WINDOW / INTERVAL:g} intervals): "
          f"1 instance {one}, 3 instances {three}")
    assert one > 0
    assert three <= one * 1.4, (one, three)  # three instances polling each would make ~3x
    assert three >= one * 0.6, (one, three)  # and someone still polls

    # each connection is polled by one instance, and all three say which the same way
    pollers = until(lambda: (lambda seen: seen if len({str(sorted(p.items())) for p in seen}) == 1 else None)(
        [m.get("/api/v1/views")["pollers"] for m in members]), 30)
    assert pollers, [m.get("/api/v1/views")["pollers"] for m in members]
    assert {pollers[0][c] for c in ("vercel", "sentry", "supabase")} <= {m.name for m in members}
    # the same data on every instance's pages (the followers' memory follows the store)
    same = until(lambda: (lambda seen: seen if all(s == seen[0] for s in seen) else None)(
        [cards(m) for m in members]), 30, every=0.05)
    assert same and {"vercel", "sentry", "supabase"} <= set(same[0]), [cards(m) for m in members]


def test_a_killed_holder_is_replaced_within_two_intervals_a_stopped_one_at_once(team_factory: Any) -> None:
    interval = 3.0
    team = team_factory(vercel=interval, sentry=interval)
    team.start(3)
    settled(team, count=2)

    victim = team.member(team.holder("vercel"))
    victim.kill()  # SIGKILL: no clean release
    killed_at = time.time()
    after = until(lambda: [t for t in team.snapshots("vercel") if t > killed_at], 60)
    assert after, "nobody fetched vercel after its holder was killed"
    handover = after[0] - killed_at
    print(f"\nSIGKILL of the holder: the next fetch of vercel {handover:.2f} s later (interval {interval:g} s)")
    assert handover <= 2 * interval
    assert team.holder("vercel") not in (None, victim.id)
    settled(team, ("vercel",), count=2)  # and it goes on

    holder = team.member(team.holder("sentry"))
    holder.stop()  # SIGTERM: its leases are released on the way out
    stopped_at = time.time()
    taken = until(lambda: team.holder("sentry") not in (None, holder.id), 30, every=0.05)
    took = time.time() - stopped_at
    print(f"clean stop of the holder: sentry's lease taken over {took:.2f} s later")
    assert taken and took <= interval
    settled(team, ("sentry",), count=2)


def test_refresh_on_three_is_one_fetch_an_incident_one_message_events_cross(
        team_factory: Any, sb: Any) -> None:
    from devtrack.alerts import manage
    from devtrack.credentials import CredentialStore

    team = team_factory(vercel=INTERVAL, sentry=INTERVAL)
    receiver = JsonReceiver()
    try:
        creds = CredentialStore(team.credentials)
        manage.add_channel(creds, receiver.url, "hook")
        only_rule(creds, "deploy-failed")
        members = team.start(3)
        settled(team, count=2)
        # starting together, the three fetched supabase (an hour's interval) once between them
        assert len(team.snapshots("supabase")) == 1
        streams = [Stream(m) for m in members]

        # one instance's refresh of supabase reaches the others' live streams
        a, b, c = members
        assert a.post("/api/v1/views/refresh?plugin=supabase").status_code == 202
        for s in (b, c):
            stream = streams[members.index(s)]
            assert until(lambda st=stream: st.of("snapshot.stored", "supabase"), 30), stream.events[-5:]
            assert stream.of("refresh.started", "supabase") and stream.of("refresh.finished", "supabase")
        assert until(lambda: len(team.snapshots("supabase")) == 2, 30)

        # the same refresh sent to all three at once: one fetch (supabase answers slowly, so the
        # three requests surely meet one fetch in flight)
        sb.faults("supabase").add(route="**", latency=1.0)
        start = time.time()
        with ThreadPoolExecutor(3) as pool:
            codes = list(pool.map(lambda m: m.post("/api/v1/views/refresh?plugin=supabase").status_code, members))
        assert codes == [202, 202, 202]
        assert until(lambda: len(team.snapshots("supabase")) >= 3, 60)
        time.sleep(3)  # room for a second, wrong fetch to show up
        sb.faults("supabase").clear()
        assert len(team.snapshots("supabase")) == 3
        per_fetch = team.requests(("supabase",), 0, start) / 2  # the two fetches before
        assert team.requests(("supabase",), start) == per_fetch, (per_fetch, team.requests(("supabase",), start))

        # an incident: exactly one message, though three instances run the alerts and all
        # three are asked to refresh at once
        assert until(lambda: team.requests(("vercel",), time.time() - 1) >= 0)
        time.sleep(1)
        receiver.clear()
        r = httpx.post(sb.url("vercel") + "/__sandbox/events", json={"event": "production_deploy_failed"})
        assert r.status_code == 201, r.text
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda m: m.post("/api/v1/views/refresh?plugin=vercel"), members))
        assert until(lambda: receiver.titles(), 60), "no message arrived"
        settled(team, ("vercel",), count=3)  # three more polls of the failed deploy
        time.sleep(2)  # deliveries of the last refreshes
        titles = receiver.titles()
        assert len(titles) == 1 and titles[0].startswith("[DevTrack] started: "), titles
        for stream in streams:  # and each live stream heard it once
            assert until(lambda st=stream: st.of("alert.opened"), 30)
            assert len(stream.of("alert.opened")) == 1, stream.of("alert.opened")
    finally:
        receiver.close()
