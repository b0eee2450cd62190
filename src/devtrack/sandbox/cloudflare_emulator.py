"""Cloudflare API v4 emulator: token verify, zones, Workers scripts, Pages projects and deployments.

Faithful to what DevTrack depends on. Every answer, errors included, is Cloudflare's envelope
``{success, errors: [{code, message}], messages, result[, result_info]}``. Auth is
``Authorization: Bearer``: no header is a 400 (code 9106), a token of the wrong shape a 400
(6003 with the 6111 chain, as Cloudflare answers a Global API Key sent as a token), an unknown
token a 401 — code 1000 "Invalid API Token" on the verify endpoints, 9109 "Invalid access
token" elsewhere. A token without a permission gets 403 code 10000 "Authentication error", as
does a well-formed account id the token has no access to; an account or zone id that is not 32
hex characters is Cloudflare's 400 code 7003 "Could not route to …".

The known trap: an **account-owned** token fails ``/user/tokens/verify`` (401, code 1000) yet
passes ``/accounts/{account_id}/tokens/verify`` and works on every account route. Disabled and
expired tokens verify with ``result.status`` ``disabled``/``expired`` and are refused elsewhere.

Lists page with ``page``/``per_page`` and ``result_info.total_pages`` (zones, Pages projects
and deployments); the Workers script list is not paged. ``X-RateLimit-Limit``/``-Remaining``
on every answer; a 429 (code 971) adds ``Retry-After`` and an RFC 1123 ``X-RateLimit-Reset``.
"""

from __future__ import annotations

import email.utils
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .emulator import Emulator, RateState, SandboxEvent

PREFIX = "/client/v4"
HEX32 = re.compile(r"[0-9a-f]{32}")
#: What a real API token looks like (40 characters of this alphabet).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")
ALL_PERMISSIONS = frozenset({"zone:read", "workers:read", "pages:read"})

#: Cloudflare's error code for a status when a route (or a status fault) does not give one.
DEFAULT_CODES = {400: 1002, 401: 10000, 403: 10000, 404: 7003, 405: 10405, 429: 971,
                 500: 10001, 502: 10002, 503: 10003, 504: 10004}

#: Zone statuses seeded first, so every one appears even at a small scale.
ZONE_STATUSES = ("active", "pending", "active", "active", "initializing", "active", "moved", "active")
#: (latest_stage name, status) of each project's newest deployment, in turn.
LATEST_STAGES = (("deploy", "success"), ("build", "failure"), ("deploy", "success"),
                 ("build", "active"), ("build", "canceled"), ("queued", "active"))
STAGE_NAMES = ("queued", "initialize", "clone_repo", "build", "deploy")
WORDS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka",
         "tyrell", "cyberdyne", "soylent", "aperture")
TLDS = ("com", "dev", "io", "net", "org", "app")


