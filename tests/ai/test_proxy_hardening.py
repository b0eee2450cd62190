"""What a client of the proxy cannot do with DevTrack's keys: steer Helicone to another host,
climb out of the provider's API path, or keep a model running after it hung up.

Every request goes over a real socket to the real proxy server, and upstream is a sandbox
emulator that records what it received (headers, paths, when its connection closed).
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from devtrack.ai.inbound import api_path
from devtrack.ai.proxy import create_proxy_app
from devtrack.ai.proxy_token import ensure_token
from devtrack.ai.routing import RoutingError
from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox, stalls
from devtrack.sandbox.openai_emulator import OpenAIEmulator
from devtrack.web.server import ServerThread

from .watch import DisconnectWatch, RawUpstream, raw_request

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
EVIL = "https://evil.example"

# --------------------------------------------------------------------------- 1. Helicone routing headers

#: Headers Helicone reads as "send this request (or its log, or the key) somewhere else".
ROUTING = {
    "Helicone-OpenAI-Api-Base": EVIL,
    "Helicone-Anthropic-Api-Base": EVIL,
    "Helicone-Target-URL": EVIL,
    "Helicone-Target-Provider": "evil",
    "Helicone-Fallbacks": json.dumps([{"target-url": EVIL, "headers": {}}]),
    "Helicone-Posthog-Host": EVIL,
    "Helicone-Posthog-Key": "phc_attacker",
    "Helicone-Auth": "Bearer sk-helicone-not-ours-0000000000",
    "Helicone-Something-New": EVIL,  # not on the allow-list: unknown means dropped
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Server": "evil.example",
    "X-Original-URL": EVIL + "/v1",
    "X-Rewrite-URL": EVIL + "/v1",
}
#: Observability headers a client may add: they change what Helicone records, not where things go.
HARMLESS = {
    "Helicone-Property-App": "tests",
    "Helicone-User-Id": "alice@example.com",
    "Helicone-Session-Id": "5b7c1d2e-0000-4000-8000-000000000001",
    "Helicone-Session-Path": "/chat/turn",
    "Helicone-Session-Name": "Hardening",
    "Helicone-Cache-Enabled": "false",
    "Helicone-Retry-Enabled": "false",
    "Helicone-Retry-Num": "2",
    "Helicone-Request-Id": "9d1e7c8a-0000-4000-8000-000000000002",
    "Helicone-Omit-Request": "false",
}


def _request(provider: str, url: str, token: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    if provider == "openai":
        return url + "/openai/v1/chat/completions", CHAT, {"Authorization": f"Bearer {token}"}
    if provider == "anthropic":
        return (url + "/anthropic/v1/messages", {**CHAT, "model": "claude-3-5-haiku-20241022", "max_tokens": 5},
                {"x-api-key": token, "anthropic-version": "2023-06-01"})
    return (url + "/google/v1beta/models/gemini-1.5-flash:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, {"x-goog-api-key": token})


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_no_client_header_can_move_helicone_traffic(provider: str, box: Sandbox, proxy: ServerThread, token: str,
                                                   helicone_on: str) -> None:
    url, body, auth = _request(provider, proxy.url, token)
    resp = httpx.post(url, json=body, headers={**auth, **ROUTING, **HARMLESS})
    assert resp.status_code == 200, resp.text
    seen = dict(box.emulator("helicone-proxy").observed.last())  # type: ignore[attr-defined]
    for name in ROUTING:
        if name.lower() in ("helicone-auth", "helicone-target-url"):
            continue  # DevTrack sets these itself: checked below
        assert name.lower() not in seen, f"{name} reached Helicone"
    assert not [v for v in seen.values() if "evil" in v], seen
    for name, value in HARMLESS.items():
        assert seen[name.lower()] == value, name
    assert seen["helicone-auth"] == "***"  # a value was sent (masked by the emulator's log) …
    (logged,) = box.emulator("helicone").store.recorded()  # type: ignore[attr-defined]
    assert logged.status == 200  # … and Helicone accepted it: it was DevTrack's key, not the client's
    if provider == "google":
        assert seen["helicone-target-url"] == box.url("google")
    else:
        assert "helicone-target-url" not in seen


def test_direct_routing_drops_every_helicone_and_forwarding_header(box: Sandbox, proxy: ServerThread,
                                                                    token: str) -> None:
    url, body, auth = _request("openai", proxy.url, token)
    assert httpx.post(url, json=body, headers={**auth, **ROUTING, **HARMLESS}).status_code == 200
    seen = dict(box.emulator("openai").observed.last())  # type: ignore[attr-defined]
    assert not [h for h in seen if h.startswith("helicone-")]
    assert not [v for v in seen.values() if "evil" in v], seen


# --------------------------------------------------------------------------- 2. paths


def _reached(box: Sandbox) -> list[str]:
    return [r.path for s in ("openai", "anthropic", "google", "helicone-proxy")
            for r in box.emulator(s).requests.all()]


ESCAPES = [
    ("openai", "/openai/v1/../../x"),
    ("openai", "/openai/v1/../x"),
    ("openai", "/openai/v1/%2e%2e/%2e%2e/x"),
    ("openai", "/openai/v1/%2E%2E/x"),
    ("openai", "/openai/v1/..%2f..%2fx"),
    ("openai", "/openai/v1%2f..%2f..%2fx"),
    ("openai", "/openai/v1/%252e%252e/%252e%252e/x"),
    ("openai", "/openai/v1/..%5c..%5cx"),
    ("openai", "/openai/v1/models/../../../x"),
    ("anthropic", "/anthropic/../x"),
    ("anthropic", "/anthropic/v1/../../x"),
    ("google", "/google/v1beta/%2e%2e/%2e%2e/x"),
]


@pytest.mark.parametrize(("provider", "target"), ESCAPES)
@pytest.mark.parametrize("routed", [False, True], ids=["direct", "helicone"])
def test_paths_that_leave_the_api_are_refused(provider: str, target: str, routed: bool, box: Sandbox,
                                              proxy: ServerThread, token: str,
                                              request: pytest.FixtureRequest) -> None:
    if routed:
        request.getfixturevalue("helicone_on")
    auth = {"openai": {"Authorization": f"Bearer {token}"}, "anthropic": {"x-api-key": token},
            "google": {"x-goog-api-key": token}}[provider]
    status, headers, body = raw_request(proxy.url, target, auth)
    assert status in (400, 404), (status, body)
    assert headers.get("x-devtrack-proxy-error") in ("bad_path", "not_found"), headers
    assert _reached(box) == []  # nothing, anywhere, was sent with the key


@pytest.mark.parametrize(("given", "sent"), [
    ("/v1/chat/completions", "/v1/chat/completions"),
    ("/v1beta/models/gemini-1.5-flash:generateContent", "/v1beta/models/gemini-1.5-flash:generateContent"),
    ("/v1/models/", "/v1/models/"),
    ("/v1/./models", "/v1/models"),
    ("/v1//models", "/v1/models"),
    ("/v1/files/a b#c", "/v1/files/a%20b%23c"),
    ("/v1/x/%252e%252e/models", "/v1/models"),
])
def test_api_path_normalises_before_anything_checks_it(given: str, sent: str) -> None:
    assert api_path(given) == sent


def test_api_path_refuses_what_it_cannot_settle() -> None:
    for path in ("/..", "/v1/../..", "/%2e%2e/x", "/v1/%" + "25" * 6 + "2e"):
        with pytest.raises(RoutingError) as err:
            api_path(path)
        assert err.value.status == 400 and err.value.kind == "bad_path"


def test_dot_segments_inside_the_api_still_work(box: Sandbox, proxy: ServerThread, token: str) -> None:
    status, _, body = raw_request(proxy.url, "/openai/v1/chat/../models", {"Authorization": f"Bearer {token}"})
    assert status == 200, body
    assert [r.path for r in box.emulator("openai").requests.all()] == ["/v1/models"]


def test_an_encoded_question_mark_stays_in_the_path(box: Sandbox, proxy: ServerThread, token: str) -> None:
    """``%3F`` is part of a path segment: decoded and pasted into the URL it would start a query."""
    status, _, _ = raw_request(proxy.url, "/openai/v1/models%3Fsmuggled=1", {"Authorization": f"Bearer {token}"})
    (seen,) = box.emulator("openai").requests.all()
    assert seen.path == "/v1/models?smuggled=1" and seen.param_names == []
    assert status == 404


# --------------------------------------------------------------------------- 3. hanging up


def _proxy_for(upstream: ServerThread, emu: OpenAIEmulator, tmp_path: Path) -> tuple[IntegrationManager, str]:
    m = IntegrationManager(store=CredentialStore(tmp_path / "c.json"),
                           environ={"DEVTRACK_OPENAI_BASE_URL": upstream.url + "/v1", "OPENAI_API_KEY": emu.key})
    return m, ensure_token(m.store)


#: How long the upstream would go on without the fix; the check allows 2 s of the machine's
#: own time (freezes of the host left out) for what must take well under 1 s.
SILENCE = 8.0
SLACK = 2.0


def test_hanging_up_mid_stream_closes_the_upstream_connection(tmp_path: Path) -> None:
    """The model pauses between tokens: the proxy must not wait for the next one to notice."""
    clock = stalls.clock()
    emu = OpenAIEmulator(seed=11)
    emu.chunk_delay, emu.reply_words = SILENCE, 3
    watch = DisconnectWatch(emu.app())
    with ServerThread(watch) as upstream:
        m, token = _proxy_for(upstream, emu, tmp_path)
        with ServerThread(create_proxy_app(m)) as srv:
            with httpx.stream("POST", srv.url + "/openai/v1/chat/completions", json={**CHAT, "stream": True},
                              headers={"Authorization": f"Bearer {token}", "Connection": "close"}) as resp:
                assert resp.status_code == 200
                assert next(resp.iter_raw())  # the first event, then the client leaves
            left = time.perf_counter()
            closed = watch.wait_closed(SILENCE + 5)
    assert closed is not None, "the upstream never saw the connection close"
    assert clock.active(left, closed) < SLACK, f"upstream closed {closed - left:.2f} s after the client left"


def test_hanging_up_before_the_answer_closes_the_upstream_connection(tmp_path: Path) -> None:
    """A model still thinking (no byte sent yet) when the client gives up: stop it there."""
    clock = stalls.clock()
    emu = OpenAIEmulator(seed=12)
    watch = DisconnectWatch(emu.app(), hold=SILENCE)
    with ServerThread(watch) as upstream:
        m, token = _proxy_for(upstream, emu, tmp_path)
        with ServerThread(create_proxy_app(m)) as srv:
            body = json.dumps(CHAT).encode()
            parts = urlsplit(srv.url)
            with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
                sock.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Authorization: Bearer " + token.encode() + b"\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                deadline = time.monotonic() + 10
                while not watch.started and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert watch.started, "the request never reached the upstream"
            left = time.perf_counter()
            closed = watch.wait_closed(SILENCE + 5)
    assert closed is not None, "the upstream answered to nobody: its connection stayed open"
    assert clock.active(left, closed) < SLACK, f"upstream closed {closed - left:.2f} s after the client left"


# --------------------------------------------------------------------------- 4. what goes on the wire


def test_upstream_gets_only_the_headers_the_proxy_chose(tmp_path: Path) -> None:
    """The upstream client adds nothing of its own (no User-Agent, Accept, Content-Type, cookies)
    and sends the path as given; the vendor's answer comes back without its cookie."""
    with RawUpstream(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                     b"Set-Cookie: upstream=1\r\nX-Vendor: kept\r\nConnection: close\r\n\r\n{}") as upstream:
        m = IntegrationManager(store=CredentialStore(tmp_path / "c.json"),
                               environ={"DEVTRACK_OPENAI_BASE_URL": upstream.url + "/v1",
                                        "OPENAI_API_KEY": "sk-wire-test-000000000000000000"})
        token = ensure_token(m.store)
        with ServerThread(create_proxy_app(m)) as srv:
            parts = urlsplit(srv.url)
            body = b'{"model": "gpt-4o"}'
            with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
                sock.sendall(b"POST /openai/v1/files/a:x%3Fy?limit=2&after=a%2Bb%20c HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"X-Custom: one\r\n"
                             b"X-Custom: two\r\nAuthorization: Bearer " + token.encode() + b"\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            for _ in range(2):  # two more on the same session: still nothing of its own, nor a cookie
                resp = httpx.get(srv.url + "/openai/v1/models", headers={"Authorization": f"Bearer {token}"})
                assert resp.status_code == 200 and resp.headers["x-vendor"] == "kept"
    head = upstream.heads[0].decode("latin-1").split("\r\n")
    assert head[0] == "POST /v1/files/a:x%3Fy?limit=2&after=a%2Bb+c HTTP/1.1"
    names = [line.split(":", 1)[0].lower() for line in head[1:]]
    assert sorted(names) == ["accept-encoding", "authorization", "content-length", "host", "x-custom", "x-custom"]
    assert "accept-encoding: identity" in [line.lower() for line in head]
    assert "authorization: bearer sk-wire-test-000000000000000000" in [line.lower() for line in head]
    assert answer.startswith(b"HTTP/1.1 200") and b"set-cookie" not in answer.lower() and answer.endswith(b"{}")
    assert len(upstream.heads) == 3
    assert not any(b"cookie" in h.lower() for h in upstream.heads)
