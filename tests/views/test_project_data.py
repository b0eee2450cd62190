"""Each project's data is its own (issue 14): the snapshot store follows the credentials file,
GitHub's snapshots are keyed by repository, and nothing of a connection no longer in use shows.

Everything runs the real CLI in subprocesses, in real git repositories, with a temp home, so
the per-user store is shared exactly as it would be between two projects of one user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtrack.integrations.contract import ConnectionResult, Health, IntegrationData, Records, ResultKind
from devtrack.views.state import PluginState
from devtrack.views.store import default_url, open_store

from .conftest import GIT_ENV


def _env(home: Path) -> dict[str, str]:
    """A user with no DevTrack settings: no credentials or store override, gh logged out."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEVTRACK_", "GH_", "GITHUB_")) and k not in ("GIT_DIR", "GIT_WORK_TREE")}
    (home / "gh").mkdir(parents=True, exist_ok=True)
    env |= GIT_ENV | {
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"), "GH_CONFIG_DIR": str(home / "gh"),
        "GH_PROMPT_DISABLED": "1", "NO_COLOR": "1", "COLUMNS": "140",
    }
    return env


def _repo(root: Path, branch: str, subjects: list[str], env: dict[str, str]) -> Path:
    subprocess.run(["git", "init", "-q", "-b", branch, str(root)], check=True, env=env)
    for i, subject in enumerate(subjects):
        (root / f"{branch}.txt").write_text(f"{i}\n")
        subprocess.run(["git", "-C", str(root), "add", "."], check=True, env=env)
        subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", subject], check=True, env=env)
    return root


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devtrack", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _json(cwd: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    out = _cli(cwd, env, *args, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_two_repositories_sharing_the_user_store_each_show_their_own(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    alpha = _repo(tmp_path / "alpha", "alpha-branch", ["alpha first", "alpha second"], env)
    beta = _repo(tmp_path / "beta", "beta-branch", ["beta only"], env)
    (beta / "dirty.txt").write_text("untracked\n")
    for repo in (alpha, beta):
        refreshed = _json(repo, env, "views", "refresh", "github")
        assert refreshed["ok"] and [r["id"] for r in refreshed["results"]] == ["github"]
    # one per-user store for both (no project credentials file in either)
    assert (tmp_path / "home" / "data" / "devtrack" / "snapshots.db").is_file()
    assert not (alpha / ".devtrack").exists() and not (beta / ".devtrack").exists()

    for repo, branch, mine, theirs, dirty in ((alpha, "alpha-branch", {"alpha first", "alpha second"},
                                               {"beta only"}, 0),
                                              (beta, "beta-branch", {"beta only"},
                                               {"alpha first", "alpha second"}, 1)):
        card = next(c for c in _json(repo, env, "status")["cards"] if c["id"] == "github")
        shown = {m["label"]: m["value"] for m in card["metrics"]}
        assert shown["branch"] == branch and shown["dirty files"] == str(dirty)
        code = _json(repo, env, "views", "code")
        subjects = {c["subject"] for c in code["items"]["commits"]}
        assert subjects == mine and not subjects & theirs
        assert code["items"]["working_tree"]["branch"] == branch
        assert code["items"]["working_tree"]["connection"] == "github"
        text = _cli(repo, env, "status")
        assert branch in text.stdout and not any(s in text.stdout for s in theirs)


def test_status_hides_what_is_stored_for_a_connection_no_longer_configured(tmp_path: Path) -> None:
    """A failure (and data) stored for Vercel while it had credentials must not show once it
    has none: it is of credentials no longer in use."""
    env = _env(tmp_path / "home")
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    store = open_store("sqlite:///" + str(tmp_path / "home" / "data" / "devtrack" / "snapshots.db"))
    try:
        store.save(IntegrationData(id="vercel", health=Health(status="healthy", detail="old team",
                                                              metrics={"deployments": 7}), records=Records()))
        failure = ConnectionResult.failure(ResultKind.AUTH, "the old token was revoked")
        store.save(IntegrationData.failed(failure).model_copy(update={"id": "vercel"}))
        store.save_state(PluginState(id="vercel", failures=1, error=failure, needs_attention=True))
        # kept by an older or other DevTrack: a plugin this one lacks, a key that is no connection id
        store.save(IntegrationData(id="retired-plugin", health=Health(status="healthy")))
        store.save_state(PluginState(id="Not A Connection!", failures=2))
    finally:
        store.close()
    view = _json(elsewhere, env, "status")
    assert "retired-plugin" not in {c["id"] for c in view["cards"]}
    card = next(c for c in view["cards"] if c["id"] == "vercel")
    assert card["status"] == "unconfigured" and card["error"] is None and not card["needs_attention"]
    assert card["last_refresh"] is None and card["metrics"] == []
    text = _cli(elsewhere, env, "status").stdout
    assert "revoked" not in text and "needs attention" not in text


def test_a_project_credentials_file_gets_a_project_store_that_init_ignores(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    project = _repo(tmp_path / "project", "main", ["project start"], env)
    sub = project / "src"
    sub.mkdir()
    init = _cli(project, env, "init")
    assert init.returncode == 0, init.stderr
    assert ".devtrack/" in (project / ".gitignore").read_text().splitlines()
    assert _json(sub, env, "views", "refresh", "github")["ok"]
    store = project / ".devtrack" / "snapshots.db"
    assert store.is_file() and (store.stat().st_mode & 0o077) == 0
    assert not (tmp_path / "home" / "data" / "devtrack" / "snapshots.db").exists()  # the user's untouched
    ignored = subprocess.run(["git", "check-ignore", "-q", ".devtrack/snapshots.db"], cwd=project, env=env)
    assert ignored.returncode == 0
    porcelain = subprocess.run(["git", "status", "--porcelain"], cwd=project, env=env, capture_output=True,
                               text=True, check=True).stdout
    assert ".devtrack" not in porcelain
    card = next(c for c in _json(sub, env, "status")["cards"] if c["id"] == "github")
    assert card["last_refresh"] is not None


def test_default_url_follows_the_credentials_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    env: dict[str, str] = {}
    project = tmp_path / "p" / ".credentials.json"
    assert default_url(env, project) == f"sqlite:///{tmp_path / 'p' / '.devtrack' / 'snapshots.db'}"
    assert default_url(env, tmp_path / "config" / "credentials.json") == \
        f"sqlite:///{tmp_path / 'data' / 'devtrack' / 'snapshots.db'}"
    assert default_url(env | {"DEVTRACK_STORE_URL": "sqlite:///:memory:"}, project) == "sqlite:///:memory:"
