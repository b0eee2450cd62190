"""The Supabase emulator against the Management API's own OpenAPI document (see PATCHES.md)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.sandbox.supabase_emulator import SupabaseEmulator

from .checker import load, recorded_problems, route_problems

CONTRACT = load("supabase", "supabase-trimmed.json")


@pytest.fixture(scope="module")
def supabase() -> Iterator[SupabaseEmulator]:
    with Sandbox(["supabase"], seed=11, scale={"supabase_projects": 9}) as sb:
        emu = sb.emulator("supabase")
        assert isinstance(emu, SupabaseEmulator)
        yield emu


def test_every_served_route_is_in_the_contract(supabase: SupabaseEmulator) -> None:
    assert route_problems(supabase, CONTRACT) == []


def test_every_response_validates(supabase: SupabaseEmulator) -> None:
    supabase.reset()
    calls: list[tuple[str, dict[str, str]]] = [
        ("/v1/profile", {}), ("/v1/organizations", {}), ("/v1/projects", {}),
    ]
    for p in supabase.projects:  # every status, and every service's health
        calls.append((f"/v1/projects/{p['ref']}", {}))
        calls.append((f"/v1/projects/{p['ref']}/health", {"services": "auth,db,rest,realtime,storage,pooler"}))
    for org in supabase.orgs:
        calls.append((f"/v1/organizations/{org['slug']}/projects", {"limit": "2", "offset": "1"}))
        calls.append((f"/v1/organizations/{org['slug']}/projects", {"sort": "created_desc", "search": "web"}))
    with httpx.Client(base_url=supabase.url, headers={"Authorization": f"Bearer {supabase.good_token}"}) as c:
        for path, params in calls:
            r = c.get(path, params=params)
            assert r.status_code == 200, (path, r.text)
            assert CONTRACT.response_problems("GET", path, 200, r.json()) == [], path
    assert recorded_problems(supabase, CONTRACT) == []


def test_health_without_services_breaks_the_contract_and_the_emulator(supabase: SupabaseEmulator) -> None:
    ref = supabase.projects[0]["ref"]
    assert CONTRACT.request_problems("GET", f"/v1/projects/{ref}/health", [])
    r = httpx.get(f"{supabase.url}/v1/projects/{ref}/health",
                  headers={"Authorization": f"Bearer {supabase.good_token}"})
    assert r.status_code == 400 and "services" in r.json()["message"]
