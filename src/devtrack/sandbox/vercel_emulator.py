"""Vercel REST API emulator: user, teams, projects and deployments.

Faithful to what DevTrack depends on: ``Authorization: Bearer``; a bad or missing token is a
403 with ``invalidToken``/``missingToken``; team-owned projects and deployments are visible
only with ``teamId`` (or ``slug``) — without it the personal account is listed and a team
project id is a 404; a team the token is not in is a 403. ``/v10/projects`` and
``/v6/deployments`` page newest first, ``pagination.next`` being the timestamp to pass back
as ``from`` (projects, by ``updatedAt``) or ``until`` (deployments, by ``created``).
``X-RateLimit-*`` headers; 429 is ``error.code rate_limited``.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .emulator import Emulator, RateState, SandboxEvent

STATES = ("READY", "ERROR", "BUILDING", "QUEUED", "INITIALIZING", "CANCELED", "DELETED")
FRAMEWORKS = ("nextjs", "vite", "astro", "remix", "sveltekit", None)
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               409: "conflict", 429: "rate_limited", 500: "internal_server_error",
               502: "bad_gateway", 503: "service_unavailable"}


class VercelEmulator(Emulator):
    service = "vercel"
    plugin_ids = ("vercel",)
    default_scale = {"vercel_projects": 6, "vercel_deployments": 60}
    rate_limit = 500
    rate_window = 60.0

    # ------------------------------------------------------------------ data

    def seed_data(self) -> None:
        self.user_id = self.token("", 24)
        self.username = "sandbox-dev"
        self.good_token = self.token("vercel_sandbox_", 24)
        #: A token whose /v2/user answers the "limited" user form (SAML-protected team).
        self.limited_token = self.token("vercel_limited_", 24)
        self.teams = [
            {"id": "team_" + self.token("", 24), "slug": "acme", "name": "Acme Inc"},
            {"id": "team_" + self.token("", 24), "slug": "side-project", "name": "Side Project"},
        ]
        #: A team that exists but the sandbox user is not a member of (403 trap).
        self.foreign_team = {"id": "team_" + self.token("", 24), "slug": "not-yours", "name": "Not Yours"}
        owners = [self.user_id, self.teams[0]["id"], self.teams[0]["id"], self.teams[1]["id"]]
        count = self.scale["vercel_projects"]
        names = ["web", "docs", "api", "dashboard", "marketing", "blog", "admin", "shop"]
        self.projects: list[dict[str, Any]] = []
        for i in range(count):
            created = int(self.ago(86400 * (400 - i)) * 1000)
            self.projects.append({
                "accountId": owners[i % len(owners)],
                "directoryListing": False,
                "id": "prj_" + self.token("", 28),
                "name": names[i % len(names)] + (f"-{i // len(names)}" if i >= len(names) else ""),
                "nodeVersion": self.rng.choice(["22.x", "20.x", "18.x"]),
                "framework": self.rng.choice(FRAMEWORKS),
                "resourceConfig": {"functionDefaultRegions": ["iad1"]},
                "defaultResourceConfig": {"functionDefaultRegions": ["iad1"]},
                "createdAt": created,
                "updatedAt": int(self.ago(3600 * (i + 1)) * 1000) - i,
                "live": False,
            })
        self.deployments: list[dict[str, Any]] = []
        #: Deployments added by events (and their recoveries), removed again by a reset.
        self._event_uids: set[str] = set()
        total = self.scale["vercel_deployments"]
        for i in range(total):
            project = self.projects[i % len(self.projects)] if self.projects else None
            if project is None:
                break
            # every state early on, then mostly READY, like a real history
            state = STATES[i] if i < len(STATES) else self.rng.choices(STATES, [80, 8, 2, 2, 1, 5, 2])[0]
            created = int(self.ago(600 * (i + 1)) * 1000) - i  # strictly decreasing, newest first
            self.deployments.append(self._deployment(project, state, created))

    def _scope(self, account_id: str) -> str:
        team = next((t for t in self.teams if t["id"] == account_id), None)
        return team["slug"] if team else self.username

    def _deployment(self, project: dict[str, Any], state: str, created: int) -> dict[str, Any]:
        uid = "dpl_" + self.token("", 28)
        scope = self._scope(project["accountId"])
        target = "production" if self.rng.random() < 0.4 else None
        sha = self.hex_id(40)
        branch = "main" if target == "production" else self.rng.choice(["feat/login", "fix/cache", "deps"])
        dep: dict[str, Any] = {
            "uid": uid,
            "name": project["name"],
            "projectId": project["id"],
            "url": f"{project['name']}-{self.token('', 9).lower()}-{scope}.vercel.app",
            "created": created,
            "createdAt": created,
            "buildingAt": created + 2000,
            "state": state,
            "readyState": state,
            "type": "LAMBDAS",
            "source": "git",
            "target": target,
            "creator": {"uid": self.user_id, "username": self.username, "email": "dev@example.com"},
            "meta": {
                "githubCommitSha": sha,
                "githubCommitRef": branch,
                "githubCommitMessage": self.rng.choice(["Fix login redirect", "Bump deps", "Add pricing page",
                                                        "Refactor cache layer", "Update docs"]),
                "githubCommitAuthorName": "Sandbox Dev",
                "githubRepo": project["name"],
                "githubOrg": scope,
            },
            "inspectorUrl": f"https://vercel.com/{scope}/{project['name']}/{uid[4:]}",
            "aliasError": None,
            "isRollbackCandidate": state == "READY" and target == "production",
        }
        if state == "READY":
            dep["ready"] = created + 60_000
        if state == "ERROR":
            dep["errorCode"] = "BUILD_FAILED"
            dep["errorMessage"] = "Command \"npm run build\" exited with 1"
        return dep

    # ------------------------------------------------------------------ events (alert rules)

    def sandbox_events(self) -> dict[str, SandboxEvent]:
        return {
            "production_deploy_failed": SandboxEvent(
                "a new production deployment of a project that failed (undo: a redeploy that is ready)",
                lambda o: self._add_production(o, "ERROR"), self._recover),
            "production_deploy": SandboxEvent(
                "a new production deployment that is ready (undo: it is deleted)",
                lambda o: self._add_production(o, "READY"), self._remove_added),
        }

    def _event_project(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options["project"]`` (a name or id), else the default connection's (the team's) first
        project whose production is healthy now, so the event is news."""
        wanted = options.get("project")
        team = [p for p in self.projects if p["accountId"] == self.teams[0]["id"]]
        for p in self.projects if wanted else team:
            if wanted in (p["name"], p["id"]):
                return p
            if wanted is None and self._production_state(p["id"]) in (None, "READY"):
                return p
        if wanted is None and team:
            return team[0]
        raise ValueError(f"no Vercel project {wanted!r}")

    def _production_state(self, project_id: str) -> str | None:
        """The state of a project's newest finished production deployment (``None``: none yet)."""
        return next((d["state"] for d in self.deployments if d["projectId"] == project_id
                     and d["target"] == "production" and d["state"] in ("READY", "ERROR", "CANCELED")), None)

    def _insert(self, project: dict[str, Any], state: str) -> dict[str, Any]:
        """A production deployment created now, newest of all (the list is kept newest first)."""
        created = max(int(time.time() * 1000), (self.deployments[0]["created"] + 1) if self.deployments else 0)
        dep = self._deployment(project, state, created)
        dep["target"] = "production"
        dep["meta"]["githubCommitRef"] = "main"
        dep["isRollbackCandidate"] = state == "READY"
        self.deployments.insert(0, dep)
        self._event_uids.add(dep["uid"])
        return dep

    def _add_production(self, options: dict[str, Any], state: str) -> dict[str, Any]:
        project = self._event_project(options)
        dep = self._insert(project, state)
        return {"project": project["id"], "name": project["name"], "deployment": dep["uid"],
                "commit": dep["meta"]["githubCommitSha"], "created": dep["created"]}

    def _recover(self, done: dict[str, Any]) -> dict[str, Any]:
        project = next(p for p in self.projects if p["id"] == done["project"])
        dep = self._insert(project, "READY")
        return {"deployment": dep["uid"]}

    def _remove_added(self, done: dict[str, Any]) -> None:
        self.deployments[:] = [d for d in self.deployments if d["uid"] != done["deployment"]]

    def on_reset(self) -> None:
        """Undone events leave their recovery deployments; a reset removes every one they added."""
        super().on_reset()
        self.deployments[:] = [d for d in self.deployments if d["uid"] not in self._event_uids]
        self._event_uids.clear()

    # ------------------------------------------------------------------ vendor traits

    def error(self, status: int, message: str, **extra: Any) -> Response:
        code = extra.pop("code", ERROR_CODES.get(status, "error"))
        return JSONResponse({"error": {"code": code, "message": message, **extra}}, status)

    def rate_limited(self, state: RateState) -> Response:
        resp = self.error(429, "Rate limit exceeded", limit={
            "remaining": 0, "reset": int(state.reset_at), "resetMs": int(state.reset_at * 1000),
            "total": state.limit,
        })
        resp.headers["retry-after"] = str(state.reset_in)
        return resp

    def credentials(self, url: str) -> dict[str, dict[str, str]]:
        """The team account as the default connection and the same user's personal account
        (no team: the token owner's own scope) as ``vercel:personal``, so the demo shows two."""
        return {
            "vercel": {"token": self.good_token, "team_id": self.teams[0]["id"]},
            "vercel:personal": {"token": self.good_token},
        }

    def auth(self, request: Request) -> str:
        """The token's owner scope check: 403 ``invalidToken`` / ``missingToken`` as Vercel does."""
        token = self.bearer(request)
        if token is None:
            raise self.fail(403, "The request is missing an authentication token", missingToken=True)
        if token not in (self.good_token, self.limited_token):
            raise self.fail(403, "Not authorized", invalidToken=True)
        self.limit(request, token)
        return token

    def owner(self, request: Request) -> str:
        """The account whose resources this call sees: the team of ``teamId``/``slug``, else the user."""
        team_id = request.query_params.get("teamId")
        slug = request.query_params.get("slug")
        if not team_id and not slug:
            return self.user_id
        team = next((t for t in self.teams if t["id"] == team_id or (slug and t["slug"] == slug)), None)
        if team is None:
            raise self.fail(403, "You don't have permission to access this team", code="forbidden")
        return team["id"]

    # ------------------------------------------------------------------ routes

    async def user(self, request: Request) -> Response:
        token = self.auth(request)
        base = {"id": self.user_id, "email": "dev@example.com", "name": "Sandbox Dev",
                "username": self.username, "avatar": None, "defaultTeamId": self.teams[0]["id"]}
        if token == self.limited_token:
            return JSONResponse({"user": {"limited": True, **base}})
        created = int(self.ago(86400 * 800) * 1000)
        return JSONResponse({"user": {
            **base, "createdAt": created, "softBlock": None, "billing": None,
            "resourceConfig": {}, "stagingPrefix": "sandbox-dev", "hasTrialAvailable": False,
            "version": "northstar",
        }})

    async def teams_list(self, request: Request) -> Response:
        self.auth(request)
        limit = self.int_param(request, "limit", 20, 1, 100)
        teams = [{
            **t, "creatorId": self.user_id, "updatedAt": int(self.ago(86400) * 1000), "description": None,
            "stagingPrefix": t["slug"], "avatar": None, "createdAt": int(self.ago(86400 * 300) * 1000),
            "membership": {"confirmed": True, "role": "OWNER", "createdAt": int(self.ago(86400 * 300) * 1000),
                           "created": int(self.ago(86400 * 300) * 1000)},
        } for t in self.teams][:limit]
        return JSONResponse({"teams": teams, "pagination": {"count": len(teams), "next": None, "prev": None}})

    async def projects_list(self, request: Request) -> Response:
        self.auth(request)
        owner = self.owner(request)
        limit = self.int_param(request, "limit", 20, 1, 100)
        before = self.int_param(request, "from", 0) or None
        search = request.query_params.get("search", "")
        items = sorted((p for p in self.projects if p["accountId"] == owner and search in p["name"]),
                       key=lambda p: p["updatedAt"], reverse=True)
        if before is not None:
            items = [p for p in items if p["updatedAt"] < before]
        chunk = items[:limit]
        more = len(items) > limit
        return JSONResponse({"projects": chunk, "pagination": {
            "count": len(chunk),
            "next": chunk[-1]["updatedAt"] if more and chunk else None,
            "prev": chunk[0]["updatedAt"] if chunk and before is not None else None,
        }})

    async def deployments_list(self, request: Request) -> Response:
        self.auth(request)
        owner = self.owner(request)
        q = request.query_params
        limit = self.int_param(request, "limit", 20, 1, 100)
        until = self.int_param(request, "until", 0) or None
        since = self.int_param(request, "since", 0) or None
        owned = {p["id"] for p in self.projects if p["accountId"] == owner}
        wanted = set(filter(None, [q.get("projectId"), *q.getlist("projectIds")]))
        if wanted:
            if not wanted <= {p["id"] for p in self.projects} or not wanted <= owned:
                raise self.fail(404, "Project not found")
            owned = wanted
        states = {s.strip().upper() for s in q.get("state", "").split(",") if s.strip()}
        target = q.get("target")
        items = [d for d in self.deployments if d["projectId"] in owned
                 and (not states or d["state"] in states)
                 and (target is None or d["target"] == target)
                 and (until is None or d["created"] < until)
                 and (since is None or d["created"] > since)]
        chunk = items[:limit]
        more = len(items) > limit
        return JSONResponse({"deployments": chunk, "pagination": {
            "count": len(chunk),
            "next": chunk[-1]["created"] if more and chunk else None,
            "prev": chunk[0]["created"] if chunk else None,
        }})

    def routes(self) -> list[Route]:
        return [
            Route("/v2/user", self.user),
            Route("/v2/teams", self.teams_list),
            Route("/v10/projects", self.projects_list),
            Route("/v6/deployments", self.deployments_list),
        ]


EMULATOR = VercelEmulator
