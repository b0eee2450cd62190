"""Vercel without a team id: the connection test names the teams the token can also see.

A token sees a team's projects only with ``teamId``; without it Vercel lists the personal
account's. The test used to mention teams only when the personal account had no project at
all, so a user with one personal project never learnt why the team's were missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import ResultKind
from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox

from ..contracts.checker import load, recorded_problems

CONTRACT = load("vercel", "vercel-trimmed.json")


def _hint(emu) -> str:  # type: ignore[no-untyped-def]
    acme, side = emu.teams
    return (f": Acme Inc ({acme['id']}), Side Project ({side['id']}) — set team_id to show a "
            f"team's projects (devtrack integrations set vercel team_id={acme['id']}).")


async def test_personal_projects_and_teams_names_the_teams(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = sb.emulator("vercel")
    assert any(p["accountId"] == emu.user_id for p in emu.projects)  # the personal account has projects
    sandbox_manager.unset("vercel", ["team_id"])
    res = await sandbox_manager.test("vercel")
    assert res.ok, res.message
    assert res.message == "Connected to Vercel as sandbox-dev. This token can also see teams" + _hint(emu)
    assert res.details["teams"] == [{"id": t["id"], "slug": t["slug"], "name": t["name"]} for t in emu.teams]
    assert recorded_problems(emu, CONTRACT) == []


async def test_with_a_team_id_the_teams_are_not_listed(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    res = await sandbox_manager.test("vercel")
    assert res.ok and "teams" not in res.details and "see teams" not in res.message
    assert sb.emulator("vercel").requests.count("/v2/teams") == 0


async def test_a_token_that_may_not_list_teams_still_connects(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("vercel").add(route="/v2/teams", status=403)
    sandbox_manager.unset("vercel", ["team_id"])
    res = await sandbox_manager.test("vercel")
    assert res.ok and res.kind == ResultKind.OK, res.message
    assert res.message == "Connected to Vercel as sandbox-dev." and "teams" not in res.details


@pytest.fixture
def empty_personal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandbox, IntegrationManager]]:
    """A Vercel account with no project anywhere, its token a member of two teams."""
    with Sandbox(["vercel"], seed=3, scale={"vercel_projects": 0}) as box:
        for key in [k for k in os.environ if k.startswith("DEVTRACK_")]:
            monkeypatch.delenv(key)
        for key, value in box.env().items():
            monkeypatch.setenv(key, value)
        store = CredentialStore(box.write_credentials(tmp_path / "credentials.json"))
        manager = IntegrationManager(store=store, environ=dict(os.environ))
        manager.unset("vercel", ["team_id"])
        yield box, manager


async def test_no_personal_projects_names_the_teams(empty_personal: tuple[Sandbox, IntegrationManager]) -> None:
    box, manager = empty_personal
    emu = box.emulator("vercel")
    res = await manager.test("vercel")
    assert res.ok, res.message
    assert res.message == ("Connected to Vercel as sandbox-dev. No personal projects; this token can see teams"
                           + _hint(emu))
    assert [t["id"] for t in res.details["teams"]] == [t["id"] for t in emu.teams]
