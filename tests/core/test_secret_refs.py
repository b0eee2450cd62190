"""Secret references (env:, file:, op://): resolved when used, stored and shown as themselves.

``op`` (the 1Password CLI) cannot be installed here: the op:// tests put a stand-in executable
named ``op`` on PATH that answers ``op read --no-newline op://…`` as the real one documents
(the value on stdout; an error on stderr and a non-zero status). It is the only stand-in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devtrack import secretrefs
from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import ResultKind
from devtrack.integrations.manager import CredentialsInvalid, IntegrationManager
from tests import leakscan
from tests.core.helpers import run_cli


def _vercel_token(sb: object) -> str:
    return sb.credentials()["vercel"]["token"]  # type: ignore[attr-defined, no-any-return]


def _store_ref(path: Path, cid: str, value: str) -> None:
    """Put a reference into a sandbox credentials file, as `set` would store it."""
    doc = json.loads(path.read_text())
    doc["integrations"][cid]["credentials"]["token"] = value
    path.write_text(json.dumps(doc))


def test_env_reference_is_resolved_at_use_and_never_written_back(sb, sandbox_env, tmp_path: Path) -> None:
    token = _vercel_token(sb)
    path = Path(sandbox_env["DEVTRACK_CREDENTIALS"])
    env = {"MY_VERCEL_TOKEN": token}
    done = run_cli("integrations", "set", "vercel", "token=env:MY_VERCEL_TOKEN", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["credentials"]["token"] == "from env:MY_VERCEL_TOKEN"

    tested = run_cli("integrations", "test", "vercel", "--json", env=env)
    assert json.loads(tested.stdout)["ok"] is True, tested.stdout
    entry = json.loads(path.read_text())["integrations"]["vercel"]
    assert entry["credentials"]["token"] == "env:MY_VERCEL_TOKEN"  # the result was recorded, not the value
    assert token not in json.dumps({k: v for k, v in entry.items() if k != "connections"})

    shown = run_cli("integrations", "show", "vercel", "--json", env=env)
    body = json.loads(shown.stdout)
    assert body["credentials"]["token"] == "from env:MY_VERCEL_TOKEN"
    assert body["sources"]["token"] == "from env:MY_VERCEL_TOKEN"
    text = run_cli("integrations", "show", "vercel", env=env)
    assert "from env:MY_VERCEL_TOKEN" in text.stdout and token not in text.stdout


def test_unset_variable_is_a_config_result_naming_the_reference(sb, sandbox_env) -> None:
    _store_ref(Path(sandbox_env["DEVTRACK_CREDENTIALS"]), "vercel", "env:NOT_SET_ANYWHERE")
    out = run_cli("integrations", "test", "vercel", "--json", env={"NOT_SET_ANYWHERE": ""})
    result = json.loads(out.stdout)
    assert out.returncode == 1
    assert result["status"] == "config"
    assert "env:NOT_SET_ANYWHERE" in result["message"] and "export NOT_SET_ANYWHERE=" in result["message"]


def test_file_reference_refused_unless_only_you_can_read_it(sandbox_manager: IntegrationManager, sb,
                                                             tmp_path: Path) -> None:
    import asyncio

    secret_file = tmp_path / "vercel-token"
    secret_file.write_text(_vercel_token(sb) + "\n")
    os.chmod(secret_file, 0o644)
    sandbox_manager.save_credentials("vercel", {"token": f"file:{secret_file}"})
    result = asyncio.run(sandbox_manager.test("vercel"))
    assert result.kind == ResultKind.CONFIG
    assert f"chmod 600 {secret_file}" in result.message and "mode 644" in result.message

    os.chmod(secret_file, 0o600)
    assert asyncio.run(sandbox_manager.test("vercel")).ok
    stored = sandbox_manager.stored_credentials("vercel")["token"]
    assert stored == f"file:{secret_file}"

    secret_file.unlink()
    missing = asyncio.run(sandbox_manager.test("vercel"))
    assert missing.kind == ResultKind.CONFIG and "does not exist" in missing.message


def _stand_in_op(bin_dir: Path, script: str) -> dict[str, str]:
    """An executable ``op`` (see the module docstring) and the PATH that finds it first."""
    bin_dir.mkdir(exist_ok=True)
    op = bin_dir / "op"
    op.write_text("#!/bin/sh\n" + script)
    op.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_op_reference_read_through_op_read(sb, sandbox_env, tmp_path: Path) -> None:
    token = _vercel_token(sb)
    vault = tmp_path / "vault-token"
    vault.write_text(token)
    env = _stand_in_op(tmp_path / "bin", f"""
