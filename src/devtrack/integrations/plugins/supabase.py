"""Supabase (Management API): projects, their status and per-service health.

The original app probed a project's REST endpoint with a service-role key; this plugin uses a
personal access token on the Management API instead, which sees every project and its
services without handing DevTrack a key that bypasses row-level security.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from ..contract import (
    ConnectionResult,
    Credentials,
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
from ..condition import Condition, words

if TYPE_CHECKING:
    from ..http import ServiceClient

API = "https://api.supabase.com"
SERVICES = "auth,db,rest,realtime,storage"
#: Project states in which a project is expected to serve traffic.
_RUNNING = {"ACTIVE_HEALTHY", "ACTIVE_UNHEALTHY"}
_FAILED = {"ACTIVE_UNHEALTHY", "INIT_FAILED", "RESTORE_FAILED", "PAUSE_FAILED", "UNKNOWN"}
#: Project states that serve nothing by choice: a paused or removed project is not a failure.
_OFF = {"INACTIVE", "REMOVED"}


class SupabaseCredentials(Credentials):
    access_token: SecretStr | None = field(
        label="Access token", kind=FieldKind.TOKEN, placeholder="sbp_…",
        help="A Management API personal access token.",
    )
    project_ref: str | None = field(
        label="Project ref", kind=FieldKind.PROJECT_ID, required=False,
        placeholder="abcdefghijklmnopqrst", help="Leave blank to follow every project.",
    )


class SupabaseIntegration(Integration):
    id = "supabase"
    name = "Supabase"
    description = "Projects, their status and per-service health (auth, database, REST, realtime, storage)."
    docs_url = "https://supabase.com/docs/reference/api/introduction"
    setup_guide = (
        "Create a personal access token at https://supabase.com/dashboard/account/tokens (it "
        "starts with sbp_). Give a project ref (Project Settings → General) to follow one "
        "project, or leave it blank for all."
    )
    credentials_model = SupabaseCredentials
    page_size = 100
    max_projects = 500
    #: Health is asked of at most this many running projects, a few at a time (120 calls/min).
    max_health_checks = 25
    health_concurrency = 5

    def _client(self, creds: Credentials) -> ServiceClient:
        from ..http import ServiceClient, base_url_for

        token = creds.value("access_token") or ""
        return ServiceClient(
            self.id, base_url_for(self.id, API), service="Supabase",
            headers={"Authorization": f"Bearer {token}"}, secrets=[token],
        )

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        from ..http import HttpError

        ref = creds.value("project_ref")
        try:
            async with self._client(creds) as c:
                if ref:
                    projects = [await c.get_json(f"/v1/projects/{ref}")]
                    message = (f"Connected to Supabase project {projects[0].get('name', ref)} "
                               f"({projects[0].get('status', 'unknown status')}).")
                else:
                    projects = [p for p in await c.get_json("/v1/projects") if isinstance(p, dict)]
                    message = f"Connected to Supabase: {len(projects)} project{'s' if len(projects) != 1 else ''} visible."
                details: dict[str, Any] = {"projects": len(projects)}
                if ref:
                    details.update(project=ref, status=projects[0].get("status"), region=projects[0].get("region"))
                # Listing needs less privilege than reading health: probe one running project.
                probe = next((p for p in projects if p.get("status") in _RUNNING), None)
                if probe is not None:
                    await c.get_json(f"/v1/projects/{probe.get('ref') or probe.get('id')}/health",
                                     params={"services": "db"})
                return ConnectionResult.success(message, **details)
        except HttpError as exc:
            return self._explain(exc, ref).result()

    @staticmethod
    def _explain(exc: Any, ref: str | None) -> Any:
        """Tell a bad token, a missing privilege and a wrong ref apart in words."""
        from ..http import HttpError

        if exc.kind == ResultKind.AUTH:
            return HttpError(ResultKind.AUTH, "Supabase rejected the access token (401): it is wrong, expired or revoked. "
                             "Create a new one under Account → Access Tokens.", status=exc.status)
        if exc.kind == ResultKind.PERMISSION:
            return HttpError(ResultKind.PERMISSION, "The access token is valid but lacks the privilege to read "
                             + (f"the service health of project {ref}" if ref else "projects' service health") + " (403). "
                             "Use a token of an organization owner or developer.", status=exc.status)
        if exc.kind == ResultKind.NOT_FOUND and ref:
            return HttpError(ResultKind.NOT_FOUND, f"Supabase has no project with ref {ref!r} that this token can see (404). "
                             "Check the ref in Project Settings → General; a token scoped to another organization can list "
                             "a project yet not open it.", status=exc.status)
        return exc

    async def get_data(self, creds: Credentials) -> IntegrationData:
        from ..http import HttpError

        ref = creds.value("project_ref")
        try:
            async with self._client(creds) as c:
                raw = [await c.get_json(f"/v1/projects/{ref}")] if ref else await self._all_projects(c)
                projects = [_project(p) for p in raw]
                await self._attach_health(c, projects)
        except HttpError as exc:
            return IntegrationData.failed(self._explain(exc, ref).result())
        return IntegrationData(health=_health(projects), events=_events(projects), records=Records(projects=projects))

    async def _all_projects(self, c: ServiceClient) -> list[dict[str, Any]]:
        """Every project of every organization, paged with offset/limit."""
        orgs = await c.get_json("/v1/organizations")

        async def of_org(slug: str) -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            offset = 0
            while len(out) < self.max_projects:
                body = await c.get_json(
                    f"/v1/organizations/{slug}/projects", params={"offset": offset, "limit": self.page_size}
                )
                page = body.get("projects") or []
                out.extend({**p, "organization_slug": slug} for p in page)
                total = (body.get("pagination") or {}).get("count", 0)
                offset += len(page)
                if not page or offset >= total:
                    break
            return out

        per_org = await asyncio.gather(*(of_org(o["slug"]) for o in orgs if isinstance(o, dict) and o.get("slug")))
        return [p for group in per_org for p in group][: self.max_projects]

    async def _attach_health(self, c: ServiceClient, projects: list[Project]) -> None:
        from ..http import HttpError

        gate = asyncio.Semaphore(self.health_concurrency)
        running = [p for p in projects if p.status in _RUNNING][: self.max_health_checks]

        async def one(p: Project) -> None:
            async with gate:
                try:
                    body = await c.get_json(f"/v1/projects/{p.id}/health", params={"services": SERVICES})
                except HttpError as exc:
                    if exc.kind in (ResultKind.AUTH, ResultKind.PERMISSION, ResultKind.RATE_LIMITED):
                        raise
                    p.services["api"] = f"unknown ({exc.kind})"
                    return
            for svc in body if isinstance(body, list) else []:
                status = svc.get("status") or ("ACTIVE_HEALTHY" if svc.get("healthy") else "UNHEALTHY")
                p.services[str(svc.get("name"))] = str(status)

        await asyncio.gather(*(one(p) for p in running))


def _project(p: dict[str, Any]) -> Project:
    ref = p.get("ref") or p.get("id") or ""
    return Project(
        id=ref,
        name=p.get("name", ref),
        status=p.get("status"),
        region=p.get("region"),
        url=f"https://supabase.com/dashboard/project/{ref}",
        organization=p.get("organization_slug") or p.get("organization_id"),
        created_at=p.get("created_at") or p.get("inserted_at"),
    )


def _unhealthy(p: Project) -> list[str]:
    return sorted(k for k, v in p.services.items() if v != "ACTIVE_HEALTHY")


def project_condition(p: Project) -> Condition:
    """A project's verdict, the one this plugin's health counts: an unhealthy service or a failed
    status is ``bad`` even while the project's own status still says ``ACTIVE_HEALTHY``."""
    broken = _unhealthy(p)
    if broken == ["api"]:  # the health endpoint itself could not be read
        return Condition("bad", f"health {p.services['api']}")
    if broken:
        return Condition("bad", f"{', '.join(b for b in broken if b != 'api')} unhealthy")
    if p.status in _FAILED:
        return Condition("bad", words(p.status))
    if p.status in _RUNNING:
        return Condition("ok", "healthy")
    if p.status in _OFF:
        return Condition("off", "paused" if p.status == "INACTIVE" else words(p.status))
    return Condition("warn", words(p.status))  # coming up, restoring, upgrading, pausing, …


