"""The shared HTTP layer over real sockets: retries, rate limits, deadlines, bad bodies."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devtrack.integrations.contract import DEADLINE, ResultKind
from devtrack.integrations.http import HttpError, ServiceClient, base_url_for, next_link

from ..timing import active_since

Handler = Callable[[BaseHTTPRequestHandler, int], tuple[int, dict[str, str], bytes] | None]


class Scripted:
    """A loopback server whose answers a test scripts per request number."""

    def __init__(self) -> None:
        self.handler: Handler = lambda req, n: (200, {}, b"{}")
        self.hits: list[str] = []
        self.auth: list[str | None] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                n = len(outer.hits)
                outer.hits.append(self.path)
                outer.auth.append(self.headers.get("Authorization"))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                out = outer.handler(self, n)
                if out is None:
                    return
                status, headers, body = out
                self.send_response(status)
                headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def srv() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.close()


SECRET = "tok_secret_value_0123456789"


def client(srv: Scripted, **kw: object) -> ServiceClient:
    return ServiceClient("demo", srv.url, service="Demo", headers={"Authorization": f"Bearer {SECRET}"},
                         backoff_base=0.01, **kw)  # type: ignore[arg-type]


async def test_429_with_retry_after_is_retried_then_succeeds(srv: Scripted) -> None:
    srv.handler = lambda r, n: (429, {"Retry-After": "1"}, b'{"error":{"code":"rate_limited"}}') if n == 0 else (200, {}, b'{"ok": true}')
    started = time.perf_counter()
    async with client(srv) as c:
        assert await c.get_json("/x") == {"ok": True}
    assert len(srv.hits) == 2
    assert time.perf_counter() - started >= 0.9


async def test_5xx_retried_then_gives_up_as_unavailable(srv: Scripted) -> None:
    srv.handler = lambda r, n: (503, {}, b'{"message":"maintenance"}')
    async with client(srv, max_retries=2) as c:
        with pytest.raises(HttpError) as err:
            await c.get_json("/x")
    assert err.value.kind == ResultKind.UNAVAILABLE and err.value.status == 503
    assert "maintenance" in err.value.message
    assert len(srv.hits) == 3


async def test_retry_after_beyond_deadline_is_not_waited(srv: Scripted) -> None:
    srv.handler = lambda r, n: (429, {"Retry-After": "30"}, b"{}")
    token = DEADLINE.set(time.perf_counter() + 2)
    try:
        started = time.perf_counter()
        async with client(srv) as c:
            with pytest.raises(HttpError) as err:
                await c.get_json("/x")
    finally:
        DEADLINE.reset(token)
    assert active_since(started) < 1
    assert err.value.kind == ResultKind.RATE_LIMITED and err.value.retry_after == 30
    assert "Retry after 30s" in err.value.message


async def test_github_style_403_rate_limit(srv: Scripted) -> None:
    reset = int(time.time()) + 3600
    srv.handler = lambda r, n: (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}, b'{"message":"API rate limit exceeded"}')
    async with client(srv, max_retries=1) as c:
        with pytest.raises(HttpError) as err:
            token = DEADLINE.set(time.perf_counter() + 5)
            try:
                await c.get_json("/x")
            finally:
                DEADLINE.reset(token)
    assert err.value.kind == ResultKind.RATE_LIMITED
    assert len(srv.hits) == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, ResultKind.AUTH), (403, ResultKind.PERMISSION), (404, ResultKind.NOT_FOUND), (400, ResultKind.CONFIG)],
)
async def test_status_table(srv: Scripted, status: int, kind: ResultKind) -> None:
    srv.handler = lambda r, n: (status, {}, json.dumps({"error": {"message": f"nope {SECRET}"}}).encode())
    async with client(srv) as c:
        with pytest.raises(HttpError) as err:
            await c.get_json("/x")
    assert err.value.kind == kind
    assert SECRET not in err.value.message and "nope" in err.value.message
    assert len(srv.hits) == 1
    assert srv.auth[0] == f"Bearer {SECRET}"


async def test_html_and_malformed_json_are_invalid_response(srv: Scripted) -> None:
    srv.handler = lambda r, n: (200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html>Login</html>")
    async with client(srv) as c:
        with pytest.raises(HttpError, match="HTML page") as err:
            await c.get_json("/x")
        assert err.value.kind == ResultKind.INVALID_RESPONSE
        srv.handler = lambda r, n: (200, {}, b'{"truncated": ')
        with pytest.raises(HttpError, match="malformed JSON"):
            await c.get_json("/x")


async def test_oversized_body_refused(srv: Scripted) -> None:
    srv.handler = lambda r, n: (200, {}, b"[" + b"1," * 600_000 + b"1]")
    async with client(srv, max_bytes=1024 * 1024) as c:
        with pytest.raises(HttpError, match="larger than 1 MB") as err:
            await c.get_json("/x")
    assert err.value.kind == ResultKind.INVALID_RESPONSE


async def test_truncated_body_is_network_error(srv: Scripted) -> None:
    def cut(r: BaseHTTPRequestHandler, n: int) -> None:
        r.send_response(200)
        r.send_header("Content-Length", "1000")
        r.end_headers()
        r.wfile.write(b'{"a": 1')
        r.wfile.flush()
        r.close_connection = True
        return None

    srv.handler = cut
    async with client(srv, max_retries=1) as c:
        with pytest.raises(HttpError) as err:
            await c.get_json("/x")
    assert err.value.kind == ResultKind.NETWORK
    assert len(srv.hits) == 2  # a GET is retried once


async def test_timeout(srv: Scripted) -> None:
    def slow(r: BaseHTTPRequestHandler, n: int) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.5)
        return (200, {}, b"{}")

    srv.handler = slow
    async with client(srv, timeout=0.3, max_retries=0) as c:
        with pytest.raises(HttpError) as err:
            await c.get_json("/x")
    assert err.value.kind == ResultKind.TIMEOUT


async def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with ServiceClient("demo", f"http://127.0.0.1:{port}", service="Demo", max_retries=1, backoff_base=0.01) as c:
        with pytest.raises(HttpError, match="Cannot connect to Demo") as err:
            await c.get_json("/x")
    assert err.value.kind == ResultKind.NETWORK


async def test_link_pagination(srv: Scripted) -> None:
    def pages(r: BaseHTTPRequestHandler, n: int) -> tuple[int, dict[str, str], bytes]:
        from urllib.parse import parse_qs, urlsplit

        page = int(parse_qs(urlsplit(r.path).query).get("page", ["1"])[0])
        headers = {"Link": f'<{srv.url}/items?page={page + 1}>; rel="next"'} if page < 3 else {}
        return (200, headers, json.dumps([page]).encode())

    srv.handler = pages
    async with client(srv) as c:
        got = [c.json_of(r)[0] async for r in c.paginate_link("/items", params={"per_page": 1})]
    assert got == [1, 2, 3]


def test_next_link_sentry_results_false() -> None:
    header = ('<https://sentry.io/api/0/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
              '<https://sentry.io/api/0/x/?cursor=0:100:0>; rel="next"; results="false"; cursor="0:100:0"')
    assert next_link(header) is None
    assert next_link(header.replace('results="false"; cursor="0:100:0"', 'results="true"; cursor="0:100:0"'),
                     "https://sentry.io") == "/api/0/x/?cursor=0:100:0"


def test_base_url_override_rules() -> None:
    assert base_url_for("aws-ec2", "https://x", {"DEVTRACK_AWS_EC2_BASE_URL": "http://127.0.0.1:9/"}) == "http://127.0.0.1:9"
    assert base_url_for("vercel", "https://api.vercel.com", {}) == "https://api.vercel.com"
    with pytest.raises(HttpError, match="https") as err:
        base_url_for("vercel", "https://api.vercel.com", {"DEVTRACK_VERCEL_BASE_URL": "http://evil.example"})
    assert err.value.kind == ResultKind.CONFIG
