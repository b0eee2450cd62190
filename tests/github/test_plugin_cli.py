"""The plugin through the manager and the CLI, with no configuration and with the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from devtrack.integrations.manager import IntegrationManager

from .conftest import git


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devtrack", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_zero_config_in_a_repo_without_remote(make_repo, gh_logged_out) -> None:
    repo = make_repo(commits=3)
    (repo / "dirty file.txt").write_text("x")
    test = _cli("integrations", "test", "github", "--json", cwd=repo)
    assert test.returncode == 0, test.stderr
    result = json.loads(test.stdout)
    assert result["ok"] and result["status"] == "ok"
    assert result["details"]["repository"]["root"] == str(repo)
    assert result["details"]["gh"]["available"] is False and "exit code 4" in result["details"]["gh"]["reason"]
    assert "no remote" in result["details"]["github_repo_reason"]
    data = _cli("integrations", "data", "github", "--json", cwd=repo)
    assert data.returncode == 0, data.stderr
    body = json.loads(data.stdout)
    assert body["error"] is None and body["health"]["status"] == "healthy"
    assert body["health"]["metrics"]["dirty_files"] == 1 and body["health"]["metrics"]["branch"] == "main"
    assert [c["subject"] for c in body["records"]["commits"]] == ["commit 2", "commit 1", "commit 0"]
    assert body["records"]["branches"][0]["name"] == "main" and body["events"]


def test_outside_any_repository_fails_clearly(tmp_path: Path, gh_logged_out) -> None:
    test = _cli("integrations", "test", "github", "--json", cwd=tmp_path)
    assert test.returncode == 1
    result = json.loads(test.stdout)
    assert result["status"] == "not_found" and "not a git repository" in result["message"]


async def test_data_with_gh_against_emulator(make_repo, gh_logged_in, monkeypatch) -> None:
    emu = gh_logged_in
    repo = make_repo(commits=2)
    monkeypatch.setenv("DEVTRACK_GITHUB_PATH", str(repo))
    monkeypatch.setenv("DEVTRACK_GITHUB_REPO", f"{emu.host}/octo/demo")
    manager = IntegrationManager()
    result = await manager.test("github", record=False)
    assert result.ok and "gh logged in as octocat" in result.message
    data = await manager.fetch("github")
    assert data.error is None
    # main's newest finished run passed (the newer failure is on another branch)
    assert data.health.status == "healthy" and data.health.metrics["latest_ci_conclusion"] == "success"
    assert [p.number for p in data.records.pull_requests] == [7, 6]
    assert [i.number for i in data.records.issues] == [3, 2] and len(data.records.ci_runs) == 4
    assert any(e.severity == "error" and "CI" in e.title for e in data.events)
    git(repo, "checkout", "-q", "-b", "feature/dashboard")
    data = await manager.fetch("github")
    assert data.health.status == "degraded" and data.health.metrics["latest_ci_conclusion"] == "failure"
    assert "CI failure" in data.health.detail


async def test_token_fallback_scopes_and_rejected_token(make_repo, gh_logged_out, monkeypatch) -> None:
    emu = gh_logged_out
    repo = make_repo()
    monkeypatch.setenv("DEVTRACK_GITHUB_PATH", str(repo))
    monkeypatch.setenv("DEVTRACK_GITHUB_REPO", f"{emu.host}/octo/demo")
    monkeypatch.setenv("DEVTRACK_GITHUB_BASE_URL", emu.api_url)
    monkeypatch.setenv("DEVTRACK_GITHUB_TOKEN", emu.token)
    manager = IntegrationManager()
    result = await manager.test("github", record=False)
    assert result.ok and result.details["token"]["login"] == "octocat"
    assert result.details["token"]["scopes"] == ["repo", "read:org", "workflow"]
    assert emu.token not in result.model_dump_json()
    data = await manager.fetch("github")
    assert data.health.metrics["pull_requests"]["source"] == "rest" and len(data.records.pull_requests) == 2
    monkeypatch.setenv("DEVTRACK_GITHUB_TOKEN", "ghp_notavalidtoken1234")
    bad = await IntegrationManager().test("github", record=False)
    assert not bad.ok and bad.kind == "auth" and "ghp_notavalidtoken1234" not in bad.model_dump_json()


def test_git_cli_json_and_tables(make_repo, gh_logged_in) -> None:
    emu = gh_logged_in
    repo = make_repo(commits=2)
    (repo / "new\nline.txt").write_text("x")
    st = json.loads(_cli("git", "status", "--json", "--repo", str(repo), cwd=repo.parent).stdout)
    assert st["untracked"] == ["new\nline.txt"] and st["total_commits"] == 2
    log = json.loads(_cli("git", "log", "--json", "-n", "1", "--repo", str(repo), cwd=repo.parent).stdout)
    assert [c["subject"] for c in log] == ["commit 1"]
    table = _cli("git", "branches", "--repo", str(repo), cwd=repo.parent)
    assert table.returncode == 0 and "main" in table.stdout
    prs = _cli("git", "prs", "--json", "--gh-repo", f"{emu.host}/octo/demo", cwd=repo)
    assert prs.returncode == 0, prs.stderr
    assert [p["number"] for p in json.loads(prs.stdout)["items"]] == [7, 6]
    ci = _cli("git", "ci", "--gh-repo", f"{emu.host}/octo/demo", cwd=repo)
    assert ci.returncode == 0 and "failure" in ci.stdout
    missing = _cli("git", "log", "--repo", str(repo.parent / "nowhere"), cwd=repo.parent)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_light_imports() -> None:
    code = ("import sys, devtrack.integrations.plugins.github, devtrack.cli.git; "
            "print([m for m in ('httpx', 'boto3', 'fastapi', 'starlette', 'uvicorn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
