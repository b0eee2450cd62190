"""Secrets in the OS keychain: a real Secret Service (gnome-keyring on a private D-Bus), and a
box with none. Every ``devtrack`` here is a subprocess, as a user runs it; ``secret-tool``
looks at the keychain independently of DevTrack."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devtrack import secretrefs
from tests import leakscan
from tests.core.helpers import run_cli
from tests.secret_service import SecretService, no_keychain, secret_service  # noqa: F401 (fixtures)

#: Connections the sandbox seeds that carry a secret (github needs none).
NOT_SECRET = {"github"}


def _doc(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _secrets_by_place(doc: dict[str, Any]) -> dict[str, str]:
    """Every connection's secret field, as stored: "vercel:personal token" -> text."""
    from devtrack.integrations.registry import default_registry

    reg = default_registry()  # with entry points: the sandbox seeds installed plugins (Netlify) too
    out: dict[str, str] = {}
    for pid, entry in doc["integrations"].items():
        secret = reg.get(pid).credentials_model.secret_keys()
        for name, conn in [(None, entry), *(entry.get("connections") or {}).items()]:
            cid = pid if name is None else f"{pid}:{name}"
            for key, value in (conn.get("credentials") or {}).items():
                if key in secret and value:
                    out[f"{cid} {key}"] = value
    return out


