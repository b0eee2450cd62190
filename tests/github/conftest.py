"""Fixtures: real git repositories in tmp dirs, and the GitHub emulator with the real gh."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtrack.sandbox.github_emulator import GitHubEmulator

GIT_ENV = {"GIT_AUTHOR_NAME": "Ada Lövelace", "GIT_AUTHOR_EMAIL": "ada@example.com",
           "GIT_COMMITTER_NAME": "Ada Lövelace", "GIT_COMMITTER_EMAIL": "ada@example.com",
           "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path_factory.mktemp("gitcfg") / "gitconfig"))
    for k in ("GH_HOST", "GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN",
              "DEVTRACK_GITHUB_REPO", "DEVTRACK_GITHUB_PATH", "DEVTRACK_GITHUB_BASE_URL", "DEVTRACK_GITHUB_TOKEN"):
        monkeypatch.delenv(k, raising=False)


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, input=input)
    return out.stdout.decode()


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "repo", commits: int = 1) -> Path:
        root = tmp_path / name
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        for i in range(commits):
            (root / "README.md").write_text(f"version {i}\n")
            git(root, "add", "README.md")
            git(root, "commit", "-q", "-m", f"commit {i}")
        return root
    return make


@pytest.fixture(scope="session")
def emulator() -> Iterator[GitHubEmulator]:
    with GitHubEmulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator: GitHubEmulator) -> Iterator[GitHubEmulator]:
    """The session emulator with a fresh log, no faults and the seeded repository."""
    from devtrack.sandbox.github.objects import seeded_repo

    emulator.requests.clear()
    emulator.faults.clear()
    emulator.remaining.clear()
    emulator.repos = {"octo/demo": seeded_repo()}
    yield emulator


def needs_gh() -> None:
    if shutil.which("gh") is None:
        pytest.fail("the real gh binary is required (apt-get install gh)")


@pytest.fixture
def gh_logged_in(emu: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitHubEmulator:
    """The real gh pointed at the emulator as a logged-in Enterprise host."""
    needs_gh()
    (tmp_path / "ghcfg").mkdir()
    (tmp_path / "ghtmp").mkdir()
    for k, v in emu.gh_env(str(tmp_path / "ghcfg"), str(tmp_path / "ghtmp")).items():
        monkeypatch.setenv(k, v)
    return emu


@pytest.fixture
def gh_logged_out(emu: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitHubEmulator:
    """The real gh with no token anywhere and an empty config directory."""
    needs_gh()
    (tmp_path / "ghcfg").mkdir()
    (tmp_path / "ghtmp").mkdir()
    for k, v in emu.gh_env(str(tmp_path / "ghcfg"), str(tmp_path / "ghtmp"), logged_in=False).items():
        monkeypatch.setenv(k, v)
    return emu


@pytest.fixture
def no_gh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH with git but without gh."""
    bindir = tmp_path / "bin-nogh"
    bindir.mkdir()
    os.symlink(shutil.which("git") or "/usr/bin/git", bindir / "git")
    monkeypatch.setenv("PATH", str(bindir))
