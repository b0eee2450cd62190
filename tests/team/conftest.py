"""Several real ``devtrack serve`` processes on one PostgreSQL store, against the sandbox: the
same credentials file (written by the sandbox), short intervals for Vercel and Sentry (the
others an hour), ``--no-auth`` on loopback; helpers to read the store and the event streams."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtrack.sandbox import Sandbox
from devtrack.views.coordinator import interval_env
from devtrack.views.store import SnapshotStore, open_store
from tests.web.serve_proc import ServeProcess

PLUGINS = ["github", "vercel", "sentry", "cloudflare", "supabase", "upstash", "aws-ec2", "helicone", "netlify"]
INSTANCE_RE = re.compile(r"instance (\S+) \(id ([0-9a-f]+)\)")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def until(check: Any, timeout: float = 60.0, every: float = 0.1) -> Any:
    """``check()``'s first truthy value, polled until ``timeout`` (then its last value)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return check()


class Member:
    """One running instance: its process, URL and team identity."""

    def __init__(self, proc: ServeProcess) -> None:
        self.proc = proc
        self.url = proc.url
        match = proc.wait_for(INSTANCE_RE)
        self.name, self.id = match.group(1), match.group(2)
        self._client = httpx.Client(base_url=self.url, timeout=30)
        self._csrf: str | None = None

    def post(self, path: str) -> httpx.Response:
        """A POST as this server's own page sends it: its origin, the session's CSRF token."""
        if self._csrf is None:
            page = self._client.get("/alerts")
            found = CSRF_RE.search(page.text)
            assert found, page.text[:500]
            self._csrf = found.group(1)
        return self._client.post(path, headers={"origin": self.url, "x-csrf-token": self._csrf})

    def get(self, path: str) -> Any:
        r = httpx.get(self.url + path, timeout=30)
        r.raise_for_status()
        return r.json()

    def kill(self) -> None:
        assert self.proc.proc is not None
        self.proc.proc.kill()
        self.proc.proc.wait(30)

    def stop(self) -> None:
        self.proc.__exit__(None, None, None)
        self._client.close()


class Stream:
    """An instance's ``/api/v1/events`` read on a thread: ``(kind, data)`` in arrival order."""

    def __init__(self, member: Member) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.connected = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(member.url,), daemon=True).start()
        assert self.connected.wait(30), "the event stream did not open"

    def _read(self, url: str) -> None:
        kind = None
        try:
            with httpx.stream("GET", url + "/api/v1/events", timeout=None) as r:
                for line in r.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind:
                        with self._lock:
                            self.events.append((kind, json.loads(line[6:])))
        except httpx.HTTPError:
            pass  # the instance stopped

    def of(self, kind: str, connection: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [d for k, d in self.events if k == kind and (connection is None or d.get("connection") == connection)]


class Team:
    """Starts instances on one store; stops (SIGTERM) those still running at the end."""

    def __init__(self, sb: Sandbox, store_url: str, workdir: Path, intervals: dict[str, float]) -> None:
        self.sb, self.store_url, self.workdir = sb, store_url, workdir
        self.credentials = sb.write_credentials(workdir / "credentials.json")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_")}
        env |= sb.env() | {"DEVTRACK_CREDENTIALS": str(self.credentials), "DEVTRACK_STORE_URL": store_url}
        env |= {interval_env(p): str(intervals.get(p, 3600)) for p in PLUGINS}
        self.env = env
        self.members: list[Member] = []
        self._count = 0
        self.store: SnapshotStore = open_store(store_url)

    def start(self, n: int) -> list[Member]:
        """``n`` instances started at once; each has printed which instance it is."""
        def one(i: int) -> Member:
            wd = self.workdir / f"instance-{i}"
            wd.mkdir()
            return Member(ServeProcess(self.env, wd, "--no-auth", tty=False).__enter__())

        first = self._count
        self._count += n
        with ThreadPoolExecutor(n) as pool:
            started = list(pool.map(one, range(first, first + n)))
        self.members += started
        return started

    def snapshots(self, key: str) -> list[float]:
        """Fetch times of a key's snapshots, oldest first."""
        return [float(t) for (t,) in self.store.query(
            "SELECT fetched_at FROM snapshots WHERE plugin = ? ORDER BY fetched_at", (key,))]

    def holder(self, key: str) -> str | None:
        """The id of the instance holding a key's lease now."""
        from devtrack.views.leases import Leases

        row = Leases(self.store).read(key).get(key)
        return row.holder if row is not None and row.held else None

    def diagnose(self, keys: tuple[str, ...]) -> str:
        """What a failed wait shows: the keys' last snapshots, the lease rows, each log's end."""
        from devtrack.views.leases import Leases

        rows = Leases(self.store).read()
        lines = [f"{k}: snapshots {self.snapshots(k)[-3:]} lease {rows.get(k)}" for k in keys]
        for m in self.members:
            lines.append(f"--- {m.name} ({m.id}), exit {m.proc.proc.poll() if m.proc.proc else None}:\n"
                         f"{m.proc.err[-3000:]}")
        return "\n".join(lines)

    def member(self, instance_id: str | None) -> Member:
        return next(m for m in self.members if m.id == instance_id)

    def requests(self, services: tuple[str, ...], since: float, until: float | None = None) -> int:
        end = until if until is not None else float("inf")
        return sum(1 for s in services for r in self.sb.emulator(s).requests.all() if since <= r.time < end)

    def close(self) -> None:
        for m in self.members:
            m.stop()
        self.store.close()


@pytest.fixture
def team_factory(sb: Sandbox, pg_url: str, tmp_path: Path) -> Iterator[Any]:
    made: list[Team] = []

    def make(**intervals: float) -> Team:
        t = Team(sb, pg_url, tmp_path, {k.replace("_", "-"): v for k, v in intervals.items()})
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()
