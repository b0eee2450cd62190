"""``devtrack sandbox`` end to end, as a user runs it: a subprocess, an env file, a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

DEVTRACK = [sys.executable, "-m", "devtrack.cli.app"]


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    env_file = tmp_path / "sandbox.env"
    proc = subprocess.Popen([*DEVTRACK, "sandbox", "--env-file", str(env_file), "--seed", "4", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"})
    return proc, env_file


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"sandbox exited early: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the env file never appeared")
        time.sleep(0.05)


def load_env(path: Path) -> dict[str, str]:
    """What a shell gets from ``set -a; . PATH``."""
    out = subprocess.run(["bash", "-c", f'set -a; . "{path}"; env -0'], capture_output=True, check=True,
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    pairs = (item.partition("=") for item in out.stdout.decode().split("\0") if item)
    return {k: v for k, _, v in pairs if k.startswith("DEVTRACK_")}


def stop(proc: subprocess.Popen[str], how: int) -> tuple[str, str]:
    proc.send_signal(how)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err
    return out, err


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_env_file_is_loadable_and_every_emulator_answers(tmp_path: Path, how: int) -> None:
    proc, env_file = start(tmp_path, "--services", "vercel,supabase")
    wait_for(env_file, proc, 30)
    env = load_env(env_file)
    assert set(env) == {"DEVTRACK_CREDENTIALS", "DEVTRACK_VERCEL_BASE_URL", "DEVTRACK_SUPABASE_BASE_URL"}
    creds = Path(env["DEVTRACK_CREDENTIALS"])
    assert creds.is_file() and oct(creds.stat().st_mode & 0o777) == "0o600"
    from devtrack.credentials import CredentialStore

    doc = CredentialStore(creds).read()
    token = doc["integrations"]["vercel"]["credentials"]["token"]
    r = httpx.get(env["DEVTRACK_VERCEL_BASE_URL"] + "/v2/user", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200  # listening as soon as the file exists
    sb_token = doc["integrations"]["supabase"]["credentials"]["access_token"]
    r = httpx.get(env["DEVTRACK_SUPABASE_BASE_URL"] + "/v1/projects", headers={"Authorization": f"Bearer {sb_token}"})
    assert r.status_code == 200 and r.json()
    out, err = stop(proc, how)
    assert "vercel" in out and "127.0.0.1:" in out and "sandbox stopped" in err
    assert token not in out + err and sb_token not in out + err
    assert not creds.exists()  # its own state is removed
    with pytest.raises(httpx.ConnectError):
        httpx.get(env["DEVTRACK_VERCEL_BASE_URL"] + "/v2/user", timeout=1)


def test_all_services_start_and_answer(tmp_path: Path) -> None:
    proc, env_file = start(tmp_path)
    wait_for(env_file, proc, 150)
    env = load_env(env_file)
    urls = {k: v for k, v in env.items() if k.endswith("_BASE_URL")}
    assert {"DEVTRACK_VERCEL_BASE_URL", "DEVTRACK_SUPABASE_BASE_URL", "DEVTRACK_AWS_EC2_BASE_URL"} <= set(urls)
    for key, url in urls.items():
        root = url.split("/", 3)
        health = httpx.get("/".join(root[:3]) + "/__sandbox/health", timeout=10, verify=False)
        assert health.status_code == 200, key
    stop(proc, signal.SIGTERM)


def test_bad_scale_knob_is_a_clean_error(tmp_path: Path) -> None:
    proc = subprocess.run([*DEVTRACK, "sandbox", "--services", "vercel", "--scale", "vercel_nope=3"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "vercel_nope" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
