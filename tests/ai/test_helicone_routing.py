"""Helicone routing follows the Helicone integration as stored, however it got there.

Routing used to be a copy of the Helicone key that a save hook wrote into ``ai_proxy``; a
credential file written by ``devtrack sandbox`` (or edited by hand) never ran the hook, so
Helicone was connected and healthy while AI traffic was "not routed". Now the proxy,
``devtrack ai status`` and Settings → AI Providers derive routing from the integration itself
each time (enabled, with an API key, environment overrides applied), so there is no copy to
keep in step and no hook in the manager.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtrack.ai.helicone import helicone_state
from devtrack.ai.proxy import create_proxy_app
from devtrack.ai.proxy_token import ensure_token
from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import CredentialsInvalid, IntegrationManager
from devtrack.sandbox import Sandbox
from devtrack.web.server import ServerThread

from .. import webauth

KEY = "sk-helicone-abcdefgh12345678"


@pytest.fixture
def mgr(tmp_path: Path) -> IntegrationManager:
    return IntegrationManager(store=CredentialStore(tmp_path / "c.json"), environ={})


def _route(mgr: IntegrationManager) -> dict[str, str] | None:
    return helicone_state(mgr.store.read(), mgr.environ)


# ---------------------------------------------------------------------- the files `devtrack sandbox` writes


@pytest.fixture
def sandbox_file(box: Sandbox, tmp_path: Path) -> Path:
    """The credential file exactly as ``devtrack sandbox`` writes it: no DevTrack code saved it."""
    return box.write_credentials(tmp_path / "sandbox-credentials.json")


@pytest.fixture
def sandbox_env(box: Sandbox, sandbox_file: Path) -> dict[str, str]:
    """What a shell that loaded ``devtrack sandbox --env-file`` holds (provider keys included)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_") and not k.endswith("_API_KEY")}
    return base | box.env() | {"DEVTRACK_CREDENTIALS": str(sandbox_file), "NO_COLOR": "1", "COLUMNS": "200"}


@pytest.fixture
def sandbox_manager(sandbox_file: Path, sandbox_env: dict[str, str]) -> IntegrationManager:
    return IntegrationManager(store=CredentialStore(sandbox_file), environ=sandbox_env)


def _edit(path: Path, change: dict[str, object]) -> None:
    """Edit the Helicone entry by hand, as a user with a text editor would."""
    doc = json.loads(path.read_text())
    doc["integrations"]["helicone"].update(change)
    path.write_text(json.dumps(doc, indent=2))


