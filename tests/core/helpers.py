"""Helpers for core tests: run the real CLI in a subprocess and scan its output for secrets."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any


def run_cli(*args: str, env: Mapping[str, str] | None = None, input: str | None = None,
            cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``devtrack ARGS`` as a user would run it (a fresh process, the real console script)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "200")
    return subprocess.run(
        [sys.executable, "-m", "devtrack", *args],
        capture_output=True, text=True, env=full_env, input=input, cwd=cwd, timeout=timeout,
    )


#: Variables that point the GitHub plugin at a repository; a detached run leaves them out.
GITHUB_VARS = ("DEVTRACK_GITHUB_PATH", "DEVTRACK_GITHUB_REPO", "GIT_DIR")


def run_detached(*args: str, input: str | None = None, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``devtrack ARGS`` in a new session: no controlling terminal, as in CI or a cron job.

    Without this, ``getpass`` run from a developer's terminal would read /dev/tty instead of
    the pipe, and the test would not see what a script sees.
    """
    full_env = {k: v for k, v in os.environ.items() if k not in GITHUB_VARS} | {"COLUMNS": "200"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "devtrack", *args], input=input, capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=60, start_new_session=True)


def assert_no_secret(texts: Iterable[str], secrets: Iterable[str]) -> None:
    import base64
    from urllib.parse import quote

    for text in texts:
        for s in secrets:
            for form in {s, quote(s, safe=""), base64.b64encode(s.encode()).decode()}:
                assert form not in text, f"secret leaked in output: {text[:300]!r}"


def json_shape(value: object) -> object:
    """A JSON document with every string replaced by one marker: keys, numbers, booleans and
    null kept, to compare what redaction may and may not change."""
    if isinstance(value, dict):
        return {k: json_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_shape(v) for v in value]
    return "<str>" if isinstance(value, str) else value


def json_strings(value: object) -> list[str]:
    """Every string value of a JSON document (keys left out), in order."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in json_strings(v)]
    return [value] if isinstance(value, str) else []


def run_writers(target: Callable[..., None], path: str, workers: int, count: int) -> list[Any]:
    """Run ``target(path, worker, count, acks)`` in ``workers`` spawned processes at once and
    return every acknowledgement they put on ``acks`` (each must exit 0)."""
    ctx = mp.get_context("spawn")
    acks: Any = ctx.Queue()
    procs = [ctx.Process(target=target, args=(path, w, count, acks)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    return [acks.get(timeout=5) for _ in range(workers * count)]
