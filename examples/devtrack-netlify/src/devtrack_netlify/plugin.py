"""Netlify: sites and their deploys, with health from each site's latest production deploy.

A personal access token (``Authorization: Bearer``) reads ``GET /user``, ``GET /sites`` and
``GET /sites/{site_id}/deploys``. Lists are paged with ``page``/``per_page`` and a ``Link``
header; only links under the API's own base URL are followed, so the token never goes to a
host a response names.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from devtrack.integrations.contract import (
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
    from devtrack.integrations.http import ServiceClient

API = "https://api.netlify.com/api/v1"

#: Netlify's deploy states → the contract's. Everything between "accepted" and "processed" is
#: a deploy on its way; "rejected" (a refused deploy) counts as failed.
STATES: dict[str, str] = {
    "ready": "ready",
    "error": "error",
    "rejected": "error",
    "new": "queued",
    "pending_review": "queued",
    "accepted": "queued",
    "enqueued": "queued",
    "building": "building",
    "uploading": "building",
    "uploaded": "building",
    "preparing": "building",
    "prepared": "building",
    "processing": "building",
    "processed": "building",
    "retrying": "building",
}


class NetlifyCredentials(Credentials):
    token: SecretStr | None = field(
        label="Personal access token", kind=FieldKind.TOKEN, placeholder="nfp_…",
        help="User settings → Applications → Personal access tokens.",
    )
    site_id: str | None = field(
        label="Site ID", kind=FieldKind.PROJECT_ID, required=False,
        help="Site configuration → Site information → Site ID; blank to follow every site.",
    )


def state_of(raw: Any) -> str:
    """The contract state of a Netlify deploy state (``unknown`` for one Netlify adds later)."""
    return STATES.get(str(raw or "").lower(), "unknown")


def _time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None


class NetlifyIntegration(Integration):
    id = "netlify"
    name = "Netlify"
    description = "Sites and deploys, with health from each site's latest production deploy."
    docs_url = "https://open-api.netlify.com/"
    setup_guide = (
        "Create a personal access token at https://app.netlify.com/user/applications#personal-access-tokens. "
        "Give a site id to follow one site only."
    )
    credentials_model = NetlifyCredentials
    #: Items asked for per page; the most sites followed and deploys kept per site.
    per_page = 50
    max_sites = 20
    deploys_per_site = 30
    #: Sites whose deploys are fetched at the same time.
    concurrency = 4

    def _client(self, creds: Credentials) -> ServiceClient:
        from devtrack.integrations.http import ServiceClient, base_url_for

        token = creds.value("token") or ""
        return ServiceClient(self.id, base_url_for(self.id, API), service="Netlify",
                             headers={"Authorization": f"Bearer {token}"}, secrets=[token])

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        from devtrack.integrations.http import HttpError

        site = creds.value("site_id")
        try:
            async with self._client(creds) as c:
                user = await c.get_json("/user")
                who = (user.get("full_name") or user.get("email") or user.get("id") or "unknown user") \
                    if isinstance(user, dict) else "unknown user"
                if site:
                    await c.get_json(f"/sites/{site}/deploys", params={"per_page": 1})
        except HttpError as exc:
            if site and exc.kind == ResultKind.NOT_FOUND:
                return ConnectionResult.failure(exc.kind, f"Site {site} was not found for this token: "
                                                          "check the site id (Site configuration → Site information).")
            return exc.result()
        return ConnectionResult.success(f"Connected to Netlify as {who}" + (f", site {site}." if site else "."),
                                        user=who)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        from devtrack.integrations.http import HttpError

        try:
            async with self._client(creds) as c:
                sites = await self._sites(c, creds)
                gate = asyncio.Semaphore(self.concurrency)

                async def deploys(site: dict[str, Any]) -> list[Deployment]:
                    async with gate:
                        return await self._deploys(c, site)

                per_site = await asyncio.gather(*(deploys(s) for s in sites))
        except HttpError as exc:
            return IntegrationData.failed(exc.result())
        deployments = sorted((d for ds in per_site for d in ds),
                             key=lambda d: d.created_at.timestamp() if d.created_at else 0.0, reverse=True)
        projects = [Project(id=str(s["id"]), name=str(s.get("name") or s["id"]), status=s.get("state"),
                            url=s.get("ssl_url") or s.get("url")) for s in sites]
        return IntegrationData(health=health(deployments, len(projects)),
                               events=[event(d) for d in deployments[:20]],
                               records=Records(projects=projects, deployments=deployments))

    async def _pages(self, c: ServiceClient, path: str, limit: int) -> list[dict[str, Any]]:
        """Items of a paged list, following ``Link: rel="next"`` under the base URL only."""
        out: list[dict[str, Any]] = []
        async for resp in c.paginate_link(path, params={"page": 1, "per_page": min(self.per_page, limit)}):
            body = c.json_of(resp)
            if not isinstance(body, list):
                from devtrack.integrations.http import HttpError

                raise HttpError(ResultKind.INVALID_RESPONSE, f"Netlify answered {path} with {type(body).__name__}, not a list.")
            out += [item for item in body if isinstance(item, dict) and item.get("id")]
            nxt = resp.headers.get("link", "")
            if len(out) >= limit or (nxt and "://" in _next(nxt, c.base_url)):
                break  # enough, or a next page on another host: not followed
        return out[:limit]

    async def _sites(self, c: ServiceClient, creds: Credentials) -> list[dict[str, Any]]:
        wanted = creds.value("site_id")
        if wanted:
            return [await c.get_json(f"/sites/{wanted}")]
        return await self._pages(c, "/sites", self.max_sites)

    async def _deploys(self, c: ServiceClient, site: dict[str, Any]) -> list[Deployment]:
        raw = await self._pages(c, f"/sites/{site['id']}/deploys", self.deploys_per_site)
        name = str(site.get("name") or site["id"])
        return [deployment(d, name) for d in raw]


def _next(header: str, base_url: str) -> str:
    from devtrack.integrations.http import next_link

    return next_link(header, base_url) or ""


def deployment(d: dict[str, Any], site_name: str) -> Deployment:
    """One Netlify deploy as the contract's typed record."""
    return Deployment(
        id=str(d["id"]),
        project=site_name,
        state=state_of(d.get("state")),  # type: ignore[arg-type]
        target=d.get("context") or None,
        url=d.get("deploy_ssl_url") or d.get("ssl_url") or d.get("deploy_url"),
        commit=d.get("commit_ref"),
        branch=d.get("branch"),
        created_at=_time(d.get("created_at")),
        provider="netlify",
        netlify_state=d.get("state"),
        title=d.get("title"),
        error=d.get("error_message"),
        admin_url=d.get("admin_url"),
    )


