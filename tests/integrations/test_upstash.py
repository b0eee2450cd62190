"""The Upstash plugin against the sandbox's Upstash emulator, over real sockets.

After every test, each request the plugin sent must be one the Developer API document
defines (or, on the per-database REST endpoint, a documented command).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtrack.integrations.contract import ResultKind
from devtrack.integrations.manager import IntegrationManager
from devtrack.integrations.plugins.upstash import UpstashCredentials, UpstashIntegration, parse_info, strip_secrets
from devtrack.sandbox import Sandbox
from devtrack.sandbox.contract import Contract
from devtrack.sandbox.upstash_emulator import REST_PREFIX, UpstashEmulator

SPEC = Path(__file__).parent.parent / "contracts" / "upstash" / "developer-api-trimmed.yml"
CONTRACT = Contract.load(SPEC, prefix="/v2")
REST_COMMANDS = re.compile(re.escape(REST_PREFIX) + r"/[\w-]+/(ping|info)")


def _emu(sb: Sandbox) -> UpstashEmulator:
    emu = sb.emulator("upstash")
    assert isinstance(emu, UpstashEmulator)
    return emu


def contract_problems(emu: UpstashEmulator) -> list[str]:
    """Requests that are neither a Developer API operation nor a REST PING/INFO."""
    out = []
    for r in emu.requests.all():
        if r.path.startswith(REST_PREFIX + "/"):
            if r.method != "GET" or not REST_COMMANDS.fullmatch(r.path) or r.query:
                out.append(f"{r.method} {r.path}: not a REST PING/INFO")
        elif r.path.startswith("/v2/"):
            out += CONTRACT.record_problems(r)
    return out


@pytest.fixture(autouse=True)
def _requests_match_the_contract(sb: Sandbox) -> Iterator[None]:
    yield
    assert contract_problems(_emu(sb)) == []


@pytest.fixture
def api_only(sandbox_manager: IntegrationManager) -> IntegrationManager:
    sandbox_manager.unset("upstash", ["rest_url", "rest_token"])
    return sandbox_manager


@pytest.fixture
def rest_only(sandbox_manager: IntegrationManager) -> IntegrationManager:
    sandbox_manager.unset("upstash", ["email", "api_key"])
    return sandbox_manager


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- success


async def test_success_with_records(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    res = await sandbox_manager.test("upstash")
    assert res.ok, res.message
    assert res.details["databases"] == len(emu.databases)
    assert res.details["active"] == sum(d["state"] == "active" for d in emu.databases)
    assert "answered PING" in res.message
    emu.requests.clear()
    data = await sandbox_manager.fetch("upstash")
    assert data.error is None
    dbs = {d.id: d for d in data.records.databases}
    assert list(dbs) == [d["database_id"] for d in emu.databases]
    for raw in emu.databases:
        rec, stats = dbs[raw["database_id"]], emu.stats_by_id[raw["database_id"]]
        assert (rec.name, rec.state, rec.type, rec.region) == (
            raw["database_name"], raw["state"], raw["type"], raw["primary_region"])
        assert rec.monthly_requests == stats["total_monthly_requests"]
        assert rec.storage_bytes == stats["current_storage"]
        assert (rec.model_extra or {})["endpoint"] == raw["endpoint"]
    assert {d.state for d in dbs.values()} == {"active", "suspended", "passive"}
    assert data.health.status == "degraded"
    assert "rate-limit (suspended)" in data.health.detail and "feature-flags (passive)" in data.health.detail
    assert data.health.metrics["databases"] == 8 == len(emu.databases)
    assert data.health.metrics["active"] == res.details["active"]
    titles = [e.title for e in data.events]
    assert "Redis database rate-limit is suspended" in titles
    assert any("sessions uses 90% of its 256.0 MB storage limit" in t for t in titles)
    assert any(t.startswith("Redis database sessions created in") for t in titles)
    # one list, one stats call per database, and nothing on the REST endpoint
    assert emu.requests.count("/v2/redis/databases") == 1
    assert emu.requests.count("/v2/redis/stats/*") == len(emu.databases)
    assert emu.requests.count(REST_PREFIX + "/**") == 0
    assert all("authorization" in r.header_names for r in emu.requests.all())


async def test_rest_only_pings_and_reads_info(sb: Sandbox, rest_only: IntegrationManager) -> None:
    emu = _emu(sb)
    db = emu.rest_database
    slug = db["endpoint"].split(".")[0]
    res = await rest_only.test("upstash")
    assert res.ok and res.message == f"Database {slug} answered PING over REST."
    data = await rest_only.fetch("upstash")
    assert data.error is None and data.health.status == "healthy"
    [rec] = data.records.databases
    stats = emu.stats_by_id[db["database_id"]]
    assert (rec.id, rec.state, rec.storage_bytes) == (slug, "active", stats["current_storage"])
    assert (rec.model_extra or {})["keys"] == int(stats["keyspace"][-1]["y"])
    assert emu.requests.count("/v2/**") == 0
    assert [r.path.rsplit("/", 1)[-1] for r in emu.requests.all()] == ["ping", "info"]


async def test_both_ways_in_are_tested_concurrently(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("upstash").add(route="/v2/redis/databases", latency=0.6)
    sb.faults("upstash").add(route=REST_PREFIX + "/*/ping", latency=0.6)
    res = await sandbox_manager.test("upstash")
    assert res.ok, res.message
    first, second = (r.time for r in _emu(sb).requests.all())
    assert abs(second - first) < 0.3  # one after the other would be 0.6 s apart


# ---------------------------------------------------------------------- credentials


async def test_bad_api_key_is_auth(sb: Sandbox, api_only: IntegrationManager) -> None:
    api_only.set_credentials("upstash", {"api_key": "0000-wrong-key-0000"})
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.AUTH
    assert "email and Developer API key" in res.message and "console.upstash.com/account/api" in res.message
    data = await api_only.fetch("upstash")
    assert data.error is not None and data.error.kind == ResultKind.AUTH
    assert "0000-wrong-key-0000" not in res.model_dump_json() + data.model_dump_json()


async def test_wrong_email_is_auth(sb: Sandbox, api_only: IntegrationManager) -> None:
    api_only.set_credentials("upstash", {"email": "someone@example.org"})
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.AUTH


async def test_bad_rest_token_says_it_is_not_the_password(sb: Sandbox, rest_only: IntegrationManager) -> None:
    """People paste the database password where the REST token goes."""
    rest_only.set_credentials("upstash", {"rest_token": _emu(sb).rest_database["password"]})
    res = await rest_only.test("upstash")
    assert res.kind == ResultKind.AUTH
    assert "UPSTASH_REDIS_REST_TOKEN" in res.message and "password is not the REST token" in res.message
    assert _emu(sb).rest_database["password"] not in res.model_dump_json()


async def test_one_way_failing_is_reported_with_the_other_working(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sandbox_manager.set_credentials("upstash", {"rest_token": "AXnot-the-right-token-at-all"})
    res = await sandbox_manager.test("upstash")
    assert res.kind == ResultKind.AUTH
    assert "REST token" in res.message and "Connected to the Upstash Developer API" in res.message


async def test_key_without_access_is_permission(sb: Sandbox, api_only: IntegrationManager) -> None:
    api_only.set_credentials("upstash", {"api_key": _emu(sb).forbidden_key})
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.PERMISSION
    assert "may not read the account's Redis databases" in res.message
    data = await api_only.fetch("upstash")
    assert data.error is not None and data.error.kind == ResultKind.PERMISSION


def test_either_pair_is_enough() -> None:
    assert UpstashCredentials(email="a@b.c", api_key="k" * 8).missing() == []
    assert UpstashCredentials(rest_url="https://x.upstash.io", rest_token="t" * 8).missing() == []
    assert UpstashCredentials(rest_url="https://x.upstash.io").missing() == ["rest_token"]
    assert UpstashCredentials(email="a@b.c").missing() == ["email", "api_key"]


async def test_unconfigured_is_config(sandbox_manager: IntegrationManager) -> None:
    sandbox_manager.unset("upstash")
    res = await sandbox_manager.test("upstash")
    assert res.kind == ResultKind.CONFIG
    res = await UpstashIntegration().test_connection(UpstashCredentials())
    assert res.kind == ResultKind.CONFIG and "REST URL" in res.message


# ---------------------------------------------------------------------- not found


async def test_unknown_rest_database_is_not_found(sb: Sandbox, rest_only: IntegrationManager) -> None:
    token = rest_only.stored_credentials("upstash")["rest_token"]  # a new URL needs its token given again
    rest_only.set_credentials("upstash", {"rest_url": f"{sb.url('upstash')}{REST_PREFIX}/gone-gecko-12345",
                                          "rest_token": token})
    res = await rest_only.test("upstash")
    assert res.kind == ResultKind.NOT_FOUND and "UPSTASH_REDIS_REST_URL" in res.message


async def test_base_url_without_v2_is_not_found(sb: Sandbox, api_only: IntegrationManager,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVTRACK_UPSTASH_BASE_URL", sb.url("upstash"))
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.NOT_FOUND and "must end in /v2" in res.message


async def test_database_gone_between_list_and_stats_keeps_the_rest(sb: Sandbox, api_only: IntegrationManager) -> None:
    emu = _emu(sb)
    gone = emu.databases[3]
    sb.faults("upstash").add(route=f"/v2/redis/stats/{gone['database_id']}", status=404)
    data = await api_only.fetch("upstash")
    assert data.error is None
    dbs = {d.id: d for d in data.records.databases}
    assert len(dbs) == len(emu.databases)
    assert dbs[gone["database_id"]].monthly_requests is None
    assert all(d.monthly_requests is not None for i, d in dbs.items() if i != gone["database_id"])
    assert data.health.metrics["stats_missing"] == 1 and "stats missing for 1" in data.health.detail
    warning = next(e for e in data.events if e.title.startswith("Stats unavailable"))
    assert warning.title == f"Stats unavailable for 1 database ({gone['database_name']}): Upstash answered 404 (Not Found)"
    assert emu.requests.count(f"/v2/redis/stats/{gone['database_id']}") == 1  # a 404 is not retried


# ---------------------------------------------------------------------- faults


async def test_rate_limit_retry_after_then_success(sb: Sandbox, api_only: IntegrationManager) -> None:
    sb.faults("upstash").add(route="/v2/redis/databases", status=429, retry_after=1, times=1)
    started = time.monotonic()
    data = await api_only.fetch("upstash")
    assert data.error is None and len(data.records.databases) == 8
    assert time.monotonic() - started >= 0.9
    assert _emu(sb).requests.count("/v2/redis/databases") == 2


async def test_rate_limit_beyond_the_deadline_is_rate_limited(sb: Sandbox, api_only: IntegrationManager) -> None:
    sb.faults("upstash").add(route="/v2/redis/databases", status=429, retry_after=30)
    api_only.deadline_override = 3
    started = time.monotonic()
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.RATE_LIMITED and "Retry after 30s" in res.message
    assert time.monotonic() - started < 3


async def test_5xx_is_retried(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("upstash").add(route="/v2/redis/databases", status=502, times=2)
    sb.faults("upstash").add(route=REST_PREFIX + "/*/ping", status=503, times=1)
    res = await sandbox_manager.test("upstash")
    assert res.ok, res.message
    assert _emu(sb).requests.count("/v2/redis/databases") == 3
    assert _emu(sb).requests.count(REST_PREFIX + "/*/ping") == 2


async def test_5xx_that_persists_is_unavailable(sb: Sandbox, api_only: IntegrationManager) -> None:
    sb.faults("upstash").add(route="/v2/redis/databases", status=503)
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.UNAVAILABLE and "Upstash answered 503" in res.message


async def test_timeout_within_deadline(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("upstash").add(route="/v2/redis/databases", latency=5)
    sandbox_manager.deadline_override = 1.5
    started = time.monotonic()
    res = await sandbox_manager.test("upstash")
    assert res.kind == ResultKind.TIMEOUT and "1.5s" in res.message
    assert time.monotonic() - started < 3.5  # the deadline, plus slack for a loaded machine
    started = time.monotonic()
    data = await sandbox_manager.fetch("upstash")
    assert data.error is not None and data.error.kind == ResultKind.TIMEOUT
    assert time.monotonic() - started < 3.5


@pytest.mark.parametrize(("fault", "route"), [
    ({"malformed": True}, "/v2/redis/databases"),
    ({"html": True, "status": 200}, "/v2/redis/databases"),
    ({"oversize": 17 * 1024 * 1024}, "/v2/redis/databases"),
    ({"malformed": True}, REST_PREFIX + "/*/ping"),
    ({"html": True, "status": 200}, REST_PREFIX + "/*/ping"),
])
async def test_bad_answers_are_invalid_response(sb: Sandbox, sandbox_manager: IntegrationManager,
                                                fault: dict[str, object], route: str) -> None:
    sb.faults("upstash").add(route=route, **fault)
    res = await sandbox_manager.test("upstash")
    assert res.kind == ResultKind.INVALID_RESPONSE, res.message
    assert "Upstash" in res.message or "upstash" in res.message.lower()


async def test_a_proxy_error_page_is_unavailable(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("upstash").add(route="/v2/redis/databases", html=True)
    res = await sandbox_manager.test("upstash")
    assert res.kind == ResultKind.UNAVAILABLE and "HTML" in res.message, res.message


async def test_a_list_that_is_not_a_list_is_invalid_response(sb: Sandbox, api_only: IntegrationManager) -> None:
    sb.faults("upstash").add(route="/v2/redis/databases", status=200, body={"databases": []})
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.INVALID_RESPONSE and "/v2" in res.message


@pytest.mark.parametrize("fault", [{"reset": True}, {"truncate": True}])
async def test_broken_connections_are_network(sb: Sandbox, api_only: IntegrationManager, fault: dict[str, bool]) -> None:
    sb.faults("upstash").add(route="/v2/redis/databases", **fault)
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.NETWORK, res.message


async def test_connection_refused(api_only: IntegrationManager, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    monkeypatch.setenv("DEVTRACK_UPSTASH_BASE_URL", f"http://127.0.0.1:{port}/v2")
    started = time.monotonic()
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.NETWORK and f"127.0.0.1:{port}" in res.message
    assert time.monotonic() - started < 10


async def test_rest_connection_refused(rest_only: IntegrationManager) -> None:
    token = rest_only.stored_credentials("upstash")["rest_token"]  # a new URL needs its token given again
    rest_only.set_credentials("upstash", {"rest_url": f"http://127.0.0.1:{_free_port()}", "rest_token": token})
    res = await rest_only.test("upstash")
    assert res.kind == ResultKind.NETWORK and "Cannot connect" in res.message


async def test_plain_http_base_url_for_a_remote_host_is_config(api_only: IntegrationManager,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVTRACK_UPSTASH_BASE_URL", "http://api.upstash.example/v2")
    res = await api_only.test("upstash")
    assert res.kind == ResultKind.CONFIG and "https" in res.message


# ---------------------------------------------------------------------- many databases


async def test_many_databases_stats_are_capped_and_concurrent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The list is one unpaged call; the fan-out of stats calls is what must scale."""
    with Sandbox(["upstash"], seed=5, scale={"upstash_databases": 30}) as box:
        emu = _emu(box)
        for key, value in box.env().items():
            monkeypatch.setenv(key, value)
        plugin = UpstashIntegration()
        plugin.max_stats, plugin.concurrency = 20, 4
        box.faults("upstash").add(route="/v2/redis/stats/*", latency=0.2)
        creds = UpstashCredentials(email=emu.email, api_key=emu.api_key)
        started = time.monotonic()
        data = await plugin.get_data(creds)
        elapsed = time.monotonic() - started
        assert data.error is None
        assert len(data.records.databases) == 30
        assert emu.requests.count("/v2/redis/stats/*") == 20
        assert sum(d.monthly_requests is not None for d in data.records.databases) == 20
        # 20 calls of 0.2 s, 4 at a time: the first 4 arrive together, the 5th waits for a slot
        arrived = sorted(r.time for r in emu.requests.find("/v2/redis/stats/*"))
        assert arrived[3] - arrived[0] < 0.19 <= arrived[4] - arrived[0]
        assert elapsed >= 0.95
        assert data.health.metrics["stats_missing"] == 10
        assert any("first 20 databases" in e.title for e in data.events)
        assert contract_problems(emu) == []


