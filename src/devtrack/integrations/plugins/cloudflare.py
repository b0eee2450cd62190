"""Cloudflare: zones, Workers scripts and Pages projects with their latest deployments.

Two kinds of API token exist, and they verify differently: a user token at
``/user/tokens/verify``, an account-owned token only at ``/accounts/{id}/tokens/verify`` (the
user endpoint answers it 401 "Invalid API Token"). The connection test tries the first and
falls back to the second, and probes the account's zones, Workers and Pages at the same time,
so one test says whether the token is valid, active, owned by whom, and which of the three
permissions DevTrack needs it lacks on the given account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

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
    Worker,
    Zone,
    field,
)
from ..condition import Condition

if TYPE_CHECKING:
    import httpx

    from ..http import HttpError, ServiceClient

T = TypeVar("T")

API = "https://api.cloudflare.com/client/v4"
#: The path every Cloudflare API base URL ends in; without it every route answers 404.
API_PATH = "/client/v4"
BASE_ENV = "DEVTRACK_CLOUDFLARE_BASE_URL"
#: Error codes Cloudflare uses for a missing, malformed, unknown or disabled token.
AUTH_CODES = frozenset({1000, 6003, 6111, 9103, 9106, 9109})
#: Error codes for an id that routes nowhere: a bad account/zone id, an unknown project.
NOT_FOUND_CODES = frozenset({1001, 7000, 7003, 8000007})
#: Pages ``latest_stage.status`` → the contract's deployment state.
STAGE_STATES = {"success": "ready", "failure": "error", "active": "building",
                "canceled": "canceled", "idle": "queued", "skipped": "canceled"}
#: The permission each probed resource needs, as the token editor names it.
PERMISSIONS = {"zones": "Zone:Read", "workers": "Workers Scripts:Read", "pages": "Pages:Read"}
LABELS = {"zones": "zones", "workers": "Workers scripts", "pages": "Pages projects"}


class CloudflareCredentials(Credentials):
    api_token: SecretStr | None = field(
        label="API token", kind=FieldKind.TOKEN,
        help="Zone:Read, Workers Scripts:Read and Pages:Read.",
    )
    account_id: str | None = field(
        label="Account ID", kind=FieldKind.PROJECT_ID, placeholder="32 hex characters",
        help="Dashboard → any zone → Overview, right-hand column.",
    )
    zone_id: str | None = field(
        label="Zone ID", kind=FieldKind.PROJECT_ID, required=False, help="Blank for every zone.",
    )


def _codes(body: Any) -> set[int]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return {e["code"] for e in errors or [] if isinstance(e, dict) and isinstance(e.get("code"), int)}


def _classify(resp: httpx.Response, body: Any) -> ResultKind | None:
    """Cloudflare's error codes say more than its statuses (a bad token can be a 400)."""
    codes = _codes(body)
    if resp.status_code in (400, 401, 403) and codes & AUTH_CODES:
        return ResultKind.AUTH
    if resp.status_code in (400, 404) and codes & NOT_FOUND_CODES:
        return ResultKind.NOT_FOUND
    return None


