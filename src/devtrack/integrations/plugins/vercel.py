"""Vercel: projects and deployments, with health from the latest production deployments.

Team-owned resources are only visible with ``teamId`` on every call; without it Vercel answers
as if they did not exist (404) or were forbidden (403). The connection test therefore checks
the team and the project separately and says when a team id is what is missing.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from ..contract import (
    ConnectionResult,
    Credentials,
    Deployment,
    Event,
    FieldKind,
    Health,
    Integration,
    IntegrationData,
    Project,
    Records,
    ResultKind,
    field,
)

if TYPE_CHECKING:
    import httpx

    from ..http import ServiceClient

API = "https://api.vercel.com"
#: Teams asked for when no team id is set, and how many of them a message names.
TEAMS_LISTED = 20
TEAMS_NAMED = 5

_STATES = {
    "READY": "ready",
    "ERROR": "error",
    "BUILDING": "building",
    "INITIALIZING": "building",
    "QUEUED": "queued",
    "CANCELED": "canceled",
    "DELETED": "deleted",
}


class VercelCredentials(Credentials):
    token: SecretStr | None = field(
        label="Access token", kind=FieldKind.TOKEN, placeholder="vercel_…",
        help="Account Settings → Tokens.",
    )
    team_id: str | None = field(
        label="Team ID", kind=FieldKind.PROJECT_ID, required=False, placeholder="team_…",
        help="Needed when the projects belong to a team.",
    )
    project_id: str | None = field(
        label="Project ID", kind=FieldKind.PROJECT_ID, required=False, placeholder="prj_…",
        help="Leave blank to follow every project.",
    )


def _classify(resp: httpx.Response, body: Any) -> ResultKind | None:
    """Vercel answers a bad or missing token with 403 ``invalidToken``/``missingToken``."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and (err.get("invalidToken") or err.get("missingToken")):
        return ResultKind.AUTH
    return None


class VercelIntegration(Integration):
    id = "vercel"
    name = "Vercel"
    description = "Projects and deployments, with health from the latest production deployment."
    docs_url = "https://vercel.com/docs/rest-api"
    setup_guide = (
        "Create a token at https://vercel.com/account/tokens. For a team's projects, also give "
        "the team id (Team Settings → General), or every call answers 403/404."
    )
    credentials_model = VercelCredentials
    #: Deployments asked for per page, and the most followed across pages.
    page_size = 100
    max_deployments = 300
    max_projects = 200

    def _client(self, creds: Credentials) -> ServiceClient:
        from ..http import ServiceClient, base_url_for

        token = creds.value("token") or ""
        return ServiceClient(
            self.id, base_url_for(self.id, API), service="Vercel",
            headers={"Authorization": f"Bearer {token}"}, secrets=[token], classify=_classify,
        )

    @staticmethod
    def _scope(creds: Credentials) -> dict[str, str]:
        team = creds.value("team_id")
        return {"teamId": team} if team else {}

    # ------------------------------------------------------------------ test

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        from ..http import HttpError

        team, project = creds.value("team_id"), creds.value("project_id")
        try:
            async with self._client(creds) as c:
                user = (await c.get_json("/v2/user")).get("user") or {}
                who = user.get("username") or user.get("email") or user.get("id") or "unknown user"
                details: dict[str, Any] = {"user": who, "limited": bool(user.get("limited"))}
                try:
                    projects = await c.get_json("/v10/projects", params={**self._scope(creds), "limit": 1})
                except HttpError as exc:
                    if team and exc.kind in (ResultKind.PERMISSION, ResultKind.NOT_FOUND):
                        return ConnectionResult.failure(
                            ResultKind.PERMISSION,
                            f"The token works (user {who}) but cannot see team {team}: check the team id, "
                            "and that the token's scope includes that team.",
                            **details,
                        )
                    raise
                if project:
                    try:
                        await c.get_json("/v6/deployments", params={**self._scope(creds), "projectId": project, "limit": 1})
                    except HttpError as exc:
                        if exc.kind not in (ResultKind.NOT_FOUND, ResultKind.PERMISSION):
                            raise
                        hint = (
                            f"Project {project} is not in team {team}."
                            if team
                            else f"Project {project} was not found in {who}'s personal account; "
                            "if it belongs to a team, set the team id."
                        )
                        return ConnectionResult.failure(ResultKind.NOT_FOUND, hint, **details)
                message = f"Connected to Vercel as {who}" + (f", team {team}" if team else "") + "."
                if not team:
                    teams = await self._teams(c)
                    if teams:
                        details["teams"] = teams
                        message += " " + _teams_hint(teams, personal_projects=bool(projects.get("projects")))
                if details["limited"]:
                    message += " The token sees a limited user (a team enforces SAML SSO)."
                return ConnectionResult.success(message, **details)
        except HttpError as exc:
            return exc.result()

    @staticmethod
    async def _teams(c: ServiceClient) -> list[dict[str, str]]:
        """The teams the token can see (best effort: a token that may not list them still works)."""
        from ..http import HttpError

        try:
            body = await c.get_json("/v2/teams", params={"limit": TEAMS_LISTED})
        except HttpError:
            return []
        teams = body.get("teams") if isinstance(body, dict) else None
        return [
            {"id": str(t["id"]), "slug": str(t.get("slug") or ""), "name": str(t.get("name") or t.get("slug") or t["id"])}
            for t in teams or [] if isinstance(t, dict) and t.get("id")
        ]

    # ------------------------------------------------------------------ data

    async def get_data(self, creds: Credentials) -> IntegrationData:
        from ..http import HttpError

        try:
            async with self._client(creds) as c:
                projects, deployments = await asyncio.gather(
                    self._projects(c, creds), self._deployments(c, creds)
                )
        except HttpError as exc:
            return IntegrationData.failed(exc.result())
        names = {p.id: p.name for p in projects}
        for d in deployments:
            d.project = names.get(d.project or "", d.project)
        return IntegrationData(
            health=_health(deployments, len(projects)),
            events=[_event(d) for d in deployments[:20]],
            records=Records(projects=projects, deployments=deployments),
        )

    async def _projects(self, c: ServiceClient, creds: Credentials) -> list[Project]:
        from ..http import paginate

        async def page(cursor: Any) -> tuple[list[Project], Any]:
            params = {**self._scope(creds), "limit": 100, "from": cursor}
            body = await c.get_json("/v10/projects", params=params)
            items = [
                Project(
                    id=p["id"], name=p.get("name", p["id"]),
                    status=(p.get("latestDeployments") or [{}])[0].get("readyState") if p.get("latestDeployments") else None,
                    url=f"https://vercel.com/{p.get('accountId', '')}/{p.get('name', '')}",
                    framework=p.get("framework"),
                )
                for p in body.get("projects", [])
            ]
            return items, (body.get("pagination") or {}).get("next")

        projects = await paginate(page, max_items=self.max_projects)
        wanted = creds.value("project_id")
        return [p for p in projects if p.id == wanted] if wanted else projects

    async def _deployments(self, c: ServiceClient, creds: Credentials) -> list[Deployment]:
        from ..http import paginate

        async def page(cursor: Any) -> tuple[list[Deployment], Any]:
            params = {**self._scope(creds), "limit": self.page_size, "until": cursor,
                      "projectId": creds.value("project_id")}
            body = await c.get_json("/v6/deployments", params=params)
            items = [_deployment(d) for d in body.get("deployments", [])]
            return items, (body.get("pagination") or {}).get("next")

        return await paginate(page, max_items=self.max_deployments)


