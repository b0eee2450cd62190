"""The AI proxy's cost: added time to first streamed byte, and throughput under 50 concurrent streams.

The upstream is the sandbox's OpenAI emulator served by uvicorn in its own process, pacing
its events like a model does; the proxy runs in another process; this one is the client.
Each figure is reported as a ratio to the same workload sent straight to the emulator.
Targets (issue 7): throughput loss ≤ 1.1, a few ms of added latency.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import CLOCK, report  # noqa: E402

SEED = 5
CONCURRENCY = 50
ROUNDS = 3
TTFB_SAMPLES = 40
WORDS = 40
CHUNK_DELAY = 0.02  # 50 events/s per stream: a fast model streaming tokens
BODY = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "benchmark the proxy please"}]}


def _serve(kind: str, ready: Any, upstream: str = "", store: str = "") -> None:
    if kind == "emulator":
        from devtrack.sandbox.openai_emulator import OpenAIEmulator

        emu = OpenAIEmulator(seed=SEED)
        emu.chunk_delay, emu.reply_words = CHUNK_DELAY, WORDS
        app = emu.app()
    else:
        from devtrack.ai.proxy import create_proxy_app
        from devtrack.credentials import CredentialStore
        from devtrack.integrations.manager import IntegrationManager
        from devtrack.sandbox.openai_emulator import OpenAIEmulator

        key = OpenAIEmulator(seed=SEED).key
        manager = IntegrationManager(store=CredentialStore(store),
                                     environ={"DEVTRACK_OPENAI_BASE_URL": upstream + "/v1", "OPENAI_API_KEY": key})
        app = create_proxy_app(manager)
    import socket
    import threading

    from devtrack.web.server import bind_socket, make_server, url_of

    sock = bind_socket("127.0.0.1", 0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets
    server = make_server(app)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    ready.put(url_of(sock).rstrip("/"))
    while True:
        time.sleep(3600)


def _start(kind: str, **kw: str) -> tuple[mp.Process, str]:
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(kind, ready), kwargs=kw, daemon=True)
    proc.start()
    return proc, ready.get(timeout=60)


async def _one(client: Any, url: str, headers: dict[str, str], first_only: bool = False) -> tuple[float, int]:
    started = time.perf_counter()
    first = None
    size = 0
    async with client.stream("POST", url, json=BODY, headers=headers) as resp:
        assert resp.status_code == 200, resp.status_code
        async for chunk in resp.aiter_raw():
            if first is None:
                first = time.perf_counter()
                if first_only:
                    break
            size += len(chunk)
    # freezes are subtracted after the stream, without blocking the loop to wait for the watcher
    return (CLOCK.active(started, first, settle=False) if first else 0.0), size


async def _measure(url: str, headers: dict[str, str]) -> tuple[float, float]:
    """(median TTFB in s, bytes per second over CONCURRENCY streams × ROUNDS)."""
    import httpx

    limits = httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        for _ in range(3):
            await _one(client, url, headers)
        once = {**headers, "Connection": "close"}  # the stream is abandoned after its first byte
        ttfb = statistics.median([(await _one(client, url, once, True))[0] for _ in range(TTFB_SAMPLES)])
        started = time.perf_counter()
        total = 0
        for _ in range(ROUNDS):
            results = await asyncio.gather(*(_one(client, url, headers) for _ in range(CONCURRENCY)))
            total += sum(size for _, size in results)
        return ttfb, total / CLOCK.active(started)


def main() -> int:
    from devtrack.ai.proxy_token import ensure_token
    from devtrack.credentials import CredentialStore
    from devtrack.sandbox.openai_emulator import OpenAIEmulator

    tmp = tempfile.mkdtemp(prefix="devtrack-bench-proxy-")
    store = str(Path(tmp) / "credentials.json")
    token = ensure_token(CredentialStore(store))
    key = OpenAIEmulator(seed=SEED).key
    emu_proc, emu_url = _start("emulator")
    proxy_proc, proxy_url = _start("proxy", upstream=emu_url, store=store)
    try:
        d_ttfb, d_rate = asyncio.run(_measure(emu_url + "/v1/chat/completions", {"Authorization": f"Bearer {key}"}))
        p_ttfb, p_rate = asyncio.run(_measure(proxy_url + "/openai/v1/chat/completions",
                                              {"Authorization": f"Bearer {token}"}))
    finally:
        for proc in (proxy_proc, emu_proc):
            proc.kill()
            proc.join(5)
    added_ms = (p_ttfb - d_ttfb) * 1000
    report("ai proxy: time to first streamed byte", p_ttfb * 1000, d_ttfb * 1000, None, unit="ms",
           note=f"+{added_ms:.1f} ms added (median of {TTFB_SAMPLES})")
    report(f"ai proxy: throughput loss, {CONCURRENCY} concurrent streams", d_rate, p_rate, 1.1, unit="B/s direct÷proxy",
           note=f"direct {d_rate / 1024:.0f} KiB/s, proxy {p_rate / 1024:.0f} KiB/s, "
                f"{ROUNDS} rounds of {WORDS}-event streams")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
