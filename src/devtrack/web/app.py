"""The app factory: pages, JSON API, static files and the security middleware, wired once.

The app talks to an :class:`IntegrationManager` only (never files or HTTP details), so tests
and the sandbox pass their own manager and everything else follows.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .. import __version__
from ..events import EventBus
from ..integrations.manager import IntegrationManager, get_manager
from . import alerts_routes, api, docs, errors, events_api, git_api, pages, views_routes
from .ai import AiProviders, default_ai_providers
from .render import install_filters
from .security import ASGIApp, Guard, SecurityMiddleware, default_allowed_hosts

HERE = Path(__file__).parent


def create_app(
    manager: IntegrationManager | None = None,
    *,
    access_token: str | None = None,
    no_auth: bool = False,
    allowed_hosts: Iterable[str] | None = None,
    ai: AiProviders | None = None,
    ai_proxy: ASGIApp | None = None,
) -> FastAPI:
    """Build the web app.

    ``access_token`` is what every request must carry (``devtrack serve`` passes the user's,
    see ``access``); without one, ``no_auth=True`` must say so: a forgotten token must not
    mean an open server. ``allowed_hosts`` defaults to the loopback names; ``ai`` swaps the
    AI provider backend; ``ai_proxy`` is mounted at ``/ai`` (it must check its own token and
    refuse browser origins: the form CSRF rules skip it).
    """
    if bool(access_token) == no_auth:
        raise ValueError("create_app needs an access_token, or no_auth=True (and then no token)")
    manager = manager or get_manager()
    if ai_proxy is None:  # the AI proxy (devtrack.ai) checks its own token and refuses browser origins
        from ..ai.proxy import create_proxy_app

        ai_proxy = create_proxy_app(manager)
    app = FastAPI(
        title="DevTrack",
        version=__version__,
        description="Local API of DevTrack: the `devtrack integrations` commands over HTTP. "
        "Every call needs the access token: `Authorization: Bearer $(devtrack serve --print-token)`, "
        "or the login cookie of a browser, whose state-changing calls also need `Origin` set to "
        "this server and an `X-CSRF-Token` from `GET /api/v1/session`.",
        docs_url=None,
        redoc_url=None,
        default_response_class=errors.SafeJSONResponse,
    )
    guard = Guard(access_token)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    install_filters(templates.env)
    state: dict[str, Any] = {
        "manager": manager,
        "guard": guard,
        "ai": ai or default_ai_providers(manager),
        "templates": templates,
        "events": EventBus(),  # live pages: the coordinator (and alerts) publish, /api/v1/events streams
    }
    for key, value in state.items():
        setattr(app.state, key, value)
    #: Run by the server before it listens and when it shuts down, on its loop: a mounted app
    #: gets no lifespan.
    app.state.openers = [ai_proxy.aopen] if callable(getattr(ai_proxy, "aopen", None)) else []
    app.state.closers = [ai_proxy.aclose] if callable(getattr(ai_proxy, "aclose", None)) else []
    app.include_router(api.router)
    app.include_router(git_api.router)
    app.include_router(events_api.router)
    views_routes.install(app, manager)  # native views (issue 8): owns "/", so before pages
    alerts_routes.install(app)  # the Alerts page, its API and the dashboard's open incidents
    app.include_router(pages.router)
    app.include_router(docs.router)  # /static/swagger-ui/…: before the /static mount, which would shadow it
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    if ai_proxy is not None:
        app.mount("/ai", ai_proxy)
    errors.install(app)
    app.add_middleware(events_api.EventMark, bus=app.state.events)  # type: ignore[arg-type]
    app.add_middleware(
        SecurityMiddleware,  # type: ignore[arg-type]
        guard=guard,
        allowed_hosts=list(allowed_hosts) if allowed_hosts is not None else default_allowed_hosts(),
        exempt_prefixes=("/ai/",) if ai_proxy is not None else (),
    )
    return app
