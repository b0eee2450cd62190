"""The Sentry emulator against Sentry's own OpenAPI document, and its vendor traits."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.sandbox.sentry_emulator import SentryEmulator

from .checker import load, recorded_problems, route_problems

CONTRACT = load("sentry", "sentry-trimmed.json")
ORG = "/api/0/organizations/acme"
LINK_PART = re.compile(r'<(?P<url>[^>]+)>; rel="(?P<rel>previous|next)"; results="(?P<results>true|false)"; '
                       r'cursor="(?P<cursor>-?\d+:\d+:[01])"')


@pytest.fixture(scope="module")
def sentry() -> Iterator[SentryEmulator]:
    with Sandbox(["sentry"], seed=7, scale={"sentry_issues": 360, "sentry_projects": 5}) as sb:
        emu = sb.emulator("sentry")
        assert isinstance(emu, SentryEmulator)
        yield emu


_CLIENT = httpx.Client()


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    _CLIENT.close()


def get(emu: SentryEmulator, path: str, token: str | None, **params: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return _CLIENT.get(emu.url + path, params=params, headers=headers)  # type: ignore[arg-type]


def links(resp: httpx.Response) -> dict[str, dict[str, str]]:
    """The previous and next links; the whole header must be exactly those two, in that order."""
    header = resp.headers["link"]
    found = list(LINK_PART.finditer(header))
    assert ", ".join(m.group(0) for m in found) == header
    assert [m["rel"] for m in found] == ["previous", "next"]
    return {m["rel"]: m.groupdict() for m in found}


def test_every_served_route_is_in_the_contract(sentry: SentryEmulator) -> None:
    assert route_problems(sentry, CONTRACT) == []


def test_every_response_validates(sentry: SentryEmulator) -> None:
    sentry.reset()
    project = sentry.projects[1]
    calls = [
        ("/api/0/organizations/", {}, sentry.user_token),
        ("/api/0/organizations/", {"per_page": "1", "owner": "true"}, sentry.user_token),
        (f"{ORG}/", {"detailed": "0"}, sentry.user_token),
        (f"{ORG}/projects/", {}, sentry.org_token),
        (f"{ORG}/projects/", {"per_page": "1"}, sentry.limited_token),
        (f"{ORG}/projects/", {"query": f"slug:{project['slug']}", "per_page": "1"}, sentry.org_token),
        (f"{ORG}/issues/", {"query": "is:unresolved", "statsPeriod": "24h"}, sentry.org_token),
        (f"{ORG}/issues/", {"query": "is:unresolved level:warning", "statsPeriod": "14d", "limit": "7",
                            "project": project["id"], "sort": "freq", "cursor": "0:7:0"}, sentry.user_token),
        (f"/api/0/projects/acme/{project['slug']}/issues/", {"statsPeriod": "24h", "limit": "3"}, sentry.user_token),
    ]
    for path, params, token in calls:
        r = get(sentry, path, token, **params)
        assert r.status_code == 200, (path, r.text)
        assert CONTRACT.response_problems("GET", path, 200, r.json()) == [], path
    assert recorded_problems(sentry, CONTRACT) == []


def test_issue_counts_are_strings_and_user_counts_numbers(sentry: SentryEmulator) -> None:
    sentry.reset()
    body = get(sentry, f"{ORG}/issues/", sentry.org_token, query="is:unresolved", statsPeriod="24h").json()
    assert body and all(isinstance(x["count"], str) and x["count"].isdigit() for x in body)
    assert all(isinstance(x["userCount"], int) and x["status"] == "unresolved" for x in body)


def test_link_cursors_walk_every_page_as_sentry_formats_them(sentry: SentryEmulator) -> None:
    sentry.reset()
    expected = sentry.unresolved_since(86400)
    assert len(expected) > 200  # three pages of 100
    seen: list[str] = []
    r = get(sentry, f"{ORG}/issues/", sentry.org_token, query="is:unresolved", statsPeriod="24h")
    first = links(r)
    assert first["previous"]["results"] == "false" and first["previous"]["cursor"] == "0:0:1"
    assert r.headers["x-hits"] == str(len(expected))
    pages = 0
    while True:
        pages += 1
        seen += [x["id"] for x in r.json()]
        nxt = links(r)["next"]
        assert "cursor=" + nxt["cursor"] in nxt["url"] and "statsPeriod=24h" in nxt["url"]
        if nxt["results"] == "false":
            break
        assert links(r)["next"]["url"].startswith(sentry.url + ORG + "/issues/?")
        r = _CLIENT.get(nxt["url"], headers={"Authorization": f"Bearer {sentry.org_token}"})
        assert links(r)["previous"]["results"] == "true"
    assert pages == 3
    assert seen == [x["id"] for x in expected]


def test_auth_envelopes_and_the_org_token_trap(sentry: SentryEmulator) -> None:
    sentry.reset()
    assert get(sentry, f"{ORG}/projects/", "sntrys_nope").json() == {"detail": "Invalid token"}
    assert get(sentry, f"{ORG}/projects/", "sntrys_nope").status_code == 401
    assert get(sentry, f"{ORG}/projects/", None).status_code == 401
    denied = {"detail": "You do not have permission to perform this action."}
    # organization tokens: refused on the user-only endpoints, accepted on projects and issues
    for path in ("/api/0/organizations/", f"{ORG}/"):
        r = get(sentry, path, sentry.org_token)
        assert (r.status_code, r.json()) == (403, denied)
        assert get(sentry, path, sentry.user_token).status_code == 200
    assert get(sentry, f"{ORG}/projects/", sentry.org_token, per_page=1).status_code == 200
    assert get(sentry, f"{ORG}/issues/", sentry.org_token).status_code == 200
    # a missing scope, an unknown organization, an unknown project
    r = get(sentry, f"{ORG}/issues/", sentry.limited_token)
    assert (r.status_code, r.json()) == (403, denied)
    r = get(sentry, "/api/0/organizations/nope/projects/", sentry.org_token)
    assert (r.status_code, r.json()) == (404, {"detail": "The requested resource does not exist"})
    assert get(sentry, "/api/0/projects/acme/nope/issues/", sentry.user_token).status_code == 404
    assert get(sentry, f"{ORG}/issues/", sentry.org_token, project="1").status_code == 403
    assert get(sentry, f"{ORG}/issues/", sentry.org_token, limit="101").status_code == 400
    assert get(sentry, f"{ORG}/issues/", sentry.org_token, cursor="garbage").status_code == 400


def test_rate_limit_headers_and_429(sentry: SentryEmulator) -> None:
    sentry.reset()
    r = get(sentry, f"{ORG}/projects/", sentry.org_token)
    assert r.headers["x-sentry-rate-limit-limit"] == "40"
    assert r.headers["x-sentry-rate-limit-remaining"] == "39"
    assert int(r.headers["x-sentry-rate-limit-reset"]) >= int(time.time())
    sentry.limiter.limit = 2
    try:
        for _ in range(2):
            get(sentry, f"{ORG}/issues/", sentry.org_token)
        r = get(sentry, f"{ORG}/issues/", sentry.org_token)
        assert r.status_code == 429
        assert r.json() == "You are attempting to use this endpoint too frequently. Limit is 2 requests in 1 seconds"
        assert r.headers["x-sentry-rate-limit-remaining"] == "0"
        assert "retry-after" not in r.headers
        # the window is per caller and endpoint: another endpoint still answers
        assert get(sentry, f"{ORG}/projects/", sentry.org_token).status_code == 200
    finally:
        sentry.limiter.limit = SentryEmulator.rate_limit
        sentry.reset()


def test_scale_knob_and_determinism() -> None:
    a = SentryEmulator(seed=5, scale={"sentry_issues": 10_000})
    b = SentryEmulator(seed=5, scale={"sentry_issues": 10_000})
    assert len(a.issues) == 10_000
    assert [x["id"] for x in a.issues[:50]] == [x["id"] for x in b.issues[:50]]
    assert len({x["project"] for x in a.unresolved_since(86400)}) == len(a.projects) > 1


def test_contract_catches_a_wrong_response_and_request() -> None:
    assert CONTRACT.response_problems("GET", f"{ORG}/issues/", 200, [{"id": "1", "count": 3}])
    assert CONTRACT.request_problems("GET", f"{ORG}/issues/", ["per_page"])
    assert CONTRACT.request_problems("GET", f"{ORG}/events/", [])
    assert CONTRACT.request_problems("GET", f"{ORG}/issues/", ["query", "statsPeriod", "project", "cursor"]) == []
