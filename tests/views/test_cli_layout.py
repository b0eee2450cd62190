"""``devtrack views …`` at 80 columns and piped, as in a small terminal or ``| less``: humane
local times, no raw ISO stamps, and no value split over two lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta

from devtrack.views.coordinator import Coordinator

from .test_views import filled  # noqa: F401  (the store filled from the sandbox)

#: A zone 5 h 45 min east of UTC, in POSIX form (needs no tz database): local times must differ
#: from the UTC the snapshots hold, or a test could not tell them apart.
TZ = "DTT-05:45"
SHIFT = timedelta(hours=5, minutes=45)


def _view(name: str) -> str:
    """The view as a pipe sees it at 80 columns; every line fits."""
    env = {**os.environ, "COLUMNS": "80", "TZ": TZ}
    out = subprocess.run([sys.executable, "-m", "devtrack", "views", name], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    too_wide = [line for line in out.stdout.splitlines() if len(line) > 80]
    assert not too_wide, too_wide
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", out.stdout), "raw ISO time in the output"
    return out.stdout


async def test_views_fit_80_columns_with_whole_values_and_local_times(filled: Coordinator) -> None:
    good = filled.good
    deployments = _view("deployments")
    assert re.search(r"Vercel: degraded, refreshed (just now|\d+ min ago)\n", deployments)
    assert re.search(r"│ \d+ min ago ", deployments)  # the newest deploy, relative
    assert "widen the terminal or use --json" in deployments  # what was left out, and how to see it

    infra = _view("infra")
    for rec in good["aws-ec2"].records.instances:
        assert rec.id in infra and (rec.name or "") in infra
    for db in good["upstash"].records.databases:
        assert db.name in infra
    for project in good["supabase"].records.projects:
        assert project.name in infra

    code = _view("code")
    for pr in good["github"].records.pull_requests:
        assert pr.branch and pr.branch in code
        assert pr.created_at is not None
        utc, local = f"{pr.created_at:%Y-%m-%d %H:%M}", f"{pr.created_at + SHIFT:%Y-%m-%d %H:%M}"
        assert local in code and utc not in code  # older than a day: the date, in local time

    errors = _view("errors")
    for err in good["sentry"].records.errors:
        assert (err.project or "") in errors
    assert "…" in errors  # long titles are cut at the end, on their own line
