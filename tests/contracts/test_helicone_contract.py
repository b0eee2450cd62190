"""The Helicone emulator against Helicone's own OpenAPI document (trimmed, patched copy: see PATCHES.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.sandbox.emulator import RateLimiter
from devtrack.sandbox.helicone_emulator import HeliconeEmulator, iso

from .checker import SPECS, load, recorded_problems, route_problems

CONTRACT = load("helicone", "helicone-trimmed.json")


@pytest.fixture(scope="module")
def helicone() -> Iterator[HeliconeEmulator]:
    with Sandbox(["helicone"], seed=7, scale={"helicone_requests_today": 40, "helicone_requests": 120}) as sb:
        emu = sb.emulator("helicone")
        assert isinstance(emu, HeliconeEmulator)
        yield emu


@pytest.fixture
def client(helicone: HeliconeEmulator) -> Iterator[httpx.Client]:
    helicone.reset()
    with httpx.Client(base_url=helicone.url, headers={"Authorization": f"Bearer {helicone.good_key}"}) as c:
        yield c
    helicone.reset()


def _post(client: httpx.Client, path: str, body: Any, status: int = 200) -> Any:
    r = client.post(path, json=body)
    assert r.status_code == status, (path, r.text)
    return r.json()


def _window(hours: float) -> dict[str, str]:
    now = datetime.now(timezone.utc)
    return {"start": iso((now - timedelta(hours=hours)).timestamp()), "end": iso(now.timestamp())}


def test_the_copy_is_a_valid_openapi_document() -> None:
    from openapi_spec_validator import validate

    spec = json.loads((SPECS / "helicone" / "helicone-trimmed.json").read_text())
    validate(spec)
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_every_served_route_is_in_the_contract(helicone: HeliconeEmulator) -> None:
    assert route_problems(helicone, CONTRACT) == []


def test_every_response_validates(helicone: HeliconeEmulator, client: httpx.Client) -> None:
    today = {"request_response_rmt": {"request_created_at": {"gte": _window(24)["start"]}}}
    failed = {"left": today, "operator": "and", "right": {"request_response_rmt": {"status": {"gte": 400}}}}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("/v1/request/count/query", {"filter": "all"}),
        ("/v1/request/count/query", {"filter": failed}),
        ("/v1/request/count/query", {"filter": {"request": {"model": {"ilike": "GPT%"}}}}),
        ("/v1/request/query", {"filter": "all", "offset": 0, "limit": 25, "sort": {"created_at": "desc"}}),
        ("/v1/request/query", {"filter": today, "limit": 5, "sort": {"latency": "asc"}, "isCached": False}),
        ("/v1/request/query", {"filter": {"left": {"response": {"status": {"equals": 500}}}, "operator": "or",
                                          "right": {"request_response_rmt": {"model": {"contains": "claude"}}}}}),
        ("/v1/metrics/totalCost", {"filter": "all", "timeFilter": _window(24)}),
        ("/v1/metrics/averageLatency", {"filter": {}, "timeFilter": _window(24)}),
        ("/v1/metrics/averageLatency", {"filter": "all", "timeFilter": _window(0)}),
        ("/v1/metrics/models", {"filter": "all", "timeFilter": _window(24 * 7), "offset": 0, "limit": 3}),
        ("/v1/metrics/costOverTime", {"filter": "all", "timeFilter": _window(24 * 7), "dbIncrement": "day",
                                      "timeZoneDifference": -120}),
        ("/v1/metrics/costOverTime", {"filter": "all", "timeFilter": _window(3), "timeZoneDifference": 0}),
        ("/v1/metrics/requestOverTime", {"filter": "all", "timeFilter": _window(24 * 60), "dbIncrement": "month",
                                         "timeZoneDifference": 300}),
    ]
    for path, body in calls:
        out = _post(client, path, body)
        assert out["error"] is None
        assert CONTRACT.response_problems("POST", path, 200, out) == [], path
    assert recorded_problems(helicone, CONTRACT) == []


def test_queries_mean_what_they_say(helicone: HeliconeEmulator, client: httpx.Client) -> None:
    everything = helicone.store.all()
    assert _post(client, "/v1/request/count/query", {"filter": "all"})["data"] == len(everything)
    bad = _post(client, "/v1/request/count/query",
                {"filter": {"request_response_rmt": {"status": {"gte": 400}}}})["data"]
    assert bad == sum(1 for r in everything if r.status >= 400) > 0
    # offset/limit pages tile the sorted list without overlap
    pages = [_post(client, "/v1/request/query", {"filter": "all", "offset": o, "limit": 50})["data"]
             for o in range(0, len(everything) + 50, 50)]
    ids = [r["request_id"] for page in pages for r in page]
    assert len(ids) == len(set(ids)) == len(everything)
    created = [r["request_created_at"] for page in pages for r in page]
    assert created == sorted(created, reverse=True)
    cheap = _post(client, "/v1/request/query", {"filter": "all", "limit": 3, "sort": {"cost": "asc"}})["data"]
    assert [r["cost"] for r in cheap] == sorted(r.cost_usd for r in everything)[:3]
    models = _post(client, "/v1/metrics/models", {"filter": "all", "timeFilter": _window(24 * 30),
                                                  "offset": 0, "limit": 100})["data"]
    assert sum(m["total_requests"] for m in models) == len(everything)
    assert {"OPENAI", "ANTHROPIC", "GOOGLE"} <= {r.provider for r in everything}
    assert any(r.latency_ms > 5000 for r in everything) and any(r.status >= 400 for r in everything)


def test_recorded_requests_join_every_query(helicone: HeliconeEmulator, client: httpx.Client) -> None:
    """The proxy emulator's hook: a request recorded at run time is queryable at once."""
    before = _post(client, "/v1/request/count/query", {"filter": "all"})["data"]
    item = helicone.record_request("gpt-4o", "openai", 1000, 500, 1234.5, 200, user_id="proxy-test",
                                   properties={"Helicone-Property-App": "devtrack"})
    assert item.provider == "OPENAI" and item.cost_usd == pytest.approx(0.0075)
    assert _post(client, "/v1/request/count/query", {"filter": "all"})["data"] == before + 1
    found = _post(client, "/v1/request/query", {
        "filter": {"request_response_rmt": {"request_id": {"equals": item.request_id}}}})["data"]
    assert len(found) == 1 and found[0]["request_user_id"] == "proxy-test" and found[0]["delay_ms"] == 1234
    assert found[0]["properties"] == {"Helicone-Property-App": "devtrack"}
    assert CONTRACT.response_problems("POST", "/v1/request/query", 200, {"data": found, "error": None}) == []
    cost = _post(client, "/v1/metrics/totalCost", {"filter": {"request": {"user_id": {"equals": "proxy-test"}}},
                                                   "timeFilter": _window(1)})["data"]
    assert cost == pytest.approx(0.0075)
    helicone.reset()
    assert _post(client, "/v1/request/count/query", {"filter": "all"})["data"] == before


