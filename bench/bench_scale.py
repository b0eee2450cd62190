"""How costs grow with the work: more connections, bigger accounts, longer history.

Four dimensions, three sizes each, against the sandbox's emulators in their own process over
real sockets (seeded with the ``--scale`` knobs):

- 1, 5 and 20 Vercel connections, fetched together (``data --all``), the store holding just
  those (until 2026-12-02 it held all 20 at every size, which hid that each fetch of a batch
  read and checked the whole file: n connections cost n² entries checked);
- Sentry with 100, 1,000 and 10,000 unresolved issues;
- Vercel with 100, 1,000 and 5,000 deployments;
- 7, 30 and 90 days of snapshots of those two services (saved hourly, retention applied).

For each size: the fetch's time (medians, freezes left out), its CPU time (this process and
the sandbox's: on a machine shared with other work, the steadier measure of what it costs),
and the peak of the memory it allocates (tracemalloc, a run of its own), or for history the store's size and the time of
what ``status`` reads. Each step prints its growth factor against the size factor, with the
verdict "at most linear" (ok) or "over target". At the largest size of every dimension,
``devtrack status`` (a fresh interpreter) must answer under 1 s and the dashboard (``GET /``
of the web app, served by a process of its own, reading the store) under 100 ms.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from common import Span, Timing, combine, median_seconds, report

RUNS = 3
CONNECTIONS = (1, 5, 20)
SENTRY_ISSUES = (100, 1_000, 10_000)
VERCEL_DEPLOYMENTS = (100, 1_000, 5_000)
DAYS = (7, 30, 90)


class Sandbox:
    """``devtrack sandbox`` for some services at some scale, in its own process."""

    def __init__(self, tmp: Path, services: str, scale: dict[str, int]) -> None:
        env_file = tmp / f"sandbox-{services}-{'-'.join(map(str, scale.values()))}.env"
        argv = [sys.executable, "-m", "devtrack", "sandbox", "--seed", "5", "--services", services,
                "--env-file", str(env_file), *(a for k, v in scale.items() for a in ("--scale", f"{k}={v}"))]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while not env_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"devtrack sandbox exited: {self.proc.stderr.read().decode()[-300:]}")  # type: ignore[union-attr]
            time.sleep(0.1)
        self.env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def _manager(env: dict[str, str]) -> Any:
    from devtrack.credentials import CredentialStore
    from devtrack.integrations.manager import IntegrationManager

    for key in [k for k in os.environ if k.startswith("DEVTRACK_") and k.endswith("_BASE_URL")]:
        del os.environ[key]  # a sandbox stopped before this one
    os.environ.update(env)  # the plugins' HTTP layer reads the base URL overrides from here
    return IntegrationManager(store=CredentialStore(env["DEVTRACK_CREDENTIALS"]), environ={**os.environ, **env},
                              deadline=120)


def _reset(env: dict[str, str]) -> None:
    """Clear the emulators' counters (rate limits), so every run starts from the same state."""
    from urllib.parse import urlsplit

    roots = {f"{u.scheme}://{u.netloc}" for k, v in env.items() if k.endswith("_BASE_URL") and (u := urlsplit(v)).scheme}
    for root in roots:
        httpx.post(f"{root}/__sandbox/reset").raise_for_status()


def _fetch_cost(manager: Any, ids: list[str], sb: Sandbox) -> tuple[Timing, float, list[Any]]:
    """Median fetch time of ``ids`` together, peak allocated MB of one traced fetch, the data."""
    env, pids = sb.env, [sb.proc.pid]
    _reset(env)
    results = asyncio.run(manager.fetch_many(ids))  # warm-up: imports, connections
    bad = [i for i, r in zip(ids, results) if r.error is not None]
    if bad:
        raise RuntimeError(f"fetch failed for {bad}: {results[ids.index(bad[0])].error}")
    timings = []
    for _ in range(RUNS):
        _reset(env)
        with Span(pids) as s:
            asyncio.run(manager.fetch_many(ids))
        timings.append(s.timing)
    _reset(env)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        results = asyncio.run(manager.fetch_many(ids))
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    return combine(timings), peak, results


