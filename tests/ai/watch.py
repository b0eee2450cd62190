"""Test upstreams and clients that see what httpx would hide: raw request targets, and the
moment an upstream's server saw its connection close."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit


def raw_request(base: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request with ``target`` sent byte for byte (httpx would normalise it)."""
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    got: dict[str, str] = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        got[k.strip().lower()] = v.strip()
    return int(status_line.split()[1]), got, body


class DisconnectWatch:
    """An upstream's own view of its connection: when its server saw the proxy hang up.

    Wraps an emulator's ASGI app served by uvicorn (which reports a closed connection as
    ``http.disconnect``). ``hold`` seconds of silence before the emulator answers play a model
    that thinks before its first byte.
    """

    def __init__(self, app: Any, hold: float = 0.0) -> None:
        self.app = app
        self.hold = hold
        self.started: list[float] = []
        self.closed_at: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.started.append(time.perf_counter())
        closed = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.closed_at.append(time.perf_counter())
            closed.set()

        replay = [{"type": "http.request", "body": body, "more_body": False}]

        async def inner() -> Any:
            if replay:
                return replay.pop()
            await closed.wait()
            return {"type": "http.disconnect"}

        watcher = asyncio.create_task(watch())
        try:
            if self.hold:
                await asyncio.wait([watcher], timeout=self.hold)
                if closed.is_set():
                    return
            await self.app(scope, inner, send)
        finally:
            watcher.cancel()

    def wait_closed(self, limit: float) -> float | None:
        deadline = time.monotonic() + limit
        while not self.closed_at and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.closed_at[0] if self.closed_at else None


class RawUpstream:
    """A socket upstream with no HTTP library between: it keeps each request's head byte for
    byte, then sends ``reply`` and hangs up, or (``reply=None``) stays silent until the other
    side closes: what a vendor sends, and how it fails, exactly as the test writes it."""

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                with conn:
                    data = b""
                    while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                        data += chunk
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    while len(body) < length and (chunk := conn.recv(65536)):
                        body += chunk
                    self.heads.append(head)
                    if self.reply is None:
                        while conn.recv(65536):
                            pass
                    else:
                        conn.sendall(self.reply)

    def __enter__(self) -> RawUpstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
