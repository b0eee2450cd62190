"""Helpers for core tests: run the real CLI in a subprocess and scan its output for secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path


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


def assert_no_secret(texts: Iterable[str], secrets: Iterable[str]) -> None:
    import base64
    from urllib.parse import quote

    for text in texts:
        for s in secrets:
            for form in {s, quote(s, safe=""), base64.b64encode(s.encode()).decode()}:
                assert form not in text, f"secret leaked in output: {text[:300]!r}"
