"""git functions on real repositories in tmp dirs, including the awkward ones."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from devtrack.github.git import git_branches, git_diff_stats, git_log, git_status
from devtrack.github.models import GitError
from devtrack.github.remote import parse_remote, strip_credentials

from .conftest import git

AWKWARD = ["with space.txt", "new\nline.txt", 'quo"te\'s.txt', "ünïcødé-名前.txt", "tab\tname.txt"]


async def test_awkward_names_come_out_exact(make_repo) -> None:
    repo = make_repo()
    for name in AWKWARD:
        (repo / name).write_text("one\n")
    git(repo, "add", "--", *AWKWARD[:3])
    (repo / AWKWARD[0]).write_text("one\ntwo\n")  # staged and then changed again
    st = await git_status(repo)
    assert st.is_repo and st.branch == "main" and not st.detached
    assert sorted(c.path for c in st.staged) == sorted(AWKWARD[:3])
    assert [c.path for c in st.unstaged] == [AWKWARD[0]]
    assert sorted(st.untracked) == sorted(AWKWARD[3:])
    assert st.dirty == len(AWKWARD)
    diff = await git_diff_stats(repo)
    assert {f.path for f in diff.staged} == set(AWKWARD[:3])
    assert [(f.path, f.insertions, f.deletions) for f in diff.unstaged] == [(AWKWARD[0], 1, 0)]
    assert diff.totals.files == 3 and diff.totals.insertions == 4


async def test_renames_binary_and_conflicts(make_repo) -> None:
    repo = make_repo()
    (repo / "old name.txt").write_text("x\n" * 20)
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 4)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "files")
    git(repo, "mv", "old name.txt", "new\nname.txt")
    (repo / "blob.bin").write_bytes(bytes(range(255, -1, -1)) * 4)
    st = await git_status(repo)
    renamed = [c for c in st.staged if c.index == "R"]
    assert [(c.orig_path, c.path) for c in renamed] == [("old name.txt", "new\nname.txt")]
    diff = await git_diff_stats(repo)
    assert [(f.orig_path, f.path) for f in diff.staged] == [("old name.txt", "new\nname.txt")]
    [binary] = diff.unstaged
    assert binary.binary and binary.insertions is None and diff.totals.binary == 1

    git(repo, "checkout", "-q", "-b", "other")
    (repo / "README.md").write_text("theirs\n")
    git(repo, "commit", "-qam", "theirs")
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("ours\n")
    git(repo, "commit", "-qm", "ours", "--", "README.md")
    subprocess.run(["git", "-C", str(repo), "merge", "-q", "other"], capture_output=True)
    st = await git_status(repo)
    assert [(c.path, c.index, c.worktree) for c in st.conflicted] == [("README.md", "U", "U")]


async def test_empty_repository(make_repo) -> None:
    repo = make_repo(commits=0)
    st = await git_status(repo)
    assert st.is_repo and st.empty and st.branch == "main" and st.head is None
    assert st.total_commits == 0 and st.last_commit is None
    assert await git_log(repo) == [] and await git_branches(repo) == []
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    diff = await git_diff_stats(repo)
    assert [(f.path, f.insertions) for f in diff.staged] == [("a.txt", 1)]


async def test_detached_head(make_repo) -> None:
    repo = make_repo(commits=3)
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach", first)
    st = await git_status(repo)
    assert st.detached and st.branch is None and st.head == first
    assert st.total_commits == 1 and st.last_commit and st.last_commit.hash == first
    assert [b.current for b in await git_branches(repo)] == [False]


async def test_shallow_clone_upstream_and_ahead_behind(make_repo, tmp_path: Path) -> None:
    origin = make_repo("origin", commits=5)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{origin}", str(clone)], check=True)
    (clone / "README.md").write_text("local\n")
    git(clone, "commit", "-qam", "local work")
    (origin / "README.md").write_text("remote\n")
    git(origin, "commit", "-qam", "remote work")
    git(clone, "fetch", "-q")
    st = await git_status(clone)
    assert st.shallow and st.total_commits == 3
    assert st.upstream == "origin/main" and (st.ahead, st.behind) == (1, 1)
    assert st.remote and st.remote.name == "origin" and not st.remote.is_github
    [branch] = await git_branches(clone)
    assert branch.current and branch.upstream == "origin/main" and (branch.ahead, branch.behind) == (1, 1)


async def test_remotes_github_other_and_none(make_repo) -> None:
    repo = make_repo()
    assert (await git_status(repo)).remote is None
    git(repo, "remote", "add", "upstream", "https://gitlab.com/group/project.git")
    st = await git_status(repo)
    assert st.remote and st.remote.host == "gitlab.com" and not st.remote.is_github
    git(repo, "remote", "add", "origin", "https://x-access-token:ghp_secret123@github.com/octo/demo.git")
    st = await git_status(repo)
    assert st.remote and st.remote.name == "origin" and st.remote.is_github
    assert (st.remote.owner, st.remote.repo) == ("octo", "demo")
    assert "ghp_secret123" not in st.model_dump_json() and "x-access-token" not in st.remote.url


@pytest.mark.parametrize("url", [
    "https://github.com/octo/demo.git", "https://github.com/octo/demo", "git@github.com:octo/demo.git",
    "ssh://git@github.com/octo/demo.git", "ssh://git@ssh.github.com:443/octo/demo.git",
    "git://github.com/octo/demo.git", "https://user:tok@github.com/octo/demo/",
])
def test_github_remote_forms(url: str) -> None:
    r = parse_remote("origin", url)
    assert (r.host in ("github.com", "ssh.github.com"), r.owner, r.repo, r.is_github) == (True, "octo", "demo", True)
    assert "tok" not in strip_credentials(url).replace("octo", "")


async def test_not_a_repository(tmp_path: Path) -> None:
    st = await git_status(tmp_path)
    assert not st.is_repo and "not a git repository" in (st.error or "")
    missing = await git_status(tmp_path / "nope")
    assert not missing.is_repo and "does not exist" in (missing.error or "")
    for call in (git_log(tmp_path), git_branches(tmp_path), git_diff_stats(tmp_path)):
        with pytest.raises(GitError) as info:
            await call
        assert info.value.kind == "not_a_repository"


async def test_log_fields_since_and_branch(make_repo) -> None:
    repo = make_repo(commits=2)
    message = "Sübject with \"quotes\"\n\nBody line one\n\nBody line two ✓"
    (repo / "README.md").write_text("x\n")
    git(repo, "commit", "-qa", "-F", "-", input=message.encode())
    [top, *rest] = await git_log(repo, limit=10)
    assert top.subject == 'Sübject with "quotes"' and top.message == message
    assert top.author == "Ada Lövelace" and top.email == "ada@example.com"
    assert top.hash == git(repo, "rev-parse", "HEAD").strip() and len(rest) == 2
    assert top.date.tzinfo is not None
    assert len(await git_log(repo, limit=2)) == 2
    future = datetime.now(timezone.utc) + timedelta(days=1)
    assert await git_log(repo, since=future) == []
    git(repo, "branch", "side", "HEAD~2")
    assert [c.subject for c in await git_log(repo, branch="side")] == ["commit 0"]
    with pytest.raises(GitError) as info:
        await git_log(repo, branch="no-such-branch")
    assert info.value.kind == "not_found"
    with pytest.raises(GitError):
        await git_log(repo, branch="--output=/tmp/pwned")  # never read as an option


@pytest.mark.slow
async def test_ten_thousand_commits(tmp_path: Path) -> None:
    from devtrack.sandbox.github.repogen import generate_repo

    repo = generate_repo(tmp_path / "big", commits=10_000, files=300, modified=20, staged=5, untracked=7)
    st = await git_status(repo)
    assert st.total_commits == 10_000
    assert (len(st.unstaged), len(st.staged), len(st.untracked)) == (20, 5, 1)  # untracked dir collapsed
    log = await git_log(repo, limit=1000)
    assert len(log) == 1000 and log[0].subject.startswith("Commit 10000:") and log[-1].subject.startswith("Commit 9001:")
    assert len({c.hash for c in log}) == 1000
    assert log[0].message.endswith("Body line for 10000.")
