"""Loopback needs the access token too: another account on this machine, which reaches
127.0.0.1 like the owner, can neither read the token file nor use the server without it.

Issue 13: ``devtrack serve`` on loopback asked for nothing, so any local account could take a
session and CSRF token with curl, point Sentry's base_url at its own listener, press Test
and receive the owner's Sentry token.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from devtrack.credentials import CredentialStore
from devtrack.web import access, create_app

from .. import leakscan
from .serve_proc import LOGIN_RE, ServeProcess

NOBODY = 65534
SENTRY_TOKEN = "sntrys_OWNER_secret_4f3e2d1c0b9a"

#: What the other account runs, with the system Python (the project's venv may be out of its
#: reach): everything it tried, as JSON.
ATTACK = r"""
import http.cookiejar, json, os, sys, urllib.error, urllib.request
base, token_file = sys.argv[1], sys.argv[2]
out = {"uid": os.getuid()}
try:
    open(token_file).read()
    out["read_token_file"] = "read it"
except OSError as exc:
    out["read_token_file"] = type(exc).__name__
class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
opener = urllib.request.build_opener(Stay, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, method=method, data=body, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
# The steal as it worked before: a session and its CSRF token, Sentry pointed elsewhere, Test.
out["session"], answer = call("GET", "/api/v1/session")
csrf = json.loads(answer)["csrf_token"] if out["session"] == 200 else ""
same = {"Content-Type": "application/json", "Origin": base, "X-CSRF-Token": csrf}
steal = json.dumps({"values": {"base_url": "http://127.0.0.1:9"}}).encode()
out["point_sentry_elsewhere"] = call("PUT", "/api/v1/integrations/sentry/credentials", steal, same)[0]
out["press_test"] = call("POST", "/api/v1/integrations/sentry/test", b"", same)[0]
out["list"] = call("GET", "/api/v1/integrations")[0]
out["page"] = call("GET", "/settings/integrations/sentry")[0]
out["guessed_link"] = call("GET", "/login?token=dta-guess")[0]
out["wrong_bearer"] = call("GET", "/api/v1/integrations", headers={"Authorization": "Bearer dta-guess"})[0]
print(json.dumps(out))
"""


def _as_nobody() -> list[str]:
    if os.geteuid() != 0:
        pytest.skip("acting as another account needs root (CI runs as root)")
    if shutil.which("setpriv"):
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    pytest.fail("neither setpriv nor runuser is installed: apt-get install -y util-linux")


def _system_python() -> str:
    for candidate in ("/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and os.access(candidate, os.X_OK) and not candidate.startswith(str(Path.home())):
            return candidate
    pytest.fail("no system python3 another account can run: apt-get install -y python3")


@pytest.fixture
def home() -> Iterator[Path]:
    """A config home other accounts may traverse (mode 755), like a usual home directory: only
    the modes DevTrack gives its own directory and file keep them out."""
    path = Path(tempfile.mkdtemp(prefix="devtrack-home-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_")}
    return env | {
        "XDG_CONFIG_HOME": str(home / "config"),
        "DEVTRACK_CREDENTIALS": str(home / "credentials.json"),
        "DEVTRACK_STORE_URL": f"sqlite:///{home / 'snapshots.db'}",
        "DEVTRACK_SENTRY_BASE_URL": "http://127.0.0.1:9",  # a refresh fails at once, never online
        "DEVTRACK_VERCEL_BASE_URL": "http://127.0.0.1:9",
        **extra,
    }


def _token_file(home: Path) -> Path:
    return home / "config" / "devtrack" / access.FILE_NAME


def _flat(text: str) -> str:
    """Messages as one line (the console wraps them at its width)."""
    return " ".join(text.split())


def _store_sentry(home: Path) -> CredentialStore:
    leakscan.add_secrets(SENTRY_TOKEN)
    store = CredentialStore(home / "credentials.json")

    def seed(doc: dict) -> None:
        doc["integrations"]["sentry"] = {"enabled": True, "credentials": {"token": SENTRY_TOKEN, "org": "acme"}}

    store.update(seed)
    return store


def test_another_account_is_refused_and_cannot_read_the_token(home: Path) -> None:
    store = _store_sentry(home)
    with ServeProcess(_env(home), home) as served:
        token_file = _token_file(home)
        attack = subprocess.run([*_as_nobody(), _system_python(), "-c", ATTACK, served.url, str(token_file)],
                                capture_output=True, text=True, timeout=120, cwd="/")
        assert attack.returncode == 0, attack.stderr
        tried = json.loads(attack.stdout)
        # The owner, with the link devtrack serve printed on their terminal, gets in.
        link = LOGIN_RE.search(served.out)
        assert link, served.out
        with httpx.Client(base_url=served.url, timeout=30) as owner:
            assert owner.get(link.group(1)).status_code == 303
            listed = owner.get("/api/v1/integrations")
    assert tried == {
        "uid": NOBODY,
        "read_token_file": "PermissionError",
        "session": 401, "list": 401, "page": 303,  # the page sends it to /login
        "point_sentry_elsewhere": 401, "press_test": 401, "guessed_link": 401, "wrong_bearer": 401,
    }
    assert listed.status_code == 200 and {p["id"] for p in listed.json()} >= {"sentry"}
    assert "base_url" not in store.read()["integrations"]["sentry"]["credentials"]  # nothing was changed
    # What kept the other account out: the file and its directory are the owner's alone.
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    assert token_file.stat().st_uid == os.getuid()


def test_the_login_link_sets_the_cookie_and_leaves_the_token_behind(home: Path) -> None:
    with ServeProcess(_env(home), home, "-v") as served:
        token = access.load({}, _token_file(home)).value  # what the file holds, as a script reads it
        leakscan.add_secrets(token)
        link = served.wait_for(LOGIN_RE).group(1)
        assert link == f"{served.url}/login?token={token}"
        with httpx.Client(base_url=served.url, timeout=30) as http:
            assert http.get("/api/v1/integrations").status_code == 401
            wrong = http.get("/login", params={"token": "dta-not-it", "next": "/settings/ai"})
            assert wrong.status_code == 401 and "devtrack serve" in wrong.text
            r = http.get(link + "&next=/settings/ai")
            assert r.status_code == 303 and r.headers["location"] == "/settings/ai"  # the token is gone from the URL
            assert token not in r.headers["set-cookie"]  # the cookie is derived, not the token
            assert http.get("/api/v1/integrations").status_code == 200
            page = http.get("/settings/ai")
            assert page.status_code == 200 and token not in page.text
            # Only a path on this server: never another host.
            for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
                assert http.get(f"{link}&next={quote(target, safe='')}").headers["location"] == "/", target
        with httpx.Client(base_url=served.url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as script:
            assert script.get("/api/v1/integrations").status_code == 200
        logs = served.out.replace(link, "", 1) + served.err  # printed once, on the terminal; -v logs mask it
    assert "GET /login?token=" in logs and token not in logs


def test_redirected_output_gets_the_path_not_the_token(home: Path) -> None:
    with ServeProcess(_env(home), home, tty=False) as served:
        token = access.load({}, _token_file(home)).value
        leakscan.add_secrets(token)
        printed = served.out
        leakscan.record("cli output", printed + served.err)
        with httpx.Client(base_url=served.url, timeout=30) as http:
            assert http.get("/api/v1/integrations").status_code == 401
            assert http.get("/api/v1/integrations", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in printed + served.err
    assert str(_token_file(home)) in _flat(printed).replace(" ", "") or str(_token_file(home)) in printed
    assert "devtrack serve --print-token" in _flat(printed)


def test_print_token_is_what_the_server_requires_and_is_made_once(home: Path) -> None:
    env = _env(home)
    argv = [sys.executable, "-m", "devtrack.cli.app", "serve", "--print-token"]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    leakscan.add_secrets(first.stdout.strip())
    leakscan.allow(first.stdout)
    assert first.returncode == 0 and first.stdout == again.stdout and first.stdout.startswith(access.PREFIX)
    assert _token_file(home).read_text() == first.stdout
    with ServeProcess(env, home, tty=False) as served:
        r = httpx.get(served.url + "/api/v1/integrations", timeout=30,
                      headers={"Authorization": f"Bearer {first.stdout.strip()}"})
        assert r.status_code == 200


def test_the_environment_token_is_the_token_and_no_file_is_made(home: Path) -> None:
    """Scripts that set DEVTRACK_ACCESS_TOKEN keep working, on loopback as off it."""
    token = "scripted-ACCESS-token-5e4d3c2b1a"
    leakscan.add_secrets(token)
    with ServeProcess(_env(home, DEVTRACK_ACCESS_TOKEN=token), home) as served:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            assert http.get("/api/v1/integrations").status_code == 401
            assert http.get("/api/v1/integrations", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    leakscan.record("cli output", served.out + served.err)
    assert token not in served.out + served.err  # you set it: it is not printed back
    assert "access token you set" in _flat(served.out)
    assert not _token_file(home).exists()


def test_no_auth_is_loud_and_loopback_only(home: Path) -> None:
    with ServeProcess(_env(home), home, "--no-auth", tty=False) as served:
        assert httpx.get(served.url + "/api/v1/integrations", timeout=30).status_code == 200
    assert "--no-auth" in served.err and "Every account and program on this machine" in _flat(served.err)
    for argv in (["--no-auth", "--host", "0.0.0.0"], ["--no-auth", "--token", "some-ACCESS-token-1234"]):
        proc = subprocess.run([sys.executable, "-m", "devtrack.cli.app", "serve", "--port", "0", *argv],
                              env=_env(home), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, argv
        said = _flat(proc.stderr)
        assert "Traceback" not in said and ("only for 127.0.0.1" in said or "drop one" in said), said
        assert "running at" not in proc.stdout


def test_a_token_file_others_could_read_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "devtrack" / access.FILE_NAME
    made = access.load({}, path)
    assert made.origin == "file" and made.notice is None and access.load({}, path).value == made.value
    path.chmod(0o644)
    replaced = access.load({}, path)
    assert replaced.value != made.value and "readable by other accounts" in (replaced.notice or "")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("\n")
    path.chmod(0o600)
    assert access.load({}, path).value not in ("", made.value, replaced.value)


def test_a_token_file_of_another_account_or_a_link_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "devtrack" / access.FILE_NAME
    path.parent.mkdir()
    (tmp_path / "elsewhere").write_text("dta-planted-token-0123456789abcdef\n")
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(access.AccessTokenError, match="symbolic link; remove it"):
        access.load({}, path)
    path.unlink()
    if os.geteuid() != 0:
        return  # giving a file to another account needs root
    path.write_text("dta-planted-token-0123456789abcdef\n")
    path.chmod(0o600)
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(access.AccessTokenError, match="belongs to another account"):
        access.load({}, path)


def test_create_app_refuses_to_build_an_open_server_by_omission() -> None:
    with pytest.raises(ValueError, match="access_token"):
        create_app()
    with pytest.raises(ValueError):
        create_app(access_token="some-ACCESS-token-1234", no_auth=True)
