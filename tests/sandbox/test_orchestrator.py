"""The Sandbox orchestrator: registry, credentials, environment, credential file."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtrack.credentials import CredentialStore
from devtrack.sandbox import Sandbox, registry

from .test_framework import ToyEmulator



@pytest.fixture(autouse=True)
def toy_registered() -> Iterator[None]:
    """Only while these tests run: the session sandbox of other tests must not include it."""
    registry.register("toy", ToyEmulator)
    yield
    registry.unregister("toy")


def test_sandbox_serves_credentials_and_env(tmp_path: Path) -> None:
    with Sandbox(["toy"], seed=5) as sb:
        url = sb.url("toy")
        assert sb.env() == {"DEVTRACK_TOY_BASE_URL": url + "/api/v1"}
        creds = sb.credentials()["toy"]
        r = httpx.get(sb.env()["DEVTRACK_TOY_BASE_URL"] + "/things",
                      headers={"Authorization": f"Bearer {creds['api_key']}"})
        assert r.status_code == 200
        assert sb.emulator("toy").requests.count("/api/v1/things") == 1
        sb.faults("toy").add(status=500)
        sb.reset()
        assert len(sb.faults("toy")) == 0 and sb.emulator("toy").requests.count() == 0
        path = sb.write_credentials(tmp_path / "creds.json")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        doc = CredentialStore(path).read()
        assert doc["integrations"]["toy"] == {"enabled": True, "credentials": creds}
        sb.write_credentials(path)  # its own file may be rewritten
        with pytest.raises(KeyError):
            sb.emulator("vercel-not-running")
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=1)


def test_refuses_to_overwrite_a_user_credential_file(tmp_path: Path) -> None:
    user = tmp_path / ".credentials.json"
    user.write_text(json.dumps({"version": 1, "integrations": {"vercel": {"credentials": {"token": "real"}}}}))
    with Sandbox(["toy"]) as sb, pytest.raises(FileExistsError):
        sb.write_credentials(user)
    assert "real" in user.read_text()


def test_unknown_scale_knob_and_service_are_refused() -> None:
    with pytest.raises(ValueError, match="toy_thing"):
        Sandbox(["toy"], scale={"toy_thing": 3}).start()
    with pytest.raises(KeyError, match="no emulator"):
        Sandbox(["nonesuch"]).start()


def test_discovers_emulator_modules() -> None:
    names = registry.available()
    assert "toy" in names
    assert names.index("vercel") < names.index("supabase") if "supabase" in names else True
