"""Running the app with uvicorn: in the foreground (``devtrack serve``) or in a thread (tests).

We bind the socket ourselves so the real port is known before serving (``--port 0`` picks a
free one, and the printed URL is always the one that works).

HTTP parsing is httptools (llhttp, in C), which bench/bench_proxy.py measured at about a
sixth less CPU for the proxy than h11 under 200 streams. It has no limit on the size of a
request's head: :class:`HeaderDeadline` refuses one over :data:`MAX_HEAD_BYTES` with a 400.

Slow clients: uvicorn closes idle keep-alive connections, but it has no deadline for the
headers themselves: a connection that sends half a request line, or one byte every few
seconds, is kept forever (slowloris). :class:`HeaderDeadline` closes a connection whose
request headers are not complete :data:`HEADER_TIMEOUT` seconds after it opened or after its previous response.

It also closes, :data:`DRAIN_TIMEOUT` seconds after the answer, a connection whose request
body was refused before it was read (a 413): closing at once, with the body still arriving,
makes the kernel reset the connection, and the client may lose the answer before reading it.
Meanwhile what arrives is dropped unread (uvicorn does that once the answer is sent).

Pauses: a server that owns its process (``devtrack serve``, ``devtrack ai proxy``) opens what
its app opens before it listens and then hands every object alive at that point (imports, the app,
its session) to the collector's permanent generation (:func:`settle_heap`). Python's full
collection scans every tracked object, and it runs every few seconds at load: with some 90,000
objects of imports in the heap it paused the proxy 23-49 ms at a time, under 200 streams (the
99th-percentile time to first byte of ``bench/bench_proxy.py`` is made of such pauses). After
settling it scans only what requests created.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import socket
import threading
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .. import redact

DEFAULT_PORT = 8765
#: Seconds a client has to send a request's headers (a browser or script sends them at once).
HEADER_TIMEOUT = 10.0
#: Seconds a connection stays open after a refused body's answer, for the client to read it.
DRAIN_TIMEOUT = 2.0
#: The event loop: uvloop where it is installed (a dependency except on Windows), else
#: asyncio's. bench/bench_proxy.py measures both under 200 concurrent streams.
LOOP = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
#: Largest request head (request line plus headers) in bytes; more is answered 400.
MAX_HEAD_BYTES = 16 * 1024
#: Seconds shutdown waits for responses still running (event streams end at once, see below).
SHUTDOWN_GRACE = 5.0


def settle_heap() -> None:
    """Collect once, then keep the collector from scanning what is alive now (why: module docstring).

    What lives as long as the process is never garbage, so freezing it loses nothing; only a
    server that owns its process does this (a test's server thread shares the test's heap)."""
    gc.collect()
    gc.freeze()


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus a deadline for each request's headers and for
    draining a refused body, and a limit on the size of a request's head (:data:`MAX_HEAD_BYTES`;
    httptools has none). Each deadline runs from when its phase began: sending a byte now and
    then does not move it."""

    header_timeout: float = HEADER_TIMEOUT
    drain_timeout: float = DRAIN_TIMEOUT
    _deadline: asyncio.TimerHandle | None = None
    _phase: str | None = None

    _head_done = False  # the current request's headers are parsed
    _message_done = True  # the current request's body is read (none yet: nothing pending)
    _head_bytes = 0  # bytes received since the current head began, until it is complete
    _head_size = 0  # the current head's parsed size: request target, names and values

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow()

    def data_received(self, data: bytes) -> None:
        if not self._head_done:
            self._head_bytes += len(data)
        super().data_received(data)
        if not self._head_done and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._too_large()  # a head still arriving, already past the limit
        self._follow()

    def on_message_begin(self) -> None:
        self._head_done = self._message_done = False
        self._head_size = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_done = True
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._message_done = True
        super().on_message_complete()
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set(None)
        super().connection_lost(exc)

    def _count(self, n: int) -> None:
        """Refuse a head over the limit (raising in a parser callback is a parser error: 400)."""
        self._head_size += n
        if self._head_size > MAX_HEAD_BYTES:
            raise ValueError("request head too large")

    def _too_large(self) -> None:
        self.logger.warning("Invalid HTTP request received.")
        self.send_400_response("Invalid HTTP request received.")

    def _current(self) -> str | None:
        """``head``: waiting for a request's headers; ``drain``: answered, the body still coming."""
        if self.transport.is_closing():
            return None
        cycle = self.cycle
        if not self._head_done or (cycle is not None and cycle.response_complete and self._message_done):
            return "head"
        if cycle is not None and cycle.response_complete and not self._message_done:
            return "drain"
        return None  # the app has the request

    def _follow(self) -> None:
        phase = self._current()
        if phase != self._phase:
            self._set(phase)

    def _set(self, phase: str | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase is not None:
            seconds = self.header_timeout if phase == "head" else self.drain_timeout
            self._deadline = self.loop.call_later(seconds, self._expire, phase)

    def _expire(self, phase: str) -> None:
        self._deadline = None
        if self._current() == phase:
            self.transport.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when ``host`` is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _server_class() -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, which runs the app's openers on its loop before it listens (and may
        settle the heap once it does), first ends the app's open event streams when it shuts down
        (uvicorn waits for every response to finish, and a stream never does by itself), and
        last runs the app's closers on its loop (the server runs with lifespan off)."""

        settles_heap = False

        async def startup(self, sockets: Any = None) -> None:
            app = self.config.app
            openers = list(getattr(getattr(app, "state", None), "openers", ()))
            if callable(getattr(app, "aopen", None)):
                openers.append(app.aopen)
            await _run_all(openers, "opening at start-up")
            await super().startup(sockets)
            if self.settles_heap:
                settle_heap()

        async def shutdown(self, sockets: Any = None) -> None:
            app = self.config.app
            state = getattr(app, "state", None)
            bus = getattr(state, "events", None)
            if bus is not None:
                bus.close()
            await super().shutdown(sockets)
            closers = list(getattr(state, "closers", ()))
            if callable(getattr(app, "aclose", None)):
                closers.append(app.aclose)
            await _run_all(closers, "closing at shutdown")

    return Server


