"""The native views in the web app: pages and ``/api/v1/views/...`` (issue 8).

Pages and endpoints read the refresh coordinator's memory cache when it runs (``devtrack
serve``) and the snapshot store otherwise; they never wait on a service. A manual refresh is
started in the background and the page redirects back at once.

While the snapshot database is away (:mod:`..views.outage`) pages keep what they have with a
banner, the JSON carries ``store`` (``available``, ``since``, ``message``) and a manual refresh
is answered 503 with that message. ``devtrack serve`` started while it is away serves pages
from nothing, probes, and starts the coordinator once the store opens.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from ..events import EventBus
from ..integrations.manager import IntegrationManager
from ..views import build as views
from ..views.charts import svg, timeline_svg, tip
from ..views.current import Current, collect, from_store
from ..views.outage import StoreHealth
from ..views.store import SnapshotStore, StoreUnavailable, open_store
from .errors import error_response
from .pages import _render

router = APIRouter()

#: URL path of each view's page.
PAGES = {"dashboard": "/", "deployments": "/deployments", "errors": "/errors", "code": "/code",
         "infra": "/infra", "ai": "/ai-usage"}


class ViewsRuntime:
    """Where the views read from: a running coordinator, else the store (opened on first use)."""

    def __init__(self, manager: IntegrationManager, store_url: str | None = None,
                 events: EventBus | None = None) -> None:
        self.manager = manager
        self.events = events  # the app's bus: the coordinator publishes its refreshes there
        self.store_url = store_url
        self._store: SnapshotStore | None = None
        self._lock = threading.Lock()
        self.refresher: Any = None  # a views.coordinator.RefreshThread while serving
        self.alerts: Any = None  # the alerts engine attached to that coordinator
        #: The coordinator's options while serving (set by start(), even if the store is away).
        self._serving: dict[str, Any] | None = None
        self.health = StoreHealth(self._probe, events=events)
        self.health.recovered.append(self._store_back)
        self.bridge: Any = None  # team mode on PostgreSQL: views.teamevents.EventBridge

    @property
    def store(self) -> SnapshotStore:
        """The store, opened on first use; :class:`StoreUnavailable` at once while it is away
        (no reader waits on the database's connect timeout)."""
        self.health.check()
        with self._lock:
            if self._store is None:
                self._store = open_store(self.store_url, credentials=self.manager.store.path)
            return self._store

    def _probe(self) -> None:
        """The health's check while the store is away: open it, or see that it answers again."""
        with self._lock:
            if self._store is None:
                self._store = open_store(self.store_url, credentials=self.manager.store.path)
                return
            store = self._store
        store.reconnect()

    def use_store(self, store: SnapshotStore) -> None:
        self._store = store

    @property
    def serving(self) -> bool:
        """``devtrack serve`` runs here (its coordinator, or the wait for the store to start it)."""
        return self._serving is not None

    def current(self) -> list[Current]:
        if self.refresher is not None:
            return self.refresher.coordinator.current()  # type: ignore[no-any-return]
        if self.serving:  # started while the store was away: nothing to show yet
            return collect(self.manager, {}, {}, {})
        return from_store(self.manager, self.store)

    def start(self, **coordinator_options: Any) -> Any:
        """Run the refresh coordinator in its own thread (``devtrack serve``), in team mode:
        other instances on the same store share the polling (:mod:`devtrack.views.leases`).
        With the store away, it starts once the store is back (``None`` until then)."""
        coordinator_options.setdefault("events", self.events)
        self._serving = coordinator_options
        try:
            return self._start_refresher()
        except StoreUnavailable as exc:
            self.health.failed(exc)
            return None

    def _start_refresher(self) -> Any:
        from ..alerts import attach
        from ..views.coordinator import Coordinator, RefreshThread
        from ..views.leases import Leases

        assert self._serving is not None
        options = dict(self._serving)
        options.setdefault("leases", Leases(self.store))
        coordinator = Coordinator(self.manager, self.store, health=self.health, **options)
        try:
            self.alerts = attach(coordinator)  # the alert rules run after every stored refresh
        except BaseException:
            coordinator.close()
            raise
        if coordinator.team is not None and self.events is not None and self.store.backend == "postgresql":
            from ..views.teamevents import EventBridge

            coordinator.team.announce_reloads = False  # the bridge brings the others' events
            self.bridge = EventBridge(self.events, self.store, coordinator.team.instance.id,
                                      lambda kind, _data: coordinator.wake() if kind == "snapshot.stored" else None)
            self.bridge.start()
        self.refresher = RefreshThread(coordinator).start()
        return self.refresher

    def _store_back(self) -> None:
        """The store answers again: start the coordinator if it was waiting for it."""
        with self._lock:
            waiting = self._serving is not None and self.refresher is None
        if waiting:
            self._start_refresher()

    @property
    def team(self) -> Any:
        """The running coordinator's :class:`~devtrack.views.leases.Team`, if any."""
        return None if self.refresher is None else self.refresher.coordinator.team

    def stop(self) -> None:
        self._serving = None
        self.health.close()
        if self.refresher is not None:
            self.refresher.stop()
            self.refresher = None
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None
        if self.alerts is not None:
            self.alerts.close()
            self.alerts = None


def install(app: FastAPI, manager: IntegrationManager) -> ViewsRuntime:
    """Add the views to an app (before the Settings router, so the dashboard owns ``/``)."""
    runtime = ViewsRuntime(manager, events=app.state.events)
    app.state.views = runtime
    app.include_router(router)
    app.state.templates.env.filters["since"] = views.since
    app.state.templates.env.filters["chart"] = lambda chart: Markup(svg(chart))
    app.state.templates.env.filters["timeline"] = lambda tl: Markup(timeline_svg(tl))
    app.state.templates.env.filters["tip"] = tip
    app.state.templates.env.globals["store_banner"] = runtime.health.banner  # base.html, every page
    return runtime


def start_refresh(app: FastAPI, *, sandbox: bool = False) -> ViewsRuntime:
    """Start the coordinator for ``devtrack serve``; a sandbox run keeps its snapshots beside its
    throw-away credentials instead of in the user's history."""
    runtime: ViewsRuntime = app.state.views
    if sandbox:
        runtime.store_url = "sqlite:///" + str(runtime.manager.store.path.with_name("snapshots.db"))
    runtime.start()
    return runtime


def share_sessions(app: FastAPI) -> str | None:
    """On a team's store (PostgreSQL), derive the web sessions' key from the store's secret, so
    every instance behind one name accepts a browser logged in on another. Returns why not,
    when the store cannot be read now (sessions then stay this process's own)."""
    from ..views.store import StoreError

    runtime: ViewsRuntime = app.state.views
    try:
        store = runtime.store
        if store.backend != "postgresql":
            return None
        app.state.guard.share_key(store.secret_key())
    except StoreError as exc:
        return f"{exc}; browser logins work only on this instance until a restart"
    return None


def _runtime(request: Request) -> ViewsRuntime:
    return request.app.state.views  # type: ignore[no-any-return]


def _view(request: Request, name: str) -> dict[str, Any]:
    """A view, of one connection with ``?connection=ID`` (an unknown id is a 404 naming the
    connections there are)."""
    runtime = _runtime(request)
    connection = request.query_params.get("connection") or None
    if connection is not None:
        runtime.manager.require(connection)
    return views.build(name, runtime.current(), connection=connection)


# ---------------------------------------------------------------------- pages


def _page(request: Request, name: str) -> HTMLResponse:
    view = _view(request, name)
    template = "views/dashboard.html" if name == "dashboard" else "views/view.html"
    return _render(request, template, view=view, pages=PAGES, refreshing=_runtime(request).serving)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page(request: Request) -> HTMLResponse:
    return _page(request, "dashboard")


def _register_page(name: str, path: str) -> None:
    def page(request: Request) -> HTMLResponse:
        return _page(request, name)

    page.__name__ = f"{name}_page"
    router.add_api_route(path, page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)


for _name, _path in PAGES.items():
    if _name != "dashboard":
        _register_page(_name, _path)


@router.post("/views/refresh", include_in_schema=False)
async def refresh_form(request: Request) -> Response:
    form = await request.form()
    plugin = str(form.get("plugin") or "") or None
    try:
        _trigger(request, plugin)
    except StoreUnavailable:
        pass  # back to the page, whose banner says refreshing is paused
    back = str(form.get("back") or "/")
    page, _, query = back.partition("?")  # a page of ours, maybe with its connection filter
    if page not in PAGES.values():
        return RedirectResponse("/", status_code=303)
    connection = parse_qs(query).get("connection", [""])[0]
    return RedirectResponse(page + (f"?{urlencode({'connection': connection})}" if connection else ""),
                            status_code=303)


def _trigger(request: Request, plugin: str | None) -> list[str] | None:
    """Start a refresh of one connection or all that can be fetched; the ids started (``None``:
    no coordinator runs here); :class:`StoreUnavailable` while the store is away."""
    runtime = _runtime(request)
    if plugin is not None:
        runtime.manager.require(plugin)  # an unknown connection → 404 through the app's handler
    if runtime.serving:
        runtime.health.check()
    if runtime.refresher is None:
        return None
    ids = [plugin] if plugin else runtime.manager.fetchable()
    runtime.refresher.trigger(ids)
    return ids


# ---------------------------------------------------------------------- JSON


@router.get("/api/v1/views", tags=["views"])
def list_views(request: Request) -> dict[str, Any]:
    """The views and where their pages and JSON live; ``store``: whether the snapshot database
    answers (``available``, ``since``, ``message``); while serving, ``instance`` (this one) and
    ``pollers`` (connection id -> the ``host:pid`` of the instance polling it)."""
    out: dict[str, Any] = {
        "ok": True, "views": [{"name": n, "page": p, "api": f"/api/v1/views/{n}"} for n, p in PAGES.items()],
        "store": _runtime(request).health.status()}
    team = _runtime(request).team
    if team is not None:
        out["instance"] = {"id": team.instance.id, "name": team.instance.name}
        out["pollers"] = dict(team.pollers)
    return out


@router.get("/api/v1/views/{name}", tags=["views"])
def get_view(name: str, request: Request) -> Any:
    """One view (dashboard, deployments, errors, code, infra, ai) from stored snapshots;
    ``?connection=ID`` keeps one connection's cards and rows."""
    if name not in views.BUILDERS:
        return error_response(request, 404, "not_found", f"unknown view {name!r}; views: {', '.join(views.BUILDERS)}")
    return {"ok": True, **_view(request, name), "store": _runtime(request).health.status()}


@router.post("/api/v1/views/refresh", tags=["views"], status_code=202)
def refresh_api(request: Request, plugin: str | None = None) -> Any:
    """Start a refresh now (one connection or all) without waiting for it; ``connections`` lists
    those started, and ``/api/v1/events`` tells when each has finished. 503 while the snapshot
    database is away (``store`` says since when)."""
    health = _runtime(request).health
    try:
        ids = _trigger(request, plugin)
    except StoreUnavailable:
        return error_response(request, 503, "unavailable", health.banner() or "the snapshot database is unreachable",
                              store=health.status())
    if ids is None:
        return error_response(request, 409, "unavailable",
                              "no refresh coordinator is running in this process (it runs in devtrack serve)")
    manager = _runtime(request).manager
    return {"ok": True, "started": plugin or "all",
            "connections": [{"id": cid, "label": manager.label(cid)} for cid in ids]}