def _test_all(env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    out = run_cli("integrations", "test", "--all", "--json", env=env, timeout=180)
    return {r["id"]: r for r in json.loads(out.stdout) if r["id"] not in NOT_SECRET}


def test_init_secrets_keyring_sends_new_secrets_to_the_keychain(secret_service: SecretService, tmp_path: Path) -> None:
    project = tmp_path / "project"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    env = {"DEVTRACK_CREDENTIALS": ""}
    init = run_cli("init", "--secrets", "keyring", "--json", cwd=project, env=env)
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["secrets"] == "keyring"
    token = "tok-" + os.urandom(12).hex()
    leakscan.add_secrets(token)
    saved = run_cli("integrations", "set", "vercel", f"token={token}", "--json", cwd=project, env=env)
    assert saved.returncode == 0, saved.stderr
    body = json.loads(saved.stdout)
    assert body["warnings"] == []
    text = (project / ".credentials.json").read_text()
    assert token not in text
    ref = _doc(project / ".credentials.json")["integrations"]["vercel"]["credentials"]["token"]
    assert ref.startswith("keyring:vercel/token@")
    assert body["credentials"]["token"] == f"from {ref}"
    assert secret_service.lookup(ref.removeprefix("keyring:")) == token

    removed = run_cli("integrations", "unset", "vercel", "token", cwd=project, env=env)
    assert removed.returncode == 0, removed.stderr
    assert secret_service.lookup(ref.removeprefix("keyring:")) is None  # no orphan left behind


def test_no_keychain_falls_back_to_the_file_with_a_warning(no_keychain: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "project"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    env = {"DEVTRACK_CREDENTIALS": "", **no_keychain}
    init = run_cli("init", "--secrets", "keyring", "--json", cwd=project, env=env)
    assert init.returncode == 0
    body = json.loads(init.stdout)
    assert body["secrets"] == "file"
    assert any("no keychain answers" in w for w in body["warnings"])

    path = project / ".credentials.json"
    doc = _doc(path)
    doc["secrets"]["store"] = "keyring"  # preferred on a desktop, then used on a headless box
    path.write_text(json.dumps(doc))
    token = "tok-" + os.urandom(12).hex()
    leakscan.add_secrets(token)
    saved = run_cli("integrations", "set", "vercel", f"token={token}", cwd=project, env=env)
    assert saved.returncode == 0
    assert "no keychain answers" in saved.stderr and "move-secrets --to keyring" in saved.stderr
    assert _doc(path)["integrations"]["vercel"]["credentials"]["token"] == token

    moved = run_cli("integrations", "move-secrets", "--to", "keyring", "--json", cwd=project, env=env)
    assert moved.returncode == 1
    assert "nothing was moved" in json.loads(moved.stdout)["error"]["message"]
    assert _doc(path)["integrations"]["vercel"]["credentials"]["token"] == token


def test_move_secrets_to_keyring_and_back(secret_service: SecretService, sb, sandbox_env) -> None:
    path = Path(sandbox_env["DEVTRACK_CREDENTIALS"])
    before = _secrets_by_place(_doc(path))
    assert len(before) >= 8
    moved = run_cli("integrations", "move-secrets", "--to", "keyring", "--json")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert sorted(json.loads(moved.stdout)["moved"]) == sorted(before)

    text = path.read_text()
    assert not [place for place, value in before.items() if value in text]  # no secret value left
    after = _secrets_by_place(_doc(path))
    for place, ref in after.items():
        assert ref.startswith("keyring:"), place
        assert secret_service.lookup(ref.removeprefix("keyring:")) == before[place]
    assert _doc(path)["secrets"]["store"] == "keyring"
    results = _test_all()
    assert all(r["ok"] for r in results.values()), {i: r["message"] for i, r in results.items() if not r["ok"]}

    again = run_cli("integrations", "move-secrets", "--to", "keyring", "--json")
    assert json.loads(again.stdout)["moved"] == []  # nothing left to move

    back = run_cli("integrations", "move-secrets", "--to", "file", "--json")
    assert back.returncode == 0, back.stdout
    assert _secrets_by_place(_doc(path)) == before
    assert secret_service.accounts() == {}  # DevTrack's entries are gone from the keychain
    assert "pending_delete" not in _doc(path)["secrets"]
    results = _test_all()
    assert all(r["ok"] for r in results.values())


def _in_one_place(doc: dict[str, Any], expected: dict[str, str], keychain: dict[str, str]) -> list[str]:
    """Places whose secret is neither in the file nor in the keychain entry the file names."""
    lost = []
    now = _secrets_by_place(doc)
    for place, value in expected.items():
        stored = now.get(place)
        ref = secretrefs.parse(stored)
        if stored is not None and ref is None and secretrefs.literal(stored) == value:
            continue
        if ref is not None and ref.kind == "keyring" and keychain.get(ref.target) == value:
            continue
        lost.append(place)
    return lost


def _progress(doc: dict[str, Any], to: str) -> str:
    """How far a move got, in the file: "3/9" secrets already where it was going."""
    now = _secrets_by_place(doc)
    done = sum((secretrefs.parse(v) is not None) == (to == "keyring") for v in now.values())
    return f"{done}/{len(now)}"


def test_move_secrets_killed_midway_loses_nothing_and_a_rerun_finishes(
        secret_service: SecretService, sb, sandbox_env) -> None:
    path = Path(sandbox_env["DEVTRACK_CREDENTIALS"])
    expected = _secrets_by_place(_doc(path))
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    pause = 0.05  # between steps, so that the kills land at different points of the move
    env = {**os.environ, "COLUMNS": "200", "DEVTRACK_TEST_MOVE_PAUSE": str(pause)}
    kills = []
    runs = ["keyring", "file"] * 5
    # Spread over start-up and every step (random within each slot), each direction early and late.
    span = 0.6 + 2 * pause * (len(expected) + 4)
    slots = [0.3 + span * (i + rng.random()) / len(runs) for i in range(len(runs))]
    delays = slots[::2] + slots[1::2]
    for run, to in enumerate(runs):
        proc = subprocess.Popen([sys.executable, "-m", "devtrack", "integrations", "move-secrets", "--to", to],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = delays[run // 2 + (len(runs) // 2) * (run % 2)]
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills.append((to, round(delay, 2), proc.returncode, _progress(_doc(path), to)))
        lost = _in_one_place(_doc(path), expected, secret_service.accounts())
        assert not lost, f"after kill {run} ({kills[-1]}): {lost} in neither place"
        finish = run_cli("integrations", "move-secrets", "--to", to, "--json")
        assert finish.returncode == 0, finish.stdout + finish.stderr
        lost = _in_one_place(_doc(path), expected, secret_service.accounts())
        assert not lost
        stored = _secrets_by_place(_doc(path))
        if to == "keyring":
            assert all(v.startswith("keyring:") for v in stored.values())
        else:
            assert stored == expected
            assert secret_service.accounts() == {}, "a re-run left keychain entries behind"
    print("kills (direction, delay s, exit status, moved in the file at the kill):", kills)
    assert any(code == -signal.SIGKILL for _, _, code, _ in kills)
    results = _test_all()
    assert all(r["ok"] for r in results.values())


def test_a_keyring_reference_without_a_keychain_or_entry_is_a_config_result(
        no_keychain: dict[str, str], tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"version": 2, "integrations": {
        "vercel": {"enabled": True, "credentials": {"token": "keyring:vercel/token@ab12"}}}}))
    path.chmod(0o600)
    monkeypatch.setenv("DEVTRACK_CREDENTIALS", str(path))
    out = run_cli("integrations", "test", "vercel", "--json")
    result = json.loads(out.stdout)
    assert out.returncode == 1 and result["status"] == "config"
    assert "keyring:vercel/token@ab12" in result["message"] and "no keychain answers" in result["message"]
    listed = json.loads(run_cli("integrations", "list", "--json").stdout)
    assert next(r for r in listed if r["id"] == "vercel")["configured"] is True  # listing asks no keychain


def test_a_keyring_reference_to_a_missing_entry_says_to_enter_it_again(
        secret_service: SecretService, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"version": 2, "integrations": {
        "vercel": {"enabled": True, "credentials": {"token": "keyring:vercel/token@gone1"}}}}))
    path.chmod(0o600)
    monkeypatch.setenv("DEVTRACK_CREDENTIALS", str(path))
    result = json.loads(run_cli("integrations", "test", "vercel", "--json").stdout)
    assert result["status"] == "config"
    assert "has no entry" in result["message"] and "vercel/token@gone1" in result["message"]
