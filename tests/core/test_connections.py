"""Connections (issue 14): ids, the schema-2 credentials file and its upgrade, concurrent
writers, the environment rule, ``remove``, and the leak scan's view of named connections.

Everything goes through the real CLI in a subprocess or the real store on disk.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pty
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations import connections
from devtrack.integrations.manager import IntegrationManager
from devtrack.integrations.registry import default_registry

from .. import leakscan
from .helpers import run_cli, run_writers

FIXTURE = Path(__file__).parent / "fixtures" / "v1-credentials.json"
TOKEN = "vercel_named_Token_0123456789abcd"
OTHER = "vercel_other_Token_9876543210wxyz"
NAME_RULE = "lowercase letters, digits and single dashes"


def _json(out: subprocess.CompletedProcess[str]) -> object:
    return json.loads(out.stdout)


# ---------------------------------------------------------------------- ids


@pytest.mark.parametrize(("cid", "parsed"), [
    ("vercel", ("vercel", None)), ("vercel:acme", ("vercel", "acme")),
    ("aws-ec2:eu-prod", ("aws-ec2", "eu-prod")), ("sentry:org2", ("sentry", "org2")),
])
def test_connection_ids_parse_and_round_trip(cid: str, parsed: tuple[str, str | None]) -> None:
    assert connections.parse(cid) == parsed
    assert connections.connection_id(*parsed) == cid


@pytest.mark.parametrize("cid", ["Vercel:Acme", "vercel:Acme", "vercel:a--b", "vercel:-x", "vercel:x-",
                                 "vercel:", "vercel:a:b", "vercel:a_b", ":acme"])
def test_invalid_connection_ids_are_refused(cid: str) -> None:
    with pytest.raises(connections.InvalidConnectionId, match="invalid connection id"):
        connections.parse(cid)


def test_labels() -> None:
    assert connections.label("vercel", "Vercel") == "Vercel"
    assert connections.label("vercel:acme", "Vercel") == "Vercel · acme"


@pytest.mark.parametrize("cid", ["Vercel:Acme", "vercel:a--b", "vercel:-x"])
def test_the_cli_refuses_an_invalid_name_and_writes_nothing(cid: str, _isolated_store: Path) -> None:
    out = run_cli("integrations", "set", cid, f"token={TOKEN}")
    assert out.returncode == 2, out.stderr
    assert NAME_RULE in " ".join(out.stderr.split()) and "Traceback" not in out.stderr
    assert not _isolated_store.exists()
    out = run_cli("integrations", "set", cid, f"token={TOKEN}", "--json")
    err = _json(out)
    assert out.returncode == 2 and err["ok"] is False and err["error"]["kind"] == "usage"  # type: ignore[index]
    assert NAME_RULE in err["error"]["message"]  # type: ignore[index]


def test_an_unknown_plugin_in_a_connection_id_is_refused(_isolated_store: Path) -> None:
    out = run_cli("integrations", "set", "nope:x", f"token={TOKEN}", "--json")
    assert out.returncode == 1
    assert _json(out)["error"]["kind"] == "not_found"  # type: ignore[index]
    assert "unknown integration 'nope'" in _json(out)["error"]["message"]  # type: ignore[index]
    assert not _isolated_store.exists()


def test_did_you_mean_names_connection_ids(_isolated_store: Path) -> None:
    assert run_cli("integrations", "set", "vercel:acme", f"token={TOKEN}").returncode == 0
    out = run_cli("integrations", "show", "vercel:acm")
    assert out.returncode == 1 and "did you mean 'vercel:acme'?" in out.stderr, out.stderr
    out = run_cli("integrations", "test", "vercle:acme")
    assert out.returncode == 1 and "did you mean 'vercel:acme'?" in out.stderr, out.stderr
    out = run_cli("integrations", "data", "vercel:ghost", "--json")
    assert out.returncode == 1 and _json(out)["error"]["kind"] == "not_found"  # type: ignore[index]
    assert "devtrack integrations set vercel:ghost" in _json(out)["error"]["message"]  # type: ignore[index]


# ---------------------------------------------------------------------- the file: upgrade and refusal


def _v1_copy(directory: Path, mode: int = 0o600) -> Path:
    target = directory / "credentials.json"
    shutil.copyfile(FIXTURE, target)
    os.chmod(target, mode)
    return target


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_a_file_of_the_current_release_upgrades_losslessly_with_a_byte_identical_backup(
    tmp_path: Path, mode: int
) -> None:
    store = _v1_copy(tmp_path, mode)
    original = store.read_bytes()
    env = {"DEVTRACK_CREDENTIALS": str(store)}
    # Reading changes nothing.
    out = run_cli("integrations", "list", "--json", env=env)
    assert out.returncode == 0, out.stderr
    listed = {p["id"]: p for p in _json(out)}  # type: ignore[union-attr]
    assert listed["vercel"]["test_result"]["ok"] and listed["github"]["enabled"] is False
    assert store.read_bytes() == original and not list(tmp_path.glob("*.bak"))

    out = run_cli("integrations", "set", "vercel:acme", f"token={TOKEN}", env=env)
    assert out.returncode == 0, out.stderr
    backup = tmp_path / "credentials.json.v1.bak"
    assert backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    new = json.loads(store.read_text())
    assert new["version"] == 2
    added = new["integrations"]["vercel"].pop("connections")
    assert added == {"acme": {"enabled": True, "credentials": {"token": TOKEN}}}
    old = json.loads(original)
    assert new == {**old, "version": 2}  # every field of every plugin, the AI keys and the proxy token

    # A second write keeps the one backup as it is.
    assert run_cli("integrations", "disable", "vercel:acme", env=env).returncode == 0
    assert [p.name for p in tmp_path.glob("*.bak")] == ["credentials.json.v1.bak"]
    assert backup.read_bytes() == original
    out = run_cli("integrations", "list", "--json", env=env)
    assert _json(out) and {p["id"]: p for p in _json(out)}["vercel"]["test_result"] == listed["vercel"]["test_result"]  # type: ignore[union-attr,index]


def test_a_file_of_a_newer_version_is_refused_and_never_written(tmp_path: Path) -> None:
    store = tmp_path / "credentials.json"
    body = b'{"version": 3, "integrations": {"vercel": {"credentials": {"token": "x"}, "accounts": []}}}\n'
    store.write_bytes(body)
    env = {"DEVTRACK_CREDENTIALS": str(store)}
    for args in (["set", "vercel:acme", f"token={TOKEN}"], ["list"], ["remove", "vercel:acme", "--yes"]):
        out = run_cli("integrations", *args, env=env)
        assert out.returncode == 1, (args, out.stderr)
        text = " ".join(out.stderr.split())
        assert "written by a newer DevTrack (schema 3, this one reads up to 2)" in text, text
        assert "upgrade DevTrack" in text and "The file was not changed" in text
    out = run_cli("integrations", "set", "vercel:acme", f"token={TOKEN}", "--json", env=env)
    assert out.returncode == 1 and _json(out)["ok"] is False  # type: ignore[index]
    assert store.read_bytes() == body and not list(tmp_path.glob("*.bak"))


def _add_connections(path: str, worker: int, count: int, acks: "mp.Queue[str]") -> None:
    manager = IntegrationManager(store=CredentialStore(path), environ={})
    for i in range(count):
        cid = f"vercel:w{worker}-{i}"
        manager.save_credentials(cid, {"token": f"tok_{worker}_{i}_0123456789"})
        acks.put(cid)


def test_concurrent_writers_adding_connections_lose_none_and_upgrade_once(tmp_path: Path) -> None:
    store = _v1_copy(tmp_path)
    original = store.read_bytes()
    acked = run_writers(_add_connections, str(store), workers=4, count=8)
    doc = json.loads(store.read_text())
    named = doc["integrations"]["vercel"]["connections"]
    for cid in acked:
        w, i = cid.removeprefix("vercel:w").split("-")
        assert named[cid.split(":")[1]]["credentials"]["token"] == f"tok_{w}_{i}_0123456789"
    assert len(named) == 32
    assert [p.name for p in tmp_path.glob("*.bak")] == ["credentials.json.v1.bak"]
    assert (tmp_path / "credentials.json.v1.bak").read_bytes() == original
    manager = IntegrationManager(store=CredentialStore(store), environ={})
    assert manager.connection_ids("vercel") == ["vercel", *sorted(f"vercel:{n}" for n in named)]


# ---------------------------------------------------------------------- the environment rule


def test_named_connections_read_their_own_variables(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "c.json")
    env = {
        "DEVTRACK_VERCEL_TOKEN": "default_env_token_123",
        "DEVTRACK_VERCEL__ACME__TOKEN": "acme_env_token_4567",
        "DEVTRACK_AWS_EC2__EU_PROD__REGION": "eu-west-3",
        "DEVTRACK_SENTRY_BASE_URL": "http://127.0.0.1:5001",
        "DEVTRACK_SENTRY__MINE__BASE_URL": "http://127.0.0.1:5002",
    }
    manager = IntegrationManager(store=store, environ=env)
    manager.save_credentials("vercel:acme", {"token": TOKEN})
    manager.save_credentials("vercel:side", {"token": OTHER})
    assert manager.credentials("vercel").value("token") == "default_env_token_123"
    assert manager.credentials("vercel:acme").value("token") == "acme_env_token_4567"
    assert manager.credentials("vercel:side").value("token") == OTHER  # the plugin-wide token is not its
    assert manager.env_sources("vercel:acme") == {"token": "DEVTRACK_VERCEL__ACME__TOKEN"}
    # A plugin id and a name with dashes: only aws-ec2:eu-prod reads its variable.
    for cid in ("aws-ec2", "aws-ec2:eu", "aws-ec2:eu-prod", "aws-ec2:prod"):
        expected = {"region": "DEVTRACK_AWS_EC2__EU_PROD__REGION"} if cid == "aws-ec2:eu-prod" else {}
        assert manager.env_sources(cid) == expected, cid
    # The plugin-wide base URL applies to every connection unless it has its own.
    assert manager.env_overrides("sentry")["base_url"] == "http://127.0.0.1:5001"
    assert manager.env_overrides("sentry:other")["base_url"] == "http://127.0.0.1:5001"
    assert manager.env_sources("sentry:mine")["base_url"] == "DEVTRACK_SENTRY__MINE__BASE_URL"
    assert manager.env_overrides("sentry:mine")["base_url"] == "http://127.0.0.1:5002"


def test_base_url_for_follows_the_connection_being_called() -> None:
    from devtrack.integrations.http import base_url_for

    env = {"DEVTRACK_VERCEL_BASE_URL": "http://127.0.0.1:7001", "DEVTRACK_VERCEL__TWO__BASE_URL": "http://127.0.0.1:7002"}
    assert base_url_for("vercel", "https://api.vercel.com", env) == "http://127.0.0.1:7001"
    for cid, expected in [("vercel", "7001"), ("vercel:one", "7001"), ("vercel:two", "7002"), ("sentry:two", "7001")]:
        token = connections.CONNECTION.set(cid)
        try:
            assert base_url_for("vercel", "https://api.vercel.com", env).endswith(expected), cid
        finally:
            connections.CONNECTION.reset(token)


def test_every_variable_names_one_connection_field_only() -> None:
    """No two (plugin, connection, field) triples share a variable, whatever the dashes."""
    names = [None, "acme", "eu-prod", "eu", "prod", "a1-b2-c3", "region", "base"]
    seen: dict[str, tuple[str, str | None, str]] = {}
    reg = default_registry(include_entry_points=False)
    for plugin_id in reg.ids():
        for name in names:
            for f in reg.get(plugin_id).credentials_model.fields():
                key = connections.env_key(plugin_id, name, f.key)
                assert key not in seen, (key, seen.get(key), (plugin_id, name, f.key))
                seen[key] = (plugin_id, name, f.key)
                if name is not None:
                    p, n, k = key.removeprefix("DEVTRACK_").split("__")
                    assert (p, n, k) == tuple(x.upper().replace("-", "_") for x in (plugin_id, name, f.key))


# ---------------------------------------------------------------------- remove


def _three(env: dict[str, str] | None = None) -> None:
    for cid, token in (("vercel", OTHER), ("vercel:acme", TOKEN), ("vercel:side", OTHER)):
        assert run_cli("integrations", "set", cid, f"token={token}", env=env).returncode == 0


def test_remove_refuses_without_a_terminal_unless_yes_and_deletes_only_that_one(_isolated_store: Path) -> None:
    _three()
    before = _isolated_store.read_bytes()
    out = run_cli("integrations", "remove", "vercel:acme", input="y\n")
    assert out.returncode == 2
    assert "devtrack integrations remove vercel:acme --yes" in " ".join(out.stderr.split()), out.stderr
    assert _isolated_store.read_bytes() == before
    out = run_cli("integrations", "remove", "vercel:acme", "--yes", "--json")
    assert out.returncode == 0, out.stderr
    assert _json(out) == {"ok": True, "id": "vercel:acme", "removed": True}
    doc = json.loads(_isolated_store.read_text())
    assert set(doc["integrations"]["vercel"]["connections"]) == {"side"}
    assert doc["integrations"]["vercel"]["credentials"] == {"token": OTHER}
    listed = _json(run_cli("integrations", "list", "--json"))
    assert [c["id"] for c in listed[1]["connections"]] == ["vercel", "vercel:side"]  # type: ignore[index]
    out = run_cli("integrations", "remove", "vercel:acme", "--yes")
    assert out.returncode == 1 and "unknown connection 'vercel:acme'" in out.stderr


def test_removing_the_default_connection_points_to_unset(_isolated_store: Path) -> None:
    _three()
    before = _isolated_store.read_bytes()
    out = run_cli("integrations", "remove", "vercel", "--yes")
    assert out.returncode == 1
    assert "cannot be removed; to delete its stored credentials run: devtrack integrations unset vercel" \
        in " ".join(out.stderr.split()), out.stderr
    assert _isolated_store.read_bytes() == before


def _remove_at_a_terminal(cid: str, answer: str) -> tuple[int, str]:
    """``integrations remove`` with a pseudo-terminal as stdin, answering the question."""
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "devtrack", "integrations", "remove", cid],
                            stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while b"?" not in seen:
        seen += os.read(master, 1024)
    os.write(master, answer.encode() + b"\n")
    out, _ = proc.communicate(timeout=60)
    try:
        while True:
            chunk = os.read(master, 1024)
            if not chunk:
                break
            seen += chunk
    except OSError:
        pass
    os.close(master)
    return proc.returncode, seen.decode("utf-8", "replace") + out.decode()


def test_remove_at_a_terminal_asks_first(_isolated_store: Path) -> None:
    _three()
    before = _isolated_store.read_bytes()
    code, text = _remove_at_a_terminal("vercel:acme", "n")
    assert code == 1 and "Remove the connection vercel:acme (Vercel · acme)" in text, text
    assert _isolated_store.read_bytes() == before
    code, text = _remove_at_a_terminal("vercel:acme", "y")
    assert code == 0 and "removed the connection vercel:acme" in text, text
    assert set(json.loads(_isolated_store.read_text())["integrations"]["vercel"]["connections"]) == {"side"}


# ---------------------------------------------------------------------- the leak scan


def test_the_leak_scan_covers_the_secrets_of_named_connections(_isolated_store: Path) -> None:
    _three()
    found = leakscan.store_secrets(_isolated_store.parent)
    assert {TOKEN, OTHER} <= found
    # And a text holding a named connection's secret, in any form, is reported.
    import base64

    for text in (f"oops {TOKEN}", base64.b64encode(TOKEN.encode()).decode()):
        _, leaks, _ = leakscan.find_leaks({"cli output": [text]}, set(), found)
        assert leaks and "cli output: secret ver" in leaks[0], text
    _, leaks, _ = leakscan.find_leaks({"cli output": ["vercel:acme token=verc••••abcd"]}, set(), found)
    assert leaks == []
