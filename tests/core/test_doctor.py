"""``devtrack doctor``: the whole report, redacted, against the sandbox, and its bundle.

The leak scan (tests/leakscan.py) also searches this output and every file of each bundle a
test leaves under its temp directory; the asserts here check the same directly.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

from tests import leakscan
from tests.core.helpers import assert_no_secret, run_cli
from tests.secret_service import no_keychain  # noqa: F401 (fixture)


def _all_secrets(sb: Any) -> set[str]:
    return {v for fields in sb.credentials().values() for k, v in fields.items()
            if leakscan._secret_key(k) and len(v) >= 8}


def _bundle_texts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name).decode() for name in zf.namelist()}


def test_doctor_reports_everything_and_leaks_nothing(sb, sandbox_env, tmp_path: Path) -> None:
    creds = Path(sandbox_env["DEVTRACK_CREDENTIALS"])
    secrets = _all_secrets(sb)
    vercel_token = sb.credentials()["vercel"]["token"]
    assert run_cli("views", "refresh", "--json").returncode in (0, 1)  # fills the snapshot store
    assert run_cli("integrations", "test", "--all", "--json").returncode in (0, 1)
    doc = json.loads(creds.read_text())
    # A past error that quoted a secret, as an old version might have stored it; and a reference
    # that cannot be resolved now.
    doc["integrations"]["vercel"]["test_result"]["message"] = f"rejected token {vercel_token} (401)"
    doc["integrations"]["vercel"]["test_result"]["ok"] = False
    doc["integrations"]["vercel"]["test_result"]["kind"] = "auth"
    doc["integrations"]["sentry"]["credentials"]["token"] = "env:DOCTOR_UNSET_TOKEN"
    creds.write_text(json.dumps(doc))
    env = {"DEVTRACK_UPSTASH_API_KEY": sb.credentials()["upstash"]["api_key"], "DOCTOR_UNSET_TOKEN": ""}

    out = run_cli("doctor", "--json", env=env)
    assert out.returncode == 1, out.stderr  # a problem was found: the reference
    report = json.loads(out.stdout)
    assert report["ok"] is False
    assert any("env:DOCTOR_UNSET_TOKEN" in p and "export DOCTOR_UNSET_TOKEN=" in p for p in report["problems"])
    assert report["versions"]["devtrack"] and report["versions"]["libraries"]["keyring"]
    assert report["stores"]["credentials"]["path"] == str(creds)
    assert report["stores"]["credentials"]["mode"] == "600"
    assert report["stores"]["snapshots"]["exists"] is True
    assert report["stores"]["snapshots"]["mode"] == "600"
    ids = [c["id"] for c in report["connections"]]
    assert {"vercel", "vercel:personal", "sentry", "upstash", "aws-ec2"} <= set(ids)
    rows = {c["id"]: c for c in report["connections"]}
    assert rows["vercel"]["last_test"]["status"] == "auth"
    assert vercel_token not in rows["vercel"]["last_test"]["message"]
    assert "rejected token" in rows["vercel"]["last_test"]["message"]
    assert rows["sentry"]["sources"]["token"] == "from env:DOCTOR_UNSET_TOKEN"
    assert rows["sentry"]["references"][0]["resolves"] is False
    assert rows["upstash"]["sources"]["api_key"] == "env override DEVTRACK_UPSTASH_API_KEY"
    assert rows["vercel:personal"]["last_refresh"]["success"]  # from the snapshot store
    assert "DEVTRACK_UPSTASH_API_KEY" in report["environment"]
    assert any(e["where"] == "vercel" for e in report["errors"])
    assert report["sandbox"]["base_url_overrides"]
    assert_no_secret([out.stdout, out.stderr], secrets)

    people = run_cli("doctor", env=env)
    assert people.returncode == 1 and "Traceback" not in people.stderr
    assert "sentry" in people.stdout and "env:DOCTOR_UNSET_TOKEN" in people.stdout
    assert_no_secret([people.stdout, people.stderr], secrets)

    bundle = tmp_path / "bundle.zip"
    done = run_cli("doctor", "--bundle", str(bundle), env=env)
    assert done.returncode == 1 and bundle.is_file()
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    files = _bundle_texts(bundle)
    assert sorted(files) == ["README.txt", "config-summary.json", "doctor.json", "doctor.txt", "errors.json"]
    assert json.loads(files["doctor.json"])["connections"]
    summary = json.loads(files["config-summary.json"])
    assert summary["integrations"]["sentry"]["credentials"]["token"] == "env:DOCTOR_UNSET_TOKEN"
    assert summary["integrations"]["vercel"]["credentials"]["token"] == "<secret, in the file>"
    assert json.loads(files["errors.json"])
    assert_no_secret(files.values(), secrets)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # written atomically


def test_doctor_on_a_broken_file_is_one_line_not_a_traceback(tmp_path: Path, monkeypatch) -> None:
    creds = tmp_path / "credentials.json"
    creds.write_text('{"version": 2, "integrations": {"vercel": {"enabled": "no"}}}')
    monkeypatch.setenv("DEVTRACK_CREDENTIALS", str(creds))
    out = run_cli("doctor", "--json")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    report = json.loads(out.stdout)
    assert any("integrations.vercel.enabled" in p for p in report["problems"])
    bad = run_cli("doctor", "--bundle", str(tmp_path / "no" / "such" / "dir" / "b.zip"), "--json")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert json.loads(bad.stdout)["error"]["kind"] == "io"


def test_doctor_names_a_keychain_preference_no_keychain_can_serve(no_keychain, tmp_path: Path, monkeypatch) -> None:
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({"version": 2, "integrations": {}, "secrets": {"store": "keyring", "id": "ab12"}}))
    os.chmod(creds, 0o600)
    monkeypatch.setenv("DEVTRACK_CREDENTIALS", str(creds))
    report = json.loads(run_cli("doctor", "--json").stdout)
    assert report["stores"]["keychain"]["answers"] is False
    assert any("should go to the keychain" in p for p in report["problems"])


def test_the_leak_scan_reads_every_file_of_a_bundle(tmp_path: Path) -> None:
    secret = "bundle-secret-" + os.urandom(6).hex()
    bundle = tmp_path / "b.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("doctor.json", "{}")
        zf.writestr("nested/notes.txt", f"oops {secret}")
    texts = leakscan.file_texts(bundle)
    assert [kind for kind, _ in texts] == ["doctor bundles", "doctor bundles"]
    _, leaks, _ = leakscan.find_leaks({"doctor bundles": [t for _, t in texts]}, set(), {secret})
    assert len(leaks) == 1 and "doctor bundles" in leaks[0]
    bundle.unlink()  # planted on purpose: not for the session's own scan


def test_doctor_on_a_team_database_reports_it_without_its_password(sb, sandbox_env, pg_server, pg_url: str) -> None:
    """A store on PostgreSQL: the report says whether it answers and its schema, never the
    password of its URL, and a database that is down is a problem, not a traceback."""
    from urllib.parse import urlsplit

    from devtrack.views.store import MIGRATIONS

    with __import__("psycopg").connect(pg_url, autocommit=True) as db:
        db.execute("CREATE ROLE doctor_user LOGIN PASSWORD 'doctor-pw-1234567'")
        db.execute("GRANT ALL ON SCHEMA public TO doctor_user")
    parts = urlsplit(pg_url)
    url = f"postgresql://doctor_user:doctor-pw-1234567@{parts.hostname}:{parts.port}{parts.path}"
    env = {"DEVTRACK_STORE_URL": url}
    assert run_cli("views", "refresh", "--json", env=env).returncode in (0, 1)
    out = run_cli("doctor", "--json", env=env)
    info = json.loads(out.stdout)["stores"]["snapshots"]
    assert info["backend"] == "postgresql" and info["reachable"] is True
    assert info["schema_version"] == MIGRATIONS[-1][0] and info["snapshots"] > 0 and info["connections_with_state"] > 0
    i = (out.stdout + out.stderr).find("doctor-pw-1234567"); assert i < 0, (out.stdout + out.stderr)[max(0, i - 300):i + 50]
    assert "doctor_user:" + "\u2022" * 8 + "@" in info["url"]
    people = run_cli("doctor", env=env)
    assert "PostgreSQL, schema" in people.stdout and "doctor-pw-1234567" not in people.stdout + people.stderr

    pg_server.stop_server()
    try:
        down = run_cli("doctor", "--json", env=env)
    finally:
        pg_server.start_again()
    report = json.loads(down.stdout)
    assert report["stores"]["snapshots"]["reachable"] is False and "Traceback" not in down.stderr
    assert any(p.startswith("cannot reach the snapshot database postgresql://doctor_user:") for p in report["problems"])
    assert "doctor-pw-1234567" not in down.stdout + down.stderr
