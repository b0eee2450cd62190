"""The credential store: atomic, locked, never overwrites what it cannot read."""

from __future__ import annotations

import json
import multiprocessing as mp
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devtrack.credentials import CredentialStore, StoreCorrupt, init_project, resolve_path

from .helpers import run_writers


def _writer(path: str, worker: int, count: int, acks: "mp.Queue[tuple[int, int]]") -> None:
    store = CredentialStore(path)
    for i in range(count):
        def change(doc: dict, i: int = i) -> None:
            doc["integrations"].setdefault(f"w{worker}", {"credentials": {}})["credentials"][f"k{i}"] = f"v{i}"
        store.update(change)
        acks.put((worker, i))


def test_concurrent_writers_lose_no_acknowledged_write(tmp_path: Path) -> None:
    path = str(tmp_path / "c.json")
    acked = run_writers(_writer, path, workers=4, count=25)
    doc = json.loads(Path(path).read_text())
    for worker, i in acked:
        assert doc["integrations"][f"w{worker}"]["credentials"][f"k{i}"] == f"v{i}"
    assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600


def test_killed_mid_write_leaves_previous_file_intact(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    store = CredentialStore(path)
    store.update(lambda d: d["integrations"].setdefault("vercel", {"credentials": {"token": "old-token-123456"}}))
    before = path.read_bytes()
    # A writer that stalls after writing its temp file but before the rename, then is killed.
    code = textwrap.dedent(f"""
        import os, time, sys
        from devtrack.credentials import CredentialStore
        real_fsync = os.fsync
        def slow_fsync(fd):
            real_fsync(fd)
            print("WRITING", flush=True)
            time.sleep(60)
        os.fsync = slow_fsync
        CredentialStore({str(path)!r}).update(lambda d: d["integrations"]["vercel"]["credentials"].update(token="x" * 5000))
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "WRITING"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert path.read_bytes() == before
    assert json.loads(path.read_text())["integrations"]["vercel"]["credentials"]["token"] == "old-token-123456"
    # The lock died with the process: the next writer proceeds.
    store.update(lambda d: d["integrations"]["vercel"]["credentials"].update(team_id="t"))
    assert json.loads(path.read_text())["integrations"]["vercel"]["credentials"]["team_id"] == "t"


def test_failed_change_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    store = CredentialStore(path)
    store.update(lambda d: d["ai_proxy"].update(a=1))
    before = path.read_bytes()

    def boom(doc: dict) -> None:
        doc["ai_proxy"]["a"] = 2
        raise RuntimeError("validation failed")

    with pytest.raises(RuntimeError):
        store.update(boom)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"[1,2]", b"{not json", b"\xff\xfe", b'{"version": 1, "integrations": []}'])
def test_corrupt_file_raises_and_is_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(content)
    store = CredentialStore(path)
    with pytest.raises(StoreCorrupt, match="fix or move it away"):
        store.update(lambda d: None)
    assert path.read_bytes() == content


def test_legacy_flat_layout_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"vercel": {"token": "abc"}, "ai": {"openai": "sk-1"}}))
    doc = CredentialStore(path).read()
    assert doc["integrations"]["vercel"]["credentials"] == {"token": "abc"}
    assert doc["ai_providers"] == {"openai": "sk-1"}


def test_resolve_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    sub = project / "src" / "pkg"
    sub.mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    env: dict[str, str] = {}
    assert resolve_path(sub, env) == tmp_path / "cfg" / "devtrack" / "credentials.json"
    (project / ".credentials.json").write_text("{}")
    assert resolve_path(sub, env) == project / ".credentials.json"
    env["DEVTRACK_CREDENTIALS"] = str(tmp_path / "x.json")
    assert resolve_path(sub, env) == tmp_path / "x.json"


def test_init_creates_file_and_gitignore(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("node_modules")
    path, done = init_project(tmp_path)
    assert path == tmp_path / ".credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ignore = (tmp_path / ".gitignore").read_text().splitlines()
    assert ".credentials.json" in ignore and "node_modules" in ignore
    ignored = subprocess.run(["git", "check-ignore", ".credentials.json"], cwd=tmp_path, capture_output=True)
    assert ignored.returncode == 0
    init_project(tmp_path)  # idempotent
    assert (tmp_path / ".gitignore").read_text().count(".credentials.json\n") == 1


def test_tracked_file_warns(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    path = tmp_path / ".credentials.json"
    CredentialStore(path).update(lambda d: None)
    subprocess.run(["git", "add", "-f", ".credentials.json"], cwd=tmp_path, check=True)
    warnings = CredentialStore(path).warnings()
    assert any("tracked by git" in w for w in warnings)


def test_a_reread_of_the_same_bytes_is_a_fresh_copy_and_any_change_is_checked_again(tmp_path: Path) -> None:
    """The strict checks run once per distinct file content (reads of unchanged bytes reuse
    them); what a caller does to its copy never reaches the next read."""
    path = tmp_path / "c.json"
    store = CredentialStore(path)
    store.update(lambda d: d["integrations"].setdefault("vercel", {"enabled": True, "credentials": {"token": "t-1"}}))
    first = store.read()
    first["integrations"]["vercel"]["credentials"]["token"] = "changed in memory"
    assert store.read()["integrations"]["vercel"]["credentials"]["token"] == "t-1"
    # an edit by hand (same length, so only the bytes tell) is seen, and checked
    path.write_text(path.read_text().replace('"t-1"', '"t-2"'))
    assert store.read()["integrations"]["vercel"]["credentials"]["token"] == "t-2"
    text = path.read_text()
    path.write_text(text.replace('"enabled": true', '"enabled": NaN'))
    with pytest.raises(StoreCorrupt, match="NaN"):
        store.read()
    path.write_text(text)
    assert store.read()["integrations"]["vercel"]["credentials"]["token"] == "t-2"