def _health(projects: list[Project]) -> Health:
    metrics: dict[str, Any] = {
        "projects": len(projects),
        "active": sum(p.status in _RUNNING for p in projects),
        "paused": sum(p.status == "INACTIVE" for p in projects),
    }
    if not projects:
        return Health(status="unknown", detail="no projects", metrics=metrics)
    bad = [p for p in projects if project_condition(p).level == "bad"]
    metrics["unhealthy"] = len(bad)
    running = [p for p in projects if p.status in _RUNNING]
    if not bad:
        paused = f", {metrics['paused']} paused" if metrics["paused"] else ""
        return Health(status="healthy", detail=f"{len(running)} active project(s) healthy{paused}", metrics=metrics)
    parts = [f"{p.name}: {', '.join(_unhealthy(p)) or p.status}" for p in bad[:3]]
    status = "down" if running and all(p in bad for p in running) else "degraded"
    return Health(status=status, detail="; ".join(parts), metrics=metrics)


def _events(projects: list[Project]) -> list[Event]:
    out = []
    for p in projects:
        broken = _unhealthy(p)
        if p.status in _FAILED or broken:
            out.append(Event(title=f"{p.name}: {', '.join(broken) + ' unhealthy' if broken else p.status}",
                             severity="error", url=p.url, source="supabase"))
        elif p.status not in _RUNNING:
            out.append(Event(title=f"{p.name} is {str(p.status).lower().replace('_', ' ')}", severity="info",
                             url=p.url, source="supabase"))
    return out
