"""The official SDKs (and httpx for Gemini) through the proxy, over real sockets, with and
without Helicone: answers, streams, and the exact headers that reach upstream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.web.server import ServerThread

from .conftest import ORG_ID

if TYPE_CHECKING:  # the SDKs are imported where used: every xdist worker collects this module
    import anthropic
    import openai

#: What the proxy removes from a client's request (the key places, framing, browser context).
REMOVED = {"host", "content-length", "connection", "authorization", "x-api-key", "x-goog-api-key",
           "origin", "cookie", "referer"}
PROMPT = [{"role": "user", "content": "Tell me about proxies"}]
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "Tell me about proxies"}]}]}


class Capture:
    """An httpx event hook that keeps the headers a client actually sent to the proxy."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def __call__(self, request: Any) -> None:
        self.sent.append(request.headers)

    def names(self) -> set[str]:
        return {k.lower() for k in self.sent[-1].keys()}

    def value(self, name: str) -> str:
        return self.sent[-1][name]


def _openai(proxy: ServerThread, token: str) -> tuple[openai.OpenAI, Capture]:
    import openai
    cap = Capture()
    http = httpx.Client(event_hooks={"request": [cap]})
    return openai.OpenAI(base_url=proxy.url + "/openai/v1", api_key=token, http_client=http, max_retries=0), cap


def _anthropic(proxy: ServerThread, token: str) -> tuple[anthropic.Anthropic, Capture]:
    import anthropic
    import httpx2  # this Anthropic SDK ships its own fork of httpx

    cap = Capture()
    http = httpx2.Client(event_hooks={"request": [cap]})
    return anthropic.Anthropic(base_url=proxy.url + "/anthropic", api_key=token, http_client=http, max_retries=0), cap


def _upstream(box: Sandbox, service: str) -> dict[str, str]:
    seen = box.emulator(service).observed.items  # type: ignore[attr-defined]
    assert seen, f"nothing reached the {service} emulator"
    return dict(seen[-1][2])


def _check_headers(got: dict[str, str], cap: Capture, injected: dict[str, str | None], host: str) -> None:
    """Exactly the client's headers minus the removed ones, plus the injected ones; values kept."""
    expected = (cap.names() - REMOVED) | set(injected) | {"host", "content-length"}
    assert set(got) == expected
    for name in cap.names() - REMOVED:
        assert got[name] == cap.value(name), name
    for name, value in injected.items():
        assert got[name] == (value if value is not None else "***"), name
    assert got["host"] == host


def _host(url: str) -> str:
    return httpx.URL(url).netloc.decode()


# --------------------------------------------------------------------------- OpenAI


@pytest.mark.parametrize("routed", [False, True], ids=["direct", "helicone"])
def test_openai_sdk_plain_and_streaming(routed: bool, box: Sandbox, manager: Any, proxy: ServerThread,
                                        token: str, request: pytest.FixtureRequest) -> None:
    if routed:
        request.getfixturevalue("helicone_on")
    client, cap = _openai(proxy, token)
    done = client.chat.completions.create(model="gpt-4o", messages=PROMPT)  # type: ignore[arg-type]
    assert done.choices[0].message.content.startswith("Sandbox reply to: Tell me about proxies")
    assert done.usage is not None and done.usage.prompt_tokens == 4
    want = {"authorization": None}
    if routed:
        want |= {"helicone-auth": None, "helicone-organization-id": ORG_ID}
        _check_headers(_upstream(box, "helicone-proxy"), cap, want, _host(box.url("helicone-proxy")))
        # Helicone strips its own headers before the vendor sees the request.
        assert not [h for h in _upstream(box, "openai") if h.startswith("helicone-")]
    else:
        _check_headers(_upstream(box, "openai"), cap, want, _host(box.url("openai")))

    stream = client.chat.completions.create(model="gpt-4o", messages=PROMPT, stream=True,  # type: ignore[arg-type]
                                            stream_options={"include_usage": True})
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len(pieces) > 5 and "".join(pieces) == done.choices[0].message.content
    recorded = box.emulator("helicone").store.recorded()  # type: ignore[attr-defined]
    assert len(recorded) == (2 if routed else 0)


def test_openai_errors_pass_through_unchanged(box: Sandbox, proxy: ServerThread, token: str, keys: dict[str, str]) -> None:
    import openai
    client, _ = _openai(proxy, token)
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-9", messages=PROMPT)  # type: ignore[arg-type]
    via_proxy = err.value.response
    direct = httpx.post(box.url("openai") + "/v1/chat/completions", json={"model": "gpt-9", "messages": PROMPT},
                        headers={"Authorization": f"Bearer {keys['openai']}"})
    assert via_proxy.status_code == direct.status_code == 404
    assert via_proxy.content == direct.content
    assert "x-devtrack-proxy-error" not in via_proxy.headers


# --------------------------------------------------------------------------- Anthropic


