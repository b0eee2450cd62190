"""The Cloudflare emulator against Cloudflare's own OpenAPI document (patched copy: PATCHES.md)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.sandbox.cloudflare_emulator import PREFIX, CloudflareEmulator

from .checker import load, recorded_problems, route_problems

CONTRACT = load("cloudflare", "cloudflare-trimmed.json", prefix=PREFIX)
OTHER_ACCOUNT = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def cloudflare() -> Iterator[CloudflareEmulator]:
    with Sandbox(["cloudflare"], seed=7, scale={"cloudflare_zones": 30, "cloudflare_pages_projects": 7}) as sb:
        emu = sb.emulator("cloudflare")
        assert isinstance(emu, CloudflareEmulator)
        yield emu


def get(emu: CloudflareEmulator, path: str, token: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(emu.url + PREFIX + path, params=params, headers=headers)


def test_every_served_route_is_in_the_contract(cloudflare: CloudflareEmulator) -> None:
    assert route_problems(cloudflare, CONTRACT) == []


def test_every_success_response_validates(cloudflare: CloudflareEmulator) -> None:
    cloudflare.reset()
    acc = cloudflare.account["id"]
    project = cloudflare.projects[0]["name"]
    calls = [
        ("/user/tokens/verify", cloudflare.user_token, {}),
        ("/user/tokens/verify", cloudflare.disabled_token, {}),
        ("/user/tokens/verify", cloudflare.expired_token, {}),
        (f"/accounts/{acc}/tokens/verify", cloudflare.account_token, {}),
        ("/zones", cloudflare.user_token, {}),
        ("/zones", cloudflare.user_token, {"account.id": acc, "page": "2", "per_page": "5"}),
        ("/zones", cloudflare.account_token, {"status": "pending", "order": "name", "direction": "desc"}),
        (f"/zones/{cloudflare.zones[1]['id']}", cloudflare.user_token, {}),
        (f"/accounts/{acc}/workers/scripts", cloudflare.user_token, {}),
        (f"/accounts/{acc}/pages/projects", cloudflare.account_token, {"page": "1", "per_page": "3"}),
        (f"/accounts/{acc}/pages/projects/{project}/deployments", cloudflare.user_token, {"per_page": "5"}),
        (f"/accounts/{acc}/pages/projects/{project}/deployments", cloudflare.user_token, {"env": "production"}),
    ]
    for path, token, params in calls:
        r = get(cloudflare, path, token, **params)
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        assert body["success"] is True and body["errors"] == []
        assert CONTRACT.response_problems("GET", PREFIX + path, 200, body) == [], path
    assert recorded_problems(cloudflare, CONTRACT) == []


def test_every_error_answer_is_the_envelope(cloudflare: CloudflareEmulator) -> None:
    """Each refusal: its status, Cloudflare's code, and the spec's failure envelope."""
    cloudflare.reset()
    acc = cloudflare.account["id"]
    unknown = "Z" * 40
    cases = [
        ("/user/tokens/verify", None, 400, 9106),
        ("/user/tokens/verify", "not a token", 400, 6003),
        ("/user/tokens/verify", unknown, 401, 1000),
        ("/user/tokens/verify", cloudflare.account_token, 401, 1000),        # the trap
        (f"/accounts/{acc}/tokens/verify", cloudflare.user_token, 401, 1000),
        (f"/accounts/{OTHER_ACCOUNT}/tokens/verify", cloudflare.account_token, 403, 10000),
        ("/accounts/not-an-id/tokens/verify", cloudflare.account_token, 400, 7003),
        ("/zones", unknown, 401, 9109),
        ("/zones", cloudflare.disabled_token, 401, 9109),
        ("/zones", cloudflare.user_token, 400, 1002),                        # per_page below 5
        ("/zones/" + OTHER_ACCOUNT, cloudflare.user_token, 404, 1001),
        (f"/accounts/{acc}/workers/scripts", cloudflare.zone_only_token, 403, 10000),
        (f"/accounts/{OTHER_ACCOUNT}/workers/scripts", cloudflare.user_token, 403, 10000),
        (f"/accounts/{acc}/pages/projects", cloudflare.zone_only_token, 403, 10000),
        (f"/accounts/{acc}/pages/projects/no-such/deployments", cloudflare.user_token, 404, 8000007),
    ]
    for path, token, status, code in cases:
        params = {"per_page": "2"} if status == 400 and code == 1002 else {}
        r = get(cloudflare, path, token, **params)
        body = r.json()
        assert (r.status_code, body["errors"][0]["code"]) == (status, code), (path, r.text)
        assert body["success"] is False and body["result"] is None
        assert CONTRACT.response_problems("GET", PREFIX + path, status, body) == [], path


def test_rate_limit_answer(cloudflare: CloudflareEmulator) -> None:
    cloudflare.reset()
    try:
        cloudflare.limiter.limit = 2
        answers = [get(cloudflare, "/user/tokens/verify", cloudflare.user_token) for _ in range(3)]
    finally:
        cloudflare.limiter.limit = cloudflare.rate_limit
        cloudflare.reset()
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[0].headers["x-ratelimit-limit"] == "2"
    assert answers[1].headers["x-ratelimit-remaining"] == "0"
    last = answers[2]
    assert int(last.headers["retry-after"]) > 0
    assert last.headers["x-ratelimit-reset"].endswith("GMT")
    assert last.json()["errors"][0]["code"] == 971
    assert CONTRACT.response_problems("GET", PREFIX + "/user/tokens/verify", 429, last.json()) == []


def test_paging_covers_every_item_once(cloudflare: CloudflareEmulator) -> None:
    acc = cloudflare.account["id"]
    seen: list[str] = []
    page, total_pages = 1, None
    while total_pages is None or page <= total_pages:
        body = get(cloudflare, "/zones", cloudflare.user_token, **{"account.id": acc, "page": str(page),
                                                                     "per_page": "5"}).json()
        total_pages = body["result_info"]["total_pages"]
        seen += [z["id"] for z in body["result"]]
        page += 1
    mine = [z["id"] for z in cloudflare.zones if z["account"]["id"] == acc]
    assert total_pages == 6 and seen == mine
    assert {z["status"] for z in cloudflare.zones} >= {"active", "pending", "initializing", "moved"}


def test_seeded_deployments_cover_every_stage_status(cloudflare: CloudflareEmulator) -> None:
    latest = {cloudflare.deployments[p["name"]][0]["latest_stage"]["status"] for p in cloudflare.projects}
    assert latest >= {"success", "failure", "active", "canceled"}


def test_contract_catches_a_wrong_response_and_request() -> None:
    assert CONTRACT.response_problems("GET", PREFIX + "/zones", 200, {"success": True, "result": []})
    assert CONTRACT.response_problems("GET", PREFIX + "/zones", 200, {
        "success": True, "errors": [], "messages": [], "result": [{"id": "x", "name": "a.com", "status": "gone"}]})
    assert CONTRACT.request_problems("GET", PREFIX + "/zones", ["cursor"])
    assert CONTRACT.request_problems("GET", PREFIX + "/accounts/x/workers/scripts", ["page"])
    assert CONTRACT.request_problems("GET", PREFIX + "/accounts/x/tokens/verify", []) == []
