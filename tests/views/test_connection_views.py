"""Views merge every connection (issue 14): a personal and a team Vercel account both show in
the Deployments view (CLI, JSON API, page), each row labelled; ``?connection=`` (a plain GET
form, no JavaScript) keeps one; a removed connection leaves every view.

The connections are set with the real CLI; their snapshots are seeded through the store's own
API (a fetch would need the emulator to tell two accounts apart, which is not what is tested
here), and the views read them in subprocesses and over a real socket. Both tokens are in the
leak scan, which reads every output and response below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import Deployment, Health, IntegrationData, Records, utcnow
from devtrack.integrations.manager import IntegrationManager
from devtrack.views.store import open_store
from devtrack.web.server import ServerThread

from .. import leakscan, webauth
from ..web.browser import browser  # noqa: F401 (fixture)

PERSONAL_TOKEN = "vercel_personal_" + "P" * 24
TEAM_TOKEN = "vercel_team_" + "T" * 28
leakscan.add_secrets(PERSONAL_TOKEN, TEAM_TOKEN)
NOW = utcnow()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devtrack", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def _json(env: dict[str, str], *args: str, code: int = 0) -> dict[str, Any]:
    out = _cli(env, *args, "--json")
    assert out.returncode == code, out.stdout + out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _deploys(cid: str, *projects: tuple[str, str]) -> IntegrationData:
    return IntegrationData(
        id=cid, health=Health(status="healthy", detail=f"{cid} ok", metrics={"deployments": len(projects)}),
        records=Records(deployments=[
            Deployment(id=f"dpl_{name}", project=name, state=state, provider="vercel", target="production",
                       created_at=NOW - timedelta(minutes=i + 1))  # type: ignore[arg-type]
            for i, (name, state) in enumerate(projects)]))


@pytest.fixture
def env(tmp_path: Path, _isolated_store: Path) -> dict[str, str]:
    """Two Vercel connections set with the CLI, and stored snapshots of both (plus one of a
    connection that does not exist, which no view may show)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_VERCEL")}
    out |= {"DEVTRACK_CREDENTIALS": str(_isolated_store), "NO_COLOR": "1", "COLUMNS": "160",
            "DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 'snapshots.db'}"}
    for args in (("vercel", f"token={PERSONAL_TOKEN}"), ("vercel:acme", f"token={TEAM_TOKEN}", "team_id=team_acme")):
        done = _cli(out, "integrations", "set", *args)
        assert done.returncode == 0, done.stdout + done.stderr
    store = open_store(out["DEVTRACK_STORE_URL"])
    try:
        store.save(_deploys("vercel", ("personal-blog", "ready"), ("personal-cv", "ready")))
        store.save(_deploys("vercel:acme", ("acme-web", "error"), ("acme-api", "ready")))
        store.save(_deploys("vercel:gone", ("gone-site", "ready")))  # removed long ago
    finally:
        store.close()
    return out


