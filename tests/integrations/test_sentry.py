"""The Sentry plugin against the Sentry emulator, over real sockets, through the manager."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtrack.integrations.contract import ConnectionResult, IntegrationData, ResultKind
from devtrack.integrations.manager import IntegrationManager
from devtrack.integrations.plugins.sentry import SentryCredentials, SentryIntegration, next_cursor
from devtrack.sandbox import Sandbox
from devtrack.sandbox.sentry_emulator import SentryEmulator

from ..contracts.checker import load, recorded_problems
from ..timing import timed

CONTRACT = load("sentry", "sentry-trimmed.json")
ISSUES = "/api/0/organizations/{org}/issues/"
PROJECTS = "/api/0/organizations/{org}/projects/"
DAY = 86400


@pytest.fixture
def emu(sb: Sandbox) -> SentryEmulator:
    e = sb.emulator("sentry")
    assert isinstance(e, SentryEmulator)
    return e


@pytest.fixture
def mgr(sandbox_manager: IntegrationManager, emu: SentryEmulator,
        caplog: pytest.LogCaptureFixture) -> Iterator[IntegrationManager]:
    """The sandbox manager; afterwards every request sent must be in Sentry's contract, and no
    secret may appear in any log record."""
    caplog.set_level(logging.DEBUG)
    yield sandbox_manager
    assert recorded_problems(emu, CONTRACT) == []
    for secret in (emu.org_token, emu.user_token, emu.limited_token):
        assert secret not in caplog.text


def use(mgr: IntegrationManager, **fields: str) -> None:
    """Override credential fields as a user's environment would."""
    env = dict(mgr.environ)
    env.update({f"DEVTRACK_SENTRY_{k.upper()}": v for k, v in fields.items()})
    mgr.environ = env


def assert_clean(result: ConnectionResult | IntegrationData, emu: SentryEmulator) -> None:
    text = result.model_dump_json()
    for secret in (emu.org_token, emu.user_token, emu.limited_token):
        assert secret not in text


# ---------------------------------------------------------------------- success


