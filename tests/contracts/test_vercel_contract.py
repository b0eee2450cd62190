"""The Vercel emulator against Vercel's own OpenAPI document (patched copy: see PATCHES.md)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.sandbox.vercel_emulator import VercelEmulator

from .checker import load, recorded_problems, route_problems

CONTRACT = load("vercel", "vercel-trimmed.json")


@pytest.fixture(scope="module")
def vercel() -> Iterator[VercelEmulator]:
    with Sandbox(["vercel"], seed=11, scale={"vercel_deployments": 120}) as sb:
        emu = sb.emulator("vercel")
        assert isinstance(emu, VercelEmulator)
        yield emu


def test_every_served_route_is_in_the_contract(vercel: VercelEmulator) -> None:
    assert route_problems(vercel, CONTRACT) == []


def test_every_response_validates(vercel: VercelEmulator) -> None:
    vercel.reset()
    team = vercel.teams[0]["id"]
    team_projects = {p["id"] for p in vercel.projects if p["accountId"] == team}
    some = next(d for d in vercel.deployments if d["projectId"] in team_projects)
    calls = [
        ("/v2/user", {}, vercel.good_token),
        ("/v2/user", {}, vercel.limited_token),
        ("/v2/teams", {"limit": "10"}, vercel.good_token),
        ("/v10/projects", {}, vercel.good_token),
        ("/v10/projects", {"teamId": team, "limit": "1"}, vercel.good_token),
        ("/v10/projects", {"slug": "acme", "search": "w"}, vercel.good_token),
        ("/v6/deployments", {"teamId": team, "limit": "100"}, vercel.good_token),
        ("/v6/deployments", {"teamId": team, "target": "production", "state": "READY,ERROR"}, vercel.good_token),
        ("/v6/deployments", {"projectId": some["projectId"], "teamId": team, "limit": "5",
                             "until": str(some["created"] + 1)}, vercel.good_token),
    ]
    with httpx.Client(base_url=vercel.url) as client:
        for path, params, token in calls:
            r = client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, (path, r.text)
            assert CONTRACT.response_problems("GET", path, 200, r.json()) == [], path
    assert recorded_problems(vercel, CONTRACT) == []


def test_contract_catches_a_wrong_response_and_request() -> None:
    assert CONTRACT.response_problems("GET", "/v6/deployments", 200, {"deployments": [{}]})
    assert CONTRACT.request_problems("GET", "/v6/deployments", ["page"])
    assert CONTRACT.request_problems("GET", "/v9/deployments", [])
    assert CONTRACT.request_problems("GET", "/v6/deployments", ["until", "teamId"]) == []
