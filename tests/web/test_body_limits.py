"""Request bodies: a form is read whole and handed on whole; every body has a cap, answered 413
before an oversize body is read (issue 13).

Raw sockets, because the point is what the server does before the client has sent the body:
an HTTP client library would insist on sending all of it first.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from devtrack.integrations.manager import IntegrationManager
from devtrack.web.security import MAX_AI_BODY_BYTES, MAX_BODY_BYTES
from devtrack.web.server import ServerThread

from .. import webauth
from .conftest import ApiClient
from .echo import GOOD_TOKEN, EchoService

#: Bound on waiting for an answer; the server answers an oversize body at once.
WAIT = 30.0


def _connect(base: str) -> socket.socket:
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=WAIT)
    return sock


def _head(api: ApiClient, method: str, path: str, ctype: str, length: str | None) -> bytes:
    """A request head as the app's own page would send it: cookies, Origin, CSRF token."""
    cookies = "; ".join(f"{k}={v}" for k, v in api.http.cookies.items())
    lines = [f"{method} {path} HTTP/1.1", f"Host: {urlsplit(api.base).netloc}", f"Origin: {api.base}",
             f"Cookie: {cookies}", f"X-CSRF-Token: {api.csrf}", f"Content-Type: {ctype}"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The response's status, headers and body (read until the server closes)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_a_long_form_field_is_saved_whole_with_the_fields_after_it(
        api: ApiClient, manager: IntegrationManager, echo: EchoService) -> None:
    """The CSRF check once read 64 KiB of a form and handed on only that: a long field was saved
    cut short and the fields after it were lost."""
    long = "w" * (200 * 1024)
    form = {"csrf_token": api.csrf, "url": echo.url, "workspace": long, "token": GOOD_TOKEN}
    r = api.http.post("/settings/integrations/echo/credentials", headers={"Origin": api.base}, data=form)
    assert r.status_code == 303, r.text[:500]
    saved = manager.stored_credentials("echo")
    assert saved["workspace"] == long and saved["token"] == GOOD_TOKEN


def test_a_json_body_under_the_cap_is_taken(api: ApiClient, manager: IntegrationManager, echo: EchoService) -> None:
    long = "j" * (MAX_BODY_BYTES // 2)
    r = api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"url": echo.url, "token": GOOD_TOKEN, "workspace": long}})
    assert r.status_code == 200, r.text[:500]
    assert manager.stored_credentials("echo")["workspace"] == long


@pytest.mark.parametrize(("method", "path", "ctype", "declared"), [
    ("PUT", "/api/v1/integrations/echo/credentials", "application/json", 200 * 1024 * 1024),
    ("POST", "/settings/integrations/echo/credentials", "application/x-www-form-urlencoded", 200 * 1024 * 1024),
    ("PUT", "/api/v1/integrations/echo/credentials", "application/json", MAX_BODY_BYTES + 1),
    ("POST", "/ai/openai/v1/chat/completions", "application/json", MAX_AI_BODY_BYTES + 1),
])
def test_a_declared_oversize_body_is_refused_before_it_is_sent(
        api: ApiClient, manager: IntegrationManager, method: str, path: str, ctype: str, declared: int) -> None:
    """200 MB declared with a valid CSRF token was read whole into memory (+600 MB). Now the
    answer comes while not one byte of the body has been sent."""
    with _connect(api.base) as sock:
        sock.sendall(_head(api, method, path, ctype, str(declared)))
        status, headers, body = _answer(sock)  # the server waits for no body: it answers and closes
    assert status == 413, body[:300]
    if path.startswith("/api/"):
        error = json.loads(body)["error"]
        assert error["kind"] == "too_large" and "MiB" in error["message"]
    assert manager.stored_credentials("echo") == {}


def test_a_chunked_body_is_cut_off_once_it_passes_the_cap(api: ApiClient, manager: IntegrationManager) -> None:
    """No Content-Length to check up front: the body is counted as it comes, and 413 is the
    answer as soon as it passes the cap, though the client has not finished (nor ever will)."""
    piece = b"x" * (64 * 1024)
    with _connect(api.base) as sock:
        sock.sendall(_head(api, "PUT", "/api/v1/integrations/echo/credentials", "application/json", None))
        for _ in range(MAX_BODY_BYTES // len(piece) + 2):
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        status, headers, body = _answer(sock)  # no final chunk was sent
    assert status == 413 and json.loads(body)["error"]["kind"] == "too_large"
    assert manager.stored_credentials("echo") == {}


def test_a_chunked_body_under_the_cap_arrives_whole(api: ApiClient, manager: IntegrationManager,
                                                     echo: EchoService) -> None:
    doc = json.dumps({"values": {"url": echo.url, "token": GOOD_TOKEN, "workspace": "c" * 300_000}}).encode()
    with _connect(api.base) as sock:
        sock.sendall(_head(api, "PUT", "/api/v1/integrations/echo/credentials", "application/json", None)
                     .replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        for at in range(0, len(doc), 50_000):
            part = doc[at:at + 50_000]
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        sock.sendall(b"0\r\n\r\n")
        status, _, body = _answer(sock)
    assert status == 200, body[:300]
    assert manager.stored_credentials("echo")["workspace"] == "c" * 300_000


def test_a_script_with_the_token_gets_the_same_cap(manager: IntegrationManager) -> None:
    with ServerThread(webauth.app(manager)) as srv, _connect(srv.url) as sock:
        head = (f"PUT /api/v1/integrations/echo/credentials HTTP/1.1\r\nHost: {urlsplit(srv.url).netloc}\r\n"
                f"Authorization: Bearer {webauth.TOKEN}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {200 * 1024 * 1024}\r\n\r\n")
        sock.sendall(head.encode())
        status, _, body = _answer(sock)
    assert status == 413 and json.loads(body)["error"]["kind"] == "too_large"