async def _run_all(hooks: list[Any], doing: str) -> None:
    """Await every hook; one failing gives a warning line and does not keep the others from running."""
    for hook in hooks:
        try:
            await hook()
        except Exception as exc:
            logging.getLogger(__name__).warning("%s failed: %s", doing, type(exc).__name__)


def make_server(app: Any, *, log_level: str = "warning", access_log: bool = False,
                header_timeout: float = HEADER_TIMEOUT, drain_timeout: float = DRAIN_TIMEOUT,
                loop: str = LOOP, settle: bool = True) -> Any:
    """A uvicorn server that trusts no proxy headers, logs through the redactor and closes
    connections that are slow to send their headers. ``loop``: uvicorn's event loop choice;
    ``settle``: freeze the heap after start-up (:func:`settle_heap`), for a server that owns
    its process."""
    import uvicorn

    protocol = type("HeaderDeadline", (HeaderDeadline,),
                    {"header_timeout": header_timeout, "drain_timeout": drain_timeout})
    config = uvicorn.Config(
        app, log_level=log_level, access_log=access_log, proxy_headers=False,
        server_header=False, date_header=False, lifespan="off", http=protocol,
        loop=loop,
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    server = _server_class()(config)
    server.settles_heap = settle
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        redact.install_logging_filter(logging.getLogger(name))
    return server


class ServerThread:
    """Serve ``app`` on a real loopback socket in a background thread: ``with ServerThread(app) as s: s.url``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0,
                 header_timeout: float = HEADER_TIMEOUT) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.header_timeout = header_timeout
        self.server: Any = None
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.sock is not None
        return url_of(self.sock).rstrip("/")

    def start(self) -> ServerThread:
        self.sock = bind_socket(self.host, self.port)
        self.server = make_server(self.app, header_timeout=self.header_timeout, settle=False)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.stop()
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        if self.sock is not None:
            self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