def _growth(dimension: str, what: str, sizes: tuple[int, ...], values: list[Timing | float], unit: str,
            costs: list[Timing | None] | None = None, note: Callable[[int, int], str] | None = None) -> None:
    """One row per size step: growth of ``values`` against the growth of the size."""
    for i in range(1, len(sizes)):
        small, big = sizes[i - 1], sizes[i]
        a, b = float(values[i - 1]), float(values[i])
        shown = (lambda v: f"{v * 1000:.1f} ms") if unit == "s" else (lambda v: f"{v:.2f} {unit}")
        report(f"scale: {dimension} {small:,}→{big:,}, {what} growth", b, a, big / small, unit=unit,
               cost=costs[i] if costs else (values[i] if isinstance(values[i], Timing) else None),
               note=f"target: at most linear (×{big / small:g}); {shown(a)} → {shown(b)}"
                    + (f"; {note(small, big)}" if note else ""))


# ---------------------------------------------------------------- status and dashboard at the largest size


def _serve_app(env: dict[str, str], token: str, ready: Any) -> None:
    os.environ.update(env)
    from devtrack.web import create_app
    from devtrack.web.server import bind_socket, make_server, url_of

    sock = bind_socket("127.0.0.1", 0)
    ready.put(url_of(sock).rstrip("/"))
    make_server(create_app(_manager(env), access_token=token)).run(sockets=[sock])


def _status_and_dashboard(label: str, env: dict[str, str], store_url: str, pids: list[int]) -> None:
    env = {**env, "DEVTRACK_STORE_URL": store_url, "COLUMNS": "140"}
    run_env = {**os.environ, **env}
    status = median_seconds(lambda: subprocess.run([sys.executable, "-m", "devtrack", "status"], check=True,
                                                   capture_output=True, env=run_env), runs=5, warmup=1)
    report(f"scale: devtrack status, {label}", status, 1.0, 1.0,
           note="seconds, target < 1 s; a fresh interpreter reading the store")
    token = secrets.token_urlsafe(32)
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    server = ctx.Process(target=_serve_app, args=(env, token, ready), daemon=True)
    server.start()
    try:
        url = ready.get(timeout=60)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.get("/").raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

            def page() -> None:
                http.get("/").raise_for_status()

            page_time = median_seconds(page, runs=15, warmup=3, pids=[*pids, server.pid or 0])
        report(f"scale: dashboard GET /, {label}", page_time.active * 1000, 100.0, 1.0, unit="ms", cost=page_time,
               note=f"{page_time.active * 1000:.1f} ms, target < 100 ms; the web app in its own process, reading the store")
    finally:
        server.kill()
        server.join(5)


def _save_all(store: Any, manager: Any, ids: list[str], results: list[Any]) -> None:
    """Save fetched data as the refresh coordinator does (connection id → store key)."""
    from devtrack.integrations.contract import utcnow
    from devtrack.views.keys import Keys

    keys = Keys(manager)
    now = utcnow()
    for cid, data in zip(ids, results):
        store.save(data.model_copy(update={"fetched_at": now, "id": keys.key(cid)}))


# ---------------------------------------------------------------- the dimensions


def connections(tmp: Path) -> None:
    from devtrack.views.store import open_store

    times, peaks = [], []
    with Sandbox(tmp, "vercel", {}) as sb:
        env = {**sb.env}
        manager = _manager(env)
        values = dict(manager.store.read()["integrations"]["vercel"]["credentials"])
        all_ids = ["vercel", *(f"vercel:c{n}" for n in range(2, max(CONNECTIONS) + 1))]
        for size in CONNECTIONS:
            for cid in all_ids[1:size]:  # the store holds the connections fetched, as a user's does
                manager.save_credentials(cid, values)
            t, peak, results = _fetch_cost(manager, all_ids[:size], sb)
            times.append(t)
            peaks.append(peak)
        store_url = f"sqlite:///{tmp / 'connections.db'}"
        _save_all(open_store(store_url), manager, all_ids, results)
        _growth("connections", "fetch time", CONNECTIONS, times, "s")
        _growth("connections", "fetch CPU time", CONNECTIONS, [t.cpu for t in times], "s", costs=times)
        _growth("connections", "fetch peak memory", CONNECTIONS, peaks, "MB", costs=times)
        _status_and_dashboard(f"{max(CONNECTIONS)} connections", env, store_url, [sb.proc.pid])


