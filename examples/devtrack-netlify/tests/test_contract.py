"""The Netlify emulator against Netlify's own Swagger document (contract/swagger.yml), and the
plugin's requests against it: what the tests prove holds for the real API's shapes."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtrack.testing.contracts import Contract, recorded_problems, route_problems

from devtrack_netlify.emulator import NetlifyEmulator
from devtrack_netlify.plugin import NetlifyIntegration

CONTRACT = Contract.load(Path(__file__).parents[1] / "contract" / "swagger.yml", prefix="/api/v1")


@pytest.fixture(scope="module")
def netlify() -> Iterator[NetlifyEmulator]:
    emu = NetlifyEmulator(seed=3, scale={"netlify_deploys": 25})
    emu.serve()
    yield emu
    emu.stop()


def _get(emu: NetlifyEmulator, path: str, token: str | None = None) -> tuple[int, object, dict[str, str]]:
    req = urllib.request.Request(emu.url + path, headers={"Authorization": f"Bearer {token or emu.good}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def test_every_served_route_is_in_the_contract(netlify: NetlifyEmulator) -> None:
    assert route_problems(netlify, CONTRACT) == []


def test_every_response_validates(netlify: NetlifyEmulator) -> None:
    site = netlify.sites[0]["id"]
    for path in ("/api/v1/user", "/api/v1/sites", "/api/v1/sites?page=2&per_page=1", f"/api/v1/sites/{site}",
                 f"/api/v1/sites/{site}/deploys", f"/api/v1/sites/{site}/deploys?page=3&per_page=5"):
        status, body, _ = _get(netlify, path)
        assert status == 200, (path, body)
        assert CONTRACT.response_problems("GET", path.split("?")[0], 200, body) == [], path
    status, body, _ = _get(netlify, "/api/v1/user", token="nfp_wrong")
    assert status == 401 and CONTRACT.response_problems("GET", "/api/v1/user", 401, body) == []
    status, body, _ = _get(netlify, "/api/v1/sites/nope/deploys")
    assert status == 404 and CONTRACT.response_problems("GET", "/api/v1/sites/x/deploys", 404, body) == []


def test_the_plugin_sends_only_requests_the_contract_defines(netlify: NetlifyEmulator,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    netlify.reset()
    for key, value in netlify.env(netlify.url).items():
        monkeypatch.setenv(key, value)
    creds = NetlifyIntegration.credentials_model(**netlify.credentials(netlify.url)["netlify"])
    assert asyncio.run(NetlifyIntegration().test_connection(creds)).ok
    assert asyncio.run(NetlifyIntegration().get_data(creds)).error is None
    assert len(netlify.requests) > 3
    assert recorded_problems(netlify, CONTRACT) == []


def test_the_contract_catches_a_wrong_response_and_request() -> None:
    assert CONTRACT.response_problems("GET", "/api/v1/sites/x/deploys", 200, [{"id": 5}])
    assert CONTRACT.response_problems("GET", "/api/v1/user", 401, {"code": 401})  # message is required
    assert CONTRACT.request_problems("GET", "/api/v1/sites", ["cursor"])
    assert CONTRACT.request_problems("GET", "/api/v1/sites", ["page", "per_page"]) == []
