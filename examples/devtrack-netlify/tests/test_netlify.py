"""What the kit cannot know: the Netlify plugin reads sites and deploys right, follows the Link
header over pages (only on Netlify's own host), maps every deploy state, and honours site_id."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from devtrack.integrations.contract import ResultKind

from devtrack_netlify.emulator import SEEDED_STATES, NetlifyEmulator
from devtrack_netlify.plugin import STATES, NetlifyIntegration, state_of


@pytest.fixture
def netlify(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetlifyEmulator]:
    emu = NetlifyEmulator(seed=5, scale={"netlify_sites": 3, "netlify_deploys": 12})
    emu.serve()
    for key, value in emu.env(emu.url).items():
        monkeypatch.setenv(key, value)
    yield emu
    emu.stop()


def _creds(emu: NetlifyEmulator, **extra: str) -> Any:
    return NetlifyIntegration.credentials_model(**emu.credentials(emu.url)["netlify"], **extra)


def test_sites_and_deploys_over_several_pages(netlify: NetlifyEmulator) -> None:
    plugin = NetlifyIntegration()
    plugin.per_page = 5  # 12 deploys a site: pages 1, 2 and 3 through the Link header
    data = asyncio.run(plugin.get_data(_creds(netlify)))
    assert data.error is None
    assert [p.name for p in data.records.projects] == [s["name"] for s in netlify.sites]
    expected = {d["id"] for ds in netlify.deploys.values() for d in ds}
    assert {d.id for d in data.records.deployments} == expected
    pages = [r.params.get("page") for r in netlify.requests.find("/api/v1/sites/{site_id}/deploys")]
    assert pages.count("1") == 3 and pages.count("2") == 3 and pages.count("3") == 3
    times = [d.created_at for d in data.records.deployments]
    assert times == sorted(times, reverse=True) and all(t and t.tzinfo for t in times)
    assert {d.provider for d in data.records.deployments} == {"netlify"}
    assert data.health.metrics["deploys"] == len(expected) and data.events


def test_every_deploy_state_maps_to_a_contract_state(netlify: NetlifyEmulator) -> None:
    data = asyncio.run(NetlifyIntegration().get_data(_creds(netlify)))
    by_id = {d["id"]: d for ds in netlify.deploys.values() for d in ds}
    for d in data.records.deployments:
        assert d.state == STATES[by_id[d.id]["state"]]
        assert d.netlify_state == by_id[d.id]["state"]  # type: ignore[attr-defined]
    assert {d.state for d in data.records.deployments} >= {"ready", "error", "building", "queued"}
    assert set(SEEDED_STATES) <= set(STATES)
    assert state_of("some_state_netlify_adds_later") == "unknown"


def test_one_site_by_id_and_a_wrong_site_id(netlify: NetlifyEmulator) -> None:
    site = netlify.sites[1]
    data = asyncio.run(NetlifyIntegration().get_data(_creds(netlify, site_id=site["id"])))
    assert data.error is None and [p.id for p in data.records.projects] == [site["id"]]
    assert {d.project for d in data.records.deployments} == {site["name"]}
    res = asyncio.run(NetlifyIntegration().test_connection(_creds(netlify, site_id="no-such-site")))
    assert res.kind == ResultKind.NOT_FOUND and "no-such-site" in res.message


def test_bad_token_is_auth_and_says_so(netlify: NetlifyEmulator) -> None:
    creds = NetlifyIntegration.credentials_model(token="nfp_" + "x" * 40)
    res = asyncio.run(NetlifyIntegration().test_connection(creds))
    assert res.kind == ResultKind.AUTH and "token" in res.message.lower()
    assert "nfp_" + "x" * 40 not in res.model_dump_json()


def test_a_next_link_to_another_host_is_not_followed(netlify: NetlifyEmulator) -> None:
    """A Link header is the server's to write; the token must not follow it elsewhere."""
    netlify.faults.add(route="/api/v1/sites", headers={"link": '<https://elsewhere.example/sites?page=2>; rel="next"'},
                       status=200, body=netlify.sites[:1])
    data = asyncio.run(NetlifyIntegration().get_data(_creds(netlify)))
    assert data.error is None and [p.id for p in data.records.projects] == [netlify.sites[0]["id"]]
    assert netlify.requests.count("/api/v1/sites") == 1