def _labels(view: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {d["project"]: (d["connection"], d["connection_label"]) for d in view["items"]["deployments"]}


BOTH = {"personal-blog": ("vercel", "Vercel"), "personal-cv": ("vercel", "Vercel"),
        "acme-web": ("vercel:acme", "Vercel · acme"), "acme-api": ("vercel:acme", "Vercel · acme")}
ACME = {k: v for k, v in BOTH.items() if v[0] == "vercel:acme"}


def test_cli_views_merge_label_and_filter_connections(env: dict[str, str]) -> None:
    view = _json(env, "views", "deployments")
    assert _labels(view) == BOTH
    assert [c["id"] for c in view["connections"]] == ["vercel", "vercel:acme"]
    table = view["tables"][0]
    assert table["columns"][-1] == "Connection"
    assert {(row[2]["text"] if isinstance(row[2], dict) else row[2], row[-1]) for row in table["rows"]} == \
        {(p, label) for p, (_, label) in BOTH.items()}
    assert table["connections"] == [d["connection"] for d in view["items"]["deployments"]]
    assert [s["name"] for s in view["sources"] if s["plugin"] == "vercel"] == ["Vercel", "Vercel · acme"]

    only = _json(env, "views", "deployments", "--connection", "vercel:acme")
    assert _labels(only) == ACME and only["connection"] == "vercel:acme"
    assert [s["id"] for s in only["sources"]] == ["vercel:acme"]

    text = _cli(env, "views", "deployments").stdout
    assert "Connection" in text and "Vercel · acme" in text and "personal-blog" in text
    assert "gone-site" not in text

    cards = {c["id"]: c["name"] for c in _json(env, "status")["cards"]}
    assert cards["vercel"] == "Vercel" and cards["vercel:acme"] == "Vercel · acme" and "vercel:gone" not in cards
    status = _cli(env, "status").stdout
    assert "Vercel · acme" in status

    wrong = _json(env, "views", "deployments", "--connection", "vercel:nope", code=1)
    assert wrong["error"]["kind"] == "not_found" and "vercel:acme" in wrong["error"]["message"]


def test_removing_a_connection_removes_it_from_every_view(env: dict[str, str]) -> None:
    done = _cli(env, "integrations", "remove", "vercel:acme", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    view = _json(env, "views", "deployments")
    assert _labels(view) == {k: v for k, v in BOTH.items() if v[0] == "vercel"}
    assert "Connection" not in view["tables"][0]["columns"]  # one connection left: nothing to tell apart
    assert "vercel:acme" not in {c["id"] for c in _json(env, "status")["cards"]}
    assert "acme-web" not in _cli(env, "views", "deployments").stdout


@pytest.fixture
def server(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerThread]:
    monkeypatch.setenv("DEVTRACK_STORE_URL", env["DEVTRACK_STORE_URL"])
    manager = IntegrationManager(CredentialStore(Path(env["DEVTRACK_CREDENTIALS"])), environ=dict(os.environ))
    with ServerThread(webauth.app(manager)) as srv:
        yield srv


def test_api_and_page_show_both_connections_and_filter_by_query(server: ServerThread) -> None:
    with webauth.client(server.url) as http:
        body = http.get("/api/v1/views/deployments").json()
        assert body["ok"] and _labels(body) == BOTH
        acme = http.get("/api/v1/views/deployments", params={"connection": "vercel:acme"}).json()
        assert _labels(acme) == ACME
        dash = http.get("/api/v1/views/dashboard").json()
        assert {c["id"]: c["connection_label"] for c in dash["cards"]}.items() >= \
            {"vercel": "Vercel", "vercel:acme": "Vercel · acme"}.items()
        missing = http.get("/api/v1/views/deployments", params={"connection": "vercel:nope"})
        assert missing.status_code == 404 and missing.json()["error"]["kind"] == "not_found"
        refresh = http.post("/api/v1/views/refresh", params={"plugin": "vercel:nope"})
        assert refresh.status_code == 404 and "vercel:acme" in refresh.json()["error"]["message"]

        page = http.get("/deployments")
        assert page.status_code == 200
        html = page.text
        for project, (cid, label) in BOTH.items():
            assert project in html and f'data-connection="{cid}"' in html and label in html
        assert "gone-site" not in html
        assert '<form method="get" action="/deployments"' in html and 'name="connection"' in html
        filtered = http.get("/deployments", params={"connection": "vercel:acme"}).text
        assert "acme-web" in filtered and "personal-blog" not in filtered
        cards = http.get("/").text
        assert 'data-card="vercel:acme"' in cards and "Vercel · acme" in cards


def test_the_filter_works_in_a_browser_without_javascript(browser: Any, server: ServerThread) -> None:  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        webauth.login(page, server.url, "/deployments")
        rows = page.locator("tbody tr")
        expect(rows).to_have_count(4)
        expect(page.locator('tbody tr[data-connection="vercel:acme"]').first).to_contain_text("Vercel · acme")
        page.select_option("select[name=connection]", "vercel:acme")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**/deployments?connection=vercel%3Aacme")
        expect(rows).to_have_count(2)
        for i in range(2):
            expect(rows.nth(i)).to_have_attribute("data-connection", "vercel:acme")
        expect(page.locator("select[name=connection]")).to_have_value("vercel:acme")
        page.get_by_role("link", name="Show all").click()
        expect(rows).to_have_count(4)
    finally:
        context.close()
