"""A listener that records every request it gets: the stranger's host a changed URL points at.

Real sockets, so a test can prove what an integration did (or did not) send there: every
request line, header and body is kept, and each is answered 401 so a plugin sees a refusal.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Listener:
    """``with Listener() as ear: ...; ear.heard`` is the raw text of every request received."""

    def __init__(self) -> None:
        self.heard: list[str] = []
        lock = threading.Lock()
        ear = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                with lock:
                    ear.heard.append(f"{self.requestline}\n{self.headers}\n{body}")
                data = b'{"detail": "Invalid token"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any  # noqa: N815 (http.server API)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def received(self, secret: str) -> bool:
        """Whether any request carried ``secret`` anywhere (request line, a header, the body)."""
        return any(secret in text for text in list(self.heard))

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
