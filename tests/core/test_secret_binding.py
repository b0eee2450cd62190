"""Secrets are bound to where they go: a changed URL or host clears the secrets entered for
the old one, unless new ones come in the same save (issue 13, part G2).

The attack: anything that can save credentials changes Sentry's ``base_url`` to its own
listener and presses Test. These tests run the real CLI against a real Sentry emulator (host
A) and a real recording listener (host B) and check that the owner's token never reaches B.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import (
    ConnectionResult,
    Credentials,
    FieldKind,
    Integration,
    IntegrationData,
    field,
    normalise_url,
)
from devtrack.integrations.manager import CredentialsInvalid, IntegrationManager
from devtrack.integrations.registry import Registry, default_registry
from devtrack.sandbox import Sandbox
from devtrack.sandbox.sentry_emulator import SentryEmulator
from tests import leakscan

from .helpers import assert_no_secret, run_cli
from .listener import Listener

NEW_TOKEN = "sntrys_NEW_token_for_host_B_0123456789abcdef"


@pytest.fixture(scope="module")
def sentry() -> Iterator[SentryEmulator]:
    """Host A: a real Sentry emulator, reached through the stored base_url (no env override)."""
    with Sandbox(["sentry"], seed=21) as box:
        emu = box.emulator("sentry")
        assert isinstance(emu, SentryEmulator)
        leakscan.add_secrets(emu.org_token, NEW_TOKEN)
        yield emu


@pytest.fixture
def stranger() -> Iterator[Listener]:
    """Host B: someone else's listener, recording everything it is sent."""
    with Listener() as ear:
        yield ear


