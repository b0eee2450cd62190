"""Helicone → AI proxy sync: same atomic write as the credential change, by every path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import CredentialsInvalid, IntegrationManager


def _proxy(path: Path) -> dict:
    return json.loads(path.read_text())["ai_proxy"]


@pytest.fixture
def mgr(tmp_path: Path) -> IntegrationManager:
    return IntegrationManager(store=CredentialStore(tmp_path / "c.json"), environ={})


def test_saving_helicone_syncs_key_region_and_org(mgr: IntegrationManager) -> None:
    mgr.set_credentials("helicone", {"api_key": "sk-helicone-abcdefgh12345678", "org_id": "org-1"})
    assert _proxy(mgr.store.path)["helicone"] == {
        "api_key": "sk-helicone-abcdefgh12345678", "region": "us", "org_id": "org-1"}
    mgr.set_credentials("helicone", {"region": "eu"})  # a partial save keeps the key, updates the copy
    assert _proxy(mgr.store.path)["helicone"]["region"] == "eu"
    mgr.unset("helicone", ["org_id"])
    assert "org_id" not in _proxy(mgr.store.path)["helicone"]


def test_eu_key_without_region_is_eu(mgr: IntegrationManager) -> None:
    mgr.set_credentials("helicone", {"api_key": "eu-sk-helicone-abcdefgh12345678"})
    assert _proxy(mgr.store.path)["helicone"]["region"] == "eu"


def test_disable_and_unset_remove_the_copy(mgr: IntegrationManager) -> None:
    mgr.set_credentials("helicone", {"api_key": "sk-helicone-abcdefgh12345678"})
    mgr.set_enabled("helicone", False)
    assert "helicone" not in _proxy(mgr.store.path)
    mgr.set_enabled("helicone", True)
    assert _proxy(mgr.store.path)["helicone"]["api_key"] == "sk-helicone-abcdefgh12345678"
    mgr.unset("helicone")
    assert "helicone" not in _proxy(mgr.store.path)


def test_other_plugins_and_the_token_are_left_alone(mgr: IntegrationManager) -> None:
    from devtrack.ai.proxy_token import ensure_token

    token = ensure_token(mgr.store)
    mgr.set_credentials("helicone", {"api_key": "sk-helicone-abcdefgh12345678"})
    mgr.set_credentials("vercel", {"token": "vercel-token-123456789"})
    mgr.unset("vercel")
    proxy = _proxy(mgr.store.path)
    assert proxy["token"] == token and proxy["helicone"]["api_key"] == "sk-helicone-abcdefgh12345678"


def test_a_refused_save_changes_nothing(mgr: IntegrationManager) -> None:
    """Validation runs inside the write: a refused save leaves the proxy copy as it was."""
    with pytest.raises(CredentialsInvalid):
        mgr.set_credentials("helicone", {"org_id": "org-without-key"})
    assert "helicone" not in _proxy(mgr.store.path) if mgr.store.exists() else True
    mgr.set_credentials("helicone", {"api_key": "sk-helicone-abcdefgh12345678", "org_id": "org-1"})
    with pytest.raises(CredentialsInvalid):
        mgr.set_credentials("helicone", {"org_id": "org-2", "nope": "x"})
    assert _proxy(mgr.store.path)["helicone"]["org_id"] == "org-1"


def test_every_manager_gets_the_hook_and_stays_light() -> None:
    import subprocess

    code = ("import sys; from devtrack.integrations.manager import IntegrationManager as M; "
            "from devtrack.ai.sync import helicone_hook; m = M(environ={}); "
            "assert helicone_hook in m.save_hooks; "
            "print([x for x in ('httpx', 'starlette', 'fastapi', 'uvicorn') if x in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