def health(deployments: list[Deployment], sites: int) -> Health:
    """Down when every site's latest finished production deploy failed, degraded when some did."""
    latest: dict[str, Deployment] = {}
    for d in deployments:  # newest first
        if d.target == "production" and d.state in ("ready", "error") and (d.project or "") not in latest:
            latest[d.project or ""] = d
    failed = sorted(p for p, d in latest.items() if d.state == "error")
    metrics = {"sites": sites, "deploys": len(deployments), "failed": sum(d.state == "error" for d in deployments),
               "building": sum(d.state in ("building", "queued") for d in deployments),
               "production_failed": len(failed)}
    if not latest:
        return Health(status="unknown", detail="no finished production deploy yet", metrics=metrics)
    if len(failed) == len(latest):
        return Health(status="down", detail=f"latest production deploy failed: {', '.join(failed[:3])}", metrics=metrics)
    if failed:
        return Health(status="degraded", detail=f"{len(failed)} of {len(latest)} sites' production deploy failed: "
                                                f"{', '.join(failed[:3])}", metrics=metrics)
    return Health(status="healthy", detail=f"production ready on {len(latest)} sites", metrics=metrics)


def event(d: Deployment) -> Event:
    what = {"ready": "deployed", "error": "failed", "building": "building", "queued": "queued"}.get(d.state, d.state)
    severity = "error" if d.state == "error" else "info"
    branch = f" from {d.branch}" if d.branch else ""
    return Event(title=f"{d.project}: {d.target or 'deploy'} {what}{branch}", time=d.created_at,
                 severity=severity, url=d.url, source="netlify")  # type: ignore[arg-type]
