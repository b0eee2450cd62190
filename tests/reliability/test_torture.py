"""Credential-store torture: writers in several processes for a minute, killed at random.

The file must always parse, keep mode 0600, and hold every write that was acknowledged
(the writer returned) before its process died. The store is a project's, after
``devtrack init``: every temp copy a killed writer leaves must be ignored by git, and the next
write must remove them all.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtrack.credentials import CredentialStore, init_project

from .report import write

SECONDS = float(os.environ.get("DEVTRACK_TORTURE_SECONDS", "60"))
WRITERS = 4

WORKER = r"""
import os, sys
from devtrack.credentials import CredentialStore
path, name, start, acks = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = CredentialStore(path)
fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
n = start
while True:
    def change(doc, n=n):
        entry = doc["integrations"].setdefault(name, {"enabled": True, "credentials": {}})
        entry["credentials"][f"k{n}"] = f"secret-value-{name}-{n}"
    store.update(change)
    os.write(fd, f"{n}\n".encode())  # acknowledged only after update() returned
    os.fsync(fd)
    n += 1
"""


def _acked(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(x) for x in path.read_text().split() if x.strip().isdigit()]


@pytest.mark.slow
def test_store_survives_random_kills(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    store, _ = init_project(repo)
    rng = random.Random(20261124)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    kills = checks = 0
    seen: set[str] = set()  # temp copies present right after a kill (a killed or a live writer's)

    def start(name: str) -> None:
        acks = tmp_path / f"{name}.acks"
        nxt = max(_acked(acks), default=-1) + 1
        procs[name] = subprocess.Popen([sys.executable, "-c", WORKER, str(store), name, str(nxt), str(acks)])

    for i in range(WRITERS):
        start(f"w{i}")
    ends = time.monotonic() + SECONDS
    problems: list[str] = []
    try:
        while time.monotonic() < ends:
            time.sleep(rng.uniform(0.05, 0.5))
            victim = rng.choice(sorted(procs))
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            kills += 1
            seen.update(p.name for p in CredentialStore(store).temp_files())
            start(victim)
            if store.exists():
                checks += 1
                try:
                    json.loads(store.read_text())
                except ValueError as exc:
                    problems.append(f"unparsable after kill {kills}: {exc}")
                if stat.S_IMODE(store.stat().st_mode) != 0o600:
                    problems.append(f"mode {stat.S_IMODE(store.stat().st_mode):o} after kill {kills}")
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGKILL)
            p.wait()
    left = CredentialStore(store).temp_files()
    seen.update(p.name for p in left)
    ignored = subprocess.run(["git", "check-ignore", "--", *seen], cwd=repo,
                             capture_output=True, text=True, check=False).stdout.split() if seen else []
    CredentialStore(store).update(lambda doc: None)  # the next write
    left_after = CredentialStore(store).temp_files()
    doc = json.loads(store.read_text())
    acked = lost = 0
    for i in range(WRITERS):
        name = f"w{i}"
        creds = doc["integrations"].get(name, {}).get("credentials", {})
        for n in _acked(tmp_path / f"{name}.acks"):
            acked += 1
            if creds.get(f"k{n}") != f"secret-value-{name}-{n}":
                lost += 1
    mode = stat.S_IMODE(store.stat().st_mode)
    write("torture", "\n".join([
        "credential-store torture",
        f"writers: {WRITERS} processes for {SECONDS:g} s, {kills} killed at random (SIGKILL) and restarted",
        f"file checked after each kill: {checks} times, {len([p for p in problems if 'unparsable' in p])} unparsable",
        f"acknowledged writes: {acked}, lost: {lost}",
        f"final mode: {mode:o}",
        f"temp copies seen after kills: {len(seen)}, ignored by git: {len(ignored)}; "
        f"left at the end: {len(left)}, after the next write: {len(left_after)}",
        "result: " + ("PASS" if not problems and not lost and mode == 0o600 and acked
                      and len(ignored) == len(seen) and not left_after else "FAIL"),
    ]))
    assert not problems, problems[:5]
    assert acked > 0 and kills > 0
    assert lost == 0
    assert mode == 0o600
    assert sorted(ignored) == sorted(seen), sorted(seen - set(ignored))
    assert left_after == []
