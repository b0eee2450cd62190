"""The snapshot store on PostgreSQL against SQLite, and the dashboard served from PostgreSQL.

The bench starts its own throwaway PostgreSQL (tests/pgserver.py, as the suite does: loopback,
fsync off) and fills both databases with the same data: every sandbox plugin's real fetch
(8 connections), then 7 days of refreshes every 15 minutes with metrics changing hourly.

1. Store write (``save``) and reads (``latest_all``; one metric's 7-day ``history``) on
   PostgreSQL as ratios to SQLite; target ≤ 3× each (a local server round trip per statement
   against an in-process library call).
2. GET / (the dashboard) from a real uvicorn server (devtrack.web.server.ServerThread) over
   loopback with httpx, the app reading the PostgreSQL store (no coordinator running, so every
   page reads the store): median and p95 of 60 requests, target under 100 ms.

CPU columns include the PostgreSQL server's processes (the postmaster and its backends).
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from common import Span, Timing, combine, median_seconds, report

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/pgserver.py: the same throwaway server the suite uses

from tests.pgserver import PgServer  # noqa: E402

DAYS = 7
EVERY_MIN = 15
TARGET_RATIO = 3.0
PAGE_TARGET_S = 0.100


def server_pids(pg: PgServer) -> list[int]:
    """The postmaster and its children (backends, writers) right now."""
    root = pg.pid()
    pids = [root]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == root:
                pids.append(int(entry.name))
    return pids


def main() -> None:
    from devtrack.credentials import CredentialStore
    from devtrack.integrations.contract import utcnow
    from devtrack.integrations.manager import IntegrationManager
    from devtrack.sandbox import Sandbox
    from devtrack.views.store import open_store
    from devtrack.web import create_app
    from devtrack.web.server import ServerThread

    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    with PgServer() as pg, Sandbox(seed=7) as sb:
        pg_url = pg.create_database("bench")
        creds = sb.write_credentials(tmp / "credentials.json")
        os.environ.update(sb.env() | {"DEVTRACK_CREDENTIALS": str(creds), "DEVTRACK_STORE_URL": pg_url})
        manager = IntegrationManager(CredentialStore(creds), environ=dict(os.environ))
        token = secrets.token_urlsafe(32)
        app = create_app(manager, access_token=token)
        runtime = app.state.views
        runtime.start(intervals={i: 3600.0 for i in manager.ids()}, tick=0.2)
        states = runtime.refresher.refresh(timeout=120)
        runtime.stop()  # from here every page reads the PostgreSQL store itself
        failed = [s.id for s in states if s.error is not None]
        pg_store = runtime.store
        good = {pid: s.data for pid, s in pg_store.latest_all(good=True).items() if s.data is not None}
        lite = open_store(f"sqlite:///{tmp / 'snapshots.db'}")
        end = utcnow()
        pids = server_pids(pg)

        # ------------------------------------------------ writes: 7 days into each, timed a day at a time
        def timed_fill(store: Any) -> tuple[Timing, int]:
            slices: list[Timing] = []
            count = 0
            start = end - timedelta(days=DAYS)
            for day in range(DAYS):
                day_end = start + timedelta(days=day + 1)
                with Span(pids if store is pg_store else ()) as span:
                    count += fill_range(store, good, start + timedelta(days=day), day_end)
                slices.append(span.timing)
            return combine(slices), count

        lite_fill, n = timed_fill(lite)
        pg_fill, _ = timed_fill(pg_store)
        per = n / DAYS
        report("store: save on PostgreSQL / SQLite (median of 7 days' refreshes)", pg_fill, lite_fill, TARGET_RATIO,
               note=f"{per:.0f} saves a day; {pg_fill.active / per * 1000:.2f} ms a save on PostgreSQL, "
                    f"{lite_fill.active / per * 1000:.2f} ms on SQLite")

        # ------------------------------------------------ reads
        since = end - timedelta(days=DAYS)
        for name, read in (("latest_all", lambda s: s.latest_all(good=True)),
                           ("7-day history of one metric", lambda s: s.history("sentry", "issues", since))):
            on_lite = median_seconds(lambda: read(lite), runs=15)
            on_pg = median_seconds(lambda: read(pg_store), runs=15, pids=pids)
            report(f"store: {name} on PostgreSQL / SQLite", on_pg, on_lite, TARGET_RATIO,
                   note=f"{on_pg.active * 1000:.2f} ms on PostgreSQL, {on_lite.active * 1000:.2f} ms on SQLite; "
                        f"{pg_store.stats()['snapshots']} snapshots")

        # ------------------------------------------------ the dashboard from PostgreSQL
        with ServerThread(app) as srv, httpx.Client(base_url=srv.url,
                                                    headers={"Authorization": f"Bearer {token}"}) as http:
            def page() -> None:
                r = http.get("/")
                r.raise_for_status()

            served = median_seconds(page, runs=60, warmup=5, pids=pids)
        p95 = statistics.quantiles(served.samples, n=20)[18]
        note = (f"real uvicorn on loopback, httpx; {len(good)} connections, "
                f"{pg_store.stats()['snapshots']} snapshots; p95 {p95 * 1000:.1f} ms"
                + (f"; failed first refresh: {failed}" if failed else ""))
        report("store: dashboard GET / from PostgreSQL, median / 100 ms", served, PAGE_TARGET_S, 1.0, note=note)
        report("store: dashboard GET / from PostgreSQL, p95 / 100 ms", p95, PAGE_TARGET_S, 1.0, cost=served,
               note=f"{served.active * 1000:.1f} ms median")
        lite.close()
        pg_store.close()


def fill_range(store: Any, good: dict[str, Any], start: Any, end: Any) -> int:
    """Refreshes every 15 minutes from ``start`` (inclusive) to ``end`` (exclusive)."""
    t = start
    saves = 0
    while t < end:
        hour = int(t.timestamp() // 3600)
        for data in good.values():
            metrics = data.health.metrics | {"issues": hour % 40, "sim_hour": hour}
            store.save(data.model_copy(update={"fetched_at": t, "health": data.health.model_copy(
                update={"metrics": metrics})}))
            saves += 1
        t += timedelta(minutes=EVERY_MIN)
    return saves


if __name__ == "__main__":
    main()
