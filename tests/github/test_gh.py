"""The real gh against the emulator; logged out; missing; and the REST fallback with a token."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devtrack.github import gh, rest, service
from devtrack.github.git import git_status
from devtrack.integrations.contract import ResultKind
from devtrack.sandbox.github.objects import EPOCH, Issue, Pull

from .conftest import git


def _repo(emu) -> str:
    return f"{emu.host}/octo/demo"


async def test_pull_requests_through_gh(gh_logged_in) -> None:
    emu = gh_logged_in
    res = await gh.gh_pull_requests(None, repo=_repo(emu), state="all")
    assert res.available and res.logged_in and res.source == "gh"
    assert [(p.number, p.state, p.draft, p.author, p.branch) for p in res.items] == [
        (7, "open", False, "mona", "feature/dashboard"), (6, "open", True, "hubot", "perf/status"),
        (5, "merged", False, "mona", "fix/empty"), (4, "closed", False, "octocat", "idea")]
    assert res.items[0].url == f"{emu.url}/octo/demo/pull/7" and res.items[0].created_at == EPOCH + timedelta(days=6)
    assert emu.count("/api/graphql", "PullRequestList") == 1
    open_only = await gh.gh_pull_requests(None, repo=_repo(emu))
    assert [p.number for p in open_only.items] == [7, 6]


async def test_issues_through_gh(gh_logged_in) -> None:
    emu = gh_logged_in
    res = await gh.gh_issues(None, repo=_repo(emu), state="all")
    assert res.available
    assert [(i.number, i.state, i.labels) for i in res.items] == [
        (3, "open", ["bug"]), (2, "open", ["documentation", "bug"]), (1, "closed", [])]
    assert res.items[2].title == "First issue ✓ — ünïcode"
    assert emu.count("/api/graphql", "IssueList") == 1


async def test_ci_runs_through_gh(gh_logged_in) -> None:
    emu = gh_logged_in
    res = await gh.gh_ci_runs(None, repo=_repo(emu))
    assert res.available
    assert [(r.id, r.name, r.status, r.conclusion) for r in res.items] == [
        ("30433642", "CI", "completed", "failure"), ("30433641", "CI", "completed", "success"),
        ("30433640", "Release", "completed", "success"), ("30433639", "CI", "in_progress", None)]
    assert emu.count("/api/v3/repos/octo/demo/actions/runs") == 1


async def test_gh_pages_through_many_pull_requests(gh_logged_in) -> None:
    emu = gh_logged_in
    repo = emu.repo()
    repo.pulls += [Pull(100 + n, f"bulk {n}", "mona", f"b{n}", created_at=EPOCH - timedelta(hours=n))
                   for n in range(150)]
    res = await gh.gh_pull_requests(None, repo=_repo(emu), limit=140)
    assert len(res.items) == 140 and len({p.number for p in res.items}) == 140
    assert emu.count("/api/graphql", "PullRequestList") == 2


async def test_gh_viewer_reports_login_and_scopes(gh_logged_in) -> None:
    v = await gh.gh_viewer(gh_logged_in.host)
    assert v.available and v.login == "octocat" and v.scopes == ["repo", "read:org", "workflow"]


async def test_unknown_repository(gh_logged_in) -> None:
    res = await gh.gh_issues(None, repo=f"{gh_logged_in.host}/octo/missing")
    assert not res.available and res.kind == ResultKind.NOT_FOUND and "octo/missing" in (res.reason or "")


async def test_logged_out(gh_logged_out) -> None:
    emu = gh_logged_out
    for call in (gh.gh_pull_requests, gh.gh_issues, gh.gh_ci_runs):
        res = await call(None, repo=_repo(emu))
        assert not res.available and res.logged_in is False and res.kind == ResultKind.AUTH
        assert "exit code 4" in (res.reason or "") and "gh auth login" in (res.reason or "")
    viewer = await gh.gh_viewer()
    assert not viewer.available and viewer.logged_in is False
    assert emu.count() == 0  # gh gave up before any request


async def test_missing_gh(no_gh, emu) -> None:
    res = await gh.gh_pull_requests(None, repo=_repo(emu))
    assert not res.available and res.kind == ResultKind.UNAVAILABLE and "not installed" in (res.reason or "")


async def test_not_a_github_repository(gh_logged_in, make_repo) -> None:
    repo = make_repo()
    res = await gh.gh_pull_requests(repo)
    assert not res.available and res.kind == ResultKind.NOT_FOUND and "no git remotes" in (res.reason or "")
    git(repo, "remote", "add", "origin", "https://gitlab.com/a/b.git")
    res = await service.pull_requests(await git_status(repo))
    assert res.kind == ResultKind.NOT_FOUND and "gitlab.com" in (res.reason or "")


# ---------------------------------------------------------------------- REST fallback


@pytest.fixture
def rest_env(emu, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEVTRACK_GITHUB_BASE_URL", emu.api_url)
    monkeypatch.setenv("SSL_CERT_FILE", emu.ca_file)
    return emu


async def test_fallback_to_rest_when_gh_logged_out(gh_logged_out, rest_env, monkeypatch) -> None:
    emu = rest_env
    monkeypatch.setenv("DEVTRACK_GITHUB_REPO", _repo(emu))
    prs = await service.pull_requests(None, token=emu.token)
    issues = await service.issues(None, token=emu.token)
    runs = await service.ci_runs(None, token=emu.token)
    for res in (prs, issues, runs):
        assert res.available and res.source == "rest" and "gh unusable" in (res.note or "")
    assert [p.number for p in prs.items] == [7, 6]
    assert [i.number for i in issues.items] == [3, 2]  # the open PRs GitHub mixes in are dropped
    assert runs.items[0].conclusion == "failure" and runs.items[0].name == "CI"
    req = [r for r in emu.requests if r.path.endswith("/pulls")][0]
    assert req.authorized


async def test_rest_follows_link_pages(rest_env) -> None:
    emu = rest_env
    repo = emu.repo()
    repo.issues += [Issue(200 + n, f"bulk {n}", "mona", created_at=EPOCH - timedelta(hours=n)) for n in range(120)]
    res = await rest.rest_issues(emu.token, "octo", "demo", limit=150)
    assert res.available and len(res.items) == 122
    pages = [r for r in emu.requests if r.path == "/api/v3/repos/octo/demo/issues"]
    assert [r.query.get("page", ["1"])[0] for r in pages] == ["1", "2"]


async def test_rest_rate_limit_403_is_rate_limited(rest_env) -> None:
    emu = rest_env
    emu.rate_limit(r"/pulls$", times=5)
    res = await rest.rest_pull_requests(emu.token, "octo", "demo")
    assert not res.available and res.kind == ResultKind.RATE_LIMITED
    assert "403" in (res.reason or "") and "rate limit" in (res.reason or "").lower()
    assert emu.count("/api/v3/repos/octo/demo/pulls") == 1  # a reset an hour away is not waited for


async def test_rest_second_page_rate_limited(rest_env) -> None:
    emu = rest_env
    emu.repo().issues += [Issue(200 + n, f"bulk {n}", "mona") for n in range(120)]
    emu.rate_limit(r"/issues$", times=5, skip=1)
    res = await rest.rest_issues(emu.token, "octo", "demo", limit=150)
    assert not res.available and res.kind == ResultKind.RATE_LIMITED
    assert emu.count("/api/v3/repos/octo/demo/issues") == 2


async def test_rest_bad_token_and_viewer(rest_env) -> None:
    emu = rest_env
    bad = await rest.rest_viewer("ghp_wrongwrongwrong")
    assert not bad.available and bad.kind == ResultKind.AUTH and bad.logged_in is False
    good = await rest.rest_viewer(emu.token)
    assert good.available and good.login == "octocat" and good.scopes == ["repo", "read:org", "workflow"]
    res = await rest.rest_ci_runs("ghp_wrongwrongwrong", "octo", "demo")
    assert res.kind == ResultKind.AUTH and "ghp_wrongwrongwrong" not in res.model_dump_json()
