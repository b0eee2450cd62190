"""Sentry: Unresolved issues of the last 24 hours, with event and user counts.

Only endpoints that organization tokens may call are used (the projects and issues lists of
one organization): ``GET /api/0/organizations/`` and the organization detail demand a user
token, so a connection test built on them would fail for a perfectly good org token.
Pages are followed by the ``cursor`` of Sentry's ``Link`` header, always against the
configured base URL, so the token never travels to a host the user did not choose.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from pydantic import SecretStr

from ..contract import (
    ConnectionResult,
    Credentials,
    ErrorIssue,
    Event,
    FieldKind,
    Health,
    Integration,
    IntegrationData,
    Records,
    ResultKind,
    Severity,
    field,
)
from ..condition import Condition

if TYPE_CHECKING:
    from ..http import HttpError, ServiceClient

SENTRY_URL = "https://sentry.io"
PERIOD = "24h"
PAGE_SIZE = 100
#: Unresolved issues are rarely worth more than this on a dashboard; the total still comes
#: from Sentry's ``X-Hits`` header.
MAX_ISSUES = 1000
NEWEST_EVENTS = 10
SEVERITY: dict[str, Severity] = {"fatal": "error", "error": "error", "warning": "warning"}
_LINK_PART = re.compile(r'<[^>]*>((?:\s*;\s*[\w-]+="[^"]*")*)')
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')


class SentryCredentials(Credentials):
    token: SecretStr | None = field(
        label="Auth token", kind=FieldKind.TOKEN, placeholder="sntrys_… or sntryu_…",
        help="Needs org:read, project:read and event:read.",
    )
    org: str | None = field(
        label="Organization slug", kind=FieldKind.TEXT, placeholder="my-org",
        help="The part after /organizations/ in your Sentry URL.",
    )
    project: str | None = field(
        label="Project slug", kind=FieldKind.TEXT, required=False,
        help="Leave blank for every project of the organization.",
    )
    base_url: str | None = field(
        label="Base URL", kind=FieldKind.URL, required=False,
        placeholder="https://sentry.io", help="https://de.sentry.io for the EU region, or your self-hosted URL.",
    )


class SentryIntegration(Integration):
    id = "sentry"
    name = "Sentry"
    description = "Unresolved issues of the last 24 hours, with event and user counts."
    docs_url = "https://docs.sentry.io/api/"
    setup_guide = (
        "Create an organization auth token (Settings → Auth Tokens) or a user token with org:read, project:read and event:read. Self-hosted or EU? Set the base URL."
    )
    credentials_model = SentryCredentials
    #: The most issues one fetch reads (pages of 100).
    max_issues: ClassVar[int] = MAX_ISSUES

    # ------------------------------------------------------------------ plumbing

    def _client(self, creds: Credentials) -> ServiceClient:
        from ..http import ServiceClient, base_url_for

        token = creds.value("token") or ""
        configured = (creds.value("base_url") or SENTRY_URL).rstrip("/")
        base = base_url_for(self.id, re.sub(r"/api/0$", "", configured))
        return ServiceClient(self.id, base, service=self.name,
                             headers={"Authorization": f"Bearer {token}"}, secrets=[token])

    async def _projects(self, client: ServiceClient, org: str, project: str | None) -> list[dict[str, Any]]:
        """One page of the organization's projects (just ``project`` when given): org-token safe."""
        params: dict[str, Any] = {"per_page": 1}
        if project:
            params["query"] = f"slug:{project}"
        body = await client.get_json(f"/api/0/organizations/{quote(org, safe='')}/projects/", params=params)
        if not isinstance(body, list) or not all(isinstance(p, dict) for p in body):
            raise _invalid("the projects list is not a list of projects")
        return body

    async def _issues(self, client: ServiceClient, org: str, project_id: str | None) -> tuple[list[dict[str, Any]], int | None]:
        """Unresolved issues seen in the period, every page up to the cap; and Sentry's total."""
        path = f"/api/0/organizations/{quote(org, safe='')}/issues/"
        params: dict[str, Any] = {"query": "is:unresolved", "statsPeriod": PERIOD, "limit": PAGE_SIZE}
        if project_id:
            params["project"] = project_id
        issues: list[dict[str, Any]] = []
        total: int | None = None
        seen: set[str] = set()
        while len(issues) < self.max_issues:
            resp = await client.request("GET", path, params=params)
            page = client.json_of(resp)
            if not isinstance(page, list) or not all(isinstance(x, dict) for x in page):
                raise _invalid("the issues list is not a list of issues")
            issues.extend(page)
            if total is None:
                total = _int(resp.headers.get("x-hits"), None)
            cursor = next_cursor(resp.headers.get("link", ""))
            if not page or cursor is None or cursor in seen:
                break
            seen.add(cursor)
            params = {**params, "cursor": cursor}
        return issues[: self.max_issues], total

    # ------------------------------------------------------------------ the contract

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        from ..http import HttpError

        org, project = creds.value("org") or "", creds.value("project")
        try:
            async with self._client(creds) as client:
                projects = await self._projects(client, org, project)
                host = client.base_url
        except HttpError as exc:
            return _explain(exc, org, project, "projects").result()
        details: dict[str, Any] = {"organization": org, "base_url": host, "token_type": _token_type(creds)}
        if project:
            if not projects:
                return _project_missing(org, project)
            details["project"] = {"slug": projects[0].get("slug"), "id": str(projects[0].get("id"))}
        scopes = sorted(projects[0]["access"]) if projects and isinstance(projects[0].get("access"), list) else None
        where = f"organization '{org}'" + (f", project '{project}'" if project else "")
        if scopes is None:
            return ConnectionResult.success(f"Connected to Sentry {where} (token scopes not visible).", **details)
        details["scopes"] = scopes
        if "event:read" not in scopes:
            return ConnectionResult.failure(
                ResultKind.PERMISSION,
                f"The token can see Sentry {where} but lacks the event:read scope, so issues cannot be read. "
                f"Its scopes: {', '.join(scopes) or 'none'}. Create a token with org:read, project:read and event:read.",
                **details)
        return ConnectionResult.success(f"Connected to Sentry {where}; token scopes: {', '.join(scopes)}.", **details)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        from ..http import HttpError

        org, project = creds.value("org") or "", creds.value("project")
        step = "projects"
        try:
            async with self._client(creds) as client:
                project_id = None
                if project:
                    found = await self._projects(client, org, project)
                    if not found:
                        return IntegrationData.failed(_project_missing(org, project))
                    project_id = str(found[0].get("id"))
                step = "issues"
                raw, total = await self._issues(client, org, project_id)
        except HttpError as exc:
            return IntegrationData.failed(_explain(exc, org, project, step).result())
        errors = [_error_issue(x) for x in raw]
        return IntegrationData(
            health=_health(errors, total, project, self.max_issues),
            events=_events(errors),
            records=Records(errors=errors),
        )


