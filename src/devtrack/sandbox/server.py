"""A small HTTP/1.1 server for ASGI apps, with fault injection at the socket level.

Why not uvicorn: faults such as a connection reset, a body shorter than its
``Content-Length`` or a slow trickle need control of the socket, and a sandbox of a dozen
emulators must start in milliseconds. This server runs one asyncio loop in a daemon thread,
speaks keep-alive HTTP/1.1 (Content-Length and chunked request bodies), records every request
in a :class:`RequestLog`, applies the :class:`FaultSet` before the app sees a request, and
answers the loopback admin endpoints under ``/__sandbox/``:

``GET /__sandbox/health``, ``GET /__sandbox/requests``, ``GET|POST|DELETE /__sandbox/faults``
(POST takes one fault spec or a list, the keyword arguments of :class:`Fault`),
``POST /__sandbox/reset`` (clears faults, the request log and the emulator's counters, and
undoes the events below), and, for emulators that declare events (what an alert rule watches,
see :meth:`~devtrack.sandbox.emulator.Emulator.sandbox_events`): ``GET /__sandbox/events``
(what can be produced, and what is), ``POST /__sandbox/events {"event": NAME, …options}``
(produce it; the answer names what changed) and ``DELETE /__sandbox/events/NAME`` (undo it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from .faults import Fault, FaultSet
from .recorder import RequestLog, make_record

__all__ = ["EmulatorServer", "Response", "ErrorFactory", "ADMIN_PREFIX"]

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/__sandbox/"
MAX_HEAD = 64 * 1024
#: Pending connections the listener queues (asyncio's default is 100): a benchmark opening many
#: connections at once must not see its connects dropped and retried a second later.
BACKLOG = 1024
Headers = list[tuple[str, str]]
ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
#: Builds the vendor's own error response for a status (used by ``status`` faults).
ErrorFactory = Callable[[int, str], "Response"]
#: Answers ``/__sandbox/events…``: (method, the path after ``events``, JSON body) -> (status, payload).
EventsHandler = Callable[[str, str, Any], tuple[int, Any]]


@dataclass
class Response:
    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: Headers | None = None) -> Response:
        return cls(status, [("content-type", "application/json")] + list(headers or []),
                   json.dumps(payload).encode())


def default_error(status: int, message: str) -> Response:
    return Response.json(status, {"error": {"status": status, "message": message}})


@dataclass
class _Request:
    method: str
    raw_path: str
    path: str
    query: str
    headers: Headers
    body: bytes
    keep_alive: bool


class _BadRequest(Exception):
    pass


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _BadRequest("incomplete request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise _BadRequest("request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise _BadRequest("bad request line") from None
    headers: Headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    hmap = dict(headers)
    body = b""
    if "chunked" in hmap.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    elif hmap.get("content-length"):
        body = await reader.readexactly(int(hmap["content-length"]))
    raw_path, _, query = target.partition("?")
    conn = hmap.get("connection", "").lower()
    keep = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
    return _Request(method.upper(), raw_path, unquote(raw_path), query, headers, body, keep)


def _head(status: int, headers: Headers, length: int | None, keep_alive: bool) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    skip = {"content-length", "transfer-encoding", "connection"}
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in skip]
    if length is not None:
        lines.append(f"content-length: {length}")
    lines.append(f"connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>\n"
    "<body><h1>{status} {reason}</h1><p>The upstream server is unavailable. "
    "Please try again later.</p><hr><center>nginx</center></body></html>\n"
)


class EmulatorServer:
    """Serve one ASGI app on a loopback port in a background thread."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        faults: FaultSet | None = None,
        requests: RequestLog | None = None,
        error_factory: ErrorFactory | None = None,
        on_reset: Callable[[], None] | None = None,
        events: EventsHandler | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.faults = faults if faults is not None else FaultSet(service)
        self.requests = requests if requests is not None else RequestLog()
        self.error_factory = error_factory or default_error
        self.on_reset = on_reset
        self.events = events
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._started = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Bind and serve; returns once the port accepts connections."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{self.service}", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"the {self.service} emulator did not start within {timeout}s")
        if self._error is not None:
            raise RuntimeError(f"the {self.service} emulator could not start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, then end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._shutdown()))
        thread.join(10)
        self._thread = None
        self._loop = None

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._connection, self.host, self.port, ssl=self.ssl_context, limit=MAX_HEAD, backlog=BACKLOG,
            ))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # report to start() instead of dying silently
            self._error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.sleep(0)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.get_running_loop().stop()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ connections

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:  # small writes (trickle) must leave at once, not wait for delayed ACKs
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        try:
            while True:
                try:
                    req = await _read_request(reader)
                except _BadRequest as exc:
                    writer.write(_head(400, [], len(str(exc)), False) + str(exc).encode())
                    break
                if req is None:
                    break
                if not await self._handle(req, writer) or not req.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            try:
                writer.close()
            except Exception:  # already aborted
                pass

    async def _handle(self, req: _Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; ``False`` when the connection must be closed."""
        if req.path.startswith(ADMIN_PREFIX):
            return await self._write(writer, self._admin(req), req.keep_alive)
        record = make_record(self.service, req.method, req.path, req.query,
                             [k for k, _ in req.headers], req.body, dict(req.headers).get("content-type", ""))
        self.requests.append(record)
        fault = self.faults.take(req.method, req.path)
        if fault is not None:
            record.fault = fault.kind
            if fault.latency:
                await asyncio.sleep(fault.latency)
            if fault.reset:
                self._reset(writer)
                return False
            synthetic = self._synthetic(fault)
            if synthetic is not None:
                record.status = synthetic.status
                if fault.oversize:
                    return await self._write_oversize(writer, synthetic, fault.oversize, req.keep_alive)
                return await self._write(writer, synthetic, req.keep_alive)
        resp = await self._call_app(req, writer)
        record.status = resp.status
        if fault is not None and fault.truncate:
            declared = max(len(resp.body), 64) + 64
            writer.write(_head(resp.status, resp.headers, declared, False) + resp.body[: len(resp.body) // 2])
            await writer.drain()
            writer.transport.close()
            return False
        if fault is not None and fault.trickle:
            return await self._write_trickle(writer, resp, fault.trickle, req.keep_alive)
        return await self._write(writer, resp, req.keep_alive)

    def _synthetic(self, fault: Fault) -> Response | None:
        """The response a fault replaces the emulator's answer with, if it does."""
        extra = list(fault.headers.items())
        if fault.retry_after is not None:
            ra = fault.retry_after
            extra.append(("retry-after", str(int(ra)) if float(ra).is_integer() else str(ra)))
        if fault.html:
            status = fault.status or 502
            reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
            page = HTML_PAGE.format(status=status, reason=reason).encode()
            return Response(status, [("content-type", "text/html; charset=utf-8")] + extra, page)
        if fault.malformed:
            body = b'{"data": [{"id": "abc", "name": "unterminated' if fault.body is None else _bytes(fault.body)
            return Response(fault.status or 200, [("content-type", "application/json")] + extra, body)
        if fault.oversize:
            return Response(fault.status or 200, [("content-type", "application/json")] + extra)
        if fault.status is not None:
            if fault.body is not None:
                ctype = "application/json" if not isinstance(fault.body, (str, bytes)) else "text/plain"
                resp = Response(fault.status, [("content-type", ctype)], _bytes(fault.body))
            else:
                resp = self.error_factory(fault.status, HTTPStatus(fault.status).phrase
                                          if fault.status in HTTPStatus._value2member_map_ else "Error")
            names = {k.lower() for k, _ in extra}
            resp.headers = [(k, v) for k, v in resp.headers if k.lower() not in names] + extra
            return resp
        return None

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        writer.transport.abort()

    async def _write(self, writer: asyncio.StreamWriter, resp: Response, keep_alive: bool) -> bool:
        writer.write(_head(resp.status, resp.headers, len(resp.body), keep_alive) + resp.body)
        await writer.drain()
        return keep_alive

    async def _write_trickle(self, writer: asyncio.StreamWriter, resp: Response, seconds: float,
                             keep_alive: bool) -> bool:
        writer.write(_head(resp.status, resp.headers, len(resp.body), keep_alive))
        await writer.drain()
        pieces = max(1, min(len(resp.body), 20))
        step = -(-len(resp.body) // pieces) if resp.body else 0
        for i in range(pieces):
            await asyncio.sleep(seconds / pieces)
            writer.write(resp.body[i * step:(i + 1) * step])
            await writer.drain()
        return keep_alive

    async def _write_oversize(self, writer: asyncio.StreamWriter, resp: Response, size: int,
                              keep_alive: bool) -> bool:
        prefix, suffix = b'{"padding": "', b'"}'
        size = max(size, len(prefix) + len(suffix))
        writer.write(_head(resp.status, resp.headers, size, keep_alive) + prefix)
        left = size - len(prefix) - len(suffix)
        chunk = b"x" * 65536
        while left > 0:
            writer.write(chunk[:left])
            left -= min(left, len(chunk))
            await writer.drain()
        writer.write(suffix)
        await writer.drain()
        return keep_alive

    # ------------------------------------------------------------------ ASGI

    async def _call_app(self, req: _Request, writer: asyncio.StreamWriter) -> Response:
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": req.method,
            "scheme": "https" if self.ssl_context else "http",
            "path": req.path,
            "raw_path": req.raw_path.encode("latin-1"),
            "query_string": req.query.encode("latin-1"),
            "root_path": "",
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in req.headers],
            "client": (peer[0], peer[1]),
            "server": (self.host, self.port),
            "state": {},
        }
        sent_request = False
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": req.body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        out = Response(500)
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out.status = message["status"]
                out.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        try:
            await self.app(scope, receive, send)
        except Exception:
            log.exception("the %s emulator failed on %s %s", self.service, req.method, req.path)
            return Response.json(500, {"error": "emulator failure"})
        finally:
            done.set()
        out.body = b"".join(chunks)
        return out

    # ------------------------------------------------------------------ admin

    def reset(self) -> None:
        """Clear faults, the request log and the emulator's own counters."""
        self.faults.clear()
        self.requests.clear()
        if self.on_reset:
            self.on_reset()

    def _admin(self, req: _Request) -> Response:
        what = req.path[len(ADMIN_PREFIX):].strip("/")
        try:
            if what == "health":
                return Response.json(200, {"service": self.service, "ok": True, "time": time.time()})
            if what == "requests" and req.method == "GET":
                items = [r.to_json() for r in self.requests.all()]
                return Response.json(200, {"service": self.service, "count": len(items), "requests": items})
            if what == "faults" and req.method == "GET":
                return Response.json(200, {"faults": [f.to_json() for f in self.faults.list()]})
            if what == "faults" and req.method == "POST":
                spec = json.loads(req.body or b"{}")
                specs: Iterable[dict[str, Any]] = spec if isinstance(spec, list) else [spec]
                added = [self.faults.add(**s) for s in specs]
                return Response.json(201, {"faults": [f.to_json() for f in added]})
            if what == "faults" and req.method == "DELETE":
                self.faults.clear()
                return Response.json(200, {"faults": []})
            if what == "reset" and req.method == "POST":
                self.reset()
                return Response.json(200, {"ok": True})
            if (what == "events" or what.startswith("events/")) and self.events is not None:
                body = json.loads(req.body) if req.body.strip() else {}
                status, payload = self.events(req.method, what[len("events"):].strip("/"), body)
                return Response.json(status, payload)
        except (ValueError, TypeError) as exc:
            return Response.json(400, {"error": str(exc)})
        return Response.json(404, {"error": f"no admin endpoint {req.method} {req.path}"})


def _bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()
