"""The Cloudflare plugin against the sandbox emulator, over real sockets.

Every test leaves the emulator's request log checked against Cloudflare's contract, and every
result it produced scanned for the tokens it used.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import DEADLINE, ConnectionResult, IntegrationData, ResultKind
from devtrack.integrations.manager import IntegrationManager
from devtrack.integrations.plugins.cloudflare import CloudflareCredentials, CloudflareIntegration
from devtrack.sandbox import Sandbox
from devtrack.sandbox.cloudflare_emulator import PREFIX, CloudflareEmulator

from ..contracts.checker import load, recorded_problems
from ..timing import active_since

CONTRACT = load("cloudflare", "cloudflare-trimmed.json", prefix=PREFIX)
WRONG_ACCOUNT = "0123456789abcdef0123456789abcdef"
BASE_KEY = "DEVTRACK_CLOUDFLARE_BASE_URL"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(["cloudflare"], seed=5) as sb:
        yield sb


@pytest.fixture
def emu(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        ) -> Iterator[CloudflareEmulator]:
    """The emulator, reset; afterwards its requests must match the contract and no token leak."""
    emulator = sandbox.emulator("cloudflare")
    assert isinstance(emulator, CloudflareEmulator)
    emulator.reset()
    monkeypatch.setenv(BASE_KEY, emulator.url + PREFIX)
    caplog.set_level(logging.DEBUG)
    RESULTS.clear()
    yield emulator
    assert recorded_problems(emulator, CONTRACT) == []
    secrets = [t for t in emulator.tokens] + ["not a token-" + "x" * 30, "Z" * 40]
    dumped = [r.model_dump_json() for r in RESULTS] + [caplog.text]
    leaks = [s for s in secrets for text in dumped if s in text]
    assert leaks == []
    emulator.reset()


RESULTS: list[ConnectionResult | IntegrationData] = []


def creds(emu: CloudflareEmulator, token: str | None = None, **fields: str) -> CloudflareCredentials:
    values = {"api_token": token or emu.user_token, "account_id": emu.account["id"], **fields}
    return CloudflareCredentials(**values)  # type: ignore[arg-type]


async def run(call: Any, budget: float = 20.0) -> Any:
    """Run a plugin call under a deadline, as the manager does, and keep it for the leak scan."""
    token = DEADLINE.set(time.perf_counter() + budget)
    try:
        async with asyncio.timeout(budget):
            out = await call
    finally:
        DEADLINE.reset(token)
    RESULTS.append(out)
    return out


async def check(c: CloudflareCredentials) -> ConnectionResult:
    return await run(CloudflareIntegration().test_connection(c))


async def fetch(c: CloudflareCredentials) -> IntegrationData:
    return await run(CloudflareIntegration().get_data(c))


# --------------------------------------------------------------------------- success


async def test_user_token_connects_and_reports_status_and_expiry(emu: CloudflareEmulator) -> None:
    result = await check(creds(emu))
    assert result.ok, result.message
    info = emu.tokens[emu.user_token]
    assert result.details["token_type"] == "user"
    assert result.details["token_status"] == "active"
    assert result.details["expires_on"] == info["expires_on"]
    mine = [z for z in emu.zones if z["account"]["id"] == emu.account["id"]]
    assert (result.details["zones"], result.details["workers"], result.details["pages_projects"]) == (
        len(mine), len(emu.workers), len(emu.projects))
    assert "user API token active" in result.message and emu.account["id"] in result.message
    # no fallback needed: the account verify endpoint was never asked
    assert emu.requests.count(PREFIX + "/accounts/*/tokens/verify") == 0


async def test_data_has_real_records_normalised_states_and_health(emu: CloudflareEmulator) -> None:
    data = await fetch(creds(emu))
    assert data.error is None
    r = data.records
    mine = [z for z in emu.zones if z["account"]["id"] == emu.account["id"]]
    assert [z.id for z in r.zones] == [z["id"] for z in mine]  # account.id filter applied
    assert {z.status for z in r.zones} >= {"active", "pending", "initializing", "moved"}
    assert {w.name for w in r.workers} == {w["id"] for w in emu.workers}
    assert all(w.modified_at and w.modified_at.tzinfo for w in r.workers)
    assert {p.name for p in r.projects} == {p["name"] for p in emu.projects}
    assert len(r.deployments) == sum(len(v[:10]) for v in emu.deployments.values())
    assert {d.provider for d in r.deployments} == {"cloudflare-pages"}
    assert {d.state for d in r.deployments} >= {"ready", "error", "building", "canceled", "queued"}
    newest = emu.deployments[emu.projects[1]["name"]][0]  # seeded: its latest deploy failed
    dep = next(d for d in r.deployments if d.id == newest["id"])
    assert (dep.state, dep.target, dep.url, dep.commit, dep.branch) == (
        "error", "production", newest["url"], newest["deployment_trigger"]["metadata"]["commit_hash"], "main")
    assert next(p for p in r.projects if p.name == emu.projects[1]["name"]).status == "error"
    # health: degraded by the failed project and the zones that are not active
    assert data.health.status == "degraded"
    assert emu.projects[1]["name"] in data.health.detail
    pending = next(z["name"] for z in mine if z["status"] == "pending")
    assert f"{pending} (pending)" in data.health.detail
    assert data.health.metrics["pages_failing"] == 1
    # events: recent deployments, newest first, failures as errors
    assert data.events and data.events[0].time == max(d.created_at for d in r.deployments if d.created_at)
    failed = [e for e in data.events if e.severity == "error"]
    assert failed and all("deploy error" in e.title for e in failed)


async def test_data_requests_run_concurrently(emu: CloudflareEmulator) -> None:
    """Zones, Workers, Pages and the token's expiry together, then every project's deployments together.

    With a second of latency on every answer, requests that waited for one another would
    arrive at least a second apart; concurrent ones arrive together. Measured on arrival at
    the emulator, with wide margins, so a loaded machine does not decide the outcome.
    """
    emu.faults.add(route=PREFIX + "/**", latency=1.0)
    data = await fetch(creds(emu))
    assert data.error is None and len(data.records.projects) == len(emu.projects)
    served = emu.requests.all()
    deployments = [r.time for r in served if r.path.endswith("/deployments")]
    first = [r.time for r in served if not r.path.endswith("/deployments")]
    assert len(first) == 4  # zones, Workers scripts, Pages projects, token verify
    assert len(deployments) == len(emu.projects) == 6
    assert max(first) - min(first) < 1.0               # one after another: >= 2 s
    assert max(deployments) - min(deployments) < 2.5   # one after another: >= 5 s
    assert min(deployments) - max(first) >= 1.0        # the second round needs the project list


async def test_single_zone(emu: CloudflareEmulator) -> None:
    zone = emu.zones[1]
    data = await fetch(creds(emu, zone_id=zone["id"]))
    assert [(z.id, z.status) for z in data.records.zones] == [(zone["id"], zone["status"])]
    assert emu.requests.count(PREFIX + "/zones") == 0
    assert (await check(creds(emu, zone_id=zone["id"]))).ok


# --------------------------------------------------------------------------- the trap


async def test_account_owned_token_falls_back_to_the_account_verify(emu: CloudflareEmulator) -> None:
    result = await check(creds(emu, emu.account_token))
    assert result.ok, result.message
    assert result.details["token_type"] == "account"
    assert "account API token active" in result.message
    user = emu.requests.find(PREFIX + "/user/tokens/verify")
    account = emu.requests.find(PREFIX + f"/accounts/{emu.account['id']}/tokens/verify")
    assert [r.status for r in user] == [401] and [r.status for r in account] == [200]
    data = await fetch(creds(emu, emu.account_token))
    assert data.error is None and data.records.zones and data.records.deployments


async def test_account_token_with_a_wrong_account_names_the_account(emu: CloudflareEmulator) -> None:
    result = await check(creds(emu, emu.account_token, account_id=WRONG_ACCOUNT))
    assert result.kind == ResultKind.PERMISSION
    assert WRONG_ACCOUNT in result.message and "account id" in result.message


# --------------------------------------------------------------------------- credentials


async def test_unknown_token_is_auth(emu: CloudflareEmulator) -> None:
    result = await check(creds(emu, "Z" * 40))
    assert result.kind == ResultKind.AUTH
    assert "rejected the API token" in result.message and emu.account["id"] in result.message
    data = await fetch(creds(emu, "Z" * 40))
    assert data.error is not None and data.error.kind == ResultKind.AUTH
    assert "Invalid access token" in data.error.message and not data.records.zones


async def test_malformed_token_says_it_is_not_an_api_token(emu: CloudflareEmulator) -> None:
    result = await check(creds(emu, "not a token-" + "x" * 30))
    assert result.kind == ResultKind.AUTH and "Global API Key" in result.message


@pytest.mark.parametrize("which,words", [("disabled_token", "disabled"), ("expired_token", "expired on")])
async def test_inactive_token_is_auth_with_its_status(emu: CloudflareEmulator, which: str, words: str) -> None:
    token = getattr(emu, which)
    result = await check(creds(emu, token))
    assert result.kind == ResultKind.AUTH and words in result.message
    assert result.details["token_status"] == which.split("_")[0]
    if which == "expired_token":
        assert result.details["expires_on"] == emu.tokens[token]["expires_on"] in result.message


async def test_missing_permission_names_what_to_add(emu: CloudflareEmulator) -> None:
    result = await check(creds(emu, emu.zone_only_token))
    assert result.kind == ResultKind.PERMISSION
    assert result.details["missing_permissions"] == ["Workers Scripts:Read", "Pages:Read"]
    assert "Workers Scripts:Read" in result.message and "Pages:Read" in result.message
    data = await fetch(creds(emu, emu.zone_only_token))
    assert data.error is not None and data.error.kind == ResultKind.PERMISSION
    assert "Pages:Read" in data.error.message
    assert data.records.zones and not data.records.workers  # what could be read is kept


async def test_wrong_account_with_a_user_token_is_permission_naming_it(emu: CloudflareEmulator) -> None:
    result = await check(creds(emu, account_id=WRONG_ACCOUNT))
    assert result.kind == ResultKind.PERMISSION and WRONG_ACCOUNT in result.message


async def test_malformed_account_id_is_not_found(emu: CloudflareEmulator) -> None:
    result = await check(creds(emu, account_id="my-account"))
    assert result.kind == ResultKind.NOT_FOUND
    assert "no account my-account" in result.message and "32 hexadecimal" in result.message
    data = await fetch(creds(emu, account_id="my-account"))
    assert data.error is not None and data.error.kind == ResultKind.NOT_FOUND
    assert "my-account" in data.error.message


async def test_unknown_zone_is_not_found(emu: CloudflareEmulator) -> None:
    result = await check(creds(emu, zone_id=WRONG_ACCOUNT))
    assert result.kind == ResultKind.NOT_FOUND and f"no zone {WRONG_ACCOUNT}" in result.message


# --------------------------------------------------------------------------- faults


async def test_429_with_retry_after_is_retried_then_succeeds(emu: CloudflareEmulator) -> None:
    emu.faults.add(route=PREFIX + "/user/tokens/verify", status=429, retry_after=1, times=1)
    started = time.perf_counter()
    result = await check(creds(emu))
    assert result.ok, result.message
    assert time.perf_counter() - started >= 1.0
    statuses = [r.status for r in emu.requests.find(PREFIX + "/user/tokens/verify")]
    assert statuses == [429, 200]


async def test_429_beyond_the_deadline_is_rate_limited(emu: CloudflareEmulator) -> None:
    emu.faults.add(route=PREFIX + "/**", status=429, retry_after=30)
    started = time.perf_counter()
    data = await run(CloudflareIntegration().get_data(creds(emu)), budget=3.0)
    assert active_since(started) < 3.0
    assert data.error is not None and data.error.kind == ResultKind.RATE_LIMITED
    assert data.error.details["retry_after"] == 30


async def test_5xx_is_retried(emu: CloudflareEmulator) -> None:
    emu.faults.add(route=PREFIX + "/accounts/*/pages/projects", status=503, times=2)
    data = await fetch(creds(emu))
    assert data.error is None and len(data.records.projects) == len(emu.projects)
    assert [r.status for r in emu.requests.find(PREFIX + "/accounts/*/pages/projects")] == [503, 503, 200]


async def test_persistent_5xx_is_unavailable(emu: CloudflareEmulator) -> None:
    emu.faults.add(route=PREFIX + "/**", status=500)
    result = await check(creds(emu))
    assert result.kind == ResultKind.UNAVAILABLE and "try again" in result.message


async def test_timeout_through_the_manager(emu: CloudflareEmulator, tmp_path: Path) -> None:
    emu.faults.add(route=PREFIX + "/**", latency=3.0)
    store = CredentialStore(tmp_path / "credentials.json")
    manager = IntegrationManager(store=store, environ={}, deadline=1.0)
    manager.set_credentials("cloudflare", {"api_token": emu.user_token, "account_id": emu.account["id"]})
    started = time.perf_counter()
    result = await manager.test("cloudflare")
    data = await manager.fetch("cloudflare")
    assert active_since(started) < 3.5
    RESULTS.extend([result, data])
    assert result.kind == ResultKind.TIMEOUT and "1s" in result.message
    assert data.error is not None and data.error.kind == ResultKind.TIMEOUT


async def test_malformed_json_is_invalid_response(emu: CloudflareEmulator) -> None:
    emu.faults.add(route=PREFIX + "/user/tokens/verify", malformed=True)
    result = await check(creds(emu))
    assert result.kind == ResultKind.INVALID_RESPONSE and "malformed JSON" in result.message
    emu.faults.clear()
    emu.faults.add(route=PREFIX + "/**", malformed=True)
    data = await fetch(creds(emu))
    assert data.error is not None and data.error.kind == ResultKind.INVALID_RESPONSE


async def test_json_without_the_envelope_is_invalid_response(emu: CloudflareEmulator) -> None:
    emu.faults.add(route=PREFIX + "/user/tokens/verify", status=200, body={"ok": True})
    result = await check(creds(emu))
    assert result.kind == ResultKind.INVALID_RESPONSE and "envelope" in result.message


async def test_html_page_is_invalid_response(emu: CloudflareEmulator) -> None:
    emu.faults.add(route=PREFIX + "/**", html=True, status=200)
    result = await check(creds(emu))
    assert result.kind == ResultKind.INVALID_RESPONSE and "HTML page" in result.message
    data = await fetch(creds(emu))
    assert data.error is not None and data.error.kind == ResultKind.INVALID_RESPONSE


async def test_html_error_page_from_a_proxy_is_unavailable(emu: CloudflareEmulator) -> None:
    """A 502 page from something in front of the API: retried, then the service is down."""
    emu.faults.add(route=PREFIX + "/user/tokens/verify", html=True)
    result = await check(creds(emu))
    assert result.kind == ResultKind.UNAVAILABLE and "HTML page" in result.message
    assert [r.status for r in emu.requests.find(PREFIX + "/user/tokens/verify")] == [502] * 4


async def test_connection_refused_is_network(emu: CloudflareEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(BASE_KEY, f"http://127.0.0.1:{port}{PREFIX}")
    started = time.perf_counter()
    result = await check(creds(emu))
    assert result.kind == ResultKind.NETWORK and f"127.0.0.1:{port}" in result.message
    assert active_since(started) < 10
    data = await fetch(creds(emu))
    assert data.error is not None and data.error.kind == ResultKind.NETWORK


# --------------------------------------------------------------------------- paging


async def test_pagination_over_three_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    scale = {"cloudflare_zones": 120, "cloudflare_pages_projects": 30, "cloudflare_pages_deployments": 2}
    with Sandbox(["cloudflare"], seed=9, scale=scale) as sb:
        emu = sb.emulator("cloudflare")
        assert isinstance(emu, CloudflareEmulator)
        monkeypatch.setenv(BASE_KEY, emu.url + PREFIX)
        data = await fetch(creds(emu))
        assert data.error is None
        assert len(data.records.zones) == 120 and len({z.id for z in data.records.zones}) == 120
        assert len(data.records.projects) == 30
        # 25 projects followed (2 deployments each), the 5 others by their embedded latest deployment
        assert len(data.records.deployments) == 25 * 2 + 5
        assert len(emu.requests.find(PREFIX + "/accounts/*/pages/projects/*/deployments")) == 25
        zone_pages = sorted(int(r.params["page"]) for r in emu.requests.find(PREFIX + "/zones"))
        project_pages = sorted(int(r.params["page"]) for r in emu.requests.find(PREFIX + "/accounts/*/pages/projects"))
        assert zone_pages == [1, 2, 3] and project_pages == [1, 2, 3]
        assert recorded_problems(emu, CONTRACT) == []