def _time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class CloudflareIntegration(Integration):
    id = "cloudflare"
    name = "Cloudflare"
    description = "Zones, Workers scripts and Pages deployments."
    docs_url = "https://developers.cloudflare.com/api/"
    setup_guide = (
        "Create an API token (My Profile → API Tokens, or an account-owned token under Manage Account) with Zone:Read, Workers Scripts:Read and Pages:Read, and give the account id from the dashboard's sidebar."
    )
    credentials_model = CloudflareCredentials
    #: Page sizes and caps: zones (Cloudflare allows 5–50 a page), Pages projects, deployments.
    zones_per_page = 50
    max_zone_pages = 20
    projects_per_page = 10
    max_project_pages = 20
    #: Projects whose deployment list is fetched (most recently deployed first); the others
    #: contribute the latest deployment embedded in the project list.
    max_projects_with_deployments = 25
    deployments_per_project = 10
    concurrency = 6
    max_events = 25

    # ------------------------------------------------------------------ plumbing

    def _client(self, creds: Credentials) -> ServiceClient:
        from ..http import ServiceClient, base_url_for

        token = creds.value("api_token") or ""
        return ServiceClient(
            self.id, base_url_for(self.id, API), service="Cloudflare",
            headers={"Authorization": f"Bearer {token}"}, secrets=[token], classify=_classify,
        )

    @staticmethod
    def _account_path(creds: Credentials) -> str:
        return "/accounts/" + quote(creds.value("account_id") or "", safe="")

    @staticmethod
    async def _get(c: ServiceClient, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The envelope of a successful answer; anything else is an ``invalid_response``."""
        from ..http import HttpError, vendor_message

        body = await c.get_json(path, params=params)
        if not isinstance(body, dict) or "result" not in body:
            raise HttpError(ResultKind.INVALID_RESPONSE,
                            f"Cloudflare answered GET {path} without its usual envelope (no 'result').")
        if body.get("success") is False:
            raise HttpError(ResultKind.ERROR, f"Cloudflare reported a failure for GET {path}: "
                            f"{vendor_message(body) or 'no detail given'}.", body=body)
        return body

    async def _pages(self, c: ServiceClient, path: str, params: dict[str, Any], per_page: int,
                     max_pages: int) -> list[dict[str, Any]]:
        """Every item of a ``page``/``per_page`` list, up to ``max_pages`` pages.

        Pages after the first are fetched concurrently once ``result_info.total_pages`` is known.
        """
        first = await self._get(c, path, {**params, "page": 1, "per_page": per_page})
        items = _items(first)
        total = (first.get("result_info") or {}).get("total_pages")
        if isinstance(total, (int, float)) and total > 1:
            rest = await asyncio.gather(*(
                self._get(c, path, {**params, "page": n, "per_page": per_page})
                for n in range(2, min(int(total), max_pages) + 1)
            ))
            for body in rest:
                items += _items(body)
        elif total is None:  # no total given: walk on while pages come back full
            page = 1
            while len(items) == page * per_page and page < max_pages:
                page += 1
                items += _items(await self._get(c, path, {**params, "page": page, "per_page": per_page}))
        return items

    # ------------------------------------------------------------------ test

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        from ..http import HttpError

        account = creds.value("account_id") or ""
        acc = self._account_path(creds)
        zone = creds.value("zone_id")
        try:
            async with self._client(creds) as c:
                zone_probe = (self._get(c, f"/zones/{quote(zone, safe='')}") if zone
                              else self._get(c, "/zones", {"account.id": account, "per_page": 5}))
                # The probes run while the token is verified; they are dropped if it cannot be.
                tasks = [asyncio.ensure_future(_attempt(call)) for call in (
                    zone_probe,
                    self._get(c, f"{acc}/workers/scripts"),
                    self._get(c, f"{acc}/pages/projects", {"per_page": 1}),
                )]
                try:
                    verify, verify_err = await _attempt(self._get(c, "/user/tokens/verify"))
                    owner = "user"
                    if verify_err is not None:
                        wrong_base = _wrong_base(c.base_url, verify_err)
                        if wrong_base is not None:  # not the account's fault: no route answered
                            return wrong_base
                        if verify_err.kind not in (ResultKind.AUTH, ResultKind.PERMISSION,
                                                   ResultKind.NOT_FOUND, ResultKind.CONFIG):
                            return verify_err.result()
                        # The trap: an account-owned token fails the user endpoint; ask the account's.
                        verify, account_err = await _attempt(self._get(c, f"{acc}/tokens/verify"))
                        if account_err is not None:
                            return self._token_refused(account, verify_err, account_err)
                        owner = "account"
                    probes = await asyncio.gather(*tasks)
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
        except HttpError as exc:
            return exc.result()
        assert verify is not None
        token = verify.get("result") or {}
        status = str(token.get("status") or "unknown")
        details: dict[str, Any] = {"token_type": owner, "token_status": status,
                                   "expires_on": token.get("expires_on"), "account_id": account}
        if status != "active":
            return ConnectionResult.failure(ResultKind.AUTH, _inactive_message(status, token), **details)
        problem = self._probe_problem(account, zone, dict(zip(("zones", "workers", "pages"), probes)))
        if problem is not None:
            return problem.model_copy(update={"details": {**problem.details, **details}})
        (zones, _), (scripts, _), (pages, _) = probes
        counts = {
            "zones": 1 if zone else int((zones.get("result_info") or {}).get("total_count") or len(_items(zones))),
            "workers": len(_items(scripts)),
            "pages_projects": int((pages.get("result_info") or {}).get("total_count") or len(_items(pages))),
        }
        expiry = f", expires {token['expires_on']}" if token.get("expires_on") else ""
        return ConnectionResult.success(
            f"Connected to Cloudflare: {owner} API token active{expiry}. Account {account}: "
            f"{counts['zones']} zone(s), {counts['workers']} Workers script(s), "
            f"{counts['pages_projects']} Pages project(s).",
            **details, **counts,
        )

    @staticmethod
    def _token_refused(account: str, user_err: HttpError, account_err: HttpError) -> ConnectionResult:
        """Neither verify endpoint accepted the token: say whether the token or the account is wrong."""
        extra = {"status": account_err.status}
        if account_err.kind == ResultKind.AUTH:
            shape = ""
            if _codes(user_err.body) & {6003, 6111}:
                shape = (" Its format is not that of an API token (a Global API Key is not supported: "
                         "create an API token).")
            return ConnectionResult.failure(
                ResultKind.AUTH,
                "Cloudflare rejected the API token: it is neither a valid user token nor an account-owned "
                f"token of account {account}.{shape} Check that you pasted the token's secret value and that "
                "it has not been deleted or rolled (My Profile → API Tokens, or Manage Account → API Tokens).",
                **extra,
            )
        if account_err.kind in (ResultKind.PERMISSION, ResultKind.NOT_FOUND):
            return ConnectionResult.failure(
                account_err.kind,
                f"Cloudflare does not accept this token for account {account}: the token is not a user "
                "token, and as an account-owned token it does not belong to that account "
                f"({_detail(account_err)}). Check the account id (dashboard sidebar → Account ID, "
                "32 hexadecimal characters), or the token.",
                **extra,
            )
        return account_err.result()

    @staticmethod
    def _probe_problem(account: str, zone: str | None,
                       probes: dict[str, tuple[Any, HttpError | None]]) -> ConnectionResult | None:
        """The first thing the probes say is wrong, phrased for the user, or ``None``."""
        errors = {name: err for name, (_, err) in probes.items() if err is not None}
        if not errors:
            return None
        for name, err in errors.items():
            if err.kind == ResultKind.NOT_FOUND:
                if name == "zones" and zone:
                    msg = (f"Cloudflare has no zone {zone} visible to this token: check the zone id "
                           "(the zone's Overview page, API section), or leave it blank for every zone.")
                else:
                    msg = (f"Cloudflare has no account {account} ({_detail(err)}): check the account id "
                           "(dashboard sidebar → Account ID, 32 hexadecimal characters).")
                return ConnectionResult.failure(ResultKind.NOT_FOUND, msg, status=err.status)
        denied = [n for n, e in errors.items() if e.kind == ResultKind.PERMISSION]
        if denied:
            where = f"zone {zone}" if denied == ["zones"] and zone else f"account {account}"
            return ConnectionResult.failure(
                ResultKind.PERMISSION,
                f"The token is valid, but Cloudflare refuses it on {where} for "
                f"{', '.join(LABELS[n] for n in denied)}. Edit the token to add "
                f"{', '.join(PERMISSIONS[n] for n in denied)} for this account, or check the account id.",
                missing_permissions=[PERMISSIONS[n] for n in denied],
            )
        return next(iter(errors.values())).result()

    # ------------------------------------------------------------------ data

    async def get_data(self, creds: Credentials) -> IntegrationData:
        from ..http import HttpError

        account = creds.value("account_id") or ""
        try:
            async with self._client(creds) as c:
                base = c.base_url
                expiry = asyncio.ensure_future(self._token_expiry(c, creds))  # beside the data calls
                parts = await asyncio.gather(
                    self._zones(c, creds), self._workers(c, creds), self._pages_data(c, creds),
                    return_exceptions=True,
                )
                expires_on = await expiry
        except HttpError as exc:
            return IntegrationData.failed(exc.result())
        for part in parts:
            if isinstance(part, BaseException) and not isinstance(part, HttpError):
                raise part
        names = ("zones", "workers", "pages")
        failures = {n: p for n, p in zip(names, parts) if isinstance(p, HttpError)}
        if len(failures) == len(names):
            wrong_base = next(filter(None, (_wrong_base(base, e) for e in failures.values())), None)
            if wrong_base is not None:
                return IntegrationData.failed(wrong_base)
        zones: list[dict[str, Any]] = [] if "zones" in failures else parts[0]  # type: ignore[assignment]
        scripts: list[dict[str, Any]] = [] if "workers" in failures else parts[1]  # type: ignore[assignment]
        projects, deployments = ([], []) if "pages" in failures else parts[2]  # type: ignore[misc]
        error = _section_error(account, failures) if failures else None
        if error is not None and len(failures) == len(names):
            return IntegrationData.failed(error)
        health = _health(zones, projects, deployments)
        health.metrics["token_expires_on"] = expires_on
        if error is not None:
            health.detail = (health.detail + " " if health.detail else "") + \
                f"Not read: {', '.join(LABELS[n] for n in failures)}."
        records = Records(
            zones=[_zone(z) for z in zones],
            workers=[_worker(s) for s in scripts if s.get("id")],
            projects=[_project(p, deployments) for p in projects],
            deployments=[_deployment(d) for d in deployments],
        )
        return IntegrationData(health=health, events=_events(records.deployments, self.max_events),
                               records=records, error=error)

    async def _token_expiry(self, c: ServiceClient, creds: Credentials) -> str | None:
        """When the API token expires (``None``: never, or not known), for the expiry alert.

        A user token answers ``/user/tokens/verify``, an account-owned one the account's; a
        failure here is not the fetch's (the data calls say what is wrong with the token).
        """
        verify, err = await _attempt(self._get(c, "/user/tokens/verify"))
        if err is not None and creds.value("account_id"):
            verify, err = await _attempt(self._get(c, f"{self._account_path(creds)}/tokens/verify"))
        token = (verify or {}).get("result") if err is None else None
        expires = token.get("expires_on") if isinstance(token, dict) else None
        return expires if isinstance(expires, str) else None

    async def _zones(self, c: ServiceClient, creds: Credentials) -> list[dict[str, Any]]:
        zone = creds.value("zone_id")
        if zone:
            return [(await self._get(c, f"/zones/{quote(zone, safe='')}"))["result"]]
        return await self._pages(c, "/zones", {"account.id": creds.value("account_id")},
                                 self.zones_per_page, self.max_zone_pages)

    async def _workers(self, c: ServiceClient, creds: Credentials) -> list[dict[str, Any]]:
        return _items(await self._get(c, f"{self._account_path(creds)}/workers/scripts"))

    async def _pages_data(self, c: ServiceClient, creds: Credentials
                          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Pages projects, and the latest deployments of the most recently deployed ones."""
        from ..http import HttpError

        base = f"{self._account_path(creds)}/pages/projects"
        projects = await self._pages(c, base, {}, self.projects_per_page, self.max_project_pages)
        by_recent = sorted(projects, key=lambda p: _latest_created(p), reverse=True)
        followed = by_recent[: self.max_projects_with_deployments]
        gate = asyncio.Semaphore(self.concurrency)

        async def latest(project: dict[str, Any]) -> list[dict[str, Any]]:
            async with gate:
                try:
                    body = await self._get(c, f"{base}/{quote(str(project.get('name')), safe='')}/deployments",
                                           {"per_page": self.deployments_per_project})
                except HttpError as exc:
                    if exc.kind == ResultKind.NOT_FOUND:  # deleted since it was listed
                        return []
                    raise
                return _items(body)

        lists = await asyncio.gather(*(latest(p) for p in followed))
        deployments = [d for found in lists for d in found]
        for p in by_recent[self.max_projects_with_deployments:]:
            if isinstance(p.get("latest_deployment"), dict):
                deployments.append(p["latest_deployment"])
        deployments.sort(key=lambda d: _time(d.get("created_on")) or datetime.min.replace(tzinfo=timezone.utc),
                         reverse=True)
        return projects, deployments


# --------------------------------------------------------------------------- helpers


async def _attempt(call: Awaitable[T]) -> tuple[T | None, HttpError | None]:
    """Run a call, returning its failure instead of raising it (for concurrent probes)."""
    from ..http import HttpError

    try:
        return await call, None
    except HttpError as exc:
        return None, exc


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    result = body.get("result")
    return [r for r in result if isinstance(r, dict)] if isinstance(result, list) else []


def _detail(err: HttpError) -> str:
    from ..http import vendor_message

    return (vendor_message(err.body) if isinstance(err.body, dict) else None) or f"HTTP {err.status}"


def _wrong_base(base: str, err: HttpError) -> ConnectionResult | None:
    """A 404 or a non-API answer from a base URL that lacks ``/client/v4``: blame the base URL.

    Every route of such a base answers 404 (or a web page), which would otherwise read as an
    unknown account id or token.
    """
    from urllib.parse import urlsplit

    if urlsplit(base).path.rstrip("/").endswith(API_PATH):
        return None
    if err.status != 404 and err.kind != ResultKind.INVALID_RESPONSE:
        return None
    if err.kind == ResultKind.INVALID_RESPONSE:
        answer = "answered with a page that is not its API" + (f" (HTTP {err.status})" if err.status else "")
    else:
        answer = "answered 404 (no such route)"
    return ConnectionResult.failure(
        ResultKind.CONFIG,
        f"Cloudflare {answer} at {base}: the API base URL looks wrong, it should end in {API_PATH}. "
        f"Set {BASE_ENV}={base.rstrip('/')}{API_PATH}, or unset it to use {API}.",
        base_url=base, **({"status": err.status} if err.status else {}),
    )


def _inactive_message(status: str, token: dict[str, Any]) -> str:
    if status == "expired":
        since = f" on {token['expires_on']}" if token.get("expires_on") else ""
        return (f"The Cloudflare API token expired{since}. Roll it or create a new one "
                "(My Profile → API Tokens), then save the new value.")
    if status == "disabled":
        return ("The Cloudflare API token is disabled. Re-enable it in the dashboard "
                "(API Tokens → the token's menu), or create a new one.")
    return f"The Cloudflare API token is not active (status {status!r}); check it in the dashboard."


def _section_error(account: str, failures: dict[str, HttpError]) -> ConnectionResult:
    """One result for the parts of ``get_data`` that failed, led by the most telling kind."""
    rank = [ResultKind.AUTH, ResultKind.NOT_FOUND, ResultKind.PERMISSION]
    ordered = sorted(failures.items(), key=lambda kv: rank.index(kv[1].kind) if kv[1].kind in rank else len(rank))
    name, lead = ordered[0]
    if lead.kind == ResultKind.AUTH:
        msg = (f"Cloudflare rejected the API token ({_detail(lead)}): it may be wrong, disabled or expired. "
               "`devtrack integrations test cloudflare` tells which.")
    elif lead.kind == ResultKind.NOT_FOUND and name != "zones":
        msg = f"Cloudflare has no account {account} ({_detail(lead)}): check the account id."
    elif lead.kind == ResultKind.NOT_FOUND:
        msg = f"Cloudflare has no such zone ({_detail(lead)}): check the zone id, or leave it blank."
    elif lead.kind == ResultKind.PERMISSION:
        denied = [n for n, e in ordered if e.kind == ResultKind.PERMISSION]
        msg = (f"Cloudflare refused to list the {', '.join(LABELS[n] for n in denied)} of account {account}: "
               f"give the token {', '.join(PERMISSIONS[n] for n in denied)} there, or check the account id.")
    else:
        msg = f"Could not read the Cloudflare {LABELS[name]}: {lead.message}"
    details: dict[str, Any] = {"failed": sorted(failures)}
    if lead.status:
        details["status"] = lead.status
    if lead.retry_after is not None:
        details["retry_after"] = round(lead.retry_after, 1)
    return ConnectionResult.failure(lead.kind, msg, **details)


def _latest_created(project: dict[str, Any]) -> datetime:
    latest = project.get("latest_deployment") if isinstance(project.get("latest_deployment"), dict) else {}
    return _time(latest.get("created_on")) or _time(project.get("created_on")) or \
        datetime.min.replace(tzinfo=timezone.utc)


def _state(dep: dict[str, Any]) -> str:
    stage = dep.get("latest_stage") if isinstance(dep.get("latest_stage"), dict) else {}
    status = str(stage.get("status") or "")
    if stage.get("name") == "queued" and status in ("active", "idle"):
        return "queued"
    return STAGE_STATES.get(status, "unknown")


def _trigger(dep: dict[str, Any]) -> dict[str, Any]:
    trigger = dep.get("deployment_trigger") if isinstance(dep.get("deployment_trigger"), dict) else {}
    meta = trigger.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _deployment(dep: dict[str, Any]) -> Deployment:
    meta = _trigger(dep)
    return Deployment(
        id=str(dep.get("id")), project=dep.get("project_name"), state=_state(dep),  # type: ignore[arg-type]
        target=dep.get("environment"), url=dep.get("url"), commit=meta.get("commit_hash"),
        branch=meta.get("branch"), created_at=_time(dep.get("created_on")), provider="cloudflare-pages",
        message=meta.get("commit_message"), short_id=dep.get("short_id"),
    )


def _zone(z: dict[str, Any]) -> Zone:
    plan = z.get("plan") if isinstance(z.get("plan"), dict) else {}
    return Zone(id=str(z.get("id")), name=str(z.get("name")), status=z.get("status"),
                paused=bool(z.get("paused")), type=z.get("type"), plan=plan.get("name"),
                activated_on=_time(z.get("activated_on")))


def zone_condition(z: Zone) -> Condition:
    """A zone's verdict, the one this plugin's health counts: only an ``active`` zone whose
    proxying is not paused is fine; paused, pending, initializing, moved or any other status is not."""
    status = z.status or "unknown"
    if getattr(z, "paused", False):
        return Condition("bad", "paused" if status == "active" else f"{status}, paused")
    return Condition("ok", status) if status == "active" else Condition("bad", status)


def _worker(s: dict[str, Any]) -> Worker:
    return Worker(id=str(s["id"]), name=str(s["id"]), modified_at=_time(s.get("modified_on")),
                  created_at=_time(s.get("created_on")), usage_model=s.get("usage_model"),
                  handlers=s.get("handlers") or [])


def _latest_production(name: str, deployments: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest production deployment of a project (else its newest at all)."""
    mine = [d for d in deployments if d.get("project_name") == name]
    return next((d for d in mine if d.get("environment") == "production"), mine[0] if mine else None)


def _project(p: dict[str, Any], deployments: list[dict[str, Any]]) -> Project:
    name = str(p.get("name"))
    latest = _latest_production(name, deployments) or p.get("latest_deployment")
    sub = p.get("subdomain")
    return Project(id=str(p.get("id") or name), name=name,
                   status=_state(latest) if isinstance(latest, dict) else None,
                   url=f"https://{sub}" if sub else None, production_branch=p.get("production_branch"),
                   domains=p.get("domains") or [])


def _health(zones: list[dict[str, Any]], projects: list[dict[str, Any]],
            deployments: list[dict[str, Any]]) -> Health:
    """Degraded by failed latest production deploys or zones not active; down when every project fails."""
    failing = []
    for p in projects:
        latest = _latest_production(str(p.get("name")), deployments) or p.get("latest_deployment")
        if isinstance(latest, dict) and _state(latest) == "error":
            failing.append(str(p.get("name")))
    inactive = [z for z in zones if zone_condition(_zone(z)).level == "bad"]
    notes = []
    if failing:
        notes.append(f"{len(failing)} of {len(projects)} Pages project(s) failing their latest deploy: "
                     + ", ".join(failing[:5]) + ("…" if len(failing) > 5 else "") + ".")
    if inactive:
        shown = ", ".join(f"{z.get('name')} ({'paused' if z.get('paused') else z.get('status')})"
                          for z in inactive[:5])
        notes.append(f"{len(inactive)} of {len(zones)} zone(s) not active: {shown}"
                     + ("…" if len(inactive) > 5 else "") + ".")
    status = "down" if projects and len(failing) == len(projects) else "degraded" if notes else "healthy"
    return Health(status=status, detail=" ".join(notes), metrics={
        "zones": len(zones), "zones_active": len(zones) - len(inactive),
        "pages_projects": len(projects), "pages_failing": len(failing),
    })


def _events(deployments: list[Deployment], limit: int) -> list[Event]:
    severity = {"error": "error", "canceled": "warning"}
    out = []
    for d in deployments[:limit]:
        ref = " ".join(filter(None, [d.branch, (d.commit or "")[:7]]))
        out.append(Event(
            title=f"{d.project}: {d.target or 'preview'} deploy {d.state}" + (f" ({ref})" if ref else ""),
            time=d.created_at, severity=severity.get(d.state, "info"),  # type: ignore[arg-type]
            url=d.url, source="cloudflare-pages",
        ))
    return out
