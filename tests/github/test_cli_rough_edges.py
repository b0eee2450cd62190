"""``devtrack git`` as people read it: "1 commit", not "1 commits"; tables that fit 80 columns
without splitting a value; commit text printed as it is, never as markup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import git


def _cli(*args: str, cwd: Path, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "devtrack", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def _title(out: subprocess.CompletedProcess[str]) -> str:
    """The first line (a table's title), without the padding rich adds to the table's width."""
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[0].rstrip()


def test_counts_of_one_are_singular(make_repo, gh_logged_in) -> None:
    emu = gh_logged_in
    repo = make_repo(commits=1)
    (repo / "README.md").write_text("changed\n")
    status = _cli("git", "status", cwd=repo)
    assert status.returncode == 0, status.stderr
    lines = [line.rstrip() for line in status.stdout.splitlines()]
    assert "(1 commit)" in status.stdout and "1 changed path" in lines
    assert "1 commits" not in status.stdout and "1 changed paths" not in lines
    assert _title(_cli("git", "log", cwd=repo)) == "1 commit"
    assert _title(_cli("git", "branches", cwd=repo)) == "1 branch"
    assert _title(_cli("git", "diff", cwd=repo)) == "1 file, +1 -1"
    target = ("--gh-repo", f"{emu.host}/octo/demo", "-n", "1")
    assert _title(_cli("git", "prs", *target, cwd=repo)) == f"1 pull request of {emu.host}/octo/demo"
    assert _title(_cli("git", "ci", *target, cwd=repo)) == f"1 CI run of {emu.host}/octo/demo"
    assert _title(_cli("git", "issues", *target, cwd=repo)) == f"1 issue of {emu.host}/octo/demo"
    make_repo("two", commits=2)
    assert _title(_cli("git", "log", cwd=repo.parent / "two")) == "2 commits"


def test_log_at_80_columns_keeps_values_whole_and_text_literal(make_repo) -> None:
    repo = make_repo(commits=1)
    subject = "fix [/] parsing of [bold]markup[/bold] in a very long subject line that cannot fit at all"
    (repo / "a.txt").write_text("a")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", subject)
    branch = "feature/a-rather-long-branch-name"
    git(repo, "branch", branch)
    log = _cli("git", "log", cwd=repo, columns=80)
    assert log.returncode == 0, log.stderr
    assert "Traceback" not in log.stderr
    lines = log.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), log.stdout
    head = git(repo, "rev-parse", "HEAD").strip()
    assert head[:10] in log.stdout  # the hash whole, on one line
    assert "fix [/] parsing of [bold]" in log.stdout and "…" in log.stdout  # literal, cut at the end
    branches = _cli("git", "branches", cwd=repo, columns=80)
    assert branches.returncode == 0 and branch in branches.stdout
    assert all(len(line) <= 80 for line in branches.stdout.splitlines())
