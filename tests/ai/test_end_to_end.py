"""Save Helicone → chat through the proxy → the Helicone plugin's data shows the call and its cost;
and the same proxy mounted in the web app at ``/ai/``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox
from devtrack.sandbox.helicone_emulator import price
from devtrack.web.server import ServerThread

from .. import webauth


async def _helicone_data(manager: IntegrationManager) -> Any:
    data = await manager.fetch("helicone")
    assert data.error is None, data.error
    return data


async def test_a_proxied_call_shows_up_in_the_helicone_plugin(box: Sandbox, manager: IntegrationManager,
                                                              proxy: ServerThread, token: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import openai
    helicone = box.emulator("helicone")
    monkeypatch.setenv("DEVTRACK_HELICONE_BASE_URL", box.env()["DEVTRACK_HELICONE_BASE_URL"])
    # Saved through the manager, as the CLI, the web form and the JSON API all do.
    manager.set_credentials("helicone", {"api_key": helicone.good_key, "org_id": "org-e2e"})  # type: ignore[attr-defined]
    before = await _helicone_data(manager)

    client = openai.AsyncOpenAI(base_url=proxy.url + "/openai/v1", api_key=token, max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "What did the proxy cost?"}])
    completion = raw.parse()
    request_id = raw.headers["helicone-id"]
    assert completion.usage is not None
    cost = price("gpt-4o", completion.usage.prompt_tokens, completion.usage.completion_tokens)
    assert cost > 0

    after = await _helicone_data(manager)
    m0, m1 = before.health.metrics, after.health.metrics
    assert m1["requests_today"] == m0["requests_today"] + 1
    assert m1["cost_today_usd"] == pytest.approx(m0["cost_today_usd"] + cost, abs=2e-6)
    assert m1["cost_by_model"]["gpt-4o"] == pytest.approx(m0["cost_by_model"].get("gpt-4o", 0) + cost, abs=2e-6)
    (event,) = [e for e in after.events if e.url and f"requestId={request_id}" in e.url]
    assert event.title.startswith("gpt-4o: 200") and f"${cost:.4f}" in event.title

    # Disable Helicone: the next call goes straight to OpenAI and Helicone sees nothing more.
    manager.set_enabled("helicone", False)
    await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "again"}])
    assert len(helicone.store.recorded()) == 1  # type: ignore[attr-defined]
    await client.close()


def test_web_app_mounts_the_proxy_without_csrf_but_with_its_own_checks(box: Sandbox, manager: IntegrationManager,
                                                                        token: str) -> None:
    import openai
    with ServerThread(webauth.app(manager)) as web:
        client = openai.OpenAI(base_url=web.url + "/ai/openai/v1", api_key=token, max_retries=0)
        stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                messages=[{"role": "user", "content": "through the web app"}])
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).startswith("Sandbox reply")
        refused = httpx.post(web.url + "/ai/openai/v1/chat/completions", json={"model": "gpt-4o", "messages": []},
                             headers={"Authorization": f"Bearer {token}", "Origin": web.url})
        assert refused.status_code == 403 and refused.headers["x-devtrack-proxy-error"] == "origin"
        no_token = httpx.post(web.url + "/ai/openai/v1/chat/completions", json={"model": "gpt-4o", "messages": []})
        assert no_token.status_code == 401
        # The web app's own routes still demand CSRF for state changes from a logged-in browser.
        with httpx.Client(base_url=web.url) as browser_like:
            assert browser_like.get(webauth.login_url(web.url)).status_code == 303
            r = browser_like.post("/api/v1/integrations/vercel/enable", headers={"Origin": web.url})
            assert r.status_code == 403 and r.json()["error"]["kind"] == "csrf"
    assert box.emulator("openai").requests.count("/v1/chat/completions") == 1


def test_with_an_access_token_the_proxy_still_takes_its_own_token(box: Sandbox, manager: IntegrationManager,
                                                                   token: str) -> None:
    """A non-loopback ``devtrack serve`` needs an access token; an SDK can send only one key,
    the proxy token, so ``/ai/`` is guarded by that token alone and everything else by both."""
    import openai
    from devtrack.web import create_app

    access = "web-ACCESS-token-7f3e9a"
    with ServerThread(create_app(manager, access_token=access)) as web:
        client = openai.OpenAI(base_url=web.url + "/ai/openai/v1", api_key=token, max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content.startswith("Sandbox reply")
        # The access token is not a proxy token, and no token at all is refused by the proxy.
        for headers in ({"Authorization": f"Bearer {access}"}, {}):
            refused = httpx.post(web.url + "/ai/openai/v1/chat/completions", json={"model": "gpt-4o", "messages": []},
                                 headers=headers)
            assert refused.status_code == 401 and refused.headers.get("x-devtrack-proxy-error"), headers
        # The web app's own routes still need the access token, and the proxy token does not open them.
        assert httpx.get(web.url + "/api/v1/integrations").status_code == 401
        assert httpx.get(web.url + "/api/v1/integrations",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert httpx.get(web.url + "/api/v1/integrations",
                         headers={"Authorization": f"Bearer {access}"}).status_code == 200
    assert box.emulator("openai").requests.count("/v1/chat/completions") == 1
