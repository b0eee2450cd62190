"""The README's runnable team example, run as a user would (``--check``): a throw-away
PostgreSQL server, the sandbox, two ``devtrack serve`` instances on one database; it exits 0 only
if both show the same data while only one of them polls."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "team" / "two-instances.sh"


@pytest.mark.slow
def test_the_two_instance_example_runs_and_checks_itself(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # this devtrack
    env["HOME"] = str(tmp_path)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    proc = subprocess.run(["bash", str(SCRIPT), "--check"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=420)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ok: both instances serve the same data; one of them polls" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "postgresql://postgres@…" in proc.stdout  # the database named, never with its credentials