# ---------------------------------------------------------------------- the trap


async def test_no_database_password_or_token_leaks_anywhere(
    sb: Sandbox, sandbox_manager: IntegrationManager, caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    """The list hands out every database's password and REST tokens: none may come out."""
    emu = _emu(sb)
    secrets = emu.passwords()
    configured = sandbox_manager.credentials("upstash").secret_values()
    caplog.set_level(logging.DEBUG)
    plugin = UpstashIntegration()
    creds = sandbox_manager.credentials("upstash")
    rest_creds = UpstashCredentials(rest_url=creds.value("rest_url"), rest_token=creds.value("rest_token"))
    outputs: list[str] = []
    # straight from the plugin (before the manager's scrubbing), success and failure paths
    outputs.append((await plugin.test_connection(creds)).model_dump_json())
    outputs.append((await plugin.get_data(creds)).model_dump_json())
    outputs.append((await plugin.get_data(rest_creds)).model_dump_json())
    sb.faults("upstash").add(route="/v2/redis/stats/*", status=500)
    outputs.append((await plugin.get_data(creds)).model_dump_json())
    sb.faults("upstash").clear()
    sb.faults("upstash").add(route="/v2/redis/databases", truncate=True, times=4)
    outputs.append((await plugin.test_connection(creds)).model_dump_json())
    sb.faults("upstash").clear()
    # and through the manager, which also records test results in the credential store
    outputs.append((await sandbox_manager.test("upstash")).model_dump_json())
    outputs.append((await sandbox_manager.fetch("upstash")).model_dump_json())
    outputs += [r.getMessage() for r in caplog.records]
    outputs += [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    text = "\n".join(outputs)
    assert '"databases"' in text and "sessions" in text  # the scan saw real data
    assert [s for s in secrets + configured if s in text] == []
    assert not any(f'"{k}"' in text for k in ("password", "rest_token", "read_only_rest_token"))
    # the store holds the configured REST token (the user gave it), and no other
    stored = Path(sandbox_manager.store.path).read_text()
    assert "test_result" in stored
    assert [s for s in secrets if s in stored and s not in configured] == []


def test_strip_secrets_drops_every_secret_looking_field_at_any_depth() -> None:
    body = [{"database_id": "d1", "password": "pw-123456", "rest_token": "AXtok-123456",
             "nested": {"read_only_rest_token": "Antok-654321", "api_key": ["k-1234567"], "ok": 1},
             "items": [{"secret": "s-7654321", "state": "active"}]}]
    clean = strip_secrets(body)
    assert clean == [{"database_id": "d1", "nested": {"ok": 1}, "items": [{"state": "active"}]}]
    assert all(s not in json.dumps(clean) for s in ("pw-123456", "AXtok-123456", "Antok-654321", "k-1234567"))
    from devtrack.redact import MASK, redactor

    assert redactor("pw-123456 and Antok-654321") == f"{MASK} and {MASK}"  # masked if they ever slip out


def test_parse_info() -> None:
    info = parse_info("# Server\r\nredis_version:7.2.4\r\n\r\n# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0\r\n")
    assert info["redis_version"] == "7.2.4"
    assert info["db0"] == {"keys": "12", "expires": "3", "avg_ttl": "0"}
