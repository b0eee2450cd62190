"""The GitHub CLI: pull requests, CI runs and issues through ``gh … --json``.

Only fields that gh 2.23 (Debian's) knows are requested. Each call reports whether ``gh`` was
usable and, if not, why: missing binary, exit code 4 (authentication required), no GitHub
remote, network trouble. Pass ``repo`` (``[HOST/]OWNER/REPO``) to skip remote detection.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ..integrations.contract import ResultKind
from .git import _kill
from .models import CiRun, GhResult, IssueItem, PullRequest, Viewer

DEFAULT_TIMEOUT = 15.0
PR_FIELDS = "number,title,state,author,headRefName,baseRefName,createdAt,updatedAt,url,isDraft"
ISSUE_FIELDS = "number,title,state,author,labels,createdAt,updatedAt,url"
RUN_FIELDS = ("databaseId,name,displayTitle,workflowName,status,conclusion,event,"
              "headBranch,headSha,createdAt,updatedAt,url")
EXIT_AUTH = 4

T = TypeVar("T")


class GhFailure(Exception):
    """``gh`` could not deliver; carries the fields of a failed :class:`GhResult`."""

    def __init__(self, kind: ResultKind, reason: str, logged_in: bool | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.logged_in = logged_in


def gh_binary() -> str | None:
    return shutil.which("gh")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GH_PROMPT_DISABLED="1", GH_NO_UPDATE_NOTIFIER="1", NO_COLOR="1", CLICOLOR="0",
               GH_PAGER="cat", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.pop("GH_DEBUG", None)
    env.pop("DEBUG", None)
    return env


async def run_gh(args: Sequence[str], cwd: str | os.PathLike[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, env: dict[str, str] | None = None) -> str:
    """Run ``gh``; return stdout, or raise :class:`GhFailure` saying why not."""
    binary = gh_binary()
    if binary is None:
        raise GhFailure(ResultKind.UNAVAILABLE,
                        "gh is not installed (no `gh` on PATH); install the GitHub CLI or store a token.")
    workdir = os.fspath(cwd) if cwd is not None and Path(cwd).is_dir() else None
    try:
        proc = await asyncio.create_subprocess_exec(
            binary, *args, cwd=workdir, env=_env() | (env or {}), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise GhFailure(ResultKind.UNAVAILABLE, f"gh could not be started: {exc.strerror or exc}.") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        await _kill(proc)
        raise GhFailure(ResultKind.TIMEOUT, f"gh did not finish within {timeout:g}s.") from None
    except asyncio.CancelledError:
        await _kill(proc)
        raise
    if proc.returncode != 0:
        raise classify_gh_error(proc.returncode or 1, err.decode("utf-8", "replace"))
    return out.decode("utf-8", "replace")


def classify_gh_error(code: int, stderr: str) -> GhFailure:
    """Turn gh's exit code and message into a kind and a sentence."""
    text = stderr.strip()
    low = text.lower()
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), f"exit code {code}")
    if code == EXIT_AUTH:
        return GhFailure(ResultKind.AUTH, "gh is not logged in (exit code 4): run `gh auth login`, "
                         "or store a token for the REST API.", logged_in=False)
    if "bad credentials" in low or "http 401" in low:
        return GhFailure(ResultKind.AUTH, "gh's token was rejected (HTTP 401): run `gh auth login` again.",
                         logged_in=False)
    if "rate limit" in low:
        return GhFailure(ResultKind.RATE_LIMITED, f"GitHub is rate-limiting gh: {first}", logged_in=True)
    if ("no git remotes found" in low or "none of the git remotes" in low or "not a git repository" in low
            or "unable to determine base repository" in low):
        return GhFailure(ResultKind.NOT_FOUND, f"not a GitHub repository: {first}")
    if "could not resolve to a repository" in low or "http 404" in low:
        return GhFailure(ResultKind.NOT_FOUND, f"GitHub does not know this repository: {first}", logged_in=True)
    if any(s in low for s in ("error connecting to", "dial tcp", "no such host", "connection refused",
                              "x509", "tls:", "i/o timeout", "timeout", "network is unreachable",
                              "connection reset")):
        return GhFailure(ResultKind.NETWORK, f"gh cannot reach GitHub: {first}")
    if "http 403" in low:
        return GhFailure(ResultKind.PERMISSION, f"GitHub refused gh: {first}", logged_in=True)
    return GhFailure(ResultKind.ERROR, f"gh failed: {first}")


def _time(raw: Any) -> datetime | None:
    if not raw or not isinstance(raw, str) or raw.startswith("0001-01-01"):
        return None
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def _login(author: Any) -> str | None:
    return author.get("login") if isinstance(author, dict) else None