async def test_connection_with_an_org_token_reports_scopes(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    result = await mgr.test("sentry")
    assert result.ok, result.message
    assert result.details["scopes"] == ["event:read", "org:read", "project:read"]
    assert result.details["token_type"] == "organization"
    assert "acme" in result.message and "event:read" in result.message
    [req] = emu.requests.all()
    assert (req.path, req.params) == ("/api/0/organizations/acme/projects/", {"per_page": "1"})
    assert "authorization" in req.header_names
    assert_clean(result, emu)


async def test_data_is_every_unresolved_issue_of_the_day(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    data = await mgr.fetch("sentry")
    assert data.error is None
    expected = emu.unresolved_since(DAY)
    assert len(expected) > 5
    errors = {e.id: e for e in data.records.errors}
    assert list(errors) == [x["id"] for x in expected]
    for x in expected:  # counts arrive as strings and leave as numbers
        e = errors[x["id"]]
        assert (e.count, e.user_count, e.level, e.title) == (x["count"], x["userCount"], x["level"], x["title"])
        assert e.project == emu.projects[x["project"]]["slug"] and e.url and e.last_seen
    assert data.health.status == "down"
    assert data.health.metrics == {"issues": len(expected), "events": sum(x["count"] for x in expected),
                                   "users": sum(x["userCount"] for x in expected),
                                   "fetched": len(expected), "truncated": False}
    assert len(data.events) == 10
    assert [e.time for e in data.events] == sorted((e.time for e in data.events), reverse=True)
    levels = {x["shortId"]: x["level"] for x in expected}
    for ev in data.events:
        level = levels[ev.title.split(": ")[0]]
        assert ev.severity == {"fatal": "error", "error": "error", "warning": "warning"}.get(level, "info")
    assert {ev.severity for ev in data.events} >= {"error"}
    [req] = emu.requests.find(ISSUES)
    assert req.params == {"query": "is:unresolved", "statsPeriod": "24h", "limit": "100"}
    assert_clean(data, emu)


@pytest.mark.parametrize("keep, status", [(0, "healthy"), (1, "degraded"), (5, "degraded"), (6, "down")])
async def test_health_thresholds_per_project(mgr: IntegrationManager, emu: SentryEmulator,
                                             keep: int, status: str) -> None:
    """As the original: 0 unresolved healthy, up to 5 degraded, more down (one project's view)."""
    project = max(emu.projects, key=lambda p: len(emu.unresolved_since(DAY, {p["id"]})))
    mine = emu.unresolved_since(DAY, {project["id"]})
    assert len(mine) >= 6
    hidden = mine[keep:]
    for x in hidden:  # resolve the rest for this test only
        x["status"] = "resolved"
    try:
        use(mgr, project=project["slug"])
        data = await mgr.fetch("sentry")
    finally:
        for x in hidden:
            x["status"] = "unresolved"
    assert data.error is None
    assert (data.health.status, data.health.metrics["issues"]) == (status, keep)
    assert [e.id for e in data.records.errors] == [x["id"] for x in mine[:keep]]
    assert [r.params.get("query") for r in emu.requests.find(PROJECTS)] == [f"slug:{project['slug']}"]
    assert emu.requests.find(ISSUES)[0].params["project"] == project["id"]


# ---------------------------------------------------------------------- what a user gets wrong


async def test_bad_token(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    use(mgr, token="sntryu_" + "0" * 64)
    result, took = await timed(mgr.test("sentry"))
    assert result.kind == ResultKind.AUTH and result.details["status"] == 401
    assert "Invalid token" in result.message and "Settings → Auth Tokens" in result.message
    data = await mgr.fetch("sentry")
    assert data.error is not None and data.error.kind == ResultKind.AUTH
    assert len(emu.requests) == 2  # each 401 was final: no retries
    assert took < 5
    assert "0" * 64 not in result.model_dump_json() + data.model_dump_json()


async def test_missing_scope(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    use(mgr, token=emu.limited_token)
    result = await mgr.test("sentry")
    assert result.kind == ResultKind.PERMISSION
    assert result.details["scopes"] == ["org:read", "project:read"] and "event:read" in result.message
    data = await mgr.fetch("sentry")
    assert data.error is not None and data.error.kind == ResultKind.PERMISSION
    assert data.error.details["status"] == 403 and "event:read" in data.error.message
    assert_clean(result, emu)
    assert_clean(data, emu)


async def test_unknown_organization(mgr: IntegrationManager) -> None:
    use(mgr, org="no-such-org")
    result = await mgr.test("sentry")
    assert result.kind == ResultKind.NOT_FOUND and "'no-such-org'" in result.message
    data = await mgr.fetch("sentry")
    assert data.error is not None and data.error.kind == ResultKind.NOT_FOUND


async def test_unknown_project_is_named(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    use(mgr, project="no-such-project")
    result = await mgr.test("sentry")
    assert result.kind == ResultKind.NOT_FOUND and "'no-such-project'" in result.message
    data = await mgr.fetch("sentry")
    assert data.error is not None and data.error.kind == ResultKind.NOT_FOUND
    assert "'no-such-project'" in data.error.message
    assert emu.requests.count(ISSUES) == 0


async def test_plain_http_to_a_remote_host_is_refused(mgr: IntegrationManager) -> None:
    use(mgr, base_url="http://sentry.example.com")
    result = await mgr.test("sentry")
    assert result.kind == ResultKind.CONFIG and "https" in result.message


def test_base_url_defaults_to_sentry_io_and_accepts_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVTRACK_SENTRY_BASE_URL", raising=False)
    plugin = SentryIntegration()
    cases = {None: "https://sentry.io", "https://de.sentry.io/api/0/": "https://de.sentry.io",
             "https://sentry.internal.example/": "https://sentry.internal.example"}
    for given, expected in cases.items():
        creds = SentryCredentials(token="sntryu_x", org="acme", base_url=given)
        assert plugin._client(creds).base_url == expected


# ---------------------------------------------------------------------- the known trap


async def test_org_token_trap(mgr: IntegrationManager, emu: SentryEmulator, sb: Sandbox) -> None:
    import httpx

    # the trap is real: an org token is refused on the user-only endpoints...
    async with httpx.AsyncClient(base_url=sb.url("sentry")) as raw:
        for path in ("/api/0/organizations/", "/api/0/organizations/acme/"):
            r = await raw.get(path, headers={"Authorization": f"Bearer {emu.org_token}"})
            assert r.status_code == 403
    emu.requests.clear()
    # ...and the plugin never walks into it: test and data both pass with the org token
    result = await mgr.test("sentry")
    data = await mgr.fetch("sentry")
    assert result.ok and data.error is None and data.records.errors
    paths = {r.path for r in emu.requests.all()}
    assert paths == {"/api/0/organizations/acme/projects/", "/api/0/organizations/acme/issues/"}
    # a user token works the same way
    use(mgr, token=emu.user_token)
    result = await mgr.test("sentry")
    assert result.ok and result.details["token_type"] == "user"


# ---------------------------------------------------------------------- rate limits and faults


async def test_429_with_retry_after_is_retried(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    emu.faults.add(route=ISSUES, status=429, retry_after=1, times=1)
    started = time.perf_counter()
    data, took = await timed(mgr.fetch("sentry"))
    assert data.error is None and data.records.errors
    assert emu.requests.count(ISSUES) == 2
    assert time.perf_counter() - started >= 1.0 and took < mgr.deadline("sentry")


async def test_sentry_rate_limit_reset_header_is_honoured(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    """Sentry's own 429 has no Retry-After: the wait comes from X-Sentry-Rate-Limit-Reset."""
    emu.limiter.limit = 1
    try:
        results, took = await timed(_twice(mgr))
    finally:
        emu.limiter.limit = SentryEmulator.rate_limit
    assert all(r.ok for r in results), [r.message for r in results]
    statuses = [r.status for r in emu.requests.find(PROJECTS)]
    assert 429 in statuses and statuses[-1] == 200
    assert took < mgr.deadline("sentry")


async def _twice(mgr: IntegrationManager) -> list[ConnectionResult]:
    """Two tests at once: both land in the same one-second window."""
    return list(await asyncio.gather(mgr.test("sentry", record=False), mgr.test("sentry", record=False)))


async def test_rate_limited_past_the_deadline(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    mgr.deadline_override = 3
    emu.faults.add(route=PROJECTS, status=429, retry_after=30)
    result, took = await timed(mgr.test("sentry", record=False))
    assert result.kind == ResultKind.RATE_LIMITED and result.details["retry_after"] == 30
    assert "try again" in result.message.lower() or "retry" in result.message.lower()
    assert took < 3


async def test_5xx_is_retried(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    emu.faults.add(route=ISSUES, status=503, times=2)
    data = await mgr.fetch("sentry")
    assert data.error is None and data.records.errors
    assert emu.requests.count(ISSUES) == 3


async def test_5xx_that_persists_is_unavailable(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    emu.faults.add(route=PROJECTS, status=500)
    result, took = await timed(mgr.test("sentry"))
    assert result.kind == ResultKind.UNAVAILABLE and result.details["status"] == 500
    assert emu.requests.count(PROJECTS) == 4 and took < mgr.deadline("sentry")


async def test_timeout(mgr: IntegrationManager, emu: SentryEmulator) -> None:
    mgr.deadline_override = 1.5
    emu.faults.add(route=PROJECTS, latency=6)
    result, took = await timed(mgr.test("sentry", record=False))
    assert result.kind == ResultKind.TIMEOUT and "1.5s" in result.message
    assert took < 4  # the deadline, plus slack for a loaded machine; the fault would take 6


@pytest.mark.parametrize("fault, kind", [
    ({"malformed": True}, ResultKind.INVALID_RESPONSE),
    ({"html": True}, ResultKind.UNAVAILABLE),
    ({"html": True, "status": 200}, ResultKind.INVALID_RESPONSE),
    ({"truncate": True}, ResultKind.NETWORK),
    ({"reset": True}, ResultKind.NETWORK),
])
async def test_broken_answers(mgr: IntegrationManager, emu: SentryEmulator,
                              fault: dict[str, Any], kind: ResultKind) -> None:
    emu.faults.add(route=ISSUES, **fault)
    data, took = await timed(mgr.fetch("sentry"))
    assert data.error is not None and data.error.kind == kind, data.error
    assert took < mgr.deadline("sentry")
    if fault.get("html"):
        assert "HTML" in data.error.message
        assert ("base URL" in data.error.message) == (fault.get("status") == 200)
    assert_clean(data, emu)


async def test_connection_refused(mgr: IntegrationManager, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use(mgr, base_url=f"http://127.0.0.1:{port}")
    monkeypatch.setenv("DEVTRACK_SENTRY_BASE_URL", f"http://127.0.0.1:{port}")
    result, took = await timed(mgr.test("sentry"))
    assert result.kind == ResultKind.NETWORK and f"127.0.0.1:{port}" in result.message
    assert took < mgr.deadline("sentry")


# ---------------------------------------------------------------------- paging


@pytest.fixture(scope="module")
def big() -> Iterator[SentryEmulator]:
    with Sandbox(["sentry"], seed=99, scale={"sentry_issues": 420}) as sb:
        e = sb.emulator("sentry")
        assert isinstance(e, SentryEmulator)
        yield e


def creds_for(emu: SentryEmulator, **extra: str) -> SentryCredentials:
    return SentryCredentials(**emu.credentials(emu.url)["sentry"], **extra)


async def test_every_page_is_followed_by_link_cursor(big: SentryEmulator) -> None:
    big.reset()
    expected = big.unresolved_since(DAY)
    assert len(expected) > 200
    data = await SentryIntegration().get_data(creds_for(big))
    assert data.error is None
    assert [e.id for e in data.records.errors] == [x["id"] for x in expected]
    pages = big.requests.find(ISSUES)
    assert [r.params.get("cursor") for r in pages] == [None, "0:100:0", "0:200:0"]
    assert recorded_problems(big, CONTRACT) == []
    assert data.health.metrics["issues"] == len(expected) and not data.health.metrics["truncated"]


async def test_pages_stop_at_the_cap_and_the_total_comes_from_x_hits(big: SentryEmulator) -> None:
    big.reset()
    plugin = SentryIntegration()
    plugin.max_issues = 150
    data = await plugin.get_data(creds_for(big))
    total = len(big.unresolved_since(DAY))
    assert len(data.records.errors) == 150 and big.requests.count(ISSUES) == 2
    assert data.health.metrics["issues"] == total and data.health.metrics["truncated"]
    assert f"{total} unresolved" in data.health.detail and "newest 150" in data.health.detail


def test_next_cursor_reads_sentry_links() -> None:
    last = ('<https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:0:1>; rel="previous"; results="false"; '
            'cursor="0:0:1", <https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:100:0>; rel="next"; '
            'results="false"; cursor="0:100:0"')
    assert next_cursor(last) is None
    assert next_cursor(last.replace('results="false"; cursor="0:100:0"', 'results="true"; cursor="0:100:0"')) == "0:100:0"
    assert next_cursor("") is None
