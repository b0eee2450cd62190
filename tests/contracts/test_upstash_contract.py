"""The Upstash emulator against Upstash's own Developer API OpenAPI document (see SOURCE.txt).

The per-database REST endpoint has no published contract; its routes are checked by hand
against the documented behaviour (``/ping`` → ``{"result": "PONG"}``, 401 ``{"error": …}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from openapi_schema_validator import OAS30Validator

from devtrack.sandbox import Sandbox
from devtrack.sandbox.upstash_emulator import REST_PREFIX, SECRET_FIELDS, UpstashEmulator

from .checker import load, route_problems

CONTRACT = load("upstash", "developer-api-trimmed.yml", prefix="/v2")
ERROR_SCHEMA = CONTRACT.spec["components"]["schemas"]["Error"]


def error_problems(body: object) -> list[str]:
    """Why ``body`` is not the spec's ``Error`` object ([] when it is)."""
    return [e.message for e in OAS30Validator(ERROR_SCHEMA).iter_errors(body)]


def api_problems(emu: UpstashEmulator) -> list[str]:
    """Recorded Developer API requests the document does not define."""
    return [p for r in emu.requests.all() if r.path.startswith("/v2/") for p in CONTRACT.record_problems(r)]


@pytest.fixture(scope="module")
def upstash() -> Iterator[UpstashEmulator]:
    with Sandbox(["upstash"], seed=21, scale={"upstash_databases": 12}) as sb:
        emu = sb.emulator("upstash")
        assert isinstance(emu, UpstashEmulator)
        yield emu


@pytest.fixture
def api(upstash: UpstashEmulator) -> Iterator[httpx.Client]:
    upstash.reset()
    with httpx.Client(base_url=upstash.url, auth=(upstash.email, upstash.api_key), timeout=5) as c:
        yield c
    upstash.limiter.limit = UpstashEmulator.rate_limit
    upstash.reset()


def test_every_served_developer_api_route_is_in_the_contract(upstash: UpstashEmulator) -> None:
    api_routes = [r for r in upstash.routes() if not r.path.startswith(REST_PREFIX + "/")]
    assert len(api_routes) == 3
    assert route_problems(SimpleNamespace(routes=lambda: api_routes), CONTRACT) == []  # type: ignore[arg-type]


def test_every_response_validates(upstash: UpstashEmulator, api: httpx.Client) -> None:
    listed = api.get("/v2/redis/databases")
    assert listed.status_code == 200
    assert CONTRACT.response_problems("GET", "/v2/redis/databases", 200, listed.json()) == []
    assert len(listed.json()) == 12
    for db in upstash.databases:
        path = f"/v2/redis/stats/{db['database_id']}"
        r = api.get(path)
        assert r.status_code == 200, r.text
        assert CONTRACT.response_problems("GET", path, 200, r.json()) == []
    some = upstash.databases[2]
    for params in ({}, {"credentials": "hide"}):
        path = f"/v2/redis/database/{some['database_id']}"
        r = api.get(path, params=params)
        assert r.status_code == 200
        assert CONTRACT.response_problems("GET", path, 200, r.json()) == []
    assert api_problems(upstash) == []


def test_seeded_data_covers_states_types_and_regions(upstash: UpstashEmulator) -> None:
    assert {d["state"] for d in upstash.databases} >= {"active", "suspended", "passive"}
    assert {d["type"] for d in upstash.databases} == {"free", "payg", "pro", "paid"}
    assert len({d["primary_region"] for d in upstash.databases}) >= 5
    assert len({d["database_id"] for d in upstash.databases}) == 12
    again = UpstashEmulator(seed=21, scale={"upstash_databases": 12})
    assert [d["database_id"] for d in again.databases] == [d["database_id"] for d in upstash.databases]
    assert len(UpstashEmulator(seed=1, scale={"upstash_databases": 500}).databases) == 500


