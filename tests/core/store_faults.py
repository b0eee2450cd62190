"""Ways to make the credential store fail for real, shared by its focused tests and the web
safety table: a writer killed mid-save, a project after ``devtrack init``, a tiny tmpfs that
fills up or goes read-only, and a reader of the CLI's ``--json`` store errors."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .helpers import run_cli

#: What a project holds after ``devtrack init`` and one save, besides any leftover.
PROJECT_FILES = (".git", ".gitignore", ".credentials.json", ".credentials.json.lock")

KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    from devtrack.credentials import CredentialStore
    real_fsync = os.fsync
    def stall(fd):  # the temp file is complete and durable; the rename has not happened
        real_fsync(fd)
        print("WRITTEN", flush=True)
        time.sleep(60)
    os.fsync = stall
    CredentialStore(sys.argv[1]).update(
        lambda d: d["integrations"]["vercel"]["credentials"].update(team_id="team_killed"))
""")


class NoTmpfs(Exception):
    """A tmpfs cannot be mounted here; the message says why (a reason to skip, not a failure)."""


def kill_mid_save(store: Path) -> None:
    """Run a writer and SIGKILL it between the temp file's fsync and its rename."""
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(store)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "WRITTEN"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)


def leftovers(directory: Path, *known: str) -> list[str]:
    """The names in ``directory`` other than ``known``: what a failed or killed save left."""
    return sorted(p.name for p in directory.iterdir() if p.name not in known)


def init_project(repo: Path, token: str) -> Path:
    """A real git repository after ``devtrack init``, holding one saved Vercel ``token``."""
    repo.mkdir()
    git(repo, "init", "-q")
    env = {"DEVTRACK_CREDENTIALS": ""}  # resolve the store as a user would: the project's file
    out = run_cli("init", "--json", cwd=repo, env=env)
    assert out.returncode == 0, out.stderr
    out = run_cli("integrations", "set", "vercel", f"token={token}", "--json", cwd=repo, env=env)
    assert out.returncode == 0, out.stderr
    return repo


def saved_store(directory: Path, token: str) -> tuple[Path, dict[str, str]]:
    """A store in ``directory`` saved by the CLI, and the environment that points the CLI at it."""
    store = directory / "credentials.json"
    env = {"DEVTRACK_CREDENTIALS": str(store)}
    out = run_cli("integrations", "set", "vercel", f"token={token}", "--json", env=env)
    assert out.returncode == 0, out.stderr
    return store, env


def plant_lock_symlink(store: Path, precious: str = "precious\n") -> tuple[Path, Path]:
    """Replace the store's lock file by a symlink to a victim file holding ``precious``, as
    another local user could plant it; returns (lock, victim)."""
    victim = store.parent / "victim.txt"
    victim.write_text(precious)
    lock = store.parent / f"{store.name}.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)
    return lock, victim


def store_error(out: subprocess.CompletedProcess[str]) -> str | None:
    """The message of a clean ``--json`` store failure (exit 1, no traceback, ``kind: config``),
    or None when the CLI failed in any other way (or did not fail)."""
    if "Traceback" in out.stderr or out.returncode != 1:
        return None
    try:
        body = json.loads(out.stdout)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) and body.get("ok") is False else None
    if not isinstance(error, dict) or error.get("kind") != "config" or not isinstance(error.get("message"), str):
        return None
    return error["message"]


@contextmanager
def small_tmpfs(mnt: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs at ``mnt``, so "disk full" and "read-only" are the kernel's answers
    even for root. Mounting needs root with CAP_SYS_ADMIN; where it is not allowed this raises
    :class:`NoTmpfs` with the reason."""
    mnt.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
                              capture_output=True, text=True, check=False)
    except OSError as exc:
        raise NoTmpfs(f"cannot run mount here: {exc}") from exc
    if done.returncode != 0:
        raise NoTmpfs(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def remount(mnt: Path, mode: str) -> None:
    """Make the tmpfs at ``mnt`` read-only (``"ro"``) or writable again (``"rw"``)."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mnt)], check=True)


def fill(mnt: Path, name: str = "filler") -> None:
    """Write to ``mnt`` until the kernel answers ENOSPC."""
    fd = os.open(mnt / name, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