def pr_from_gh(d: dict[str, Any]) -> PullRequest:
    return PullRequest(
        number=d["number"], title=d.get("title", ""), state=str(d.get("state", "")).lower(),
        author=_login(d.get("author")), branch=d.get("headRefName"), base=d.get("baseRefName"),
        created_at=_time(d.get("createdAt")), updated_at=_time(d.get("updatedAt")),
        url=d.get("url"), draft=bool(d.get("isDraft")),
    )


def issue_from_gh(d: dict[str, Any]) -> IssueItem:
    return IssueItem(
        number=d["number"], title=d.get("title", ""), state=str(d.get("state", "")).lower(),
        author=_login(d.get("author")), labels=[lb["name"] for lb in d.get("labels") or []],
        created_at=_time(d.get("createdAt")), updated_at=_time(d.get("updatedAt")), url=d.get("url"),
    )


def run_from_gh(d: dict[str, Any]) -> CiRun:
    return CiRun(
        id=str(d.get("databaseId")), name=d.get("workflowName") or d.get("name") or "",
        title=d.get("displayTitle"), status=str(d.get("status") or "").lower(),
        conclusion=(str(d["conclusion"]).lower() or None) if d.get("conclusion") else None,
        branch=d.get("headBranch"), sha=d.get("headSha"), event=d.get("event"),
        created_at=_time(d.get("createdAt")), updated_at=_time(d.get("updatedAt")), url=d.get("url"),
    )


async def _gh_list(sub: list[str], fields: str, convert: Callable[[dict[str, Any]], T],
                   path: str | os.PathLike[str] | None, repo: str | None, limit: int,
                   timeout: float) -> GhResult[T]:
    args = [*sub, "--limit", str(limit), "--json", fields]
    if repo:
        args += ["--repo", repo]
    try:
        out = await run_gh(args, cwd=path, timeout=timeout)
    except GhFailure as exc:
        return GhResult[T](source="gh", available=False, logged_in=exc.logged_in, kind=exc.kind,
                           reason=exc.reason, repo=repo)
    try:
        items = [convert(d) for d in json.loads(out or "[]")]
    except (ValueError, KeyError, TypeError) as exc:
        return GhResult[T](source="gh", available=False, logged_in=True, kind=ResultKind.INVALID_RESPONSE,
                           reason=f"gh printed something that is not the expected JSON: {exc}", repo=repo)
    return GhResult[T](source="gh", available=True, logged_in=True, repo=repo, items=items)


async def gh_pull_requests(path: str | os.PathLike[str] | None = ".", *, repo: str | None = None,
                           state: str = "open", limit: int = 30,
                           timeout: float = DEFAULT_TIMEOUT) -> GhResult[PullRequest]:
    """Pull requests (``state``: open, closed, merged or all)."""
    return await _gh_list(["pr", "list", "--state", state], PR_FIELDS, pr_from_gh, path, repo, limit, timeout)


async def gh_issues(path: str | os.PathLike[str] | None = ".", *, repo: str | None = None,
                    state: str = "open", limit: int = 30,
                    timeout: float = DEFAULT_TIMEOUT) -> GhResult[IssueItem]:
    """Issues (``state``: open, closed or all); gh never mixes pull requests in."""
    return await _gh_list(["issue", "list", "--state", state], ISSUE_FIELDS, issue_from_gh, path, repo,
                          limit, timeout)


async def gh_ci_runs(path: str | os.PathLike[str] | None = ".", *, repo: str | None = None,
                     limit: int = 20, timeout: float = DEFAULT_TIMEOUT) -> GhResult[CiRun]:
    """GitHub Actions workflow runs, newest first."""
    return await _gh_list(["run", "list"], RUN_FIELDS, run_from_gh, path, repo, limit, timeout)


async def gh_viewer(host: str | None = None, cwd: str | os.PathLike[str] | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> Viewer:
    """Whether ``gh`` is usable and as whom: ``gh api -i user`` (login and token scopes)."""
    args = ["api", "-i", "user"]
    try:  # GH_HOST rather than --hostname, which refuses a host with a port
        out = await run_gh(args, cwd=cwd, timeout=timeout, env={"GH_HOST": host} if host else None)
    except GhFailure as exc:
        return Viewer(source="gh", available=False, logged_in=exc.logged_in, kind=exc.kind,
                      reason=exc.reason, host=host)
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    scopes: list[str] | None = None
    for line in head.splitlines()[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-oauth-scopes":
            scopes = [s.strip() for s in value.split(",") if s.strip()]
    try:
        login = json.loads(body).get("login")
    except (ValueError, AttributeError):
        login = None
    return Viewer(source="gh", available=True, logged_in=True, host=host, login=login, scopes=scopes)