def iso(epoch: float) -> str:
    """Cloudflare's timestamp form: ``2024-05-01T10:20:30.123456Z``."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CloudflareEmulator(Emulator):
    service = "cloudflare"
    plugin_ids = ("cloudflare",)
    base_path = PREFIX
    default_scale = {"cloudflare_zones": 8, "cloudflare_workers": 5,
                     "cloudflare_pages_projects": 6, "cloudflare_pages_deployments": 12}
    #: Cloudflare's global limit: 1200 requests per five minutes per user.
    rate_limit = 1200
    rate_window = 300.0

    # ------------------------------------------------------------------ data

    def seed_data(self) -> None:
        self.account = {"id": self.hex_id(32), "name": "Sandbox Dev's Account"}
        #: A second account the sandbox user is a member of (its zones show without a filter).
        self.side_account = {"id": self.hex_id(32), "name": "Side Project Ltd"}
        self.user = {"id": self.hex_id(32), "email": "dev@example.com"}
        #: token → {id, owner ("user"|"account"), status, expires_on, permissions, accounts}
        self.tokens: dict[str, dict[str, Any]] = {}
        both = {self.account["id"], self.side_account["id"]}
        self.user_token = self._token("user", "active", both, expires_in=86400 * 365)
        self.account_token = self._token("account", "active", {self.account["id"]})
        self.zone_only_token = self._token("user", "active", both, permissions={"zone:read"})
        self.disabled_token = self._token("user", "disabled", both)
        self.expired_token = self._token("user", "expired", both, expires_in=-86400 * 3)
        self.zones = [self._zone(i) for i in range(self.scale["cloudflare_zones"])]
        self.zones += [self._zone(i, self.side_account, suffix="side") for i in range(2)]
        self.workers = [self._worker(i) for i in range(self.scale["cloudflare_workers"])]
        self.projects: list[dict[str, Any]] = []
        self.deployments: dict[str, list[dict[str, Any]]] = {}
        #: Deployments added by events, removed again by a reset.
        self._event_deployments: set[str] = set()
        for p in range(self.scale["cloudflare_pages_projects"]):
            self._project(p)

    def _token(self, owner: str, status: str, accounts: set[str], *,
               permissions: set[str] | None = None, expires_in: float | None = None) -> str:
        value = self.token("", 40)
        info: dict[str, Any] = {"id": self.hex_id(32), "owner": owner, "status": status,
                                "accounts": frozenset(accounts),
                                "permissions": frozenset(permissions or ALL_PERMISSIONS)}
        if expires_in is not None:
            info["expires_on"] = iso(self.now + expires_in).split(".")[0] + "Z"
        self.tokens[value] = info
        return value

    def _zone(self, i: int, account: dict[str, str] | None = None, suffix: str = "") -> dict[str, Any]:
        account = account or self.account
        status = ZONE_STATUSES[i] if i < len(ZONE_STATUSES) else self.rng.choices(
            ("active", "pending", "initializing", "moved"), (90, 6, 2, 2))[0]
        created = self.ago(86400 * (900 - i))
        name = f"{WORDS[i % len(WORDS)]}{suffix}{i // len(WORDS) or ''}.{TLDS[i % len(TLDS)]}"
        return {
            "id": self.hex_id(32),
            "name": name,
            "status": status,
            "paused": i == 2,  # an active zone whose proxying is paused
            "type": "full",
            "development_mode": 0,
            "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
            "original_name_servers": ["ns1.registrar-dns.com", "ns2.registrar-dns.com"],
            "original_registrar": "Example Registrar, Inc.",
            "original_dnshost": None,
            "created_on": iso(created),
            "modified_on": iso(created + 86400 * 30),
            "activated_on": iso(created + 3600) if status == "active" else None,
            "meta": {"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3,
                     "phishing_detected": False},
            "owner": {"id": self.user["id"], "type": "user", "email": self.user["email"]},
            "account": dict(account),
            "permissions": ["#zone:read"],
            "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "price": 0,
                     "currency": "USD", "frequency": "", "is_subscribed": False, "can_subscribe": False,
                     "legacy_id": "free", "legacy_discount": False, "externally_managed": False},
        }

    def _worker(self, i: int) -> dict[str, Any]:
        created = self.ago(86400 * (300 - i * 7))
        return {
            "id": f"{WORDS[i % len(WORDS)]}-{('api', 'cron', 'router', 'auth', 'images')[i % 5]}"
                  + (f"-{i // 5}" if i >= 5 else ""),
            "etag": self.hex_id(64),
            "handlers": ["fetch"] if i % 3 else ["fetch", "scheduled"],
            "created_on": iso(created),
            "modified_on": iso(self.ago(3600 * (i + 1) * 5)),
            "usage_model": "bundled" if i % 2 else "unbound",
            "compatibility_date": "2024-06-01",
            "logpush": False,
            "has_assets": False,
            "has_modules": True,
            "tail_consumers": [],
        }

    def _project(self, p: int) -> None:
        name = f"{WORDS[p % len(WORDS)]}-site" + (f"-{p // len(WORDS)}" if p >= len(WORDS) else "")
        pid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        created = self.ago(86400 * (200 - p))
        deps = []
        for j in range(self.scale["cloudflare_pages_deployments"]):
            if j == 0:
                stage = LATEST_STAGES[p % len(LATEST_STAGES)]
            else:
                stage = ("deploy", "success") if self.rng.random() < 0.85 else ("build", "failure")
            env = "production" if j % 3 == 0 else "preview"
            deps.append(self._deployment(pid, name, stage, env, self.ago(3600 * (p + 1) + 86400 * j / 2)))
        self.deployments[name] = deps
        production = next((d for d in deps if d["environment"] == "production"), None)
        self.projects.append({
            "id": pid,
            "name": name,
            "subdomain": f"{name}.pages.dev",
            "domains": [f"{name}.pages.dev"] + ([f"www.{self.zones[0]['name']}"] if p == 0 and self.zones else []),
            "production_branch": "main",
            "created_on": iso(created),
            "source": {"type": "github", "config": {"owner": "sandbox-dev", "repo_name": name,
                                                    "production_branch": "main",
                                                    "deployments_enabled": True}},
            "build_config": {"build_command": "npm run build", "destination_dir": "dist",
                             "root_dir": "", "build_caching": True},
            "deployment_configs": {"preview": {"compatibility_date": "2024-06-01"},
                                   "production": {"compatibility_date": "2024-06-01"}},
            "latest_deployment": deps[0] if deps else None,
            "canonical_deployment": production,
        })

    def _deployment(self, project_id: str, project: str, stage: tuple[str, str], env: str,
                    created: float) -> dict[str, Any]:
        did = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        branch = "main" if env == "production" else self.rng.choice(["feat/search", "fix/footer", "deps"])
        stage_name, status = stage
        reached = STAGE_NAMES.index(stage_name)
        stages = []
        t = created
        for k, sname in enumerate(STAGE_NAMES):
            if k < reached:
                stages.append({"name": sname, "status": "success", "started_on": iso(t), "ended_on": iso(t + 5)})
                t += 5
            elif k == reached:
                done = status not in ("active", "idle")
                stages.append({"name": sname, "status": status, "started_on": iso(t),
                               "ended_on": iso(t + 40) if done else None})
            else:
                stages.append({"name": sname, "status": "idle", "started_on": None, "ended_on": None})
        return {
            "id": did,
            "short_id": did[:8],
            "project_id": project_id,
            "project_name": project,
            "environment": env,
            "url": f"https://{did[:8]}.{project}.pages.dev",
            "created_on": iso(created),
            "modified_on": iso(created + 60),
            "aliases": [f"https://{branch.replace('/', '-')}.{project}.pages.dev"] if env == "preview" else None,
            "latest_stage": next(s for s in stages if s["name"] == stage_name),
            "stages": stages,
            "deployment_trigger": {"type": "push", "metadata": {
                "branch": branch, "commit_hash": self.hex_id(40),
                "commit_message": self.rng.choice(["Update index.html", "Fix nav on mobile", "Bump deps",
                                                   "Add blog post", "Tweak cache headers"]),
            }},
            "build_config": {"build_command": "npm run build", "destination_dir": "dist",
                             "root_dir": "", "build_caching": True},
            "source": {"type": "github", "config": {"owner": "sandbox-dev", "repo_name": project}},
            "env_vars": {},
            "is_skipped": False,
        }

    # ------------------------------------------------------------------ events (alert rules)

    def sandbox_events(self) -> dict[str, SandboxEvent]:
        return {
            "production_deploy_failed": SandboxEvent(
                "a new production deployment of a Pages project whose build failed (option: project) "
                "(undo: a redeploy that succeeds)", self._fail_production, self._recover),
            "token_expiring": SandboxEvent(
                "the sandbox's user API token expires in a few days (option: days, default 7) "
                "(undo: its expiry as seeded)", self._expire_soon, self._restore_expiry),
        }

    def _add_production(self, name: str, stage: tuple[str, str]) -> dict[str, Any]:
        project = next((p for p in self.projects if p["name"] == name), None)
        if project is None:
            raise ValueError(f"no Pages project {name!r}")
        deps = self.deployments[name]
        dep = self._deployment(project["id"], name, stage, "production", time.time())
        deps.insert(0, dep)
        project["latest_deployment"] = project["canonical_deployment"] = dep
        self._event_deployments.add(dep["id"])
        return dep

    def _fail_production(self, options: dict[str, Any]) -> dict[str, Any]:
        name = str(options.get("project") or (self.projects[0]["name"] if self.projects else ""))
        dep = self._add_production(name, ("build", "failure"))
        return {"project": name, "deployment": dep["id"],
                "commit": dep["deployment_trigger"]["metadata"]["commit_hash"]}

    def _recover(self, done: dict[str, Any]) -> dict[str, Any]:
        return {"deployment": self._add_production(done["project"], ("deploy", "success"))["id"]}

    def _expire_soon(self, options: dict[str, Any]) -> dict[str, Any]:
        info = self.tokens[self.user_token]
        before = info.get("expires_on")
        info["expires_on"] = iso(time.time() + float(options.get("days", 7)) * 86400).split(".")[0] + "Z"
        return {"token": info["id"], "expires_on": info["expires_on"], "was": before}

    def _restore_expiry(self, done: dict[str, Any]) -> None:
        info = self.tokens[self.user_token]
        if done.get("was") is None:
            info.pop("expires_on", None)
        else:
            info["expires_on"] = done["was"]

    def on_reset(self) -> None:
        """A reset removes the deployments events added (and their recoveries)."""
        super().on_reset()
        for name, deps in self.deployments.items():
            deps[:] = [d for d in deps if d["id"] not in self._event_deployments]
            project = next(p for p in self.projects if p["name"] == name)
            project["latest_deployment"] = deps[0] if deps else None
            project["canonical_deployment"] = next((d for d in deps if d["environment"] == "production"), None)
        self._event_deployments.clear()

    # ------------------------------------------------------------------ vendor traits

    def envelope(self, result: Any, result_info: dict[str, Any] | None = None,
                 messages: list[dict[str, Any]] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"success": True, "errors": [], "messages": messages or [], "result": result}
        if result_info is not None:
            body["result_info"] = result_info
        return JSONResponse(body)

    def error(self, status: int, message: str, **extra: Any) -> Response:
        code = extra.pop("code", DEFAULT_CODES.get(status, 10000 if status < 500 else 10001))
        more = extra.pop("more", None) or []
        errors = [{"code": code, "message": message, **extra}, *more]
        return JSONResponse({"success": False, "errors": errors, "messages": [], "result": None}, status)

    def rate_headers(self, state: RateState) -> dict[str, str]:
        return {"x-ratelimit-limit": str(state.limit), "x-ratelimit-remaining": str(state.remaining)}

    def rate_limited(self, state: RateState) -> Response:
        resp = self.error(429, "Please wait and consider throttling your request speed", code=971)
        resp.headers["retry-after"] = str(state.reset_in)
        resp.headers["x-ratelimit-reset"] = email.utils.formatdate(state.reset_at, usegmt=True)
        return resp

    def credentials(self, url: str) -> dict[str, dict[str, str]]:
        return {"cloudflare": {"api_token": self.user_token, "account_id": self.account["id"]}}

    # ------------------------------------------------------------------ auth

    def auth(self, request: Request, *, verify: bool = False) -> dict[str, Any]:
        """The token's record, or Cloudflare's 400/401 for a missing, malformed or unknown token."""
        if not request.headers.get("authorization"):
            raise self.fail(400, "Missing X-Auth-Key, X-Auth-Email or Authorization headers", code=9106)
        token = self.bearer(request)
        if token is None or not TOKEN_SHAPE.fullmatch(token):
            raise self.fail(400, "Invalid request headers", code=6003,
                            error_chain=[{"code": 6111, "message": "Invalid format for Authorization header"}])
        info = self.tokens.get(token)
        if info is None:
            raise self.fail(401, "Invalid API Token", code=1000) if verify else \
                self.fail(401, "Invalid access token", code=9109)
        self.limit(request, token)
        if not verify and info["status"] != "active":
            raise self.fail(401, "Invalid access token", code=9109)
        return info

    def account_of(self, request: Request, info: dict[str, Any], permission: str | None) -> str:
        """The path's account id, checked like Cloudflare: routable, a member of, permitted."""
        account_id = request.path_params["account_id"]
        if not HEX32.fullmatch(account_id):
            raise self.fail(400, f"Could not route to {request.url.path}, perhaps your object identifier is invalid?",
                            code=7003, more=[{"code": 7000, "message": "No route for that URI"}])
        if account_id not in info["accounts"] or (permission and permission not in info["permissions"]):
            raise self.fail(403, "Authentication error", code=10000)
        return account_id

    @staticmethod
    def paged(items: list[Any], page: int, per_page: int) -> tuple[list[Any], dict[str, int]]:
        chunk = items[(page - 1) * per_page: page * per_page]
        return chunk, {"page": page, "per_page": per_page, "count": len(chunk),
                       "total_count": len(items), "total_pages": max(1, -(-len(items) // per_page))}

    # ------------------------------------------------------------------ routes

    def _verify_result(self, info: dict[str, Any]) -> Response:
        result = {"id": info["id"], "status": info["status"]}
        if "expires_on" in info:
            result["expires_on"] = info["expires_on"]
        text = {"active": "This API Token is valid and active", "disabled": "This API Token is disabled",
                "expired": "This API Token has expired"}[info["status"]]
        return self.envelope(result, messages=[{"code": 10000, "message": text, "type": None}])

    async def user_verify(self, request: Request) -> Response:
        info = self.auth(request, verify=True)
        if info["owner"] != "user":  # the trap: account-owned tokens are not user tokens
            raise self.fail(401, "Invalid API Token", code=1000)
        return self._verify_result(info)

    async def account_verify(self, request: Request) -> Response:
        info = self.auth(request, verify=True)
        self.account_of(request, info, None)
        if info["owner"] != "account":
            raise self.fail(401, "Invalid API Token", code=1000)
        return self._verify_result(info)

    def _zone_visible(self, info: dict[str, Any], zone: dict[str, Any]) -> bool:
        return zone["account"]["id"] in info["accounts"]

    async def zones_list(self, request: Request) -> Response:
        info = self.auth(request)
        if "zone:read" not in info["permissions"]:
            raise self.fail(403, "Authentication error", code=10000)
        q = request.query_params
        page = self.int_param(request, "page", 1, 1)
        per_page = self.int_param(request, "per_page", 20, 5, 50)
        status = q.get("status")
        if status is not None and status not in ("initializing", "pending", "active", "moved"):
            raise self.fail(400, "Invalid status filter", code=1002)
        items = [z for z in self.zones if self._zone_visible(info, z)
                 and (q.get("account.id") is None or z["account"]["id"] == q.get("account.id"))
                 and (status is None or z["status"] == status)
                 and (q.get("name") is None or z["name"] == q.get("name"))]
        if q.get("order") == "name":
            items.sort(key=lambda z: z["name"], reverse=q.get("direction") == "desc")
        chunk, info_ = self.paged(items, page, per_page)
        return self.envelope(chunk, info_)

    async def zone_get(self, request: Request) -> Response:
        info = self.auth(request)
        zone_id = request.path_params["zone_id"]
        if not HEX32.fullmatch(zone_id):
            raise self.fail(400, f"Could not route to {request.url.path}, perhaps your object identifier is invalid?",
                            code=7003, more=[{"code": 7000, "message": "No route for that URI"}])
        zone = next((z for z in self.zones if z["id"] == zone_id and self._zone_visible(info, z)), None)
        if zone is None:
            raise self.fail(404, "Invalid zone identifier", code=1001)
        if "zone:read" not in info["permissions"]:
            raise self.fail(403, "Authentication error", code=10000)
        return self.envelope(zone)

    async def workers_list(self, request: Request) -> Response:
        info = self.auth(request)
        account = self.account_of(request, info, "workers:read")
        return self.envelope(self.workers if account == self.account["id"] else [])

    async def pages_projects(self, request: Request) -> Response:
        info = self.auth(request)
        account = self.account_of(request, info, "pages:read")
        page = self.int_param(request, "page", 1, 1)
        per_page = self.int_param(request, "per_page", 10, 1, 100)
        chunk, info_ = self.paged(self.projects if account == self.account["id"] else [], page, per_page)
        return self.envelope(chunk, info_)

    async def pages_deployments(self, request: Request) -> Response:
        info = self.auth(request)
        account = self.account_of(request, info, "pages:read")
        name = request.path_params["project_name"]
        deps = self.deployments.get(name) if account == self.account["id"] else None
        if deps is None:
            raise self.fail(404, "Project not found. The specified project name does not match any of "
                                 "your existing projects.", code=8000007)
        env = request.query_params.get("env")
        if env is not None and env not in ("production", "preview"):
            raise self.fail(400, "Invalid env: must be production or preview", code=8000000)
        page = self.int_param(request, "page", 1, 1)
        per_page = self.int_param(request, "per_page", 25, 1, 100)
        chunk, info_ = self.paged([d for d in deps if env is None or d["environment"] == env], page, per_page)
        return self.envelope(chunk, info_)

    def routes(self) -> list[Route]:
        acc = PREFIX + "/accounts/{account_id}"
        return [
            Route(PREFIX + "/user/tokens/verify", self.user_verify),
            Route(acc + "/tokens/verify", self.account_verify),
            Route(PREFIX + "/zones", self.zones_list),
            Route(PREFIX + "/zones/{zone_id}", self.zone_get),
            Route(acc + "/workers/scripts", self.workers_list),
            Route(acc + "/pages/projects", self.pages_projects),
            Route(acc + "/pages/projects/{project_name}/deployments", self.pages_deployments),
        ]


EMULATOR = CloudflareEmulator
