"""Fixtures for the views: the sandbox with every emulator, a real git repository for GitHub,
a manager on the sandbox credentials and a snapshot store in a temp dir."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox
from devtrack.views.store import SqliteStore, open_store

from ..thirdparty import THIRD_PARTY

PLUGINS = ["github", "vercel", "supabase", "sentry", "helicone", "upstash", "aws-ec2", "cloudflare"]
#: Every connection the sandbox seeds, in the manager's order: Vercel has the team account (the
#: default connection) and the personal one (issue 14), so each view merges two Vercel accounts.
CONNECTIONS = ["github", "vercel", "vercel:personal", "supabase", "sentry", "helicone", "upstash", "aws-ec2",
               "cloudflare", *THIRD_PARTY]  # an installed plugin's emulator joins the sandbox (Netlify's)
GIT_ENV = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def make_repo(root: Path) -> Path:
    """A repository with three commits and one dirty file."""
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    for i in range(3):
        (root / "README.md").write_text(f"version {i}\n")
        subprocess.run(["git", "-C", str(root), "add", "README.md"], check=True, env=env)
        subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", f"views commit {i}"], check=True, env=env)
    (root / "README.md").write_text("dirty\n")
    return root


@pytest.fixture
def views_env(sb: Sandbox, sandbox_env: dict[str, str], tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The sandbox environment plus GitHub on a temp repo (gh logged out: the REST fallback
    reads the emulator) and a temp snapshot store."""
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    for k in ("GH_HOST", "GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    (tmp_path / "ghcfg").mkdir()
    extra = {
        "DEVTRACK_GITHUB_PATH": str(make_repo(tmp_path / "repo")),
        "DEVTRACK_GITHUB_REPO": "octo/demo",
        "GH_CONFIG_DIR": str(tmp_path / "ghcfg"),
        "GH_PROMPT_DISABLED": "1",
        "GH_NO_UPDATE_NOTIFIER": "1",
        "DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 'snapshots.db'}",
    }
    for k, v in extra.items():
        monkeypatch.setenv(k, v)
    return {**sandbox_env, **extra}


@pytest.fixture
def manager(views_env: dict[str, str]) -> IntegrationManager:
    return IntegrationManager(CredentialStore(Path(views_env["DEVTRACK_CREDENTIALS"])), environ=dict(os.environ))


@pytest.fixture
def store(views_env: dict[str, str]) -> Iterator[SqliteStore]:
    s = open_store(views_env["DEVTRACK_STORE_URL"])
    yield s  # type: ignore[misc]
    s.close()