def test_the_trap_the_list_carries_passwords_and_tokens(upstash: UpstashEmulator, api: httpx.Client) -> None:
    """Like the real list, every entry holds the database's password and REST tokens."""
    for entry in api.get("/v2/redis/databases").json():
        assert all(entry.get(k) for k in SECRET_FIELDS), entry.keys()
    one = upstash.databases[0]["database_id"]
    shown = api.get(f"/v2/redis/database/{one}").json()
    hidden = api.get(f"/v2/redis/database/{one}", params={"credentials": "hide"}).json()
    assert all(k in shown for k in SECRET_FIELDS)
    assert not any(k in hidden for k in SECRET_FIELDS)
    assert hidden["database_id"] == one and hidden["state"] == shown["state"]


def test_errors_use_the_spec_error_shape(upstash: UpstashEmulator, api: httpx.Client) -> None:
    cases = [
        (httpx.get(upstash.url + "/v2/redis/databases"), 401),
        (httpx.get(upstash.url + "/v2/redis/databases", auth=(upstash.email, "wrong-key")), 401),
        (httpx.get(upstash.url + "/v2/redis/databases", auth=("someone@else.com", upstash.api_key)), 401),
        (httpx.get(upstash.url + "/v2/redis/databases", auth=(upstash.email, upstash.forbidden_key)), 403),
        (api.get("/v2/redis/stats/no-such-database"), 404),
        (api.get("/v2/redis/database/no-such-database"), 404),
        (api.get("/v2/redis/nothing-here"), 404),
    ]
    for resp, status in cases:
        assert resp.status_code == status, (resp.request.url, resp.text)
        assert error_problems(resp.json()) == [], resp.text
    assert cases[3][0].json()["code"] == "forbidden"


def test_rate_limit_is_429_with_retry_after(upstash: UpstashEmulator, api: httpx.Client) -> None:
    upstash.limiter.limit = 2
    codes = [api.get("/v2/redis/databases").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    last = api.get("/v2/redis/databases")
    assert last.status_code == 429 and error_problems(last.json()) == []
    assert 0 < int(last.headers["retry-after"]) <= 60


def test_rest_endpoint_behaves_as_documented(upstash: UpstashEmulator) -> None:
    db = upstash.rest_database
    url = upstash.rest_url(upstash.url, db)
    good = {"Authorization": f"Bearer {db['rest_token']}"}
    assert httpx.get(url + "/ping", headers=good).json() == {"result": "PONG"}
    ro = {"Authorization": f"Bearer {db['read_only_rest_token']}"}
    info = httpx.get(url + "/info", headers=ro).json()["result"]
    assert "redis_version:" in info and "# Keyspace" in info
    assert httpx.post(url, headers=good, json=["PING"]).json() == {"result": "PONG"}
    assert isinstance(httpx.post(url, headers=good, json=["DBSIZE"]).json()["result"], int)
    for headers in ({}, {"Authorization": f"Bearer {db['password']}"},
                    {"Authorization": f"Bearer {upstash.databases[1]['rest_token']}"}):
        r = httpx.get(url + "/ping", headers=headers)
        assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})
    missing = httpx.get(f"{upstash.url}{REST_PREFIX}/no-such-db/ping", headers=good)
    assert missing.status_code == 404 and "error" in missing.json()


def test_sandbox_credentials_and_env(upstash: UpstashEmulator) -> None:
    creds = upstash.credentials(upstash.url)["upstash"]
    assert creds["email"] == upstash.email and creds["api_key"] == upstash.api_key
    assert creds["rest_url"].startswith(upstash.url + REST_PREFIX + "/")
    assert creds["rest_token"] == upstash.rest_database["rest_token"]
    assert upstash.env(upstash.url) == {"DEVTRACK_UPSTASH_BASE_URL": upstash.url + "/v2"}


def test_contract_catches_a_wrong_response_and_request() -> None:
    assert CONTRACT.response_problems("GET", "/v2/redis/databases", 200, [{"state": "deleted"}])
    assert CONTRACT.response_problems("GET", "/v2/redis/stats/x", 200, {"keyspace": [{"x": "now"}]})
    assert CONTRACT.request_problems("GET", "/v2/redis/databases", ["credentials"])
    assert CONTRACT.request_problems("GET", "/v2/redis/database/x", ["credentials"]) == []
    assert CONTRACT.request_problems("GET", "/v2/redis/dbs", [])
    assert error_problems({"error": "Unauthorized"})
