"""Connections that never finish their request headers are closed (slowloris, issue 13).

uvicorn has no deadline for the headers (its keep-alive timeout is cancelled by any byte), so
a client that sent half a request line held its connection forever. Raw sockets: the point is
a client that sends less than a request.
"""

from __future__ import annotations

import os
import select
import socket
from pathlib import Path
from urllib.parse import urlsplit

from devtrack.integrations.manager import IntegrationManager
from devtrack.web.server import HEADER_TIMEOUT, MAX_HEAD_BYTES, ServerThread

from .. import webauth
from .serve_proc import ServeProcess

#: Bound on waiting for the server to hang up: far past the deadline it has to keep.
WAIT = 30.0
SHORT = 1.0  # the deadline of the threaded servers below, so the tests need not wait 10 s


def _connect(base: str) -> socket.socket:
    url = urlsplit(base)
    return socket.create_connection((url.hostname, url.port), timeout=WAIT)


def _closed_by_server(sock: socket.socket) -> bool:
    """Waits (up to WAIT) for the server to hang up; True if it did without answering."""
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def _get(sock: socket.socket, host: str, path: str = "/api/v1/integrations") -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {webauth.TOKEN}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_half_a_request_line_is_hung_up_on(manager: IntegrationManager) -> None:
    with ServerThread(webauth.app(manager), header_timeout=SHORT) as srv, _connect(srv.url) as sock:
        sock.sendall(b"GET /api/v1/integ")
        assert _closed_by_server(sock)


def test_a_byte_now_and_then_does_not_move_the_deadline(manager: IntegrationManager) -> None:
    request = f"GET /api/v1/integrations HTTP/1.1\r\nHost: {'x' * 200}\r\n".encode()
    with ServerThread(webauth.app(manager), header_timeout=SHORT) as srv, _connect(srv.url) as sock:
        sent = 0
        for byte in request:  # one byte each 0.2 s: the whole head would take over 40 s
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            if select.select([sock], [], [], 0.2)[0]:
                assert _closed_by_server(sock)
                break
        assert sent < len(request)  # hung up on long before the head was complete


def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_request(manager: IntegrationManager) -> None:
    with ServerThread(webauth.app(manager), header_timeout=SHORT) as srv, _connect(srv.url) as sock:
        host = urlsplit(srv.url).netloc
        assert _get(sock, host).startswith(b"HTTP/1.1 200")  # a whole request: answered at once
        assert _get(sock, host).startswith(b"HTTP/1.1 200")  # and kept alive for the next
        sock.sendall(b"GET /api/v1/integrations HTTP/1.1\r\nHost: ")
        assert _closed_by_server(sock)


def test_devtrack_serve_hangs_up_on_a_partial_request(tmp_path: Path) -> None:
    """The real command, with its own deadline (HEADER_TIMEOUT seconds, so this test waits that long)."""
    env = dict(os.environ) | {"DEVTRACK_ACCESS_TOKEN": webauth.TOKEN,
                              "DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 'snapshots.db'}"}
    assert HEADER_TIMEOUT < WAIT
    with ServeProcess(env, tmp_path, tty=False) as served, _connect(served.url) as sock:
        sock.sendall(b"POST /api/v1/integrations/sentry/test HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert _closed_by_server(sock)
        with _connect(served.url) as other:  # and it still answers whole requests
            assert _get(other, urlsplit(served.url).netloc).startswith(b"HTTP/1.1 200")


def _answer(sock: socket.socket) -> bytes:
    """What the server sends before it hangs up (up to WAIT)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_a_request_head_over_the_limit_is_refused_whole_or_in_pieces(manager: IntegrationManager) -> None:
    """httptools takes heads of any size; the server answers 400 past MAX_HEAD_BYTES."""
    with ServerThread(webauth.app(manager), header_timeout=WAIT) as srv:
        host = urlsplit(srv.url).netloc
        with _connect(srv.url) as sock:  # under the limit: answered
            sock.sendall(f"GET /api/v1/integrations HTTP/1.1\r\nHost: {host}\r\nX-Pad: {'p' * (MAX_HEAD_BYTES - 512)}\r\n"
                         f"Authorization: Bearer {webauth.TOKEN}\r\nConnection: close\r\n\r\n".encode())
            assert _answer(sock).startswith(b"HTTP/1.1 200")
        with _connect(srv.url) as sock:  # one header over it, all at once
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Pad: {'p' * MAX_HEAD_BYTES}\r\n\r\n".encode())
            assert _answer(sock).startswith(b"HTTP/1.1 400")
        with _connect(srv.url) as sock:  # many small headers, in pieces, never finished
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
            for i in range(MAX_HEAD_BYTES // 64 + 2):
                try:
                    sock.sendall(f"X-H{i}: {'v' * 56}\r\n".encode())
                except (BrokenPipeError, ConnectionResetError):
                    break
            assert _answer(sock).startswith(b"HTTP/1.1 400")
        with _connect(srv.url) as sock:  # a value that never ends
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Pad: ".encode())
            try:
                for _ in range(MAX_HEAD_BYTES // 1024 + 2):
                    sock.sendall(b"q" * 1024)
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert _answer(sock).startswith(b"HTTP/1.1 400")
        with _connect(srv.url) as sock:  # a kept-alive connection's next request too
            assert _get(sock, host).startswith(b"HTTP/1.1 200")
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Pad: {'p' * MAX_HEAD_BYTES}\r\n\r\n".encode())
            assert _answer(sock).startswith(b"HTTP/1.1 400")
