"""The Vercel emulator: auth and team traps, cursor paging, rate limits, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.sandbox.vercel_emulator import STATES, VercelEmulator

from ..timing import active_since


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(["vercel"], seed=3, scale={"vercel_projects": 60, "vercel_deployments": 400}) as sb:
        yield sb


@pytest.fixture
def vercel(box: Sandbox) -> Iterator[VercelEmulator]:
    box.reset()
    emu = box.emulator("vercel")
    assert isinstance(emu, VercelEmulator)
    yield emu
    emu.limiter.limit = VercelEmulator.rate_limit
    box.reset()


@pytest.fixture
def client(vercel: VercelEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=vercel.url, headers={"Authorization": f"Bearer {vercel.good_token}"},
                      timeout=5) as c:
        yield c


def test_starts_in_under_a_second() -> None:
    started = time.perf_counter()
    emu = VercelEmulator(seed=1)
    emu.serve()
    try:
        assert active_since(started) < 1.0
        assert httpx.get(emu.url + "/v2/user", headers={"Authorization": f"Bearer {emu.good_token}"}).status_code == 200
    finally:
        emu.stop()


def test_sandbox_credentials_and_env(box: Sandbox, vercel: VercelEmulator) -> None:
    assert box.credentials()["vercel"] == {"token": vercel.good_token, "team_id": vercel.teams[0]["id"]}
    assert box.env()["DEVTRACK_VERCEL_BASE_URL"] == vercel.url


def test_bad_and_missing_token_are_403_with_vercel_envelope(vercel: VercelEmulator) -> None:
    r = httpx.get(vercel.url + "/v2/user", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden" and r.json()["error"]["invalidToken"] is True
    r = httpx.get(vercel.url + "/v6/deployments")
    assert r.status_code == 403 and r.json()["error"]["missingToken"] is True


def test_limited_user_form(vercel: VercelEmulator) -> None:
    r = httpx.get(vercel.url + "/v2/user", headers={"Authorization": f"Bearer {vercel.limited_token}"})
    assert r.status_code == 200 and r.json()["user"]["limited"] is True


def test_team_projects_need_team_id(vercel: VercelEmulator, client: httpx.Client) -> None:
    team = vercel.teams[0]
    personal = client.get("/v10/projects", params={"limit": 100}).json()["projects"]
    assert personal and all(p["accountId"] == vercel.user_id for p in personal)
    team_project = next(p for p in vercel.projects if p["accountId"] == team["id"])
    r = client.get("/v6/deployments", params={"projectId": team_project["id"]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    for scope in ({"teamId": team["id"]}, {"slug": team["slug"]}):
        r = client.get("/v6/deployments", params={"projectId": team_project["id"], **scope})
        assert r.status_code == 200 and r.json()["deployments"]
        assert all(d["projectId"] == team_project["id"] for d in r.json()["deployments"])
    r = client.get("/v10/projects", params={"teamId": vercel.foreign_team["id"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_projects_page_with_from(vercel: VercelEmulator, client: httpx.Client) -> None:
    team = vercel.teams[0]["id"]
    seen: list[str] = []
    params: dict[str, object] = {"teamId": team, "limit": 5}
    pages = 0
    while True:
        body = client.get("/v10/projects", params=params).json()
        pages += 1
        seen += [p["id"] for p in body["projects"]]
        if body["pagination"]["next"] is None:
            break
        params["from"] = body["pagination"]["next"]
    expected = [p["id"] for p in sorted(vercel.projects, key=lambda p: -p["updatedAt"]) if p["accountId"] == team]
    assert pages >= 3 and seen == expected


def test_deployments_page_with_until_and_cover_every_state(vercel: VercelEmulator, client: httpx.Client) -> None:
    team = vercel.teams[0]["id"]
    seen: list[dict[str, object]] = []
    params: dict[str, object] = {"teamId": team, "limit": 60}
    while True:
        body = client.get("/v6/deployments", params=params).json()
        seen += body["deployments"]
        assert body["pagination"]["count"] == len(body["deployments"])
        if body["pagination"]["next"] is None:
            break
        assert isinstance(body["pagination"]["next"], int) and body["pagination"]["next"] > 10**12  # ms
        params["until"] = body["pagination"]["next"]
    owned = {p["id"] for p in vercel.projects if p["accountId"] == team}
    assert [d["uid"] for d in seen] == [d["uid"] for d in vercel.deployments if d["projectId"] in owned]
    assert len(seen) >= 200 and vercel.requests.count("/v6/deployments") >= 4
    all_states = {d["state"] for d in vercel.deployments}
    assert all_states == set(STATES)
    assert vercel.requests.count("/v6/deployments") >= 3


def test_default_data_has_every_state_for_the_sandbox_team() -> None:
    emu = VercelEmulator(seed=0)
    team = emu.credentials("")["vercel"]["team_id"]
    owned = {p["id"] for p in emu.projects if p["accountId"] == team}
    assert {d["state"] for d in emu.deployments if d["projectId"] in owned} >= {"READY", "ERROR", "BUILDING"}
    assert any(d["target"] == "production" and d["state"] == "READY"
               for d in emu.deployments if d["projectId"] in owned)


def test_rate_limit_headers_and_429_shape(vercel: VercelEmulator, client: httpx.Client) -> None:
    r = client.get("/v2/user")
    assert int(r.headers["x-ratelimit-remaining"]) == VercelEmulator.rate_limit - 1
    vercel.limiter.limit = 2
    vercel.limiter.reset()
    codes = [client.get("/v2/user").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = client.get("/v2/user")
    assert r.json()["error"]["code"] == "rate_limited" and "retry-after" in r.headers
    assert r.headers["x-ratelimit-remaining"] == "0"


def test_injected_429_uses_the_vendor_envelope(vercel: VercelEmulator, client: httpx.Client) -> None:
    vercel.faults.add(route="/v6/deployments", status=429, retry_after=1, times=1)
    r = client.get("/v6/deployments")
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "rate_limited"
    assert client.get("/v6/deployments").status_code == 200
    assert vercel.requests.count("/v6/deployments") == 2


@pytest.mark.parametrize("fault, error", [
    ({"reset": True}, httpx.ReadError),
    ({"truncate": True}, httpx.RemoteProtocolError),
])
def test_socket_faults(vercel: VercelEmulator, client: httpx.Client, fault: dict[str, bool],
                       error: type[Exception]) -> None:
    vercel.faults.add(route="/v10/projects", times=1, **fault)
    with pytest.raises(error):
        client.get("/v10/projects")
    assert client.get("/v10/projects").status_code == 200


def test_payload_faults(vercel: VercelEmulator, client: httpx.Client) -> None:
    vercel.faults.add(route="/v2/user", html=True, times=1)
    vercel.faults.add(route="/v2/user", malformed=True, times=1)
    vercel.faults.add(route="/v2/user", status=500, times=1)
    html, malformed, error = (client.get("/v2/user") for _ in range(3))
    assert html.status_code == 502 and "<html>" in html.text
    assert malformed.status_code == 200 and malformed.text.startswith("{") and not malformed.text.endswith("}")
    assert error.status_code == 500 and error.json()["error"]["code"] == "internal_server_error"
