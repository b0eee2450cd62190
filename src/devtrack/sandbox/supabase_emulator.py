"""Supabase Management API emulator: profile, organizations, projects and service health.

Faithful to what DevTrack depends on: ``Authorization: Bearer sbp_…``; a bad token is 401, a
member without the privilege is 403 (health of any project, with the limited token), a ref
the token cannot see is 404 — including the trap of a scoped token that *lists* a project of
another organization yet gets 404 on it. ``/v1/projects/{ref}/health`` requires ``services``
(comma-separated or repeated). ``/v1/organizations/{slug}/projects`` pages by offset/limit
with ``pagination.count`` the total. 120 requests a minute per token, with ``X-RateLimit-*``
headers (``Reset`` in seconds until the window resets). Errors are ``{"message": …}``.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .emulator import Emulator, RateState, SandboxEvent

SERVICES = ("auth", "db", "db_postgres_user", "pooler", "realtime", "rest", "storage", "pg_bouncer")
REF_RE = re.compile(r"^[a-z]{20}$")
REGIONS = ("us-east-1", "eu-central-1", "ap-southeast-1", "eu-west-2")
NAMES = ("web-prod", "web-staging", "analytics", "mobile-backend", "internal-tools", "playground")
#: The first statuses seeded, so a small sandbox shows each; later projects are healthy.
STATUSES = ("ACTIVE_HEALTHY", "ACTIVE_UNHEALTHY", "INACTIVE", "COMING_UP")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SupabaseEmulator(Emulator):
    service = "supabase"
    plugin_ids = ("supabase",)
    default_scale = {"supabase_projects": 5}
    rate_limit = 120
    rate_window = 60.0

    # ------------------------------------------------------------------ data

    def seed_data(self) -> None:
        self.good_token = "sbp_" + self.hex_id(40)
        self.user_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        #: A member's token without the privilege to read project health (403).
        self.limited_token = "sbp_" + self.hex_id(40)
        #: A fine-grained token scoped to the first organization only (the 404 trap).
        self.scoped_token = "sbp_" + self.hex_id(40)
        self.orgs = [
            {"id": self._ref(), "slug": self._ref(), "name": "Acme"},
            {"id": self._ref(), "slug": self._ref(), "name": "Side Projects"},
        ]
        self.projects: list[dict[str, Any]] = []
        for i in range(self.scale["supabase_projects"]):
            org = self.orgs[0] if i % 3 != 2 else self.orgs[1]
            ref = self._ref()
            status = STATUSES[i] if i < len(STATUSES) else self.rng.choice(("ACTIVE_HEALTHY",) * 8 + STATUSES)
            self.projects.append({
                "id": ref,
                "ref": ref,
                "organization_id": org["id"],
                "organization_slug": org["slug"],
                "name": NAMES[i % len(NAMES)] + (f"-{i // len(NAMES)}" if i >= len(NAMES) else ""),
                "region": self.rng.choice(REGIONS),
                "created_at": _iso(self.ago(86400 * (300 - i))),
                "status": status,
                "database": {"host": f"db.{ref}.supabase.co", "version": "15.8.1.085",
                             "postgres_engine": "15", "release_channel": "ga"},
            })
        self.unhealthy_service = {p["ref"]: self.rng.choice(("realtime", "storage", "rest"))
                                  for p in self.projects}
        #: ref → services failing while the project's status still says it is healthy (Supabase's
        #: status lags its services). Set by tests; cleared on reset.
        self.failing_services: dict[str, set[str]] = {}

    def on_reset(self) -> None:
        super().on_reset()
        self.failing_services.clear()

    def _ref(self) -> str:
        return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(20))

    # ------------------------------------------------------------------ events (alert rules)

    def sandbox_events(self) -> dict[str, SandboxEvent]:
        return {"service_unhealthy": SandboxEvent(
            "a service of a healthy project stops answering while the project still says "
            "ACTIVE_HEALTHY (options: project ref, service, default storage) (undo: it answers)",
            self._break_service, self._mend_service)}

    def _break_service(self, options: dict[str, Any]) -> dict[str, Any]:
        ref = options.get("project") or next(
            (p["ref"] for p in self.projects if p["status"] == "ACTIVE_HEALTHY"
             and not self.failing_services.get(p["ref"])), None)
        if ref is None or not any(p["ref"] == ref for p in self.projects):
            raise ValueError(f"no healthy Supabase project {ref!r}")
        service = str(options.get("service") or "storage")
        self.failing_services.setdefault(ref, set()).add(service)
        return {"project": ref, "service": service}

    def _mend_service(self, done: dict[str, Any]) -> None:
        self.failing_services.get(done["project"], set()).discard(done["service"])

    # ------------------------------------------------------------------ vendor traits

    def error(self, status: int, message: str, **extra: Any) -> Response:
        return JSONResponse({"message": message, **extra}, status)

    def rate_headers(self, state: RateState) -> dict[str, str]:
        return {"x-ratelimit-limit": str(state.limit), "x-ratelimit-remaining": str(state.remaining),
                "x-ratelimit-reset": str(state.reset_in)}

    def rate_limited(self, state: RateState) -> Response:
        resp = self.error(429, "Too many requests. Please try again later.")
        resp.headers["retry-after"] = str(state.reset_in)
        return resp

    def credentials(self, url: str) -> dict[str, dict[str, str]]:
        return {"supabase": {"access_token": self.good_token}}

    def auth(self, request: Request) -> str:
        token = self.bearer(request)
        if token not in (self.good_token, self.limited_token, self.scoped_token):
            raise self.fail(401, "Unauthorized")
        self.limit(request, token)
        return token

    def visible(self, token: str) -> list[dict[str, Any]]:
        """What ``GET /v1/projects`` lists for a token (the scoped token still lists them all)."""
        return self.projects

    def project(self, request: Request, token: str) -> dict[str, Any]:
        ref = request.path_params["ref"]
        if not REF_RE.match(ref):
            raise self.fail(400, "Invalid project ref: it must be 20 lowercase letters")
        found = next((p for p in self.projects if p["ref"] == ref), None)
        if found is None or (token == self.scoped_token and found["organization_id"] != self.orgs[0]["id"]):
            raise self.fail(404, f"Project {ref} not found")
        return found

    # ------------------------------------------------------------------ routes

    async def profile(self, request: Request) -> Response:
        self.auth(request)
        return JSONResponse({"gotrue_id": self.user_id,
                             "primary_email": "dev@example.com", "username": "sandbox-dev"})

    async def organizations(self, request: Request) -> Response:
        token = self.auth(request)
        orgs = self.orgs[:1] if token == self.scoped_token else self.orgs
        return JSONResponse([{"id": o["id"], "slug": o["slug"], "name": o["name"]} for o in orgs])

    async def projects_list(self, request: Request) -> Response:
        token = self.auth(request)
        return JSONResponse(self.visible(token))

    async def project_get(self, request: Request) -> Response:
        token = self.auth(request)
        return JSONResponse(self.project(request, token))

    async def health(self, request: Request) -> Response:
        token = self.auth(request)
        project = self.project(request, token)
        if token == self.limited_token:
            raise self.fail(403, "Your account does not have the necessary privileges to access this endpoint")
        raw = [s for v in request.query_params.getlist("services") for s in v.split(",") if s.strip()]
        if not raw:
            raise self.fail(400, "services must be a non-empty list of: " + ", ".join(SERVICES))
        unknown = [s for s in raw if s not in SERVICES]
        if unknown:
            raise self.fail(400, f"services contains unknown values: {', '.join(unknown)}")
        self.int_param(request, "timeout_ms", 2000, 0, 10000)
        return JSONResponse([self._service_health(project, name) for name in dict.fromkeys(raw)])

    def _service_health(self, project: dict[str, Any], name: str) -> dict[str, Any]:
        status = project["status"]
        if status == "COMING_UP":
            return {"name": name, "healthy": False, "status": "COMING_UP"}
        failing = name in self.failing_services.get(project["ref"], ())
        if status == "INACTIVE" or failing or (status == "ACTIVE_UNHEALTHY"
                                              and self.unhealthy_service[project["ref"]] == name):
            error = "Project is paused" if status == "INACTIVE" else f"{name} is not responding"
            return {"name": name, "healthy": False, "status": "UNHEALTHY", "error": error}
        out: dict[str, Any] = {"name": name, "healthy": True, "status": "ACTIVE_HEALTHY"}
        if name == "auth":
            out["info"] = {"name": "GoTrue", "version": "v2.170.0",
                           "description": "GoTrue is a user registration and authentication API"}
        elif name == "realtime":
            out["info"] = {"healthy": True, "db_connected": True, "replication_connected": True,
                           "connected_cluster": 1}
        elif name == "rest":
            out["info"] = {"db_schema": "public,storage,graphql_public"}
        return out

    async def org_projects(self, request: Request) -> Response:
        token = self.auth(request)
        slug = request.path_params["slug"]
        org = next((o for o in self.orgs if o["slug"] == slug), None)
        if org is None or (token == self.scoped_token and org is not self.orgs[0]):
            raise self.fail(404, f"Organization {slug} not found")
        offset = self.int_param(request, "offset", 0, 0)
        limit = self.int_param(request, "limit", 100, 1, 100)
        search = request.query_params.get("search", "")
        statuses = {s for s in request.query_params.get("statuses", "").split(",") if s}
        sort = request.query_params.get("sort", "name_asc")
        keys = {"name_asc": ("name", False), "name_desc": ("name", True),
                "created_asc": ("created_at", False), "created_desc": ("created_at", True)}
        if sort not in keys:
            raise self.fail(400, f"sort must be one of: {', '.join(keys)}")
        key, reverse = keys[sort]
        items = sorted((p for p in self.projects if p["organization_id"] == org["id"]
                        and search in p["name"] and (not statuses or p["status"] in statuses)),
                       key=lambda p: p[key], reverse=reverse)
        chunk = [{
            "ref": p["ref"], "name": p["name"], "cloud_provider": "AWS", "region": p["region"],
            "is_branch": False, "status": p["status"], "inserted_at": p["created_at"],
            "databases": [{"region": p["region"], "status": "ACTIVE_HEALTHY" if p["status"] != "INACTIVE"
                           else "UNKNOWN", "cloud_provider": "AWS", "identifier": p["ref"],
                           "type": "PRIMARY", "infra_compute_size": "micro"}],
        } for p in items[offset:offset + limit]]
        return JSONResponse({"projects": chunk, "pagination": {"count": len(items), "limit": limit,
                                                               "offset": offset}})

    def routes(self) -> list[Route]:
        return [
            Route("/v1/profile", self.profile),
            Route("/v1/organizations", self.organizations),
            Route("/v1/projects", self.projects_list),
            Route("/v1/projects/{ref}", self.project_get),
            Route("/v1/projects/{ref}/health", self.health),
            Route("/v1/organizations/{slug}/projects", self.org_projects),
        ]


EMULATOR = SupabaseEmulator
