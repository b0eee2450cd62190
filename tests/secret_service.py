"""A real Secret Service for tests: a private D-Bus session bus and gnome-keyring on it.

The fixture ``secret_service`` starts ``dbus-daemon --session`` and ``gnome-keyring-daemon``
(secrets component, its login keyring created and unlocked with a known password) in a temp
HOME, and points this test's environment at that bus, so every ``devtrack`` subprocess the test
runs talks to it through the ``keyring`` library as on a desktop. ``./dev test`` installs both
(Debian packages dbus-daemon, gnome-keyring, libsecret-tools for ``secret-tool``, which the
tests use to look at the keychain independently of DevTrack).

``no_keychain`` is the other world: no session bus at all, as on a headless server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import leakscan

PASSWORD = "keyring-test-password"
_BUS_VARS = ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND")


@dataclass
class SecretService:
    env: dict[str, str]

    def lookup(self, account: str) -> str | None:
        """The keychain's value for ``devtrack``/``account``, read with ``secret-tool``."""
        proc = subprocess.run(["secret-tool", "lookup", "service", "devtrack", "username", account],
                              env={**os.environ, **self.env}, capture_output=True, text=True, timeout=20)
        leakscan.allow(proc.stdout)  # the test reads the keychain on purpose
        return proc.stdout if proc.returncode == 0 and proc.stdout else None

    def accounts(self) -> dict[str, str]:
        """Every ``devtrack`` entry: account -> value."""
        proc = subprocess.run(["secret-tool", "search", "--all", "--unlock", "service", "devtrack"],
                              env={**os.environ, **self.env}, capture_output=True, text=True, timeout=20)
        out = proc.stdout + proc.stderr  # secret-tool prints attributes on stderr, secrets on stdout
        leakscan.allow(proc.stdout)
        leakscan.allow(proc.stderr)
        found: dict[str, str] = {}
        secrets = [line.split(" = ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("secret = ")]
        users = [line.split(" = ", 1)[1] for line in out.splitlines() if line.startswith("attribute.username = ")]
        for user, secret in zip(users, secrets):
            found[user] = secret
        return found


def _wait_for_name(env: dict[str, str], name: str, deadline: float) -> None:
    while True:
        proc = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/",
             "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
            env=env, capture_output=True, text=True, timeout=10)
        if "boolean true" in proc.stdout:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not appear on the test bus: {proc.stderr}")
        time.sleep(0.05)


@pytest.fixture
def secret_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretService]:
    for tool in ("dbus-daemon", "gnome-keyring-daemon", "secret-tool", "dbus-send"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: ./dev test installs it (dbus-daemon, gnome-keyring, libsecret-tools)")
    home = tmp_path / "home"
    runtime = Path(tempfile.mkdtemp(prefix="dt-run-"))  # short: a socket path has a length limit
    (home / ".local" / "share").mkdir(parents=True)
    os.chmod(runtime, 0o700)
    base = {k: v for k, v in os.environ.items() if k not in _BUS_VARS}
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1", f"--address=unix:dir={runtime}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=base)
    daemon: subprocess.Popen[bytes] | None = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        env = {"DBUS_SESSION_BUS_ADDRESS": address, "HOME": str(home),
               "XDG_DATA_HOME": str(home / ".local" / "share"), "XDG_RUNTIME_DIR": str(runtime)}
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**base, **env})
        assert daemon.stdin is not None
        daemon.stdin.write(PASSWORD.encode())
        daemon.stdin.close()
        _wait_for_name({**base, **env}, "org.freedesktop.secrets", time.monotonic() + 30)
        monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield SecretService(env)
    finally:
        for proc in (daemon, bus):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def no_keychain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No session bus and a fresh HOME: ``keyring`` finds no keychain, as on a headless box."""
    home = tmp_path / "bare-home"
    home.mkdir()
    for key in _BUS_VARS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    return {"HOME": str(home)}
