"""``/api/v1/git/…``: the local repository and its GitHub side, through ``devtrack.github``.

The repository is the GitHub plugin's (``DEVTRACK_GITHUB_PATH``, else the server's working
directory); a request cannot name another path, so the API never reads outside it. The
GitHub token comes from the manager (stored or overridden), never from the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..github import git, service
from ..github.models import GhResult, GitError, GitStatus
from ..integrations.manager import CredentialsInvalid, IntegrationManager
from .errors import SafeJSONResponse, error_response

router = APIRouter(prefix="/api/v1/git", tags=["git"])
T = TypeVar("T")

_GIT_STATUS = {"not_a_repository": 404, "not_found": 404, "git_missing": 503, "timeout": 504}


def _path(manager: IntegrationManager) -> str:
    return manager.environ.get(service.PATH_ENV) or service.default_path()


def _token(manager: IntegrationManager) -> str | None:
    try:
        return manager.credentials("github").value("token")
    except CredentialsInvalid:
        return None


async def _status(request: Request) -> tuple[IntegrationManager, GitStatus]:
    manager: IntegrationManager = request.app.state.manager
    return manager, await git.git_status(_path(manager))


def _not_a_repo(request: Request, status: GitStatus) -> Response:
    return error_response(request, 404, "not_a_repository", status.error or f"no git repository at {status.path}")


def _gh(request: Request, result: GhResult[Any]) -> Response | dict[str, Any]:
    """Items when the source answered; else the classified reason (and which source failed)."""
    body = result.model_dump(mode="json")
    if result.available:
        return {"ok": True} | body
    status = 404 if result.kind == "not_found" else 502
    details = {k: v for k, v in service.summary(result).items() if k not in ("kind", "reason")}
    return error_response(request, status, str(result.kind), result.reason or "GitHub is not available",
                          details=details)


async def _git(request: Request, call: Callable[[str], Awaitable[T]],
               shape: Callable[[T], dict[str, Any]]) -> Any:
    """Run one git read on the plugin's repository; a :class:`GitError` becomes its kind."""
    manager: IntegrationManager = request.app.state.manager
    try:
        value = await call(_path(manager))
    except GitError as exc:
        return error_response(request, _GIT_STATUS.get(exc.kind, 500), exc.kind, exc.message)
    return {"ok": True} | shape(value)


@router.get("/status", summary="Working tree: branch, upstream, changes, last commit")
async def status(request: Request) -> Any:
    _, st = await _status(request)
    if not st.is_repo:
        return _not_a_repo(request, st)
    return SafeJSONResponse({"ok": True, "dirty": st.dirty} | st.model_dump(mode="json"))


@router.get("/log", summary="Recent commits, newest first")
async def log(request: Request, limit: int = Query(50, ge=1, le=1000), branch: str | None = None) -> Any:
    return await _git(request, lambda path: git.git_log(path, limit=limit, branch=branch),
                      lambda commits: {"commits": [c.model_dump(mode="json") for c in commits]})


@router.get("/branches", summary="Local branches with upstream and ahead/behind")
async def branches(request: Request) -> Any:
    return await _git(request, git.git_branches,
                      lambda found: {"branches": [b.model_dump(mode="json") for b in found]})


@router.get("/diff", summary="Insertions and deletions per file, staged and unstaged")
async def diff(request: Request) -> Any:
    return await _git(request, git.git_diff_stats, lambda stats: stats.model_dump(mode="json"))


@router.get("/prs", summary="Pull requests (gh, or the REST API with the stored token)")
async def prs(request: Request, state: str = Query("open", pattern="^(open|closed|merged|all)$"),
              limit: int = Query(30, ge=1, le=200)) -> Any:
    manager, st = await _status(request)
    return _gh(request, await service.pull_requests(st, token=_token(manager), state=state, limit=limit))


@router.get("/ci", summary="CI runs (GitHub Actions)")
async def ci(request: Request, limit: int = Query(20, ge=1, le=200)) -> Any:
    manager, st = await _status(request)
    return _gh(request, await service.ci_runs(st, token=_token(manager), limit=limit))


@router.get("/issues", summary="Issues")
async def issues(request: Request, state: str = Query("open", pattern="^(open|closed|all)$"),
                 limit: int = Query(30, ge=1, le=200)) -> Any:
    manager, st = await _status(request)
    return _gh(request, await service.issues(st, token=_token(manager), state=state, limit=limit))
