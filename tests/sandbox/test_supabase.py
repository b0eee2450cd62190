"""The Supabase emulator: 401/403/404 distinctions, the scoped-token trap, offset paging, limits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.sandbox.supabase_emulator import SupabaseEmulator

from ..timing import active_since

HEALTH = {"services": "auth,db,rest,realtime,storage"}


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(["supabase"], seed=5, scale={"supabase_projects": 40}) as sb:
        yield sb


@pytest.fixture
def supabase(box: Sandbox) -> Iterator[SupabaseEmulator]:
    box.reset()
    emu = box.emulator("supabase")
    assert isinstance(emu, SupabaseEmulator)
    yield emu
    emu.limiter.limit = SupabaseEmulator.rate_limit
    box.reset()


def get(emu: SupabaseEmulator, path: str, token: str | None = None, **params: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or emu.good_token}"}
    return httpx.get(emu.url + path, params=params, headers=headers, timeout=5)


def test_starts_in_under_a_second() -> None:
    started = time.perf_counter()
    emu = SupabaseEmulator()
    emu.serve()
    try:
        assert active_since(started) < 1.0
        assert get(emu, "/v1/profile").json()["username"] == "sandbox-dev"
    finally:
        emu.stop()


def test_credentials_and_env(box: Sandbox, supabase: SupabaseEmulator) -> None:
    assert box.credentials() == {"supabase": {"access_token": supabase.good_token}}
    assert box.env() == {"DEVTRACK_SUPABASE_BASE_URL": supabase.url}


def test_bad_token_401_missing_privilege_403_wrong_ref_404(supabase: SupabaseEmulator) -> None:
    ref = supabase.projects[0]["ref"]
    r = get(supabase, f"/v1/projects/{ref}", token="sbp_" + "0" * 40)
    assert r.status_code == 401 and r.json() == {"message": "Unauthorized"}
    assert httpx.get(supabase.url + "/v1/projects").status_code == 401
    assert get(supabase, f"/v1/projects/{ref}", token=supabase.limited_token).status_code == 200
    r = get(supabase, f"/v1/projects/{ref}/health", token=supabase.limited_token, **HEALTH)
    assert r.status_code == 403 and "privileges" in r.json()["message"]
    r = get(supabase, "/v1/projects/" + "z" * 20)
    assert r.status_code == 404 and "not found" in r.json()["message"]
    assert get(supabase, "/v1/projects/NOT-A-REF").status_code == 400


def test_scoped_token_lists_a_project_yet_gets_404_on_it(supabase: SupabaseEmulator) -> None:
    token = supabase.scoped_token
    listed = {p["ref"] for p in get(supabase, "/v1/projects", token=token).json()}
    other = next(p for p in supabase.projects if p["organization_id"] != supabase.orgs[0]["id"])
    own = next(p for p in supabase.projects if p["organization_id"] == supabase.orgs[0]["id"])
    assert other["ref"] in listed
    assert get(supabase, f"/v1/projects/{other['ref']}", token=token).status_code == 404
    assert get(supabase, f"/v1/projects/{own['ref']}", token=token).status_code == 200


def test_health_needs_services_and_reflects_project_status(supabase: SupabaseEmulator) -> None:
    by_status = {p["status"]: p["ref"] for p in supabase.projects}
    assert get(supabase, f"/v1/projects/{by_status['ACTIVE_HEALTHY']}/health").status_code == 400
    assert get(supabase, f"/v1/projects/{by_status['ACTIVE_HEALTHY']}/health", services="auth,nope").status_code == 400
    healthy = get(supabase, f"/v1/projects/{by_status['ACTIVE_HEALTHY']}/health", **HEALTH).json()
    assert [s["name"] for s in healthy] == ["auth", "db", "rest", "realtime", "storage"]
    assert all(s["healthy"] and s["status"] == "ACTIVE_HEALTHY" for s in healthy)
    repeated = httpx.get(f"{supabase.url}/v1/projects/{by_status['ACTIVE_HEALTHY']}/health",
                         params=[("services", "auth"), ("services", "db")],
                         headers={"Authorization": f"Bearer {supabase.good_token}"}).json()
    assert [s["name"] for s in repeated] == ["auth", "db"]
    sick = get(supabase, f"/v1/projects/{by_status['ACTIVE_UNHEALTHY']}/health", **HEALTH).json()
    assert [s["status"] for s in sick].count("UNHEALTHY") == 1
    paused = get(supabase, f"/v1/projects/{by_status['INACTIVE']}/health", **HEALTH).json()
    assert all(s["status"] == "UNHEALTHY" for s in paused)
    coming = get(supabase, f"/v1/projects/{by_status['COMING_UP']}/health", **HEALTH).json()
    assert all(s["status"] == "COMING_UP" for s in coming)


def test_org_projects_page_by_offset_and_limit(supabase: SupabaseEmulator) -> None:
    org = supabase.orgs[0]
    seen: list[str] = []
    offset = 0
    while True:
        body = get(supabase, f"/v1/organizations/{org['slug']}/projects", offset=offset, limit=7).json()
        seen += [p["ref"] for p in body["projects"]]
        assert body["pagination"]["limit"] == 7 and body["pagination"]["offset"] == offset
        offset += 7
        if offset >= body["pagination"]["count"]:
            break
    expected = sorted((p for p in supabase.projects if p["organization_id"] == org["id"]), key=lambda p: p["name"])
    assert seen == [p["ref"] for p in expected] and len(seen) > 14  # three pages or more
    assert get(supabase, f"/v1/organizations/{org['slug']}/projects", limit=101).status_code == 400
    assert get(supabase, "/v1/organizations/nope/projects").status_code == 404


def test_rate_limit_headers_and_429(supabase: SupabaseEmulator) -> None:
    r = get(supabase, "/v1/projects")
    assert r.headers["x-ratelimit-limit"] == "120" and r.headers["x-ratelimit-remaining"] == "119"
    assert 0 < int(r.headers["x-ratelimit-reset"]) <= 60
    supabase.limiter.limit = 1
    r = get(supabase, "/v1/projects")
    assert r.status_code == 429 and "retry-after" in r.headers and r.json()["message"]
    assert r.headers["x-ratelimit-remaining"] == "0"


def test_faults_on_the_health_route(supabase: SupabaseEmulator) -> None:
    ref = supabase.projects[0]["ref"]
    supabase.faults.add(route="/v1/projects/{ref}/health", status=503, times=1)
    supabase.faults.add(route="/v1/projects/{ref}/health", latency=0.2, times=1)
    r = get(supabase, f"/v1/projects/{ref}/health", **HEALTH)
    assert r.status_code == 503 and "message" in r.json()
    started = time.perf_counter()
    assert get(supabase, f"/v1/projects/{ref}/health", **HEALTH).status_code == 200
    assert time.perf_counter() - started >= 0.2
    assert get(supabase, f"/v1/projects/{ref}").status_code == 200
    assert supabase.requests.count("/v1/projects/{ref}/health") == 2
    supabase.faults.add(route="/v1/projects", reset=True, times=1)
    with pytest.raises(httpx.ReadError):
        get(supabase, "/v1/projects")