def _ai_status(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "devtrack", "ai", "status", "--json"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_ai_status_routes_through_helicone_from_a_sandbox_file(box: Sandbox, sandbox_env: dict[str, str]) -> None:
    status = _ai_status(sandbox_env)
    helicone = box.emulator("helicone")
    assert status["helicone"] == {"routed": True, "masked_key": status["helicone"]["masked_key"],  # type: ignore[index]
                                  "region": "us", "org_id": helicone.org_id}  # type: ignore[attr-defined]
    openai = next(p for p in status["providers"] if p["provider"] == "openai")  # type: ignore[attr-defined]
    assert openai["upstream"] == sandbox_env["DEVTRACK_HELICONE_OAI_BASE_URL"]
    text = subprocess.run([sys.executable, "-m", "devtrack", "ai", "status"], env=sandbox_env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert "Helicone: routed" in text.stdout and helicone.good_key not in text.stdout  # type: ignore[attr-defined]


def _helicone_notice(page: httpx.Response) -> str:
    """The text of Settings → AI Providers' Helicone notice."""
    assert page.status_code == 200
    found = re.search(r"<p [^>]*data-helicone>(.*?)</p>", page.text, re.S)
    assert found is not None
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def test_settings_ai_page_says_routed_for_a_sandbox_file(sandbox_manager: IntegrationManager) -> None:
    with ServerThread(webauth.app(sandbox_manager)) as web:
        notice = _helicone_notice(httpx.get(web.url + "/settings/ai", timeout=20, headers=webauth.BEARER))
        assert notice == "Helicone: routed — AI traffic through DevTrack's proxy is logged in Helicone (US)."
        _edit(sandbox_manager.store.path, {"enabled": False})
        notice = _helicone_notice(httpx.get(web.url + "/settings/ai", timeout=20, headers=webauth.BEARER))
        assert notice == "Helicone: not routed — Helicone is disabled: AI traffic goes straight to the providers."


def test_the_proxy_sends_through_helicone_for_a_sandbox_file(box: Sandbox, sandbox_manager: IntegrationManager) -> None:
    token = ensure_token(sandbox_manager.store)
    recorded = box.emulator("helicone").store.recorded  # type: ignore[attr-defined]
    before = len(recorded())
    path = sandbox_manager.store.path
    creds = json.loads(path.read_text())["integrations"]["helicone"]["credentials"]
    _edit(path, {"credentials": {**creds, "org_id": "org-edited-by-hand"}})
    with ServerThread(create_proxy_app(sandbox_manager)) as proxy:
        def chat() -> httpx.Response:
            return httpx.post(proxy.url + "/openai/v1/chat/completions", timeout=30,
                              headers={"Authorization": f"Bearer {token}"},
                              json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})

        routed = chat()
        assert routed.status_code == 200, routed.text
        assert routed.headers.get("helicone-id") and len(recorded()) == before + 1
        seen = dict(box.emulator("helicone-proxy").observed.last())  # type: ignore[attr-defined]
        assert seen["helicone-organization-id"] == "org-edited-by-hand"  # the file as it is now
        # Removing the key by hand routes the next call straight to the vendor.
        _edit(sandbox_manager.store.path, {"credentials": {}})
        direct = chat()
        assert direct.status_code == 200, direct.text
        assert "helicone-id" not in direct.headers and len(recorded()) == before + 1


# ---------------------------------------------------------------------- every way of changing Helicone


def test_saving_helicone_routes_with_key_region_and_org(mgr: IntegrationManager) -> None:
    mgr.set_credentials("helicone", {"api_key": KEY, "org_id": "org-1"})
    assert _route(mgr) == {"api_key": KEY, "region": "us", "org_id": "org-1"}
    mgr.set_credentials("helicone", {"region": "eu"})  # a partial save keeps the key
    assert _route(mgr)["region"] == "eu"  # type: ignore[index]
    mgr.unset("helicone", ["org_id"])
    assert "org_id" not in _route(mgr)  # type: ignore[operator]


@pytest.mark.parametrize("key", ["eu-sk-helicone-abcdefgh12345678", "sk-helicone-eu-abcdefgh12345678"])
def test_eu_key_without_region_is_eu(mgr: IntegrationManager, key: str) -> None:
    """The same rule as the Helicone plugin's, so the proxy and the plugin agree on the region."""
    mgr.set_credentials("helicone", {"api_key": key})
    assert _route(mgr)["region"] == "eu"  # type: ignore[index]


def test_disable_and_unset_stop_routing(mgr: IntegrationManager) -> None:
    mgr.set_credentials("helicone", {"api_key": KEY})
    mgr.set_enabled("helicone", False)
    assert _route(mgr) is None
    mgr.set_enabled("helicone", True)
    assert _route(mgr)["api_key"] == KEY  # type: ignore[index]
    mgr.unset("helicone")
    assert _route(mgr) is None


def test_environment_overrides_route_as_they_configure_the_integration(tmp_path: Path) -> None:
    """``DEVTRACK_HELICONE_API_KEY`` alone makes Helicone configured, so it routes too."""
    m = IntegrationManager(store=CredentialStore(tmp_path / "c.json"),
                           environ={"DEVTRACK_HELICONE_API_KEY": KEY, "DEVTRACK_HELICONE_ORG_ID": "org-env"})
    assert m.is_configured("helicone")
    assert _route(m) == {"api_key": KEY, "region": "us", "org_id": "org-env"}
    m.set_enabled("helicone", False)
    assert _route(m) is None


def test_a_refused_save_changes_nothing(mgr: IntegrationManager) -> None:
    with pytest.raises(CredentialsInvalid):
        mgr.set_credentials("helicone", {"org_id": "org-without-key"})
    assert _route(mgr) is None
    mgr.set_credentials("helicone", {"api_key": KEY, "org_id": "org-1"})
    with pytest.raises(CredentialsInvalid):
        mgr.set_credentials("helicone", {"org_id": "org-2", "nope": "x"})
    assert _route(mgr)["org_id"] == "org-1"  # type: ignore[index]


def test_the_old_copy_is_ignored_and_dropped(mgr: IntegrationManager) -> None:
    """A file from an older DevTrack holds a copy in ``ai_proxy``: it no longer routes anything,
    and the next write removes it (the key should not outlive its integration in the file)."""
    mgr.store.path.write_text(json.dumps({"version": 1, "integrations": {}, "ai_providers": {},
                                          "ai_proxy": {"token": "t" * 32, "helicone": {"api_key": KEY, "region": "us"}}}))
    assert _route(mgr) is None
    mgr.set_credentials("vercel", {"token": "vercel-token-123456789"})
    proxy = json.loads(mgr.store.path.read_text())["ai_proxy"]
    assert proxy == {"token": "t" * 32}


def test_the_manager_knows_nothing_of_ai_and_stays_light() -> None:
    """No import circle ai ↔ integrations.manager: the manager installs no AI hook."""
    code = ("import sys; from devtrack.integrations.manager import IntegrationManager as M; m = M(environ={}); "
            "print(m.save_hooks, sorted(x for x in sys.modules if x.startswith('devtrack.ai')), "
            "[x for x in ('httpx', 'starlette', 'fastapi', 'uvicorn') if x in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] [] []"
