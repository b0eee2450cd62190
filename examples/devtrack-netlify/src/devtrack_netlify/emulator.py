"""An emulator of the Netlify API (the parts the plugin reads), for the tests and the demo.

Shapes follow Netlify's Swagger document (``contract/swagger.yml``; ``tests/test_contract.py``
checks every route and response against it): ``GET /api/v1/user``, ``/sites``,
``/sites/{site_id}`` and ``/sites/{site_id}/deploys``, paged by ``page``/``per_page`` with a
``Link`` header (``rel="next"``, ``rel="last"``), errors as ``{"code", "message"}``, 401 for a
bad token, and the ``X-RateLimit-*`` headers with a 429 and ``Retry-After`` past the limit.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devtrack.sandbox.emulator import Emulator, first

PREFIX = "/api/v1"
#: Deploy states seeded, newest first per site, so each state the plugin maps shows up.
SEEDED_STATES = ("ready", "building", "error", "ready", "enqueued", "ready", "processing", "rejected", "new",
                 "ready", "uploading", "ready")
CONTEXTS = ("production", "deploy-preview", "branch-deploy")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class NetlifyEmulator(Emulator):
    service = "netlify"
    plugin_ids = ("netlify",)
    base_path = PREFIX
    default_scale = {"netlify_sites": 3, "netlify_deploys": 12}
    rate_limit, rate_window = 500, 60.0

    def seed_data(self) -> None:
        self.good = self.token("nfp_", 40)
        self.user = {"id": self.hex_id(24), "uid": self.hex_id(24), "full_name": "Sandbox Dev",
                     "email": "dev@example.com", "site_count": self.scale["netlify_sites"],
                     "created_at": _iso(self.ago(400 * 86400)), "login_providers": ["github"]}
        self.sites: list[dict[str, Any]] = []
        self.deploys: dict[str, list[dict[str, Any]]] = {}
        for i in range(self.scale["netlify_sites"]):
            sid = f"{self.hex_id(8)}-{self.hex_id(4)}-{self.hex_id(4)}-{self.hex_id(4)}-{self.hex_id(12)}"
            name = ("docs-site", "shop-front", "blog")[i] if i < 3 else f"site-{i}"
            site = {"id": sid, "site_id": sid, "name": name, "state": "current", "plan": "nf_team_dev",
                    "url": f"http://{name}.netlify.app", "ssl_url": f"https://{name}.netlify.app",
                    "admin_url": f"https://app.netlify.com/sites/{name}", "account_slug": "sandbox",
                    "created_at": _iso(self.ago((30 + i) * 86400)), "updated_at": _iso(self.ago(3600))}
            deploys = []
            for j in range(self.scale["netlify_deploys"]):
                state = SEEDED_STATES[(j + i) % len(SEEDED_STATES)]
                did = self.hex_id(24)
                created = self.ago(j * 5400 + i * 600 + 120)
                deploy = {
                    "id": did, "site_id": sid, "build_id": self.hex_id(24), "state": state, "name": name,
                    "url": site["url"], "ssl_url": site["ssl_url"],
                    "admin_url": f"{site['admin_url']}/deploys/{did}",
                    "deploy_url": f"http://{did}--{name}.netlify.app",
                    "deploy_ssl_url": f"https://{did}--{name}.netlify.app",
                    "branch": "main" if j % 3 == 0 else f"feature-{j}", "commit_ref": self.hex_id(40),
                    "context": CONTEXTS[0] if j % 3 == 0 else CONTEXTS[1 + j % 2],
                    "title": f"Commit {j} to {name}", "created_at": _iso(created),
                    "updated_at": _iso(created + 90), "skipped": False, "locked": False,
                }
                if state == "error":
                    deploy["error_message"] = "Build script returned non-zero exit code: 2"
                if state == "ready":
                    deploy["published_at"] = _iso(created + 80)
                deploys.append(deploy)
            site["published_deploy"] = next((d for d in deploys if d["state"] == "ready"), None) or {}
            self.sites.append(site)
            self.deploys[sid] = deploys

    # ------------------------------------------------------------------ vendor behaviour

    def error(self, status: int, message: str, **extra: Any) -> Response:
        return JSONResponse({"code": status, "message": message, **extra}, status)

    def rate_headers(self, state: Any) -> dict[str, str]:
        return {"x-ratelimit-limit": str(state.limit), "x-ratelimit-remaining": str(state.remaining),
                "x-ratelimit-reset": str(int(state.reset_at))}

    def credentials(self, url: str) -> dict[str, dict[str, str]]:
        return {"netlify": {"token": self.good}}

    def auth(self, request: Request) -> None:
        token = self.bearer(request)
        if token != self.good:
            raise self.fail(401, "Access Denied: Invalid Token")
        self.limit(request, token)

    def _paged(self, request: Request, items: list[dict[str, Any]]) -> Response:
        page = self.int_param(request, "page", 1, 1)
        per_page = self.int_param(request, "per_page", 100, 1, 100)
        last = max(1, -(-len(items) // per_page))
        body = items[(page - 1) * per_page: page * per_page]
        base = str(request.url.replace(query=""))
        links = []
        if page < last:
            links.append(f'<{base}?page={page + 1}&per_page={per_page}>; rel="next"')
        links.append(f'<{base}?page={last}&per_page={per_page}>; rel="last"')
        return JSONResponse(body, headers={"link": ", ".join(links)})

    # ------------------------------------------------------------------ routes

    async def get_user(self, request: Request) -> Response:
        self.auth(request)
        return JSONResponse(self.user)

    async def list_sites(self, request: Request) -> Response:
        self.auth(request)
        return self._paged(request, self.sites)

    def _site(self, request: Request) -> dict[str, Any]:
        site = first(self.sites, id=request.path_params["site_id"])
        if site is None:
            raise self.fail(404, "Not Found")
        return site

    async def get_site(self, request: Request) -> Response:
        self.auth(request)
        return JSONResponse(self._site(request))

    async def list_deploys(self, request: Request) -> Response:
        self.auth(request)
        site = self._site(request)
        return self._paged(request, self.deploys[site["id"]])

    def routes(self) -> list[Any]:
        return [
            Route(f"{PREFIX}/user", self.get_user),
            Route(f"{PREFIX}/sites", self.list_sites),
            Route(f"{PREFIX}/sites/{{site_id}}", self.get_site),
            Route(f"{PREFIX}/sites/{{site_id}}/deploys", self.list_deploys),
        ]


EMULATOR = NetlifyEmulator
