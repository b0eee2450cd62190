"""``/api/v1/git/…`` over a real socket: real git repositories, the real gh against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devtrack.integrations.manager import IntegrationManager

from ..github.conftest import _git_identity, emu, emulator, gh_logged_in, git, make_repo  # noqa: F401 (fixtures)
from .conftest import ApiClient


@pytest.fixture
def repo(make_repo: Callable[..., Path], manager: IntegrationManager) -> Path:  # noqa: F811
    root = make_repo(commits=3)
    manager.environ["DEVTRACK_GITHUB_PATH"] = str(root)  # type: ignore[index]
    return root


def test_status_log_branches_diff(api: ApiClient, repo: Path) -> None:
    (repo / "README.md").write_text("version 2\nmore\n")
    (repo / "new.txt").write_text("x\n")
    git(repo, "branch", "feature")

    st = api.get("/api/v1/git/status").json()
    assert st["ok"] is True and st["branch"] == "main" and st["dirty"] == 2 and st["total_commits"] == 3
    assert st["untracked"] == ["new.txt"]

    log = api.get("/api/v1/git/log", params={"limit": 2}).json()
    assert [c["subject"] for c in log["commits"]] == ["commit 2", "commit 1"]

    branches = api.get("/api/v1/git/branches").json()["branches"]
    assert {b["name"]: b["current"] for b in branches} == {"main": True, "feature": False}

    diff = api.get("/api/v1/git/diff").json()
    assert diff["ok"] is True and diff["unstaged_totals"] == {"files": 1, "insertions": 1, "deletions": 0, "binary": 0}


def test_git_errors_are_classified(api: ApiClient, repo: Path, tmp_path: Path, manager: IntegrationManager) -> None:
    r = api.get("/api/v1/git/log", params={"branch": "no-such-branch"})
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found"
    r = api.get("/api/v1/git/log", params={"limit": 0})
    assert r.status_code == 422 and r.json()["ok"] is False
    # No remote: nothing on GitHub to read, said as a classified error.
    r = api.get("/api/v1/git/prs")
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found" and "remote" in r.json()["error"]["message"]

    plain = tmp_path / "plain"
    plain.mkdir()
    manager.environ["DEVTRACK_GITHUB_PATH"] = str(plain)  # type: ignore[index]
    r = api.get("/api/v1/git/status")
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_a_repository"


def test_prs_ci_issues_through_gh(api: ApiClient, repo: Path, gh_logged_in: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("DEVTRACK_GITHUB_REPO", f"{gh_logged_in.host}/octo/demo")
    prs = api.get("/api/v1/git/prs", params={"state": "all"}).json()
    assert prs["ok"] is True and prs["source"] == "gh" and prs["items"] and prs["items"][0]["number"]
    issues = api.get("/api/v1/git/issues").json()
    assert issues["ok"] is True and all(i["state"].lower() == "open" for i in issues["items"])
    ci = api.get("/api/v1/git/ci").json()
    assert ci["ok"] is True and ci["items"]
    assert api.get("/api/v1/git/prs", params={"state": "bogus"}).status_code == 422