def test_auth_and_errors_use_jawns_shapes(helicone: HeliconeEmulator, client: httpx.Client) -> None:
    url = "/v1/request/count/query"
    body = {"filter": "all"}
    r = httpx.post(helicone.url + url, json=body, headers={"Authorization": f"Bearer {helicone.write_key}"})
    assert (r.status_code, r.json()) == (401, {"error": None, "trace": "isAuthenticated.error"})
    r = httpx.post(helicone.url + url, json=body, headers={"Authorization": "Bearer sk-helicone-nope"})
    assert r.status_code == 401 and r.json()["error"] == "Invalid API key"
    r = httpx.post(helicone.url + url, json=body)
    assert r.status_code == 401 and r.json()["error"]
    assert client.post(url, json=body, headers={"Authorization": f"Bearer {helicone.eu_key}"}).status_code == 200
    out = _post(client, url, {"filter": {"request_response_rmt": {"nonsense": {"equals": "x"}}}}, 400)
    assert out["data"] is None and "nonsense" in out["error"]
    assert _post(client, url, {"filter": {"request": {"created_at": {"gte": "yesterday"}}}}, 400)["data"] is None
    assert _post(client, "/v1/metrics/totalCost", {"filter": "all"}, 400)["error"].startswith("Missing")
    assert _post(client, "/v1/request/query", {"filter": "all", "sort": {"colour": "asc"}}, 400)["data"] is None
    assert client.get(url).status_code == 405


def test_rate_limit_is_per_organization_with_standard_headers(helicone: HeliconeEmulator,
                                                              client: httpx.Client) -> None:
    saved = helicone.limiter
    helicone.limiter = RateLimiter(2, 60.0)
    try:
        first = client.post("/v1/request/count/query", json={"filter": "all"})
        assert first.headers["ratelimit-remaining"] == "1" and "x-ratelimit-limit" not in first.headers
        other_key = {"Authorization": f"Bearer {helicone.eu_key}"}  # same organization, same window
        assert client.post("/v1/request/count/query", json={"filter": "all"}, headers=other_key).status_code == 200
        r = client.post("/v1/request/count/query", json={"filter": "all"})
        assert r.status_code == 429 and r.json() == {"error": "Too many requests, please try again later."}
        assert r.headers["retry-after"].isdigit() and r.headers["ratelimit-remaining"] == "0"
    finally:
        helicone.limiter = saved


def test_contract_catches_a_wrong_response_and_request() -> None:
    assert CONTRACT.response_problems("POST", "/v1/request/count/query", 200, {"data": "12", "error": None})
    assert CONTRACT.response_problems("POST", "/v1/metrics/models", 200, {"data": [{"model": "x"}], "error": None})
    assert CONTRACT.request_problems("POST", "/v1/request/query", [], {"filter": "everything"})
    assert CONTRACT.request_problems("POST", "/v1/metrics/costOverTime", [], {"filter": "all"})
    assert CONTRACT.request_problems("GET", "/v1/request/query", [])
    assert CONTRACT.request_problems("POST", "/v1/metrics/requestCount", [], {"filter": "all"})
    assert CONTRACT.request_problems("POST", "/v1/request/query", [], {"filter": "all", "limit": 10}) == []
