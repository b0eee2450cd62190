"""Concurrent fetch: `data --all` against the sandbox with 200 ms latency on every request,
as a ratio to the slowest plugin fetched alone (target ≤ 1.25: plugins and their independent
requests run concurrently)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from common import Span, Timing, combine, report

from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager

LATENCY = 0.2
RUNS = 3


def timed(coro: Coroutine[Any, Any, Any], pids: list[int]) -> Timing:
    """One run of ``coro`` in a fresh event loop, with its costs (the sandbox's CPU included)."""
    with Span(pids) as s:
        asyncio.run(coro)
    return s.timing


def _sandbox(tmp: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """`devtrack sandbox` in its own process, so the emulators do not share our CPU."""
    env_file = tmp / "sandbox.env"
    proc = subprocess.Popen([sys.executable, "-m", "devtrack", "sandbox", "--seed", "5", "--env-file", str(env_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not env_file.exists():
        if proc.poll() is not None:
            raise RuntimeError("devtrack sandbox exited")
        time.sleep(0.2)
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return proc, env


def main() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, env = _sandbox(Path(tmp))
        try:
            os.environ.update(env)
            roots = {f"{u.scheme}://{u.netloc}" for k, v in env.items()
                     if k.endswith("_BASE_URL") and (u := urlsplit(v)).scheme}
            manager = IntegrationManager(store=CredentialStore(env["DEVTRACK_CREDENTIALS"]), deadline=60)
            ids = manager.fetchable()
            asyncio.run(manager.fetch_many(ids))  # warm-up: imports, clients
            for root in roots:
                httpx.post(f"{root}/__sandbox/faults", json={"route": "/**", "latency": LATENCY}).raise_for_status()
            pids = [proc.pid]
            alone = {i: combine([timed(manager.fetch(i), pids) for _ in range(RUNS)]) for i in ids}
            together = combine([timed(manager.fetch_many(ids), pids) for _ in range(RUNS)])
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    slowest = max(alone, key=lambda i: alone[i].active)
    for i, t in sorted(alone.items(), key=lambda kv: -kv[1].active):
        print(f"# {i:<11} alone {t.active:.2f}s")
    return [report(f"fetch: data --all, {LATENCY * 1000:.0f} ms latency ({len(ids)} plugins)", together,
                   alone[slowest], target=1.25, note=f"ratio to the slowest plugin alone ({slowest})")]


if __name__ == "__main__":
    main()
