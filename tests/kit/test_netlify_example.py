"""The example third-party plugin (examples/devtrack-netlify, installed by ./dev from its
folder) as a user meets it: listed by ``devtrack integrations list``, and its deploys on the
Deployments view and the dashboard's timeline beside the built-ins', in a real browser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.web.server import ServerThread

from .. import leakscan, webauth
from ..web.browser import browser, page  # noqa: F401 (fixtures)
from ..web.test_browser import shot

HINT = "the Netlify example is not installed in this venv: run ./dev test (it installs examples/devtrack-netlify)"


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    try:
        distribution("devtrack-netlify")
    except PackageNotFoundError:
        pytest.fail(HINT)


def test_it_shows_in_integrations_list(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_")}
    env["DEVTRACK_CREDENTIALS"] = str(tmp_path / "credentials.json")
    proc = subprocess.run([sys.executable, "-m", "devtrack", "integrations", "list", "--json"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    listed = {p["id"]: p for p in json.loads(proc.stdout)}
    assert "netlify" in listed and listed["netlify"]["name"] == "Netlify"
    assert list(listed)[:8] == ["github", "vercel", "supabase", "sentry", "helicone", "upstash", "aws-ec2",
                                "cloudflare"]  # third-party plugins come after the built-ins
    token = next(f for f in listed["netlify"]["fields"] if f["key"] == "token")
    assert token["secret"] and token["kind"] == "token"
    table = subprocess.run([sys.executable, "-m", "devtrack", "integrations", "list"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and "Netlify" in table.stdout


@pytest.fixture
def netlify_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerThread, Any, Any]]:
    """The web app with only Netlify connected (to its emulator), refreshed once."""
    from devtrack_netlify.emulator import NetlifyEmulator

    emu = NetlifyEmulator(seed=9)
    emu.serve()
    for key in [k for k in os.environ if k.startswith("DEVTRACK_")]:
        monkeypatch.delenv(key)
    for key, value in emu.env(emu.url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DEVTRACK_STORE_URL", f"sqlite:///{tmp_path / 'snapshots.db'}")
    token = emu.credentials(emu.url)["netlify"]["token"]
    leakscan.add_secrets(token)
    manager = IntegrationManager(CredentialStore(tmp_path / "credentials.json"), environ=dict(os.environ))
    manager.set_enabled("github", False)  # zero-config in any git checkout: kept out of this test
    manager.set_credentials("netlify", {"token": token})
    app = webauth.app(manager)
    runtime = app.state.views
    runtime.start(intervals={"netlify": 600}, tick=0.1)
    try:
        [state] = runtime.refresher.refresh(["netlify"], timeout=60)
        assert state.error is None, state.error
        with ServerThread(app) as srv:
            yield srv, runtime, emu
    finally:
        runtime.stop()
        emu.stop()


def test_its_deploys_show_on_the_deployments_view_and_the_timeline(
        page: Any, netlify_served: tuple[ServerThread, Any, Any]) -> None:  # noqa: F811
    srv, runtime, emu = netlify_served
    data = runtime.refresher.coordinator.good["netlify"]
    newest = data.records.deployments[0]
    failed = next(d for d in data.records.deployments if d.state == "error")
    webauth.login(page, srv.url, "/deployments")
    expect(page.get_by_role("heading", name="Recent deployments")).to_be_visible()
    first = page.locator("tbody tr").first
    expect(first).to_contain_text(newest.project or "")
    expect(first).to_contain_text("netlify")
    expect(first).to_contain_text(newest.state)
    expect(page.locator("tbody tr", has_text=(failed.commit or "")[:7]).first).to_contain_text("error")
    expect(page.locator("svg[data-chart=deploy-outcomes] rect").first).to_be_attached()
    expect(page.locator('[data-source="netlify"]')).to_be_visible()
    shot(page, "netlify-deployments")

    page.goto(srv.url + "/")
    expect(page.locator('[data-card="netlify"]')).to_be_visible()
    expect(page.locator('[data-event][data-connection="netlify"]').first).to_contain_text(newest.project or "")
    assert emu.requests.count("/api/v1/sites/{site_id}/deploys") >= len(emu.sites)
