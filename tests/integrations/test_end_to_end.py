"""The whole system as a user runs it: `devtrack sandbox --env-file F`, then, in another
process with F loaded, every plugin tested and fetched through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..thirdparty import THIRD_PARTY

# One entry per connection: the sandbox seeds Vercel's team account (the default connection)
# and the same user's personal account as ``vercel:personal`` (issue 14).
IDS = ["github", "vercel", "vercel:personal", "supabase", "sentry", "helicone", "upstash", "aws-ec2",
       "cloudflare", *THIRD_PARTY]  # an installed plugin's emulator joins the sandbox (Netlify's)


def _load(env_file: Path) -> dict[str, str]:
    out = {}
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        if key and not line.startswith("#"):
            out[key] = value
    return out


def test_sandbox_then_test_all_and_data_all(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_")}
    proc = subprocess.Popen([sys.executable, "-m", "devtrack", "sandbox", "--env-file", str(env_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean)
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the sandbox did not come up"
            time.sleep(0.2)
        repo = tmp_path / "project"
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=Dev", "-c", "user.email=dev@example.com",
                        "commit", "-q", "--allow-empty", "-m", "first"], check=True)
        env = clean | _load(env_file) | {"GH_CONFIG_DIR": str(tmp_path / "gh"), "COLUMNS": "200"}
        run = lambda *a: subprocess.run([sys.executable, "-m", "devtrack", *a], cwd=repo, env=env,  # noqa: E731
                                        capture_output=True, text=True, timeout=240)
        tested = run("integrations", "test", "--all", "--json")
        results = {r["id"]: r for r in json.loads(tested.stdout)}
        assert list(results) == IDS
        assert all(r["ok"] for r in results.values()), {i: r["message"] for i, r in results.items() if not r["ok"]}
        assert tested.returncode == 0

        fetched = run("integrations", "data", "--all", "--json")
        assert fetched.returncode == 0, fetched.stdout[-2000:]
        data = {d["id"]: d for d in json.loads(fetched.stdout)}
        assert list(data) == IDS
        expected = {
            "github": ["pull_requests", "ci_runs", "issues", "commits", "branches"],
            "vercel": ["projects", "deployments"],
            "vercel:personal": ["projects", "deployments"],
            "supabase": ["projects"],
            "sentry": ["errors"],
            "helicone": ["llm_usage"],
            "upstash": ["databases"],
            "aws-ec2": ["instances"],
            "cloudflare": ["zones", "workers", "deployments"],
        }
        assert data["vercel:personal"]["plugin"] == "vercel"
        # Each account sees its own projects: the personal scope is not the team's.
        team_projects = {p["id"] for p in data["vercel"]["records"]["projects"]}
        personal_projects = {p["id"] for p in data["vercel:personal"]["records"]["projects"]}
        assert personal_projects and not personal_projects & team_projects
        for plugin, kinds in expected.items():
            assert data[plugin]["error"] is None, data[plugin]["error"]
            assert data[plugin]["health"]["status"] in ("healthy", "degraded", "down"), plugin
            for kind in kinds:
                assert data[plugin]["records"][kind], f"{plugin} has no {kind}"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
