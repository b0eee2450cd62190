"""Sentry REST API emulator: organizations, projects and issues, as ``sentry.io`` serves them.

Faithful to what DevTrack depends on:

- ``Authorization: Bearer``; no token is a 401 ``{"detail": "Authentication credentials were
  not provided."}``, an unknown one a 401 ``{"detail": "Invalid token"}``, a missing scope a 403
  ``{"detail": "You do not have permission to perform this action."}``; an unknown organization
  or project is a 404 ``{"detail": "The requested resource does not exist"}``.
- The org-token trap: organization tokens (``sntrys_…``) are refused (403) on the user-only
  endpoints ``GET /api/0/organizations/`` and ``GET /api/0/organizations/{organization_id_or_slug}/``, while the
  projects and issues endpoints accept them; user tokens (``sntryu_…``) work everywhere.
- Paging by ``Link`` header exactly as Sentry formats it, previous and next, each with
  ``results="true|false"`` and ``cursor="value:offset:is_prev"``; the issues list also sends
  ``X-Hits``/``X-Max-Hits``.
- Rate limits per caller and endpoint in a fixed one-second window, with
  ``X-Sentry-Rate-Limit-Remaining``/``-Limit``/``-Reset`` (epoch seconds) on every answer and a
  429 whose body is a JSON string, without ``Retry-After`` (as Sentry's middleware does).
- Issue ``count`` is a string, ``userCount`` a number; ``statsPeriod`` limits issues to those
  seen in the period; ``query`` understands ``is:<status>``, ``level:<level>`` and free text.

Scale knobs: ``sentry_projects`` and ``sentry_issues`` (e.g. 10,000 for benchmarks).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .emulator import Emulator, RateState, SandboxEvent

PERMISSION_DENIED = "You do not have permission to perform this action."
DOES_NOT_EXIST = "The requested resource does not exist"
RATE_MESSAGE = "You are attempting to use this endpoint too frequently. Limit is {limit} requests in {window} seconds"
MAX_PER_PAGE = 100
STATUSES = ("unresolved", "resolved", "ignored")
SORTS = ("date", "freq", "inbox", "new", "recommended", "trends", "user")
PERIOD_RE = re.compile(r"(\d+)([smhdw])")
PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

#: (title, culprit, level, exception type) of seeded issues: a realistic mix of stacks.
ISSUE_KINDS = (
    ("TypeError: Cannot read properties of undefined (reading 'id')", "app/components/UserCard", "error", "TypeError"),
    ("ZeroDivisionError: division by zero", "billing.invoices in compute_total", "error", "ZeroDivisionError"),
    ("KeyError: 'user_id'", "api.views.sessions in refresh", "error", "KeyError"),
    ("OperationalError: could not connect to server", "db.pool in connect", "fatal", "OperationalError"),
    ("ChunkLoadError: Loading chunk 42 failed", "webpack/runtime in loadChunk", "error", "ChunkLoadError"),
    ("Slow DB Query", "GET /api/orders", "warning", "SlowQuery"),
    ("DeprecationWarning: datetime.utcnow() is deprecated", "jobs.scheduler in tick", "warning", "DeprecationWarning"),
    ("ConnectionError: Max retries exceeded with url: /v1/charges", "payments.client in charge", "error", "ConnectionError"),
    ("TimeoutError: Task timed out after 30s", "worker.tasks in sync_inventory", "error", "TimeoutError"),
    ("Cache miss ratio above threshold", "cache.metrics in report", "info", "CacheReport"),
)
PROJECT_NAMES = (("web-frontend", "javascript-react"), ("api", "python-django"), ("worker", "python"),
                 ("mobile-app", "react-native"), ("billing", "go"), ("admin", "javascript-vue"))

USER_SCOPES = ("alerts:read", "event:read", "member:read", "org:read", "project:read", "project:releases", "team:read")
#: What the sandbox's organization token may do. (Tokens created under Settings → Organization
#: Tokens on sentry.io carry ``org:ci`` only; internal integrations get the scopes chosen for them.)
ORG_TOKEN_SCOPES = ("event:read", "org:read", "project:read")
#: A user token created without ``event:read``: it lists projects but not issues.
LIMITED_SCOPES = ("org:read", "project:read")


@dataclass(frozen=True)
class TokenInfo:
    kind: str  # "user" or "org"
    scopes: tuple[str, ...]
    orgs: tuple[str, ...]


def iso(epoch: float) -> str:
    """Sentry's timestamp format: ISO 8601 with milliseconds and ``Z``."""
    dt = datetime.fromtimestamp(epoch, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


class SentryEmulator(Emulator):
    service = "sentry"
    plugin_ids = ("sentry",)
    default_scale = {"sentry_projects": 4, "sentry_issues": 40}
    #: Sentry's documented default: 40 requests per second per caller and endpoint.
    rate_limit = 40
    rate_window = 1.0

    # ------------------------------------------------------------------ data

    def seed_data(self) -> None:
        self.org = {"id": str(self.rng.randrange(10**6, 10**7)), "slug": "acme", "name": "Acme Inc"}
        #: A second organization the user belongs to: no projects, and not the org token's.
        self.other_org = {"id": str(self.rng.randrange(10**6, 10**7)), "slug": "acme-labs", "name": "Acme Labs"}
        self.user_token = self.token("sntryu_", 64)
        self.org_token = self.token("sntrys_", 64)
        self.limited_token = self.token("sntryu_", 64)
        self.tokens = {
            self.user_token: TokenInfo("user", USER_SCOPES, ("acme", "acme-labs")),
            self.org_token: TokenInfo("org", ORG_TOKEN_SCOPES, ("acme",)),
            self.limited_token: TokenInfo("user", LIMITED_SCOPES, ("acme",)),
        }
        self.team = {"id": str(self.rng.randrange(10**5, 10**6)), "name": "Backend", "slug": "backend"}
        self.projects: list[dict[str, Any]] = []
        for i in range(self.scale["sentry_projects"]):
            name, platform = PROJECT_NAMES[i % len(PROJECT_NAMES)]
            slug = name if i < len(PROJECT_NAMES) else f"{name}-{i // len(PROJECT_NAMES)}"
            self.projects.append({"id": str(4_500_000 + i * 7 + self.rng.randrange(7)), "slug": slug,
                                  "name": slug.replace("-", " ").title(), "platform": platform,
                                  "created": self.ago(86400 * (500 - i * 20))})
        self.issues: list[dict[str, Any]] = []
        #: Issues added by events, removed again by a reset.
        self._event_issues: set[str] = set()
        self._event_counter = 0
        counters = [0] * len(self.projects)
        for i in range(self.scale["sentry_issues"] if self.projects else 0):
            p = i % len(self.projects)
            counters[p] += 1
            title, culprit, level, exc_type = ISSUE_KINDS[self.rng.randrange(len(ISSUE_KINDS))]
            # mostly unresolved and recent, with some resolved, ignored and older ones to filter out
            status = self.rng.choices(STATUSES, [80, 12, 8])[0]
            recent = self.rng.random() < 0.85
            last_seen = self.ago(self.rng.uniform(60, 86000) if recent else self.rng.uniform(2, 20) * 86400)
            first_seen = last_seen - self.rng.uniform(0, 30) * 86400
            count = self.rng.choice([1, 2, 3, 5, 8, 13, 40, 120, 1500, 24000])
            self.issues.append({
                "id": str(6_000_000_000 + i * 13 + self.rng.randrange(13)),
                "shortId": f"{self.projects[p]['slug'].upper()}-{base36(counters[p])}",
                "project": p, "title": title, "culprit": culprit, "level": level, "type": exc_type,
                "status": status, "firstSeen": first_seen, "lastSeen": last_seen,
                "count": count, "lifetime": count + self.rng.randrange(0, 500),
                "userCount": self.rng.randrange(0, min(count, 300) + 1),
            })
        # newest first, the order of Sentry's default sort (date: last seen)
        self.issues.sort(key=lambda x: x["lastSeen"], reverse=True)

    # ------------------------------------------------------------------ events (alert rules)

    def sandbox_events(self) -> dict[str, SandboxEvent]:
        return {
            "new_issue": SandboxEvent(
                "a new unresolved issue first seen now, at level fatal (option: level) (undo: resolved)",
                lambda o: self._add_issues(1, o.get("level", "fatal"), o), self._resolve),
            "unresolved_spike": SandboxEvent(
                "many new unresolved warnings at once (option: count, default 30) (undo: resolved)",
                lambda o: self._add_issues(int(o.get("count", 30)), o.get("level", "warning"), o), self._resolve),
            "issue_burst": SandboxEvent(
                "a burst of new error issues first seen now, as after a bad deploy (option: count, "
                "default 4) (undo: resolved)",
                lambda o: self._add_issues(int(o.get("count", 4)), o.get("level", "error"), o), self._resolve),
        }

    def _add_issues(self, count: int, level: str, options: dict[str, Any]) -> dict[str, Any]:
        if not self.projects:
            raise ValueError("the Sentry emulator has no projects")
        if level not in ("fatal", "error", "warning", "info", "debug"):
            raise ValueError(f"unknown Sentry level {level!r}")
        now = time.time()
        ids = []
        for n in range(count):
            title, culprit, _, exc_type = ISSUE_KINDS[n % len(ISSUE_KINDS)]
            title = str(options.get("title") or title)
            self._event_counter += 1
            issue = {
                "id": str(7_000_000_000 + self._event_counter), "shortId": f"{self.projects[0]['slug'].upper()}-"
                f"E{base36(self._event_counter)}", "project": 0, "title": title, "culprit": culprit,
                "level": level, "type": exc_type, "status": "unresolved", "firstSeen": now + n / 1000,
                "lastSeen": now + n / 1000, "count": 3, "lifetime": 3, "userCount": 1,
            }
            self.issues.insert(0, issue)
            self._event_issues.add(issue["id"])
            ids.append(issue["id"])
        return {"issues": ids, "first_seen": now}

    def _resolve(self, done: dict[str, Any]) -> None:
        for x in self.issues:
            if x["id"] in done["issues"]:
                x["status"] = "resolved"

    def on_reset(self) -> None:
        """A reset removes the issues events added (undone ones stay resolved until then)."""
        super().on_reset()
        self.issues[:] = [x for x in self.issues if x["id"] not in self._event_issues]
        self._event_issues.clear()

    def unresolved_since(self, seconds: float, project_ids: set[str] | None = None) -> list[dict[str, Any]]:
        """The seeded issues a plugin should see for ``is:unresolved`` over the period (for tests)."""
        since = self.now - seconds
        return [x for x in self.issues if x["status"] == "unresolved" and x["lastSeen"] >= since
                and (project_ids is None or self.projects[x["project"]]["id"] in project_ids)]

    # ------------------------------------------------------------------ vendor traits

    def error(self, status: int, message: str, **extra: Any) -> Response:
        return JSONResponse({"detail": message, **extra}, status)

    def credentials(self, url: str) -> dict[str, dict[str, str]]:
        return {"sentry": {"token": self.org_token, "org": self.org["slug"], "base_url": url}}

    def rate_headers(self, state: RateState) -> dict[str, str]:
        return {
            "X-Sentry-Rate-Limit-Remaining": str(state.remaining),
            "X-Sentry-Rate-Limit-Limit": str(state.limit),
            "X-Sentry-Rate-Limit-Reset": str(math.ceil(state.reset_at)),
            "X-Sentry-Rate-Limit-ConcurrentLimit": "25",
            "X-Sentry-Rate-Limit-ConcurrentRemaining": "24",
        }

    def rate_limited(self, state: RateState) -> Response:
        # Sentry's middleware answers a bare JSON string and no Retry-After.
        return JSONResponse(RATE_MESSAGE.format(limit=state.limit, window=f"{self.limiter.window:g}"), 429)

    def auth(self, request: Request, scope: str, *, user_only: bool = False) -> TokenInfo:
        """Authenticate, count the call against (token, endpoint), then check the scope."""
        token = self.bearer(request)
        if token is None:
            raise self.fail(401, "Authentication credentials were not provided.")
        info = self.tokens.get(token)
        if info is None:
            raise self.fail(401, "Invalid token")
        route = request.scope.get("route")
        self.limit(request, f"{token}:{getattr(route, 'path', request.url.path)}")
        if (user_only and info.kind == "org") or scope not in info.scopes:
            raise self.fail(403, PERMISSION_DENIED)
        return info

    def organization(self, request: Request, info: TokenInfo) -> dict[str, str]:
        slug = request.path_params["organization_id_or_slug"]
        org = next((o for o in (self.org, self.other_org) if slug in (o["slug"], o["id"])), None)
        if org is None:
            raise self.fail(404, DOES_NOT_EXIST)
        if org["slug"] not in info.orgs:
            raise self.fail(403, PERMISSION_DENIED)
        return org

    # ------------------------------------------------------------------ paging

    def cursor(self, request: Request) -> int:
        """The offset of a ``value:offset:is_prev`` cursor (Sentry's 400 when malformed)."""
        raw = request.query_params.get("cursor")
        if not raw:
            return 0
        parts = raw.split(":")
        if len(parts) != 3 or not all(re.fullmatch(r"-?\d+", p) for p in parts) or int(parts[1]) < 0:
            raise self.fail(400, "Invalid cursor parameter.")
        return int(parts[1])

    def per_page(self, request: Request, name: str) -> int:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return MAX_PER_PAGE
        if not re.fullmatch(r"\d+", raw) or int(raw) < 1:
            raise self.fail(400, f"Invalid {name} parameter.")
        if int(raw) > MAX_PER_PAGE:
            raise self.fail(400, f"Invalid {name} value. Cannot exceed {MAX_PER_PAGE}.")
        return int(raw)

    def link(self, request: Request, offset: int, limit: int, total: int) -> str:
        """Sentry's ``Link``: previous then next, ``<url?query&cursor=c>; rel; results; cursor``."""
        query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "cursor"])
        base = f"{str(request.base_url).rstrip('/')}{request.url.path}?{query + '&' if query else '&'}"

        def one(rel: str, cursor: str, results: bool) -> str:
            return f'<{base}cursor={cursor}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'

        prev = one("previous", f"0:{max(0, offset - limit)}:1", offset > 0)
        nxt = one("next", f"0:{offset + limit}:0", offset + limit < total)
        return f"{prev}, {nxt}"

    def paged(self, request: Request, items: list[Any], limit: int, render: Any, **headers: str) -> Response:
        offset = self.cursor(request)
        chunk = [render(x) for x in items[offset: offset + limit]]
        return JSONResponse(chunk, headers={"Link": self.link(request, offset, limit, len(items)), **headers})

    # ------------------------------------------------------------------ rendering

    def org_json(self, request: Request, org: dict[str, str], info: TokenInfo | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": org["id"], "slug": org["slug"], "name": org["name"],
            "dateCreated": iso(self.ago(86400 * 900)), "status": {"id": "active", "name": "active"},
            "isEarlyAdopter": False, "require2FA": False, "hasAuthProvider": False,
            "allowMemberInvite": True, "allowMemberProjectCreation": True, "allowSuperuserAccess": False,
            "avatar": {"avatarType": "letter_avatar", "avatarUuid": None},
            "links": {"organizationUrl": f"https://{org['slug']}.sentry.io", "regionUrl": "https://us.sentry.io"},
            "features": ["issue-platform", "session-replay", "performance-view"],
        }
        if info is not None:
            out["access"] = list(info.scopes)
        return out

    def project_json(self, project: dict[str, Any], info: TokenInfo) -> dict[str, Any]:
        team = dict(self.team)
        flags = ("hasFeedbacks", "hasFlags", "hasMinifiedStackTrace", "hasMonitors", "hasNewFeedbacks",
                 "hasProfiles", "hasReplays", "hasSessions", "hasInsightsHttp", "hasInsightsDb",
                 "hasInsightsAssets", "hasInsightsAppStart", "hasInsightsScreenLoad", "hasInsightsVitals",
                 "hasInsightsCaches", "hasInsightsQueues", "hasInsightsAgentMonitoring", "hasInsightsMCP",
                 "hasLogs", "hasTraceMetrics", "hasUserReports")
        return {
            "id": project["id"], "slug": project["slug"], "name": project["name"],
            "platform": project["platform"], "platforms": [project["platform"]],
            "dateCreated": iso(project["created"]), "firstEvent": iso(project["created"] + 3600),
            "firstTransactionEvent": False, "isBookmarked": False, "isMember": info.kind == "user",
            "hasAccess": True,
            # the scopes this caller holds on the project: where Sentry shows a token's scopes
            "access": sorted(s for s in info.scopes if s.split(":")[0] in ("event", "project", "alerts", "member", "org", "team")),
            "features": ["releases", "similarity-indexing"], "environments": ["production", "staging"],
            "team": team, "teams": [team], "latestRelease": {"version": f"{project['slug']}@1.4.2"},
            "latestDeploys": None,
            **{flag: False for flag in flags},
        }

    def issue_json(self, base: str, issue: dict[str, Any]) -> dict[str, Any]:
        project = self.projects[issue["project"]]
        count = str(issue["count"])
        hour = int(self.now // 3600) * 3600
        buckets = [[hour - 3600 * (23 - h), 0] for h in range(24)]
        buckets[-1][1] = issue["count"] if issue["lastSeen"] >= self.now - 3600 else 0
        exc_type, _, value = issue["title"].partition(": ")
        return {
            "id": issue["id"], "shortId": issue["shortId"], "shareId": None,
            "title": issue["title"], "culprit": issue["culprit"],
            "permalink": f"{base}/organizations/{self.org['slug']}/issues/{issue['id']}/",
            "logger": None, "level": issue["level"], "status": issue["status"],
            "statusDetails": {}, "substatus": {"unresolved": "ongoing", "ignored": "archived_forever",
                                               "resolved": None}[issue["status"]],
            "isPublic": False, "platform": project["platform"], "priority": "high" if issue["level"] in
            ("error", "fatal") else "medium", "priorityLockedAt": None,
            "seerFixabilityScore": None, "seerAutofixLastTriggered": None, "seerExplorerAutofixLastTriggered": None,
            "project": {"id": project["id"], "name": project["name"], "slug": project["slug"],
                        "platform": project["platform"]},
            "type": "error" if issue["level"] in ("error", "fatal") else "default",
            "issueType": "error" if issue["level"] in ("error", "fatal") else "performance_slow_db_query",
            "issueCategory": "error" if issue["level"] in ("error", "fatal") else "performance",
            "metadata": {"type": exc_type, "value": value or exc_type, "filename": issue["culprit"]},
            "numComments": 0, "assignedTo": None, "isBookmarked": False, "isSubscribed": False,
            "subscriptionDetails": None, "hasSeen": False, "annotations": [], "isUnhandled": issue["level"] == "fatal",
            "count": count, "userCount": issue["userCount"],
            "firstSeen": iso(issue["firstSeen"]), "lastSeen": iso(issue["lastSeen"]),
            "stats": {"24h": buckets},
            "lifetime": {"count": str(issue["lifetime"]), "userCount": issue["userCount"],
                         "firstSeen": iso(issue["firstSeen"]), "lastSeen": iso(issue["lastSeen"])},
            "filtered": None, "sessionCount": 0,
            "inbox": {"reason": 0, "reason_details": None, "date_added": iso(issue["firstSeen"])},
            "owners": {"type": "ownershipRule", "owner": f"team:{self.team['id']}", "date_added": iso(issue["firstSeen"])},
            "derivedData": {"blocker": "none", "progress": "not_started", "status": "open", "viewCount": 0,
                            "hasOpenFixPr": False, "isAssigned": False, "hasRootCause": False,
                            "lastCompletedAutofixStep": "none", "lastProgressedAt": None},
            "integrationIssues": [], "sentryAppIssues": [], "latestEventHasAttachments": False,
            "matchingEventId": None, "matchingEventEnvironment": None,
        }

    # ------------------------------------------------------------------ issue filtering

    def period(self, request: Request) -> float:
        raw = request.query_params.get("statsPeriod") or "14d"
        m = PERIOD_RE.fullmatch(raw)
        if not m:
            raise self.fail(400, f"Invalid statsPeriod: {raw}")
        return int(m.group(1)) * PERIOD_UNITS[m.group(2)]

    def matching(self, request: Request, pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
        q = request.query_params
        since = self.now - self.period(request)
        query = q.get("query", "is:unresolved")
        statuses: set[str] = set()
        levels: set[str] = set()
        words: list[str] = []
        for token in query.split():
            key, sep, value = token.partition(":")
            if sep and key == "is":
                if value not in STATUSES and value not in ("unassigned", "assigned", "for_review"):
                    raise self.fail(400, f"Invalid value for is: {value}")
                if value in STATUSES:
                    statuses.add(value)
            elif sep and key == "level":
                levels.update(value.split(","))
            else:
                words.append(token.lower())
        sort = q.get("sort", "date")
        if sort not in SORTS:
            raise self.fail(400, f"Invalid sort: {sort}")
        out = [x for x in pool if x["lastSeen"] >= since
               and (not statuses or x["status"] in statuses)
               and (not levels or x["level"] in levels)
               and all(w in x["title"].lower() for w in words)]
        keys = {"new": "firstSeen", "freq": "count", "user": "userCount"}
        if sort in keys:
            out.sort(key=lambda x: x[keys[sort]], reverse=True)
        return out

    # ------------------------------------------------------------------ routes

    async def organizations_list(self, request: Request) -> Response:
        info = self.auth(request, "org:read", user_only=True)
        orgs = [o for o in (self.org, self.other_org) if o["slug"] in info.orgs]
        return self.paged(request, orgs, self.per_page(request, "per_page"), lambda o: self.org_json(request, o))

    async def organization_detail(self, request: Request) -> Response:
        info = self.auth(request, "org:read", user_only=True)
        return JSONResponse(self.org_json(request, self.organization(request, info), info))

    async def projects_list(self, request: Request) -> Response:
        info = self.auth(request, "org:read")
        org = self.organization(request, info)
        limit = self.per_page(request, "per_page")
        items = self.projects if org is self.org else []
        for key, _, value in (t.partition(":") for t in request.query_params.get("query", "").split()):
            if value and key == "slug":
                items = [p for p in items if p["slug"] in value.split(",")]
            elif value and key == "id":
                items = [p for p in items if p["id"] in value.split(",")]
            elif value:
                items = []  # an unknown key matches nothing, as in Sentry
            else:
                items = [p for p in items if key.lower() in p["slug"] or key.lower() in p["name"].lower()]
        return self.paged(request, items, limit, lambda p: self.project_json(p, info))

    async def org_issues(self, request: Request) -> Response:
        info = self.auth(request, "event:read")
        org = self.organization(request, info)
        pool = self.issues if org is self.org else []
        ids = [v for v in request.query_params.getlist("project") if v != "-1"]
        if ids:
            known = {p["id"] for p in self.projects}
            if not set(ids) <= known:
                raise self.fail(403, PERMISSION_DENIED)
            pool = [x for x in pool if self.projects[x["project"]]["id"] in ids]
        items = self.matching(request, pool)
        limit = self.int_param(request, "limit", MAX_PER_PAGE, 1, MAX_PER_PAGE)
        base = str(request.base_url).rstrip("/")
        return self.paged(request, items, limit, lambda x: self.issue_json(base, x),
                          **{"X-Hits": str(len(items)), "X-Max-Hits": "1000"})

    async def project_issues(self, request: Request) -> Response:
        info = self.auth(request, "event:read")
        org = self.organization(request, info)
        slug = request.path_params["project_id_or_slug"]
        index = next((i for i, p in enumerate(self.projects) if slug in (p["slug"], p["id"])), None)
        if org is not self.org or index is None:
            raise self.fail(404, DOES_NOT_EXIST)
        items = self.matching(request, [x for x in self.issues if x["project"] == index])
        limit = self.int_param(request, "limit", MAX_PER_PAGE, 1, MAX_PER_PAGE)
        base = str(request.base_url).rstrip("/")
        return self.paged(request, items, limit, lambda x: self.issue_json(base, x))

    def routes(self) -> list[Route]:
        return [
            Route("/api/0/organizations/", self.organizations_list),
            Route("/api/0/organizations/{organization_id_or_slug}/", self.organization_detail),
            Route("/api/0/organizations/{organization_id_or_slug}/projects/", self.projects_list),
            Route("/api/0/organizations/{organization_id_or_slug}/issues/", self.org_issues),
            Route("/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/issues/", self.project_issues),
        ]


EMULATOR = SentryEmulator