[ "$1" = read ] && [ "$2" = --no-newline ] && [ "$3" = "op://Dev/Vercel/credential" ] && exec cat {vault}
echo "[ERROR] 2026/01/01 00:00:00 could not read secret '$3': item not found" >&2; exit 1
""")
    _store_ref(Path(sandbox_env["DEVTRACK_CREDENTIALS"]), "vercel", "op://Dev/Vercel/credential")
    ok = run_cli("integrations", "test", "vercel", "--json", env=env)
    assert json.loads(ok.stdout)["ok"] is True, ok.stdout

    _store_ref(Path(sandbox_env["DEVTRACK_CREDENTIALS"]), "vercel", "op://Dev/Nope/credential")
    bad = json.loads(run_cli("integrations", "test", "vercel", "--json", env=env).stdout)
    assert bad["status"] == "config"
    assert "op://Dev/Nope/credential" in bad["message"] and "item not found" in bad["message"]
    assert "op signin" in bad["message"]


def test_op_missing_or_hanging_is_a_config_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = secretrefs.parse("op://Dev/Vercel/credential")
    assert ref is not None
    with pytest.raises(secretrefs.Unresolvable, match="not installed"):
        secretrefs.resolve(ref, {"PATH": str(tmp_path / "empty")})
    env = _stand_in_op(tmp_path / "bin", "exec sleep 30\n")
    monkeypatch.setattr(secretrefs, "OP_TIMEOUT", 0.5)
    with pytest.raises(secretrefs.Unresolvable, match="did not answer within 0.5s"):
        secretrefs.resolve(ref, env)


def test_plain_escape_stores_a_value_that_looks_like_a_reference(tmp_path: Path) -> None:
    manager = IntegrationManager(store=CredentialStore(tmp_path / "c.json"), environ={})
    manager.save_credentials("vercel", {"token": "plain:env:looks-like-a-ref"})
    assert manager.credentials("vercel").value("token") == "env:looks-like-a-ref"
    assert manager.masked("vercel")["token"].startswith("env:")  # masked as a literal secret
    assert manager.sources("vercel")["token"] == "stored"


def test_references_refused_where_they_cannot_go(tmp_path: Path) -> None:
    manager = IntegrationManager(store=CredentialStore(tmp_path / "c.json"), environ={})
    with pytest.raises(CredentialsInvalid) as plain_field:
        manager.save_credentials("vercel", {"token": "t" * 24, "team_id": "env:TEAM"})
    assert "takes the value itself" in plain_field.value.errors["team_id"]
    with pytest.raises(CredentialsInvalid) as malformed:
        manager.save_credentials("vercel", {"token": "env:not a name"})
    message = malformed.value.errors["token"]
    assert "plain:" in message and "not a name" not in message  # never quoted back: it may be a secret
    assert not (tmp_path / "c.json").exists()


def test_resolved_values_are_registered_with_the_redactor(tmp_path: Path) -> None:
    from devtrack.redact import redactor

    value = "resolved-" + os.urandom(8).hex()
    leakscan.add_secrets(value)
    manager = IntegrationManager(store=CredentialStore(tmp_path / "c.json"), environ={"V_TOKEN": value})
    manager.save_credentials("vercel", {"token": "env:V_TOKEN"})
    assert "env:V_TOKEN" not in redactor.secrets()  # the reference is not a secret
    manager.credentials("vercel")
    assert value in redactor.secrets()
