"""The Vercel plugin against the sandbox's Vercel emulator, over real sockets."""

from __future__ import annotations

import time

import pytest

from devtrack.integrations.contract import ResultKind
from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox

from ..contracts.checker import load, recorded_problems

CONTRACT = load("vercel", "vercel-trimmed.json")


def _vercel(sb: Sandbox):  # type: ignore[no-untyped-def]
    return sb.emulator("vercel")


async def test_success_with_records(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    res = await sandbox_manager.test("vercel")
    assert res.ok, res.message
    assert res.details["user"] == "sandbox-dev"
    data = await sandbox_manager.fetch("vercel")
    assert data.error is None
    emu = _vercel(sb)
    team = emu.teams[0]["id"]
    team_projects = {p["id"] for p in emu.projects if p["accountId"] == team}
    assert {p.id for p in data.records.projects} == team_projects
    expected = [d["uid"] for d in emu.deployments if d["projectId"] in team_projects]
    assert [d.id for d in data.records.deployments] == expected[: len(data.records.deployments)]
    states = {d.state for d in data.records.deployments}
    assert {"ready", "error", "building"} <= states
    assert data.health.status in ("healthy", "degraded", "down")
    assert data.health.metrics["deployments"] == len(data.records.deployments)
    assert any(e.severity == "error" for e in data.events) or "error" not in {d.state for d in data.records.deployments[:20]}
    assert all(d.url and d.url.startswith("https://") for d in data.records.deployments)
    assert recorded_problems(emu, CONTRACT) == []
    for r in emu.requests.all():
        if r.path != "/v2/user":
            assert r.params.get("teamId") == team, r.path


async def test_pagination_follows_until_over_three_pages(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    plugin = sandbox_manager.plugin("vercel")
    plugin.page_size = 5  # type: ignore[attr-defined]
    try:
        data = await sandbox_manager.fetch("vercel")
    finally:
        del plugin.page_size  # type: ignore[attr-defined]
    calls = _vercel(sb).requests.find("/v6/deployments")
    assert len(calls) >= 3
    untils = [c.params.get("until") for c in calls]
    assert untils[0] is None and all(u for u in untils[1:])
    assert len(data.records.deployments) == len({d.id for d in data.records.deployments})
    assert len(data.records.deployments) > 10
    assert recorded_problems(_vercel(sb), CONTRACT) == []


async def test_bad_token_is_auth(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sandbox_manager.set_credentials("vercel", {"token": "vercel_wrong_token_000000"})
    res = await sandbox_manager.test("vercel")
    assert res.kind == ResultKind.AUTH and "token" in res.message.lower()
    data = await sandbox_manager.fetch("vercel")
    assert data.error is not None and data.error.kind == ResultKind.AUTH
    assert "vercel_wrong_token_000000" not in res.model_dump_json() + data.model_dump_json()


async def test_foreign_team_is_permission(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sandbox_manager.set_credentials("vercel", {"team_id": _vercel(sb).foreign_team["id"]})
    res = await sandbox_manager.test("vercel")
    assert res.kind == ResultKind.PERMISSION
    assert "cannot see team" in res.message


async def test_team_project_without_team_id_says_so(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    """The trap: a team-owned project is invisible without teamId."""
    emu = _vercel(sb)
    team_project = next(p for p in emu.projects if p["accountId"] == emu.teams[0]["id"])
    sandbox_manager.unset("vercel", ["team_id"])
    sandbox_manager.set_credentials("vercel", {"project_id": team_project["id"]})
    res = await sandbox_manager.test("vercel")
    assert res.kind == ResultKind.NOT_FOUND
    assert "set the team id" in res.message
    sandbox_manager.set_credentials("vercel", {"team_id": emu.teams[0]["id"]})
    res = await sandbox_manager.test("vercel")
    assert res.ok, res.message
    data = await sandbox_manager.fetch("vercel")
    assert {d.project for d in data.records.deployments} == {team_project["name"]}


async def test_rate_limit_retry_after_then_success(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("vercel").add(route="/v6/deployments", status=429, retry_after=1, times=1)
    started = time.perf_counter()
    data = await sandbox_manager.fetch("vercel")
    assert data.error is None
    assert time.perf_counter() - started >= 0.9
    assert _vercel(sb).requests.count("/v6/deployments") >= 2


async def test_5xx_is_retried(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("vercel").add(route="/v2/user", status=502, times=2)
    res = await sandbox_manager.test("vercel")
    assert res.ok, res.message
    assert _vercel(sb).requests.count("/v2/user") == 3


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"malformed": True}, ResultKind.INVALID_RESPONSE),
        ({"html": True}, ResultKind.UNAVAILABLE),  # a proxy's 502 error page: the service is down
        ({"status": 503}, ResultKind.UNAVAILABLE),
        ({"status": 404}, ResultKind.NOT_FOUND),
    ],
)
async def test_bad_answers_are_classified(sb: Sandbox, sandbox_manager: IntegrationManager, fault: dict, kind: ResultKind) -> None:
    sb.faults("vercel").add(route="/v2/user", **fault)
    res = await sandbox_manager.test("vercel")
    assert res.kind == kind, res.message
    assert "Vercel" in res.message
    if fault.get("html"):
        assert "HTML page" in res.message
