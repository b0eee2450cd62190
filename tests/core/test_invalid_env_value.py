"""A value that cannot be used (here a token with a line break from the environment) is reported
where the user looks (`list`, `views refresh`), not silently treated as "not configured"."""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import run_cli

BROKEN = "vtok_first_half\nsecond_half_0123"


def test_a_broken_env_token_is_reported_by_refresh_not_skipped(tmp_path: Path) -> None:
    env = {"DEVTRACK_CREDENTIALS": str(tmp_path / "c.json"), "DEVTRACK_VERCEL_TOKEN": BROKEN,
           "DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    listed = run_cli("integrations", "list", "--json", env=env, cwd=tmp_path)
    vercel = next(row for row in json.loads(listed.stdout) if row["id"] == "vercel")
    assert vercel["configured"] is True
    refresh = run_cli("views", "refresh", env=env, cwd=tmp_path)
    assert refresh.returncode == 1
    assert "vercel: config" in refresh.stdout and "line break" in refresh.stdout
    for half in BROKEN.split("\n"):
        assert half not in refresh.stdout + refresh.stderr + listed.stdout
