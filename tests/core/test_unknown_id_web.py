"""The web API's 404 for a mistyped integration id suggests the id meant, as the CLI does."""

from __future__ import annotations

from pathlib import Path

import httpx

from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.web.server import ServerThread

from .. import webauth


def test_api_404_suggests_the_closest_id(tmp_path: Path) -> None:
    manager = IntegrationManager(CredentialStore(tmp_path / "credentials.json"), environ={})
    with ServerThread(webauth.app(manager)) as server:
        r = httpx.get(f"{server.url.rstrip('/')}/api/v1/integrations/vercle", timeout=20, headers=webauth.BEARER)
    assert r.status_code == 404
    assert r.json() == {"ok": False, "error": {
        "kind": "not_found", "message": "unknown integration 'vercle'; did you mean 'vercel'?"}}
