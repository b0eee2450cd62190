"""Live dashboard (issue 17): the page stays fast with many connections and many open streams.

1. The dashboard page (``GET /``, over a real socket, the coordinator's memory as the source)
   with 20 connections of real sandbox data: median time against a budget of 100 ms (target ≤ 1).
2. The same page while 50 event streams (``GET /api/v1/events``, read by another process) are
   open and an event is published every 200 ms, as a ratio to the page time without them,
   measured before and after (target ≤ 1.05).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from common import combine, median_seconds, report

CONNECTIONS = 20
STREAMS = 50
BUDGET = 0.100
RUNS = 41

#: The other process: opens STREAMS event streams and reads them until told to stop.
READER = r"""
import asyncio, sys
import httpx

async def main(url, token, n):
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer " + token},
                                 timeout=None, limits=httpx.Limits(max_connections=n + 5)) as c:
        async def one():
            async with c.stream("GET", "/api/v1/events") as resp:
                async for _ in resp.aiter_lines():
                    pass
        tasks = [asyncio.create_task(one()) for _ in range(n)]
        print("open", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def main() -> None:
    from devtrack.credentials import CredentialStore
    from devtrack.integrations.manager import IntegrationManager
    from devtrack.sandbox import Sandbox
    from devtrack.web import create_app
    from devtrack.web.server import ServerThread

    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    with Sandbox(seed=7) as sb:
        creds = sb.write_credentials(tmp / "credentials.json")
        os.environ.update(sb.env() | {"DEVTRACK_CREDENTIALS": str(creds),
                                      "DEVTRACK_STORE_URL": f"sqlite:///{tmp / 'snapshots.db'}"})
        manager = IntegrationManager(CredentialStore(creds), environ=dict(os.environ))
        personal = sb.credentials()["vercel:personal"]
        for n in range(CONNECTIONS - len(manager.fetchable())):  # more Vercel accounts up to 20
            manager.set_credentials(f"vercel:extra-{n}", dict(personal))
        ids = manager.fetchable()
        assert len(ids) == CONNECTIONS, ids
        token = secrets.token_urlsafe(32)
        app = create_app(manager, access_token=token)
        runtime = app.state.views
        runtime.start(intervals={cid: 3600 for cid in ids})
        try:
            states = runtime.refresher.refresh(timeout=300)
            failed = [s.id for s in states if s.error is not None]
            with ServerThread(app) as srv, httpx.Client(base_url=srv.url, timeout=30,
                                                         headers={"Authorization": f"Bearer {token}"}) as c:
                def page() -> None:
                    r = c.get("/")
                    assert r.status_code == 200 and r.text.count('data-card="') == CONNECTIONS

                bus = app.state.events
                stop = threading.Event()

                def publish() -> None:  # a refresh's worth of events keeps the streams busy
                    while not stop.wait(0.2):
                        bus.publish("snapshot.stored", {"connection": "vercel", "fetched_at": "now"})

                threading.Thread(target=publish, daemon=True).start()
                before = median_seconds(page, runs=RUNS, warmup=3)
                reader = subprocess.Popen([sys.executable, "-c", READER, srv.url, token, str(STREAMS)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                assert reader.stdout is not None and reader.stdin is not None
                reader.stdout.readline()
                deadline = time.monotonic() + 30
                while bus.subscribers < STREAMS and time.monotonic() < deadline:
                    time.sleep(0.05)
                opened = bus.subscribers
                during = median_seconds(page, runs=RUNS, warmup=3)
                reader.stdin.write("\n")
                reader.stdin.flush()
                reader.wait(30)
                after = median_seconds(page, runs=RUNS, warmup=3)
                stop.set()
        finally:
            runtime.stop()
    note = f"{CONNECTIONS} connections" + (f"; refresh failed for {failed}" if failed else "")
    report("dashboard page, 20 connections (vs a 100 ms budget)", before, BUDGET, 1.0, note=note)
    base = combine([before, after])  # the page with no streams, measured before and after them
    report("dashboard page with 50 open event streams (vs none)", during, base, 1.05,
           note=f"{opened} streams open; {float(during) * 1000:.1f} ms vs {float(base) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
