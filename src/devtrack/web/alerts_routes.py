"""The Alerts page (``/alerts``), the dashboard's open-incidents banner and ``/api/v1/alerts``.

Open incidents first, then the delivery history; channels with add / test / remove; rules with
their switches. Every form posts and redirects back (no JavaScript needed) through the app's
CSRF and access-token checks. A channel URL is never put back into a page: it is shown as
Apprise's privacy form, and a refused one is not echoed in the error.

While the snapshot database is away the page and ``/api/v1/alerts`` show what they last read
(with the store's status); an action that must write answers 503 with the reason.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pydantic import BaseModel

from ..alerts import manage
from ..alerts.incidents import Incidents
from .errors import error_response
from .pages import _render

router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["alerts"])


def _credentials(request: Request) -> Any:
    return request.app.state.manager.store


def _stores(request: Request) -> tuple[Any, Any]:
    """The credentials and the snapshot store (:class:`StoreUnavailable` at once while it is away)."""
    return _credentials(request), request.app.state.views.store


#: What the page shows while the store is away and nothing was read yet.
NOTHING_READ: dict[str, Any] = {"open": [], "incidents": [], "deliveries": [], "pending": 0, "mutes": []}


def _overview(request: Request) -> dict[str, Any]:
    """The incidents and history, or those last read while the snapshot database is away."""
    views = request.app.state.views
    return views.health.read("alerts.overview", lambda: manage.overview(views.store),  # type: ignore[no-any-return]
                             NOTHING_READ)


def _back(flash: str = "", **extra: str) -> RedirectResponse:
    from urllib.parse import urlencode

    query = urlencode({k: v for k, v in {"flash": flash, **extra}.items() if v})
    return RedirectResponse("/alerts" + (f"?{query}" if query else ""), status_code=303)


def _page(request: Request, *, error: str = "", typed_name: str = "", status_code: int = 200) -> HTMLResponse:
    credentials = _credentials(request)
    flash = request.query_params.get("flash", "")
    tested = request.query_params.get("channel", "")
    overview = _overview(request)
    last_test = next((d for d in overview["deliveries"] if d["kind"] == "test" and d["channel"] == tested), None)
    return _render(request, "alerts.html", status_code=status_code, overview=overview,
                   channels=manage.list_channels(credentials), rules=manage.list_rules(credentials),
                   flash=flash, tested=tested, last_test=last_test if flash == "tested" else None,
                   error=error, typed_name=typed_name)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request) -> HTMLResponse:
    return _page(request)


@router.post("/alerts/channels")
async def add_channel(request: Request) -> Response:
    form = await request.form()
    url, name = str(form.get("url") or "").strip(), str(form.get("name") or "").strip()
    credentials = _credentials(request)
    try:
        added = await asyncio.to_thread(manage.add_channel, credentials, url, name or None)
    except manage.AlertsError as exc:
        return _page(request, error=str(exc), typed_name=name, status_code=422)
    return _back("added", channel=added["name"])


@router.post("/alerts/channels/{name}/test")
async def test_channel(name: str, request: Request) -> Response:
    credentials, snapshots = _stores(request)
    try:
        await asyncio.to_thread(manage.test_channels, credentials, snapshots, name)
    except manage.AlertsError as exc:
        return _page(request, error=str(exc), status_code=404 if exc.kind == "not_found" else 422)
    return _back("tested", channel=name)


@router.post("/alerts/channels/{name}/remove")
async def remove_channel(name: str, request: Request) -> Response:
    credentials = _credentials(request)
    try:
        await asyncio.to_thread(manage.remove_channel, credentials, name)
    except manage.AlertsError as exc:
        return _page(request, error=str(exc), status_code=404)
    return _back("removed", channel=name)


@router.post("/alerts/rules/{rule}/enabled")
async def switch_rule(rule: str, request: Request) -> Response:
    form = await request.form()
    credentials = _credentials(request)
    try:
        await asyncio.to_thread(manage.set_rule, credentials, rule, {"enabled": "true" if form.get("enabled") == "1" else "false"})
    except manage.AlertsError as exc:
        return _page(request, error=str(exc), status_code=404 if exc.kind == "not_found" else 422)
    return _back("switched")


@api.get("/api/v1/alerts")
def alerts_json(request: Request) -> dict[str, Any]:
    """Open incidents, recent incidents, the delivery history, channels (masked) and rules."""
    credentials = _credentials(request)
    return {"ok": True, **_overview(request), "channels": manage.list_channels(credentials),
            "rules": manage.list_rules(credentials), "store": request.app.state.views.health.status()}


class ChannelIn(BaseModel):
    url: str
    name: str | None = None


_STATUS = {"usage": 422, "not_found": 404, "conflict": 409}


def _refused(request: Request, exc: manage.AlertsError) -> Response:
    return error_response(request, _STATUS.get(exc.kind, 400), exc.kind, str(exc))


@api.post("/api/v1/alerts/channels", status_code=201)
async def api_add_channel(body: ChannelIn, request: Request) -> Any:
    """Add a channel (checked with Apprise first); the answer shows its URL masked."""
    try:
        return {"ok": True, **await asyncio.to_thread(manage.add_channel, _credentials(request), body.url, body.name)}
    except manage.AlertsError as exc:
        return _refused(request, exc)


@api.delete("/api/v1/alerts/channels/{name}")
async def api_remove_channel(name: str, request: Request) -> Any:
    try:
        await asyncio.to_thread(manage.remove_channel, _credentials(request), name)
    except manage.AlertsError as exc:
        return _refused(request, exc)
    return {"ok": True, "removed": name}


@api.post("/api/v1/alerts/channels/{name}/test")
async def api_test_channel(name: str, request: Request) -> Any:
    """Send a test message now; ``ok`` says whether the channel took it."""
    credentials, snapshots = _stores(request)
    try:
        results = await asyncio.to_thread(manage.test_channels, credentials, snapshots, name)
    except manage.AlertsError as exc:
        return _refused(request, exc)
    return {"ok": results[0]["ok"], "results": results}


@api.put("/api/v1/alerts/rules/{rule}")
async def api_set_rule(rule: str, request: Request, settings: dict[str, Any]) -> Any:
    """Switch a rule (``{"enabled": false}``) or change its settings (``{"budget_usd": 50}``)."""
    pairs = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.items()}
    try:
        return {"ok": True, "rule": await asyncio.to_thread(manage.set_rule, _credentials(request), rule, pairs)}
    except manage.AlertsError as exc:
        return _refused(request, exc)


def install(app: FastAPI) -> None:
    """Add the Alerts page and API, ``open_incidents()`` for the dashboard's banner, and this
    app's incidents on the dashboard's timeline."""
    from ..alerts import timeline as alerts_timeline

    app.include_router(router)
    app.include_router(api)
    alerts_timeline.follow(alerts_timeline.app_store(app))

    def open_incidents() -> list[dict[str, Any]]:
        views = app.state.views
        try:  # those last read while the store is away
            return views.health.read(  # type: ignore[no-any-return]
                "alerts.open", lambda: [i.to_json() for i in Incidents(views.store).open_all()], [])
        except Exception:  # the banner never breaks the dashboard
            return []

    app.state.templates.env.globals["open_incidents"] = open_incidents
