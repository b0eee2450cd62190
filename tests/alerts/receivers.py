"""Real receivers on loopback for the alert channels: an HTTP server for ``json://`` and an
SMTP server (aiosmtpd) for ``mailto://``, each recording what arrived; and a black hole (a port
that takes connections and never answers) for a receiver that is down.

Every body received goes to the leak scan (kind ``notifications``)."""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests import leakscan


class JsonReceiver:
    """Apprise's ``json://`` posts ``{"version", "title", "message", "type"}``."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        #: Answer this many of the next posts with a 500 (a receiver having a bad moment).
        self.fail_next = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                leakscan.record("notifications", raw.decode("utf-8", "replace"))
                with outer._lock:
                    failing = outer.fail_next > 0
                    outer.fail_next -= failing
                if failing:
                    self.send_response(500)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                with outer._lock:
                    outer.messages.append(body)
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/alerts"

    def titles(self) -> list[str]:
        with self._lock:
            return [str(m.get("title", "")) for m in self.messages]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """aiosmtpd on loopback; ``mailto://`` (plain SMTP, with a login Apprise sends)."""

    PASSWORD = "smtp-pa55word-" + "k3y9"

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Any] = []
        self._lock = threading.Lock()
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                leakscan.record("notifications", envelope.content.decode("utf-8", "replace"))
                with outer._lock:
                    outer.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.password == outer.PASSWORD.encode()
            return AuthResult(success=ok)

        # aiosmtpd's controller checks its server by connecting to the port it was given, so it
        # needs a real one: a free port is picked, and picked again if another took it meanwhile.
        for _ in range(5):
            self.port = _free_port()
            self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                         authenticator=authenticator, auth_require_tls=False, auth_required=False)
            try:
                self.controller.start()
                break
            except (OSError, RuntimeError):
                continue
        leakscan.add_secrets(self.PASSWORD)

    @property
    def url(self) -> str:
        return (f"mailto://alerts:{self.PASSWORD}@127.0.0.1:{self.port}"
                "?from=alerts@example.com&to=dev@example.com")

    def titles(self) -> list[str]:
        with self._lock:
            return [str(m["subject"]) for m in self.messages]

    def bodies(self) -> list[str]:
        with self._lock:
            return [m.get_body(("plain", "html")).get_content() for m in self.messages]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def close(self) -> None:
        self.controller.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BlackHole:
    """A port that accepts connections and never answers: a receiver that is down the slow way."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/down"

    def close(self) -> None:
        self.sock.close()


def wait_for(check: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())
