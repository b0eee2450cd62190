"""``devtrack sandbox`` end to end, as a user runs it: a subprocess, an env file, a signal."""

from __future__ import annotations

import json
import os
import shutil
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
    assert set(env) == {"DEVTRACK_SANDBOX_PID", "DEVTRACK_CREDENTIALS", "DEVTRACK_VERCEL_BASE_URL",
                        "DEVTRACK_SUPABASE_BASE_URL"}
    assert env["DEVTRACK_SANDBOX_PID"] == str(proc.pid)
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
    assert not creds.exists()  # its own state is removed...
    assert not env_file.exists()  # ...and so is the env file that pointed at it
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


def wait_for_owner(path: Path, proc: subprocess.Popen[str], timeout: float) -> None:
    """Wait until the env file at ``path`` is the one ``proc`` wrote (it may replace a stale one)."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and f"DEVTRACK_SANDBOX_PID={proc.pid}\n" in path.read_text()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the env file never named pid {proc.pid}: {proc.communicate()[1]}")
        time.sleep(0.05)


def run_with(loaded: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A ``devtrack`` command in a shell that loaded an env file (and has no other DevTrack settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_")} | loaded
    return subprocess.run([*DEVTRACK, *args], capture_output=True, text=True, timeout=60, env=env)


def assert_warned_stale(proc: subprocess.CompletedProcess[str], pid: int) -> None:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"warning: the sandbox this environment names (DEVTRACK_SANDBOX_PID={pid}) "
                               "is not running"), lines[0]
    assert "run `unset DEVTRACK_SANDBOX_PID DEVTRACK_CREDENTIALS DEVTRACK_VERCEL_BASE_URL`" in lines[0]
    assert "start `devtrack sandbox --env-file PATH` again and reload the file" in lines[0]


def test_a_stale_env_file_is_replaced_and_a_shell_holding_one_is_warned(tmp_path: Path) -> None:
    first, env_file = start(tmp_path, "--services", "vercel")
    wait_for_owner(env_file, first, 30)
    loaded = load_env(env_file)
    running = run_with(loaded, "integrations", "list", "--json")
    assert running.returncode == 0 and running.stderr == "", running.stderr  # no warning while it runs
    first.kill()  # SIGKILL: nothing can clean up, the env file and the credentials stay behind
    first.communicate(timeout=20)
    assert env_file.exists() and Path(loaded["DEVTRACK_CREDENTIALS"]).exists()
    stale = run_with(loaded, "integrations", "list", "--json")
    assert stale.returncode == 0 and json.loads(stale.stdout)  # a warning, and the command still works
    assert_warned_stale(stale, first.pid)

    second, _ = start(tmp_path, "--services", "vercel")  # the same path: the stale file is replaced
    try:
        wait_for_owner(env_file, second, 30)
        reloaded = load_env(env_file)
        assert reloaded["DEVTRACK_SANDBOX_PID"] == str(second.pid)
    finally:
        stop(second, signal.SIGTERM)
        shutil.rmtree(Path(loaded["DEVTRACK_CREDENTIALS"]).parent, ignore_errors=True)
    assert not env_file.exists()
    assert_warned_stale(run_with(reloaded, "status", "--json"), second.pid)


def test_env_file_never_replaces_a_file_the_sandbox_did_not_write(tmp_path: Path) -> None:
    mine = tmp_path / ".env"
    mine.write_text("MY_SETTING=1\n")
    proc = subprocess.run([*DEVTRACK, "sandbox", "--services", "vercel", "--env-file", str(mine)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{mine} exists and was not written by devtrack sandbox; not replaced (pick another --env-file)" \
        in " ".join(proc.stderr.split())
    assert "sandbox ready" not in proc.stderr and "Traceback" not in proc.stderr
    assert mine.read_text() == "MY_SETTING=1\n"


def test_git_ignores_sandbox_env_here_and_in_a_project_after_init(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    init = subprocess.run([*DEVTRACK, "init", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    ignored = subprocess.run(["git", "check-ignore", "-q", "sandbox.env"], cwd=tmp_path)
    assert ignored.returncode == 0
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run(["git", "check-ignore", "-q", "--no-index", "sandbox.env"], cwd=root).returncode == 0
