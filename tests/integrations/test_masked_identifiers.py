"""A shown-masked identifier (the AWS access key id): only its tail, wherever DevTrack shows it.

The key id is not a secret to AWS, but the AWS CLI never prints it whole
(``****************ABCD``), and neither may DevTrack: not in ``integrations show``/``list``
(text or JSON), not in the JSON API, not in the Settings page. The stored value is unchanged,
and a blank form field keeps it, as for secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtrack import redact
from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import Credentials, field, mask_identifier
from devtrack.integrations.manager import IntegrationManager
from devtrack.web.server import ServerThread

from .. import webauth
from ..core.helpers import run_cli

KEY_ID = "AKIAZ7Q3EXAMPLE4WXYZ"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE01"
SHOWN = "****************WXYZ"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A credential file written by hand, as `devtrack sandbox` writes one (no save hook ran)."""
    path = tmp_path / "credentials.json"
    doc = {"version": 1, "ai_providers": {}, "ai_proxy": {}, "integrations": {"aws-ec2": {
        "enabled": True,
        "credentials": {"access_key_id": KEY_ID, "secret_access_key": SECRET, "region": "eu-west-1"},
    }}}
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


@pytest.fixture
def manager(store_path: Path) -> IntegrationManager:
    return IntegrationManager(CredentialStore(store_path), environ={})


@pytest.fixture
def http(manager: IntegrationManager) -> Iterator[httpx.Client]:
    with ServerThread(webauth.app(manager)) as server, webauth.client(server.url, timeout=20) as client:
        yield client


def test_the_mask_is_the_aws_cli_form() -> None:
    assert mask_identifier(KEY_ID) == SHOWN
    assert mask_identifier("AKIA1234") == "*" * 16  # too short to show a tail of
    assert mask_identifier("") == ""


def test_any_plugin_can_declare_a_masked_identifier() -> None:
    class Creds(Credentials):
        client_id: str | None = field(label="Client ID", masked=True)
        region: str | None = field(label="Region")

    fields = {f.key: f for f in Creds.fields()}
    assert fields["client_id"].masked and not fields["client_id"].secret
    assert not fields["region"].masked
    assert Creds.masked_keys() == {"client_id"}
    assert fields["client_id"].shown("abcdefghij1234") == "*" * 16 + "1234"
    assert fields["region"].shown("eu-west-1") == "eu-west-1"


def test_cli_show_and_list_print_only_the_tail(store_path: Path) -> None:
    env = {"DEVTRACK_CREDENTIALS": str(store_path)}
    shown = run_cli("integrations", "show", "aws-ec2", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert body["credentials"]["access_key_id"] == SHOWN
    assert body["credentials"]["region"] == "eu-west-1"  # plain fields stay readable
    assert next(f for f in body["fields"] if f["key"] == "access_key_id")["masked"] is True
    text = run_cli("integrations", "show", "aws-ec2", env=env)
    assert text.returncode == 0, text.stderr
    assert SHOWN in text.stdout
    listed = run_cli("integrations", "list", "--json", env=env)
    aws = next(p for p in json.loads(listed.stdout) if p["id"] == "aws-ec2")
    assert next(f for f in aws["fields"] if f["key"] == "access_key_id")["masked"] is True
    for out in (shown, text, listed):
        assert KEY_ID not in out.stdout + out.stderr


def test_api_shows_only_the_tail(http: httpx.Client, manager: IntegrationManager) -> None:
    r = http.get("/api/v1/integrations/aws-ec2")
    assert r.status_code == 200, r.text
    assert r.json()["credentials"]["access_key_id"] == SHOWN
    assert KEY_ID not in r.text and KEY_ID not in http.get("/api/v1/integrations").text
    csrf = http.get("/api/v1/session").json()["csrf_token"]
    saved = http.put("/api/v1/integrations/aws-ec2/credentials", json={"values": {"region": "us-east-1"}},
                     headers={"Origin": str(http.base_url).rstrip("/"), "X-CSRF-Token": csrf})
    assert saved.status_code == 200, saved.text
    assert saved.json()["credentials"]["access_key_id"] == SHOWN and KEY_ID not in saved.text
    assert manager.stored_credentials("aws-ec2")["access_key_id"] == KEY_ID


def test_settings_page_shows_the_tail_and_a_blank_field_keeps_the_key(
        http: httpx.Client, manager: IntegrationManager) -> None:
    page = http.get("/settings/integrations/aws-ec2")
    assert page.status_code == 200
    assert KEY_ID not in page.text
    assert f"Saved: {SHOWN}</span> · leave blank to keep it." in page.text
    key_input = re.search(r'<input id="f-access_key_id"[^>]*>', page.text)
    assert key_input is not None and 'value=""' in key_input.group(0)

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": csrf, "access_key_id": "", "secret_access_key": "", "session_token": "",
            "region": "ap-south-1", "profile": "", "instance_ids": ""}
    r = http.post("/settings/integrations/aws-ec2/credentials", data=form,
                  headers={"Origin": str(http.base_url).rstrip("/")})
    assert r.status_code in (200, 303), r.text
    assert manager.stored_credentials("aws-ec2") == {
        "access_key_id": KEY_ID, "secret_access_key": SECRET, "region": "ap-south-1"}

    # A refused save (no region) shows the form again without echoing the key id typed into it.
    manager.unset("aws-ec2", ["region"])
    typed = "AKIATYPEDBUTREFUSED9"
    r = http.post("/settings/integrations/aws-ec2/credentials", headers={"Origin": str(http.base_url).rstrip("/")},
                  data=form | {"access_key_id": typed, "region": ""})
    assert r.status_code == 422 and "Region is required" in r.text
    assert typed not in r.text and KEY_ID not in r.text
    assert manager.stored_credentials("aws-ec2")["access_key_id"] == KEY_ID


def test_the_key_id_is_kept_out_of_messages_like_a_secret(manager: IntegrationManager) -> None:
    """Once loaded, the key id is registered with the redactor (and so with the leak scan)."""
    manager.credentials("aws-ec2")
    assert KEY_ID in redact.redactor.secrets()
    assert KEY_ID not in redact.redactor(f"botocore said: Credential={KEY_ID}/20250101/eu-west-1/ec2")
