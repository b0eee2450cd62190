"""Running the app with uvicorn: in the foreground (``devtrack serve``) or in a thread (tests).

We bind the socket ourselves so the real port is known before serving (``--port 0`` picks a
free one, and the printed URL is always the one that works).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from .. import redact

DEFAULT_PORT = 8765


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


def make_server(app: Any, *, log_level: str = "warning", access_log: bool = False) -> Any:
    """A uvicorn server that trusts no proxy headers and logs through the redactor."""
    import uvicorn

    config = uvicorn.Config(
        app, log_level=log_level, access_log=access_log, proxy_headers=False,
        server_header=False, date_header=False, lifespan="off",
    )
    server = uvicorn.Server(config)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        redact.install_logging_filter(logging.getLogger(name))
    return server


class ServerThread:
    """Serve ``app`` on a real loopback socket in a background thread: ``with ServerThread(app) as s: s.url``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.server: Any = None
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.sock is not None
        return url_of(self.sock).rstrip("/")

    def start(self) -> ServerThread:
        self.sock = bind_socket(self.host, self.port)
        self.server = make_server(self.app)
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
