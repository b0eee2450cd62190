"""The Helicone plugin against the sandbox's Helicone emulator, over real sockets."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devtrack.integrations.contract import ResultKind
from devtrack.integrations.manager import IntegrationManager
from devtrack.integrations.plugins.helicone import EU_API, US_API, HeliconeCredentials, HeliconeIntegration
from devtrack.sandbox import Sandbox
from devtrack.sandbox.emulator import RateLimiter
from devtrack.sandbox.helicone_emulator import HeliconeEmulator, compile_filter, parse_time

from ..contracts.checker import load, recorded_problems
from ..timing import active_since, timed

CONTRACT = load("helicone", "helicone-trimmed.json")
BASE_ENV = "DEVTRACK_HELICONE_BASE_URL"


def _emu(sb: Sandbox) -> HeliconeEmulator:
    emu = sb.emulator("helicone")
    assert isinstance(emu, HeliconeEmulator)
    return emu


@pytest.fixture(autouse=True)
def _contract_after(sb: Sandbox) -> Iterator[None]:
    """Every request the plugin sent in a test must be one Helicone's contract defines."""
    yield
    assert recorded_problems(_emu(sb), CONTRACT) == []


def _secret_free(emu: HeliconeEmulator, *results: Any) -> None:
    text = " ".join(r.model_dump_json() for r in results)
    for secret in (emu.good_key, emu.write_key, emu.eu_key):
        assert secret not in text


def _body(emu: HeliconeEmulator, path: str, index: int = 0) -> dict[str, Any]:
    return emu.requests.find(path, "POST")[index].body