@pytest.fixture(autouse=True)
def _no_base_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored base_url must be what decides the host here, not a sandbox override."""
    monkeypatch.delenv("DEVTRACK_SENTRY_BASE_URL", raising=False)
    monkeypatch.delenv("DEVTRACK_SENTRY_TOKEN", raising=False)


def _stored(path: Path) -> dict[str, str]:
    return dict(json.loads(path.read_text())["integrations"]["sentry"]["credentials"])


def _configure_a(sentry: SentryEmulator) -> None:
    out = run_cli("integrations", "set", "sentry", f"token={sentry.org_token}", "org=acme",
                  f"base_url={sentry.url}", "--json")
    assert out.returncode == 0, out.stderr
    test = run_cli("integrations", "test", "sentry", "--json")
    assert test.returncode == 0 and json.loads(test.stdout)["ok"] is True, test.stdout  # works at A


# ---------------------------------------------------------------------- the CLI


def test_changed_base_url_clears_the_token_and_it_never_reaches_the_new_host(
        sentry: SentryEmulator, stranger: Listener, _isolated_store: Path) -> None:
    _configure_a(sentry)
    out = run_cli("integrations", "set", "sentry", f"base_url={stranger.url}")
    test = run_cli("integrations", "test", "sentry", "--json")
    run_cli("integrations", "data", "sentry", "--json")
    leaked = stranger.received(sentry.org_token)
    assert not leaked, "host B was sent the token entered for host A"
    assert out.returncode == 0, out.stderr
    assert _stored(_isolated_store) == {"org": "acme", "base_url": stranger.url}  # the token is gone
    # The user is told which secret went, why, and the command that enters it again.
    assert "cleared the stored Auth token (token)" in out.stdout
    assert "previous Base URL" in out.stdout
    assert "devtrack integrations set sentry token" in out.stdout

    assert test.returncode == 1
    result = json.loads(test.stdout)
    assert result["status"] == "config" and "Auth token" in result["message"]
    assert "devtrack integrations set sentry token" in result["message"]
    assert_no_secret([out.stdout, out.stderr, test.stdout, test.stderr], [sentry.org_token])


def test_json_answer_lists_the_cleared_fields(sentry: SentryEmulator, stranger: Listener) -> None:
    _configure_a(sentry)
    out = run_cli("integrations", "set", "sentry", f"base_url={stranger.url}", "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)  # stdout is the JSON answer alone
    assert body["ok"] is True and body["cleared"] == ["token"]
    assert "token" not in body["credentials"]


def test_a_new_token_in_the_same_save_is_kept_and_only_it_goes_to_the_new_host(
        sentry: SentryEmulator, stranger: Listener, _isolated_store: Path) -> None:
    _configure_a(sentry)
    out = run_cli("integrations", "set", "sentry", f"base_url={stranger.url}", f"token={NEW_TOKEN}", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["cleared"] == []
    kept_new = _stored(_isolated_store)["token"] == NEW_TOKEN
    assert kept_new
    test = run_cli("integrations", "test", "sentry", "--json")
    assert json.loads(test.stdout)["status"] == "auth"  # B refuses it: the request went there
    assert stranger.received(f"Bearer {NEW_TOKEN}")
    leaked = stranger.received(sentry.org_token)
    assert not leaked, "host B was sent the token entered for host A"


@pytest.mark.parametrize("spelling", ["{url}", "{url}/", "{url}//", "HTTP://{host}", "{url}#frag"])
def test_the_same_url_again_keeps_the_token(sentry: SentryEmulator, spelling: str, _isolated_store: Path) -> None:
    _configure_a(sentry)
    same = spelling.format(url=sentry.url, host=sentry.url.removeprefix("http://"))
    out = run_cli("integrations", "set", "sentry", f"base_url={same}", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["cleared"] == []
    kept = _stored(_isolated_store).get("token") == sentry.org_token
    assert kept, "the token was cleared although the URL did not change"
    human = run_cli("integrations", "set", "sentry", "project=")
    assert "cleared" not in human.stdout and "test them with" in human.stdout


def test_unsetting_the_base_url_clears_the_token_too(sentry: SentryEmulator, _isolated_store: Path) -> None:
    """Without a base URL the token would go to sentry.io: not where it was entered for."""
    _configure_a(sentry)
    out = run_cli("integrations", "unset", "sentry", "base_url", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["cleared"] == ["token"]
    assert _stored(_isolated_store) == {"org": "acme"}


# ---------------------------------------------------------------------- the manager


class _HostCreds(Credentials):
    """A plugin whose host is a text field declared as a destination, with two secrets."""

    host: str | None = field(label="Host", destination=True, required=False)
    key: SecretStr | None = field(label="Key", kind=FieldKind.TOKEN)
    extra: SecretStr | None = field(label="Extra secret", kind=FieldKind.TOKEN, required=False)
    note: str | None = field(label="Note", required=False)


class _HostPlugin(Integration):
    id = "hosty"
    name = "Hosty"
    description = "test plugin"
    credentials_model = _HostCreds

    async def test_connection(self, creds: Credentials) -> ConnectionResult:  # pragma: no cover
        return ConnectionResult.success("fine")

    async def get_data(self, creds: Credentials) -> IntegrationData:  # pragma: no cover
        return IntegrationData()


def _manager(tmp_path: Path, environ: dict[str, str] | None = None) -> IntegrationManager:
    registry = default_registry(include_entry_points=False)
    registry.add("hosty", _HostPlugin, origin="tests")
    return IntegrationManager(CredentialStore(tmp_path / "c.json"), registry=registry, environ=environ or {})


def test_upstash_rest_url_clears_only_the_rest_token(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    m.set_credentials("upstash", {"email": "me@example.com", "api_key": "upstash-api-key-123456",
                                  "rest_url": "https://a-1.upstash.io", "rest_token": "rest-token-A-123456"})
    saved = m.save_credentials("upstash", {"rest_url": "https://b-2.upstash.io"})
    assert saved.cleared == ["rest_token"]
    assert m.stored_credentials("upstash") == {"email": "me@example.com", "api_key": "upstash-api-key-123456",
                                               "rest_url": "https://b-2.upstash.io"}


def test_a_first_base_url_moves_a_token_entered_for_the_default_host(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    m.set_credentials("sentry", {"token": "sntrys_for_sentry_io_1234", "org": "acme"})
    assert m.save_credentials("sentry", {"base_url": "https://sentry.example.org"}).cleared == ["token"]


def test_a_declared_host_field_binds_every_secret_and_a_new_one_keeps_only_itself(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    m.set_credentials("hosty", {"host": "a.example", "key": "key-for-a-123456", "extra": "extra-for-a-1234",
                                "note": "n"})
    assert m.save_credentials("hosty", {"host": " A.EXAMPLE "}).cleared == []  # the same host
    saved = m.save_credentials("hosty", {"host": "b.example", "key": "key-for-b-123456"})
    assert saved.cleared == ["extra"]
    assert m.stored_credentials("hosty") == {"host": "b.example", "key": "key-for-b-123456", "note": "n"}


def test_an_environment_override_of_the_url_clears_nothing(tmp_path: Path) -> None:
    """The sandbox points plugins at emulators through DEVTRACK_<PLUGIN>_BASE_URL: not stored."""
    m = _manager(tmp_path, {"DEVTRACK_SENTRY_BASE_URL": "http://127.0.0.1:9"})
    m.set_credentials("sentry", {"token": "sntrys_env_case_123456", "org": "acme"})
    assert m.save_credentials("sentry", {"project": "web"}).cleared == []
    assert m.stored_credentials("sentry")["token"] == "sntrys_env_case_123456"


def test_a_refused_save_clears_nothing(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    m.set_credentials("sentry", {"token": "sntrys_keep_me_123456", "org": "acme", "base_url": "https://a.example"})
    with pytest.raises(CredentialsInvalid):
        m.save_credentials("sentry", {"base_url": "http://not-loopback.example"})
    assert m.stored_credentials("sentry")["token"] == "sntrys_keep_me_123456"


def test_every_destination_names_real_secrets_and_regions_are_not_destinations() -> None:
    """The built-ins' destinations as decided: stored URL fields only. A region picks the
    vendor's own endpoint (botocore refuses anything but a region name; Helicone's is us or eu),
    so it moves no secret; other base URLs exist only as environment overrides."""
    registry = default_registry(include_entry_points=False)
    found: dict[str, list[str]] = {}
    for pid in registry.ids():
        model = registry.get(pid).credentials_model
        secrets = model.secret_keys()
        for f in model.fields():
            if f.destination:
                assert f.carries and set(f.carries) <= secrets, (pid, f.key)
                found[f"{pid}.{f.key}"] = f.carries
            if f.kind == FieldKind.REGION or f.key == "region":
                assert not f.destination, (pid, f.key)
    assert found == {"sentry.base_url": ["token"], "upstash.rest_url": ["rest_token"]}


def test_url_normalisation() -> None:
    assert normalise_url("HTTPS://Sentry.IO:443/") == "https://sentry.io"
    assert normalise_url("http://127.0.0.1:80") == "http://127.0.0.1"
    assert normalise_url("https://h.example/a/?q=1#x") == "https://h.example/a?q=1"
    assert normalise_url("https://h.example/a") != normalise_url("https://h.example/b")
    assert normalise_url("https://h.example") != normalise_url("https://h.example:8443")
    assert normalise_url("https://h.example.") == normalise_url("https://h.example")
    assert normalise_url("https://[::1]:8000/") == "https://[::1]:8000"
    assert normalise_url("https://h.example:99999") == "https://h.example:99999"  # unparsable port: as typed


def test_registry_without_builtins_still_describes_destinations() -> None:
    """``list --json`` carries the two new keys for every field."""
    reg = Registry()
    reg.add("hosty", _HostPlugin)
    described = {f["key"]: f for f in reg.get("hosty").describe()["fields"]}
    assert described["host"]["destination"] is True and described["host"]["carries"] == ["key", "extra"]
    assert described["key"]["destination"] is False and described["key"]["carries"] == []