# ---------------------------------------------------------------------- paging


def next_cursor(header: str) -> str | None:
    """The ``cursor`` of Sentry's ``rel="next"`` link, or ``None`` when it has no results."""
    for m in _LINK_PART.finditer(header):
        attrs = dict(_ATTR.findall(m.group(1)))
        if attrs.get("rel") == "next":
            if attrs.get("results") == "false" or not attrs.get("cursor"):
                return None
            return attrs["cursor"]
    return None


# ---------------------------------------------------------------------- results


def _int(raw: Any, default: int | None = 0) -> int | None:
    """Sentry sends counts as strings (``"150"``); anything unreadable is ``default``."""
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return default


def _when(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _error_issue(x: dict[str, Any]) -> ErrorIssue:
    project = x.get("project") if isinstance(x.get("project"), dict) else {}
    return ErrorIssue(
        id=str(x.get("id", "")),
        title=str(x.get("title") or x.get("culprit") or "(untitled issue)"),
        culprit=x.get("culprit") if isinstance(x.get("culprit"), str) else None,
        level=x.get("level") if isinstance(x.get("level"), str) else None,
        count=_int(x.get("count")) or 0,
        user_count=_int(x.get("userCount")) or 0,
        first_seen=_when(x.get("firstSeen")),
        last_seen=_when(x.get("lastSeen")),
        url=x.get("permalink") if isinstance(x.get("permalink"), str) else None,
        project=project.get("slug"),
        short_id=x.get("shortId"),
    )


def issue_condition(e: ErrorIssue) -> Condition:
    """An issue's verdict from its level, as this plugin rates its events: fatal and error are
    errors, warning a warning, info, debug and anything else information."""
    severity = SEVERITY.get(e.level or "", "info")
    level = "bad" if severity == "error" else "warn" if severity == "warning" else "off"
    return Condition(level, e.level or "unknown")


def _events(errors: list[ErrorIssue]) -> list[Event]:
    newest = sorted((e for e in errors if e.last_seen), key=lambda e: e.last_seen, reverse=True)  # type: ignore[arg-type, return-value]
    return [
        Event(
            title=f"{getattr(e, 'short_id', None) or e.id}: {e.title} ({e.count} event{'s' if e.count != 1 else ''})",
            time=e.last_seen,
            severity=SEVERITY.get(e.level or "", "info"),
            url=e.url,
            source=e.project,
        )
        for e in newest[:NEWEST_EVENTS]
    ]


def _health(errors: list[ErrorIssue], total: int | None, project: str | None, cap: int) -> Health:
    """As the original: healthy with none, degraded with up to five, down with more."""
    count = max(len(errors), total or 0)
    status = "healthy" if count == 0 else "degraded" if count <= 5 else "down"
    scope = f"project {project}" if project else "all projects"
    noun = "issue" if count == 1 else "issues"
    detail = f"{count} unresolved {noun} in the last 24 h ({scope})"
    if count > len(errors):
        detail += f"; read the newest {len(errors)}"
    return Health(status=status, detail=detail + ".", metrics={
        "issues": count,
        "events": sum(e.count for e in errors),
        "users": sum(e.user_count for e in errors),
        "fetched": len(errors),
        "truncated": count > len(errors) or len(errors) >= cap,
    })


# ---------------------------------------------------------------------- messages


def _token_type(creds: Credentials) -> str:
    token = creds.value("token") or ""
    return "organization" if token.startswith("sntrys_") else "user" if token.startswith("sntryu_") else "other"


def _invalid(what: str) -> HttpError:
    from ..http import HttpError

    return HttpError(ResultKind.INVALID_RESPONSE, f"Sentry answered with unexpected JSON: {what}. Check the base URL.")


def _project_missing(org: str, project: str) -> ConnectionResult:
    return ConnectionResult.failure(
        ResultKind.NOT_FOUND,
        f"Sentry organization '{org}' has no project '{project}' that this token can see. "
        "Check the project slug (Settings → Projects), or leave it blank for every project.",
        organization=org, project=project)


def _explain(exc: HttpError, org: str, project: str | None, step: str) -> HttpError:
    """Sentry-specific advice for the kinds a user can fix; the HTTP layer's text otherwise."""
    from ..http import HttpError

    said = f" ({exc.status}: {_detail(exc)})" if exc.status else ""
    if exc.kind == ResultKind.AUTH:
        msg = (f"Sentry rejected the auth token{said}. It may be mistyped, revoked or meant for another "
               "Sentry: create one under Settings → Auth Tokens, and set the base URL for the EU region "
               "(https://de.sentry.io) or a self-hosted server.")
    elif exc.kind == ResultKind.PERMISSION and step == "issues":
        msg = (f"The token may not read issues of Sentry organization '{org}'{said}. It needs the event:read "
               "scope (organization tokens made under Settings → Organization Tokens carry only org:ci): "
               "use a user auth token or an internal integration token with org:read, project:read and event:read.")
    elif exc.kind == ResultKind.PERMISSION:
        msg = (f"The token may not list the projects of Sentry organization '{org}'{said}. It needs org:read "
               "and project:read, and must belong to that organization.")
    elif exc.kind == ResultKind.NOT_FOUND:
        msg = (f"Sentry has no organization '{org}'{said}. Check the organization slug (the 'my-org' of "
               "https://my-org.sentry.io) and that the base URL is your Sentry's region or server.")
    elif exc.kind == ResultKind.INVALID_RESPONSE and "base URL" not in exc.message:
        msg = (f"{exc.message} Check the base URL (https://sentry.io, https://de.sentry.io or your "
               "self-hosted server); Sentry may also be having trouble.")
    else:
        return exc
    return HttpError(exc.kind, msg, status=exc.status, retry_after=exc.retry_after)




def _detail(exc: HttpError) -> str:
    from ..http import vendor_message

    return (vendor_message(exc.body) or "no detail").strip().rstrip(".")