async def test_success_with_records(sb: Sandbox, sandbox_manager: IntegrationManager,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emu = _emu(sb)
    res = await sandbox_manager.test("helicone")
    assert res.ok, res.message
    assert res.details["requests"] == len(emu.store.all())
    assert _body(emu, "/v1/request/count/query") == {"filter": "all"}
    emu.requests.clear()

    data = await sandbox_manager.fetch("helicone")
    assert data.error is None, data.error
    # Every independent query went out, each once; one page of today's requests sufficed.
    for path in ("/v1/metrics/totalCost", "/v1/metrics/averageLatency", "/v1/metrics/models",
                 "/v1/metrics/costOverTime", "/v1/metrics/requestOverTime", "/v1/request/query"):
        assert emu.requests.count(path) == 1, path
    assert emu.requests.count("/v1/request/count/query") == 2
    today_filter = _body(emu, "/v1/request/query")["filter"]
    today = [r for r in emu.store.all() if compile_filter(today_filter)(r)]
    assert len(today) == emu.scale["helicone_requests_today"]
    m = data.health.metrics
    assert m["requests_today"] == len(today) == m["requests_fetched"]
    assert m["failed_today"] == sum(1 for r in today if r.status >= 400) >= 1
    assert m["cost_today_usd"] == pytest.approx(sum(r.cost_usd for r in today), abs=1e-5)
    assert m["avg_latency_ms"] == pytest.approx(sum(r.latency_ms for r in today) / len(today), abs=0.1)
    assert data.health.status == "healthy" and "requests today" in data.health.detail

    per_model = [u for u in data.records.llm_usage if u.kind == "model"]  # type: ignore[attr-defined]
    assert {u.model for u in per_model} == {r.model for r in today}
    assert {u.provider for u in per_model} >= {"OPENAI", "ANTHROPIC", "GOOGLE"}  # type: ignore[attr-defined]
    for u in per_model:
        mine = [r for r in today if r.model == u.model]
        assert (u.requests, u.prompt_tokens) == (len(mine), sum(r.prompt_tokens for r in mine))
    per_day = [u for u in data.records.llm_usage if u.kind == "day"]  # type: ignore[attr-defined]
    assert len(per_day) == 7 and per_day[-1].requests == len(today)
    assert per_day[-1].cost_usd == pytest.approx(m["cost_today_usd"], abs=1e-5)
    week_start = parse_time(_body(emu, "/v1/metrics/requestOverTime")["timeFilter"]["start"])
    assert sum(u.requests for u in per_day) == sum(1 for r in emu.store.all() if r.created_at >= week_start)

    severities = {e.severity for e in data.events}
    assert {"error", "warning", "info"} <= severities
    failed_events = [e for e in data.events if e.severity == "error"]
    assert len(failed_events) == m["failed_today"]
    assert all(e.url and e.url.startswith("https://us.helicone.ai/requests?requestId=") for e in data.events)
    times = [e.time for e in data.events]
    assert times == sorted(times, reverse=True)
    _secret_free(emu, res, data)
    assert emu.good_key not in caplog.text


async def test_independent_queries_run_concurrently(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("helicone").add(route="/**", latency=0.4)
    data, elapsed = await timed(sandbox_manager.fetch("helicone"))
    assert data.error is None
    assert len(_emu(sb).requests) == 8
    assert elapsed < 2.0, f"8 calls of 0.4 s took {elapsed:.2f}s: not concurrent"


async def test_pagination_over_three_pages_and_the_cap(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    plugin = sandbox_manager.plugin("helicone")
    plugin.page_size = 25  # type: ignore[misc]
    try:
        data = await sandbox_manager.fetch("helicone")
        pages = [c.body for c in emu.requests.find("/v1/request/query")]
        assert [(p["offset"], p["limit"]) for p in pages] == [(0, 25), (25, 25), (50, 25)]
        assert all(p["sort"] == {"created_at": "desc"} for p in pages)
        assert data.health.metrics["requests_fetched"] == emu.scale["helicone_requests_today"]
        emu.requests.clear()
        plugin.max_requests = 30  # type: ignore[misc]
        data = await sandbox_manager.fetch("helicone")
        assert emu.requests.count("/v1/request/query") == 2
        assert data.health.metrics["requests_fetched"] == 30
        assert data.health.metrics["requests_today"] == emu.scale["helicone_requests_today"]
    finally:
        for name in ("page_size", "max_requests"):
            plugin.__dict__.pop(name, None)


async def test_bad_key_is_auth(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    bad = "sk-helicone-wrong-0000000000000000000000"
    sandbox_manager.set_credentials("helicone", {"api_key": bad})
    res = await sandbox_manager.test("helicone")
    assert res.kind == ResultKind.AUTH
    assert "rejected the API key" in res.message and "Invalid API key" in res.message
    data = await sandbox_manager.fetch("helicone")
    assert data.error is not None and data.error.kind == ResultKind.AUTH
    assert bad not in res.model_dump_json() + data.model_dump_json()


async def test_write_only_pk_key_is_a_precise_permission_failure(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    """The trap: a pk- key works for the proxy but gets 401 on the REST API."""
    emu = _emu(sb)
    sandbox_manager.set_credentials("helicone", {"api_key": emu.write_key})
    res = await sandbox_manager.test("helicone")
    assert res.kind == ResultKind.PERMISSION
    assert "write-only" in res.message and "proxy" in res.message and "sk-" in res.message
    assert res.details["key_type"] == "write-only" and res.details["status"] == 401
    assert emu.requests.count("/v1/request/count/query") == 1  # detected by prefix, confirmed by the API
    data = await sandbox_manager.fetch("helicone")
    assert data.error is not None and data.error.kind == ResultKind.PERMISSION
    _secret_free(emu, res, data)
    # An unknown pk- key is plain auth, still with the write-only note.
    sandbox_manager.set_credentials("helicone", {"api_key": "pk-helicone-unknown-000000000000000"})
    res = await sandbox_manager.test("helicone")
    assert res.kind == ResultKind.AUTH and "write-only" in res.message


async def test_403_is_permission(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("helicone").add(route="/v1/request/count/query", status=403)
    res = await sandbox_manager.test("helicone")
    assert res.kind == ResultKind.PERMISSION and "Helicone" in res.message


async def test_not_found_points_at_region_or_base_url(sb: Sandbox, sandbox_manager: IntegrationManager,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sb.faults("helicone").add(route="/v1/metrics/models", status=404)
    data = await sandbox_manager.fetch("helicone")
    assert data.error is not None and data.error.kind == ResultKind.NOT_FOUND
    assert "/v1/metrics/models" in data.error.message and "region" in data.error.message
    monkeypatch.setenv(BASE_ENV, sb.url("helicone") + "/not-helicone")
    res = await sandbox_manager.test("helicone")
    assert res.kind == ResultKind.NOT_FOUND and BASE_ENV in res.message
    assert _emu(sb).requests.count("/not-helicone/**") == 1
    _emu(sb).requests.clear()  # that wrong path was the point; keep it out of the contract check


async def test_429_with_retry_after_is_retried_then_succeeds(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("helicone").add(route="/v1/metrics/totalCost", status=429, retry_after=1, times=1)
    started = time.perf_counter()
    data = await sandbox_manager.fetch("helicone")
    assert data.error is None, data.error
    assert time.perf_counter() - started >= 0.9
    assert _emu(sb).requests.count("/v1/metrics/totalCost") == 2


async def test_real_rate_limit_headers_and_429(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    saved = emu.limiter
    emu.limiter = RateLimiter(3, 60.0)
    try:
        async with httpx.AsyncClient(base_url=sb.url("helicone")) as client:
            r = await client.post("/v1/request/count/query", json={"filter": "all"},
                                  headers={"Authorization": f"Bearer {emu.good_key}"})
        assert r.headers["ratelimit-limit"] == "3" and r.headers["ratelimit-remaining"] == "2"
        assert r.headers["ratelimit-policy"] == "3;w=60"
        data = await sandbox_manager.fetch("helicone")  # 8 calls against 2 left; a minute's wait is too long
        assert data.error is not None and data.error.kind == ResultKind.RATE_LIMITED
        assert "Too many requests" in data.error.message
        async with httpx.AsyncClient(base_url=sb.url("helicone")) as client:
            r = await client.post("/v1/request/count/query", json={"filter": "all"},
                                  headers={"Authorization": f"Bearer {emu.good_key}"})
        assert r.status_code == 429 and r.json() == {"error": "Too many requests, please try again later."}
        assert 0 < int(r.headers["retry-after"]) <= 60
    finally:
        emu.limiter = saved


async def test_5xx_is_retried(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("helicone").add(route="/v1/request/count/query", status=502, times=2)
    res = await sandbox_manager.test("helicone")
    assert res.ok, res.message
    assert _emu(sb).requests.count("/v1/request/count/query") == 3
    sb.faults("helicone").add(route="/v1/request/count/query", status=500)
    res = await sandbox_manager.test("helicone")
    assert res.kind == ResultKind.UNAVAILABLE and "500" in res.message


async def test_timeout_within_deadline(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("helicone").add(route="/v1/metrics/costOverTime", latency=5)
    sandbox_manager.deadline_override = 1.5
    started = time.perf_counter()
    data = await sandbox_manager.fetch("helicone")
    assert data.error is not None and data.error.kind == ResultKind.TIMEOUT
    assert "Helicone" in data.error.message
    assert active_since(started) < 2.5


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ({"malformed": True}, ResultKind.INVALID_RESPONSE, "malformed JSON"),
        ({"html": True, "status": 200}, ResultKind.INVALID_RESPONSE, "HTML page"),
        ({"html": True}, ResultKind.UNAVAILABLE, "HTML page"),
        ({"body": {"unexpected": True}, "status": 200}, ResultKind.INVALID_RESPONSE, "data envelope"),
    ],
)
async def test_bad_answers_are_classified(sb: Sandbox, sandbox_manager: IntegrationManager,
                                          fault: dict[str, Any], kind: ResultKind, words: str) -> None:
    sb.faults("helicone").add(route="/v1/request/count/query", **fault)
    res = await sandbox_manager.test("helicone")
    assert res.kind == kind, res.message
    assert words in res.message and "Helicone" in res.message


async def test_vendor_error_envelope_is_unavailable(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("helicone").add(route="/v1/metrics/averageLatency", status=200,
                              body={"data": None, "error": "ClickHouse query timed out"})
    data = await sandbox_manager.fetch("helicone")
    assert data.error is not None and data.error.kind == ResultKind.UNAVAILABLE
    assert "ClickHouse query timed out" in data.error.message


async def test_connection_refused(sb: Sandbox, sandbox_manager: IntegrationManager, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(BASE_ENV, f"http://127.0.0.1:{port}")
    started = time.perf_counter()
    res = await sandbox_manager.test("helicone")
    assert res.kind == ResultKind.NETWORK and "Cannot connect" in res.message
    assert active_since(started) < 5


async def test_failures_recorded_at_run_time_degrade_health(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    """The store takes requests at run time (as the proxy emulator will log them)."""
    emu = _emu(sb)
    before = len(emu.store.all())
    for i in range(20):
        emu.record_request("gpt-4o", "openai", 1200, 0, 800 + i, status=500)
    slow = emu.record_request("claude-3-5-sonnet-20241022", "anthropic", 3000, 900, 12_000, user_id="proxy")
    assert len(emu.store.all()) == before + 21 and slow.cost_usd > 0
    data = await sandbox_manager.fetch("helicone")
    assert data.error is None
    assert data.health.status == "degraded"
    assert "failed" in data.health.detail
    assert data.events[0].title.startswith("claude-3-5-sonnet-20241022: slow") and data.events[0].severity == "warning"
    assert sum(1 for e in data.events if e.severity == "error" and e.title.startswith("gpt-4o: failed with 500")) == 20
    sb.reset()
    assert len(emu.store.all()) == before


async def test_region_choice_and_override(sb: Sandbox, sandbox_manager: IntegrationManager,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    emu = _emu(sb)
    plugin = HeliconeIntegration()
    monkeypatch.delenv(BASE_ENV, raising=False)
    assert plugin._settings(HeliconeCredentials(api_key="sk-helicone-x")).base_url == US_API
    assert plugin._settings(HeliconeCredentials(api_key="eu-sk-helicone-x")).base_url == EU_API
    assert plugin._settings(HeliconeCredentials(api_key="sk-helicone-x", region="EU")).base_url == EU_API
    assert plugin._settings(HeliconeCredentials(api_key="eu-sk-x", region="us")).base_url == US_API
    monkeypatch.setenv(BASE_ENV, sb.url("helicone"))
    assert plugin._settings(HeliconeCredentials(api_key="eu-sk-x")).base_url == sb.url("helicone")
    bad = await plugin.test_connection(HeliconeCredentials(api_key="sk-x", region="asia"))
    assert bad.kind == ResultKind.CONFIG and "us or eu" in bad.message
    # An EU key with a blank region connects and says EU; with region us, a rejection says why.
    sandbox_manager.unset("helicone", ["region"])
    sandbox_manager.set_credentials("helicone", {"api_key": emu.eu_key})
    res = await sandbox_manager.test("helicone")
    assert res.ok and "(EU)" in res.message and res.details["region"] == "eu"
    sandbox_manager.set_credentials("helicone", {"api_key": "eu-sk-helicone-revoked-000000000", "region": "us"})
    res = await sandbox_manager.test("helicone")
    assert res.kind == ResultKind.AUTH and "set region to eu" in res.message
    _secret_free(emu, res)


async def test_plugin_module_stays_light() -> None:
    import subprocess
    import sys

    code = ("import sys, devtrack.integrations.plugins.helicone; "
            "print(sorted(m for m in ('httpx', 'starlette', 'fastapi', 'boto3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "[]"