@pytest.mark.parametrize("routed", [False, True], ids=["direct", "helicone"])
def test_anthropic_sdk_plain_and_streaming(routed: bool, box: Sandbox, proxy: ServerThread, token: str,
                                           request: pytest.FixtureRequest) -> None:
    if routed:
        request.getfixturevalue("helicone_on")
    client, cap = _anthropic(proxy, token)
    msg = client.messages.create(model="claude-3-5-haiku-20241022", max_tokens=64, messages=PROMPT)  # type: ignore[arg-type]
    text = msg.content[0].text  # type: ignore[union-attr]
    assert text.startswith("Sandbox reply to:") and msg.usage.output_tokens == 12
    want = {"x-api-key": None}
    if routed:
        want |= {"helicone-auth": None, "helicone-organization-id": ORG_ID}
        _check_headers(_upstream(box, "helicone-proxy"), cap, want, _host(box.url("helicone-proxy")))
    else:
        _check_headers(_upstream(box, "anthropic"), cap, want, _host(box.url("anthropic")))
    assert _upstream(box, "anthropic")["anthropic-version"] == cap.value("anthropic-version")

    with client.messages.stream(model="claude-3-5-haiku-20241022", max_tokens=64, messages=PROMPT) as stream:  # type: ignore[arg-type]
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) == 12 and "".join(pieces) == text and final.usage.output_tokens == 12
    assert len(box.emulator("helicone").store.recorded()) == (2 if routed else 0)  # type: ignore[attr-defined]


def test_anthropic_error_body_passes_through(box: Sandbox, proxy: ServerThread, token: str) -> None:
    resp = httpx.post(proxy.url + "/anthropic/v1/messages", headers={"x-api-key": token},
                      json={"model": "claude-3-5-haiku-20241022", "max_tokens": 5, "messages": PROMPT})
    assert resp.status_code == 400  # no anthropic-version: Anthropic's own refusal, relayed
    assert resp.json() == {"type": "error", "error": {"type": "invalid_request_error",
                                                      "message": "anthropic-version: header is required"}}


# --------------------------------------------------------------------------- Gemini


@pytest.mark.parametrize("routed", [False, True], ids=["direct", "helicone"])
def test_gemini_over_httpx_plain_and_streaming(routed: bool, box: Sandbox, proxy: ServerThread, token: str,
                                               request: pytest.FixtureRequest) -> None:
    if routed:
        request.getfixturevalue("helicone_on")
    cap = Capture()
    with httpx.Client(base_url=proxy.url + "/google", event_hooks={"request": [cap]}) as http:
        resp = http.post("/v1beta/models/gemini-1.5-flash:generateContent", json=GEMINI_BODY,
                         headers={"x-goog-api-key": token})
        assert resp.status_code == 200, resp.text
        text = resp.json()["candidates"][0]["content"]["parts"][0]["text"]
        want: dict[str, str | None] = {"x-goog-api-key": None}
        if routed:
            want |= {"helicone-auth": None, "helicone-organization-id": ORG_ID,
                     "helicone-target-url": box.url("google")}
            _check_headers(_upstream(box, "helicone-proxy"), cap, want, _host(box.url("helicone-proxy")))
        else:
            _check_headers(_upstream(box, "google"), cap, want, _host(box.url("google")))

        # The token in ?key= (as some Gemini clients send it) is accepted and never forwarded.
        with http.stream("POST", "/v1beta/models/gemini-1.5-flash:streamGenerateContent",
                         params={"alt": "sse", "key": token}, json=GEMINI_BODY) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            events = [line for line in streamed.iter_lines() if line.startswith("data: ")]
    assert len(events) == 12
    last = box.emulator("google").requests.all()[-1]  # type: ignore[attr-defined]
    assert last.params == {"alt": "sse"}
    assert "".join(__import__("json").loads(e[6:])["candidates"][0]["content"]["parts"][0]["text"]
                   for e in events) == text
    assert len(box.emulator("helicone").store.recorded()) == (2 if routed else 0)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- Helicone headers


def test_client_helicone_headers_pass_only_through_helicone(box: Sandbox, proxy: ServerThread, token: str,
                                                           request: pytest.FixtureRequest) -> None:
    client, _ = _openai(proxy, token)
    extra = {"Helicone-Property-Env": "test", "Helicone-User-Id": "alice@example.com",
             "Helicone-Auth": "Bearer sk-helicone-not-ours-0000000000", "Helicone-Target-URL": "http://127.0.0.1:9"}
    client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT, extra_headers=extra)  # type: ignore[arg-type]
    direct = _upstream(box, "openai")
    assert not [h for h in direct if h.startswith("helicone-")]  # not routed: nothing Helicone leaks out

    request.getfixturevalue("helicone_on")
    client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT, extra_headers=extra)  # type: ignore[arg-type]
    seen = _upstream(box, "helicone-proxy")
    assert seen["helicone-property-env"] == "test" and seen["helicone-user-id"] == "alice@example.com"
    assert "helicone-target-url" not in seen  # the client cannot redirect where the key goes
    (logged,) = box.emulator("helicone").store.recorded()  # type: ignore[attr-defined]
    assert logged.properties == {"env": "test"} and logged.user_id == "alice@example.com"
    # The client's own Helicone-Auth was replaced by DevTrack's (the emulator accepted the request).
    assert logged.status == 200