def _teams_hint(teams: list[dict[str, str]], *, personal_projects: bool) -> str:
    """What to tell a user whose token sees teams while no team id is set."""
    named = ", ".join(f"{t['name']} ({t['id']})" for t in teams[:TEAMS_NAMED])
    if len(teams) > TEAMS_NAMED:
        named += f" and {len(teams) - TEAMS_NAMED} more"
    lead = ("This token can also see teams" if personal_projects
            else "No personal projects; this token can see teams")
    return (f"{lead}: {named} — set team_id to show a team's projects "
            f"(devtrack integrations set vercel team_id={teams[0]['id']}).")


def _ms(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc) if isinstance(value, int | float) else None


def _deployment(d: dict[str, Any]) -> Deployment:
    meta = d.get("meta") or {}
    url = d.get("url")
    return Deployment(
        id=d.get("uid") or d.get("id") or "",
        project=d.get("projectId") or d.get("name"),
        state=_STATES.get(str(d.get("state") or d.get("readyState") or "").upper(), "unknown"),  # type: ignore[arg-type]
        target=d.get("target") or "preview",
        url=f"https://{url}" if url and not str(url).startswith("http") else url,
        commit=meta.get("githubCommitSha") or meta.get("gitlabCommitSha") or meta.get("bitbucketCommitSha"),
        branch=meta.get("githubCommitRef") or meta.get("gitlabCommitRef") or meta.get("bitbucketCommitRef"),
        created_at=_ms(d.get("created") or d.get("createdAt")),
        provider="vercel",
        message=meta.get("githubCommitMessage"),
        error=d.get("errorMessage"),
        inspector_url=d.get("inspectorUrl"),
    )


def _health(deployments: list[Deployment], project_count: int) -> Health:
    latest: dict[str, Deployment] = {}
    for d in deployments:  # newest first
        if d.target == "production" and d.state in ("ready", "error", "canceled") and d.project not in latest:
            latest[d.project or ""] = d
    metrics: dict[str, Any] = {
        "projects": project_count,
        "deployments": len(deployments),
        "failed": sum(d.state == "error" for d in deployments),
        "building": sum(d.state in ("building", "queued") for d in deployments),
    }
    if not latest:
        return Health(status="unknown" if not deployments else "healthy",
                      detail="no production deployment yet" if not deployments else "no finished production deployment",
                      metrics=metrics)
    failed = [d for d in latest.values() if d.state == "error"]
    metrics["production_failed"] = len(failed)
    if failed and len(failed) == len(latest):
        names = ", ".join(sorted({d.project or "?" for d in failed})[:3])
        return Health(status="down", detail=f"latest production deployment failed: {names}", metrics=metrics)
    if failed:
        names = ", ".join(sorted({d.project or "?" for d in failed})[:3])
        return Health(status="degraded", detail=f"{len(failed)} of {len(latest)} projects' production deploy failed: {names}", metrics=metrics)
    newest = max(latest.values(), key=lambda d: d.created_at or datetime.min.replace(tzinfo=timezone.utc))
    return Health(status="healthy", detail=f"production ready ({newest.project})", metrics=metrics)


def _event(d: Deployment) -> Event:
    severity = "error" if d.state == "error" else "warning" if d.state == "canceled" else "info"
    what = {"ready": "deployed", "error": "failed", "canceled": "canceled", "building": "building", "queued": "queued"}.get(d.state, d.state)
    branch = f" from {d.branch}" if d.branch else ""
    return Event(
        title=f"{d.project}: {d.target} deployment {what}{branch}",
        time=d.created_at, severity=severity, url=d.url, source="vercel",  # type: ignore[arg-type]
    )
