"""The REST fallback: with a stored token and no usable ``gh``, read GitHub's API directly.

It goes through the shared HTTP layer (:mod:`devtrack.integrations.http`: retries, rate
limits, redaction) and follows ``Link: rel="next"``. ``DEVTRACK_GITHUB_BASE_URL`` points it at
GitHub Enterprise (``https://HOST/api/v3``) or the emulator. A 403 with
``x-ratelimit-remaining: 0`` is a rate limit, not a permission problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from ..integrations.contract import DEADLINE, ResultKind
from .models import CiRun, GhResult, IssueItem, PullRequest, Viewer

DEFAULT_BASE_URL = "https://api.github.com"
PLUGIN_ID = "github"
#: GitHub's rate-limit reset is often an hour away: never wait that long inside a dashboard call.
MAX_RETRIES = 2

T = TypeVar("T")


def base_url() -> str:
    from ..integrations.http import base_url_for

    return base_url_for(PLUGIN_ID, DEFAULT_BASE_URL)


def _client(token: str, url: str | None = None) -> Any:
    from ..integrations.http import ServiceClient

    return ServiceClient(
        PLUGIN_ID, url or base_url(), service="GitHub",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                 "X-GitHub-Api-Version": "2022-11-28"},
        secrets=[token], max_retries=MAX_RETRIES, classify=_classify,
    )


#: Time a REST call may take (retries included) when no caller set a deadline.
DEFAULT_BUDGET = 20.0


@contextmanager
def _budget(seconds: float = DEFAULT_BUDGET) -> Iterator[None]:
    """Give the shared client a deadline when nobody did, so a rate-limit reset an hour
    away is reported at once instead of waited for."""
    if DEADLINE.get() is not None:
        yield
        return
    token = DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        DEADLINE.reset(token)


def _classify(resp: Any, body: Any) -> ResultKind | None:
    """GitHub's quota answers: 403/429 with ``x-ratelimit-remaining: 0``, or the secondary
    limit's message."""
    if resp.status_code in (403, 429):
        if resp.headers.get("x-ratelimit-remaining") == "0":
            return ResultKind.RATE_LIMITED
        message = body.get("message", "") if isinstance(body, dict) else ""
        if "rate limit" in str(message).lower():
            return ResultKind.RATE_LIMITED
    return None


def _time(raw: Any) -> datetime | None:
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) and raw else None


def _login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, dict) else None


def pr_from_rest(d: dict[str, Any]) -> PullRequest:
    state = "merged" if d.get("merged_at") else str(d.get("state", ""))
    return PullRequest(
        number=d["number"], title=d.get("title", ""), state=state, author=_login(d.get("user")),
        branch=(d.get("head") or {}).get("ref"), base=(d.get("base") or {}).get("ref"),
        created_at=_time(d.get("created_at")), updated_at=_time(d.get("updated_at")),
        url=d.get("html_url"), draft=bool(d.get("draft")),
    )


def issue_from_rest(d: dict[str, Any]) -> IssueItem:
    return IssueItem(
        number=d["number"], title=d.get("title", ""), state=str(d.get("state", "")), author=_login(d.get("user")),
        labels=[lb["name"] if isinstance(lb, dict) else str(lb) for lb in d.get("labels") or []],
        created_at=_time(d.get("created_at")), updated_at=_time(d.get("updated_at")), url=d.get("html_url"),
    )


def run_from_rest(d: dict[str, Any]) -> CiRun:
    return CiRun(
        id=str(d["id"]), name=d.get("name") or "", title=d.get("display_title"),
        status=str(d.get("status") or ""), conclusion=d.get("conclusion") or None,
        branch=d.get("head_branch"), sha=d.get("head_sha"), event=d.get("event"),
        created_at=_time(d.get("created_at")), updated_at=_time(d.get("updated_at")), url=d.get("html_url"),
    )


async def _collect(token: str, path: str, params: dict[str, Any], limit: int,
                   pick: Callable[[Any], list[dict[str, Any]]], keep: Callable[[dict[str, Any]], bool],
                   convert: Callable[[dict[str, Any]], T], repo: str) -> GhResult[T]:
    from ..integrations.http import HttpError

    items: list[T] = []
    try:
        with _budget():
            async with _client(token) as client:
                pages = client.paginate_link(
                    path, params={**params, "per_page": min(100, max(limit, 1))}, max_pages=20)
                async for resp in pages:
                    items.extend(convert(d) for d in pick(client.json_of(resp)) if keep(d))
                    if len(items) >= limit:
                        break
    except HttpError as exc:
        logged_in = False if exc.kind == ResultKind.AUTH else True
        return GhResult[T](source="rest", available=False, logged_in=logged_in, kind=exc.kind,
                           reason=exc.message, repo=repo)
    except (KeyError, TypeError, AttributeError) as exc:
        return GhResult[T](source="rest", available=False, logged_in=True, kind=ResultKind.INVALID_RESPONSE,
                           reason=f"GitHub answered with an unexpected shape ({exc.__class__.__name__}: {exc}).",
                           repo=repo)
    return GhResult[T](source="rest", available=True, logged_in=True, repo=repo, items=items[:limit])


def _as_list(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise TypeError("expected a JSON list")
    return body


async def rest_pull_requests(token: str, owner: str, repo: str, *, state: str = "open",
                             limit: int = 30) -> GhResult[PullRequest]:
    return await _collect(token, f"/repos/{owner}/{repo}/pulls", {"state": state}, limit, _as_list,
                          lambda d: True, pr_from_rest, f"{owner}/{repo}")


async def rest_issues(token: str, owner: str, repo: str, *, state: str = "open",
                      limit: int = 30) -> GhResult[IssueItem]:
    """Issues only: GitHub's /issues lists pull requests too (they carry ``pull_request``)."""
    return await _collect(token, f"/repos/{owner}/{repo}/issues", {"state": state}, limit, _as_list,
                          lambda d: "pull_request" not in d, issue_from_rest, f"{owner}/{repo}")


async def rest_ci_runs(token: str, owner: str, repo: str, *, limit: int = 20) -> GhResult[CiRun]:
    return await _collect(token, f"/repos/{owner}/{repo}/actions/runs", {}, limit,
                          lambda body: body["workflow_runs"], lambda d: True, run_from_rest, f"{owner}/{repo}")


async def rest_viewer(token: str) -> Viewer:
    """``GET /user``: the token's login and, for classic tokens, its scopes (``X-OAuth-Scopes``)."""
    from ..integrations.http import HttpError

    try:
        with _budget():
            async with _client(token) as client:
                resp = await client.request("GET", "/user")
                body = client.json_of(resp)
    except HttpError as exc:
        return Viewer(source="rest", available=False, logged_in=False if exc.kind == ResultKind.AUTH else None,
                      kind=exc.kind, reason=exc.message)
    raw_scopes = resp.headers.get("x-oauth-scopes")
    scopes = None if raw_scopes is None else [s.strip() for s in raw_scopes.split(",") if s.strip()]
    return Viewer(source="rest", available=True, logged_in=True, login=body.get("login") if isinstance(body, dict) else None,
                  scopes=scopes, host=str(resp.request.url.host) if resp.request else None)
