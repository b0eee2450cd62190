"""The Supabase plugin against the sandbox's Management API emulator, over real sockets."""

from __future__ import annotations

import time

from devtrack.integrations.contract import ResultKind
from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox

from ..contracts.checker import load, recorded_problems

CONTRACT = load("supabase", "supabase-trimmed.json")


def _emu(sb: Sandbox):  # type: ignore[no-untyped-def]
    return sb.emulator("supabase")


async def test_success_projects_and_service_health(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    res = await sandbox_manager.test("supabase")
    assert res.ok, res.message
    emu = _emu(sb)
    assert recorded_problems(emu, CONTRACT) == []
    emu.requests.clear()
    data = await sandbox_manager.fetch("supabase")
    assert data.error is None, data.error
    assert {p.id for p in data.records.projects} == {p["ref"] for p in emu.projects}
    by_ref = {p.id: p for p in data.records.projects}
    for raw in emu.projects:
        rec = by_ref[raw["ref"]]
        assert rec.status == raw["status"]
        if raw["status"] == "ACTIVE_HEALTHY":
            assert set(rec.services) == {"auth", "db", "rest", "realtime", "storage"}
            assert set(rec.services.values()) == {"ACTIVE_HEALTHY"}
        if raw["status"] == "ACTIVE_UNHEALTHY":
            assert rec.services[emu.unhealthy_service[raw["ref"]]] == "UNHEALTHY"
    statuses = {p["status"] for p in emu.projects}
    if statuses & {"ACTIVE_UNHEALTHY", "INIT_FAILED"}:
        assert data.health.status in ("degraded", "down")
        assert data.events and any(e.severity == "error" for e in data.events)
    for call in emu.requests.find("/v1/projects/{ref}/health"):
        assert call.params["services"] == "auth,db,rest,realtime,storage"
    assert recorded_problems(emu, CONTRACT) == []


async def test_offset_pagination_over_three_pages(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    plugin = sandbox_manager.plugin("supabase")
    plugin.page_size = 1  # type: ignore[attr-defined]
    try:
        data = await sandbox_manager.fetch("supabase")
    finally:
        del plugin.page_size  # type: ignore[attr-defined]
    emu = _emu(sb)
    calls = [c for c in emu.requests.all() if c.path.endswith("/projects") and c.path.startswith("/v1/organizations/")]
    assert len(calls) >= 3
    assert sorted(int(c.params["offset"]) for c in calls if c.path == calls[0].path)[:3] == [0, 1, 2]
    assert len(data.records.projects) == len(emu.projects)


async def test_bad_token_missing_privilege_wrong_ref(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    sandbox_manager.set_credentials("supabase", {"access_token": "sbp_" + "0" * 40})
    res = await sandbox_manager.test("supabase")
    assert res.kind == ResultKind.AUTH and "access token" in res.message

    sandbox_manager.set_credentials("supabase", {"access_token": emu.limited_token})
    res = await sandbox_manager.test("supabase")
    assert res.kind == ResultKind.PERMISSION and "privilege" in res.message
    data = await sandbox_manager.fetch("supabase")
    assert data.error is not None and data.error.kind == ResultKind.PERMISSION

    sandbox_manager.set_credentials("supabase", {"access_token": emu.good_token, "project_ref": "zzzzzzzzzzzzzzzzzzzz"})
    res = await sandbox_manager.test("supabase")
    assert res.kind == ResultKind.NOT_FOUND and "zzzzzzzzzzzzzzzzzzzz" in res.message


async def test_scoped_token_trap(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    """A token scoped to one organization lists every project yet 404s on the others."""
    emu = _emu(sb)
    other = next(p for p in emu.projects if p["organization_id"] != emu.orgs[0]["id"])
    sandbox_manager.set_credentials("supabase", {"access_token": emu.scoped_token, "project_ref": other["ref"]})
    res = await sandbox_manager.test("supabase")
    assert res.kind == ResultKind.NOT_FOUND and "scoped" in res.message
    sandbox_manager.unset("supabase", ["project_ref"])
    data = await sandbox_manager.fetch("supabase")
    assert data.error is None
    assert {p.organization for p in data.records.projects} == {emu.orgs[0]["slug"]}  # type: ignore[attr-defined]


async def test_429_retry_after_then_success(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("supabase").add(route="/v1/organizations", status=429, retry_after=1, times=1)
    started = time.monotonic()
    data = await sandbox_manager.fetch("supabase")
    assert data.error is None and time.monotonic() - started >= 0.9
    assert _emu(sb).requests.count("/v1/organizations") == 2