def account(tmp: Path, service: str, knob: str, sizes: tuple[int, ...], what: str) -> list[Any]:
    """The fetch of one service seeded at each size; the largest size's data, for history."""
    from devtrack.views.store import open_store

    times, peaks = [], []
    for size in sizes:
        with Sandbox(tmp, service, {knob: size}) as sb:
            manager = _manager(sb.env)
            t, peak, results = _fetch_cost(manager, [service], sb)
            times.append(t)
            peaks.append(peak)
            if size == max(sizes):
                store_url = f"sqlite:///{tmp / f'{service}.db'}"
                _save_all(open_store(store_url), manager, [service], results)
                label = f"{service} with {size:,} {what}"
                dimension = f"{service} {what}"
                _growth(dimension, "fetch time", sizes, times, "s")
                _growth(dimension, "fetch CPU time", sizes, [t.cpu for t in times], "s", costs=times)
                _growth(dimension, "fetch peak memory", sizes, peaks, "MB", costs=times)
                _status_and_dashboard(label, sb.env, store_url, [sb.proc.pid])
                return results
    raise AssertionError("unreachable")


def history(tmp: Path) -> None:
    """Snapshots of Sentry and Vercel saved hourly over 7, 30 and 90 days, retention applied."""
    from devtrack.integrations.contract import utcnow
    from devtrack.views.build import dashboard
    from devtrack.views.current import from_store
    from devtrack.views.keys import Keys
    from devtrack.views.store import Retention, open_store

    with Sandbox(tmp, "sentry,vercel", {}) as sb:
        manager = _manager(sb.env)
        ids = ["sentry", "vercel"]
        keys = Keys(manager)
        good = asyncio.run(manager.fetch_many(ids))
        sizes, reads, costs = [], [], []
        for days in DAYS:
            url = f"sqlite:///{tmp / f'history-{days}.db'}"
            store = open_store(url, retention=Retention())
            end = utcnow()
            t = end - timedelta(days=days)
            with Span() as fill:
                while t <= end:
                    hour = int(t.timestamp() // 3600)
                    for cid, data in zip(ids, good):
                        metrics = data.health.metrics | {"sim_hour": hour}  # changes every save
                        store.save(data.model_copy(update={"fetched_at": t, "id": keys.key(cid), "health": data.health.model_copy(
                            update={"metrics": metrics})}))
                    if hour % 6 == 0:
                        store.prune(t)
                    t += timedelta(hours=1)
                store.prune(end)
                store.vacuum()
            sizes.append(store.stats()["bytes"] / 1e6)
            costs.append(fill.timing)
            reads.append(median_seconds(lambda store=store: dashboard(from_store(manager, store)), runs=9))
            if days == max(DAYS):
                _growth("snapshot days", "store size", DAYS, sizes, "MB", costs=costs,
                        note=lambda a, b: "hourly saves of 2 services, retention applied")
                _growth("snapshot days", "status read (latest + dashboard view)", DAYS, reads, "s")
                _status_and_dashboard(f"{days} days of snapshots", sb.env, url, [sb.proc.pid])


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="devtrack-bench-scale-"))
    os.environ.update({"DEVTRACK_CREDENTIALS": str(tmp / "unused.json")})
    connections(tmp)
    account(tmp, "sentry", "sentry_issues", SENTRY_ISSUES, "unresolved issues")
    account(tmp, "vercel", "vercel_deployments", VERCEL_DEPLOYMENTS, "deployments")
    history(tmp)
    print(json.dumps({"done": True}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
