"""Which repository on GitHub, and which source answers for it: ``gh`` first, the REST API
with a stored token when ``gh`` is missing or logged out."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..integrations.contract import ResultKind
from . import gh, rest
from .env import PATH_ENV, REPO_ENV
from .models import CiRun, GhResult, GitStatus, IssueItem, PullRequest, Viewer

T = TypeVar("T")
#: gh failures after which the token (if any) is tried instead.
FALLBACK_KINDS = frozenset({ResultKind.UNAVAILABLE, ResultKind.AUTH})


@dataclass(frozen=True)
class Target:
    """A GitHub repository: ``gh_repo`` is what ``gh --repo`` takes (``[HOST/]OWNER/REPO``)."""

    owner: str
    name: str
    host: str = "github.com"

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def gh_repo(self) -> str:
        return self.slug if self.host == "github.com" else f"{self.host}/{self.slug}"

    @classmethod
    def parse(cls, raw: str) -> Target:
        parts = [p for p in raw.strip().removesuffix(".git").split("/") if p]
        if len(parts) == 2:
            return cls(parts[0], parts[1])
        if len(parts) == 3:
            return cls(parts[1], parts[2], parts[0].lower())
        raise ValueError(f"{raw!r} is not OWNER/REPO or HOST/OWNER/REPO")


def default_path() -> str:
    return os.environ.get(PATH_ENV) or os.getcwd()


def resolve_target(status: GitStatus | None, override: str | None = None) -> tuple[Target | None, str | None]:
    """The repository to ask GitHub about, or ``None`` with the reason there is none."""
    override = override or os.environ.get(REPO_ENV)
    if override:
        try:
            return Target.parse(override), None
        except ValueError as exc:
            return None, f"{REPO_ENV}: {exc}"
    if status is None or not status.is_repo:
        return None, (status.error if status else None) or "no git repository here"
    remote = status.remote
    if remote is None:
        return None, "this repository has no remote, so there is nothing on GitHub to read"
    if not remote.is_github or not remote.owner or not remote.repo:
        return None, (f"remote {remote.name!r} ({remote.host or remote.url}) is not a GitHub repository "
                      f"(set {REPO_ENV}=HOST/OWNER/REPO for GitHub Enterprise)")
    return Target(remote.owner, remote.repo, remote.host or "github.com"), None


async def _either(
    target: Target | None, reason: str | None, token: str | None,
    from_gh: Callable[[], Awaitable[GhResult[T]]], from_rest: Callable[[Target], Awaitable[GhResult[T]]],
) -> GhResult[T]:
    if target is None:
        return GhResult[T](available=False, kind=ResultKind.NOT_FOUND, reason=reason)
    result = await from_gh()
    if result.available or not token or result.kind not in FALLBACK_KINDS:
        return result
    fallback = await from_rest(target)
    fallback.note = f"gh unusable ({result.reason}); read with the stored token instead."
    return fallback


async def pull_requests(status: GitStatus | None, *, token: str | None = None, repo: str | None = None,
                        state: str = "open", limit: int = 30) -> GhResult[PullRequest]:
    target, why = resolve_target(status, repo)
    path = status.root if status else None
    return await _either(
        target, why, token,
        lambda: gh.gh_pull_requests(path, repo=target.gh_repo if target else None, state=state, limit=limit),
        lambda t: rest.rest_pull_requests(token or "", t.owner, t.name,
                                          state="all" if state == "merged" else state, limit=limit),
    )


async def issues(status: GitStatus | None, *, token: str | None = None, repo: str | None = None,
                 state: str = "open", limit: int = 30) -> GhResult[IssueItem]:
    target, why = resolve_target(status, repo)
    path = status.root if status else None
    return await _either(
        target, why, token,
        lambda: gh.gh_issues(path, repo=target.gh_repo if target else None, state=state, limit=limit),
        lambda t: rest.rest_issues(token or "", t.owner, t.name, state=state, limit=limit),
    )


async def ci_runs(status: GitStatus | None, *, token: str | None = None, repo: str | None = None,
                  limit: int = 20) -> GhResult[CiRun]:
    target, why = resolve_target(status, repo)
    path = status.root if status else None
    return await _either(
        target, why, token,
        lambda: gh.gh_ci_runs(path, repo=target.gh_repo if target else None, limit=limit),
        lambda t: rest.rest_ci_runs(token or "", t.owner, t.name, limit=limit),
    )


async def viewers(status: GitStatus | None, token: str | None, repo: str | None = None) -> dict[str, Viewer]:
    """Who ``gh`` (and the token, if any) are logged in as; both asked concurrently."""
    target, _ = resolve_target(status, repo)
    host = target.host if target and target.host != "github.com" else None
    calls: dict[str, Awaitable[Viewer]] = {"gh": gh.gh_viewer(host, cwd=status.root if status else None)}
    if token:
        calls["token"] = rest.rest_viewer(token)
    results = await asyncio.gather(*calls.values())
    return dict(zip(calls, results))


def summary(result: GhResult[Any]) -> dict[str, Any]:
    """The availability part of a result, for details and metrics."""
    return {k: v for k, v in result.model_dump(mode="json", exclude={"items"}).items() if v is not None}
