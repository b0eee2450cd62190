"""The HTML pages: Settings → Integrations, Settings → AI Providers, login, API docs.

Every form works without JavaScript (post, then redirect back); ``static/app.js`` only adds
the loading state and in-place updates. Secrets are never rendered: secret inputs are always
empty and the stored value appears only as ``manager.masked()`` gives it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..integrations import connections
from ..integrations.manager import CredentialsInvalid, IntegrationManager, env_key
from .ai import AiProviders
from .security import AUTH_COOKIE, Guard, safe_next

router = APIRouter(include_in_schema=False)


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    guard: Guard = request.app.state.guard
    context |= {
        "request": request,
        "csrf_token": guard.csrf_token(request.state.session_id),
        "auth_enabled": bool(guard.access_token),
        "path": request.url.path,
    }
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _manager(request: Request) -> IntegrationManager:
    return request.app.state.manager  # type: ignore[no-any-return]


@router.get("/")
def home() -> Response:
    """Settings is the only page for now; the dashboard views take ``/`` later."""
    return _back("/settings/integrations")


@router.get("/settings")
def settings() -> Response:
    return _back("/settings/integrations")


# ---------------------------------------------------------------------- integrations


def _href(cid: str) -> str:
    """A connection's Settings page (``:`` stays readable in the path)."""
    return f"/settings/integrations/{quote(cid, safe=':')}"


def _integrations_page(
    request: Request,
    cid: str | None,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
    adding: str = "",
) -> HTMLResponse:
    manager = _manager(request)
    doc = manager.store.read()
    statuses = [manager.status(i, doc) for i in manager.ids()]
    selected_id = cid or (statuses[0].id if statuses else None)
    selected = None
    if selected_id is not None:
        cls = manager.plugin_class(selected_id)
        masked = manager.masked(selected_id, doc)
        fields = cls.credentials_model.fields()
        labels = {f.key: f.label for f in fields}
        asked = request.query_params.get("cleared", "").split(",")
        selected = {
            # Beside each URL or host field: the saved secrets a change of it would clear.
            "binds": {f.key: [labels[k] for k in f.carries if k in masked] for f in fields if f.destination},
            # After a save: the secrets it cleared (only names of this plugin's secret fields).
            "cleared": [labels[f.key] for f in fields if f.secret and f.key in asked],
            "moved": [f.label for f in fields if f.destination and set(f.carries) & set(asked)],
            "status": manager.status(selected_id, doc),
            "plugin": cls.id,
            "named": connections.parse(selected_id)[1] is not None,
            # A named connection not saved yet: "Add account" asked for it, the first Save creates it.
            "new": not manager.exists(selected_id, doc),
            "confirm_remove": request.query_params.get("remove") == "1",
            "masked": masked,
            "overrides": {k: env_key(selected_id, k) for k in manager.env_overrides(selected_id)},
            "setup_guide": cls.setup_guide,
            "values": {f.key: (typed or {}).get(f.key, masked.get(f.key, ""))
                       for f in cls.credentials_model.fields() if not f.masked},
        }
    return _render(
        request, "integrations.html", status_code,
        statuses=statuses, selected=selected, errors=errors or {}, adding=adding, refreshed=_refreshed(request),
        flash=request.query_params.get("flash", ""), removed=request.query_params.get("removed", ""),
        kept_in_file=request.query_params.get("kept") == "file",
        problems=manager.registry.problems, warnings=manager.store.warnings(),
    )


def _refreshed(request: Request) -> dict[str, dict[str, Any]]:
    """Each connection's last background refresh (``ok``, ``when``), while ``devtrack serve``'s
    coordinator runs: the status dot shows it when it is newer than the last test."""
    runtime = getattr(request.app.state, "views", None)
    if runtime is None or runtime.refresher is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for c in runtime.current():
        st = c.state
        if st is not None and st.last_attempt is not None:
            out[c.id] = {"ok": st.error is None and not st.needs_attention, "when": st.last_attempt}
    return out


@router.get("/settings/integrations", response_class=HTMLResponse)
def integrations(request: Request) -> HTMLResponse:
    return _integrations_page(request, None)


@router.get("/settings/integrations/{cid}", response_class=HTMLResponse)
def integration(cid: str, request: Request) -> HTMLResponse:
    """One connection's page; a named one that does not exist yet only with ``?new=1`` (the
    "Add account" step), so a mistyped id is a 404 rather than a blank form."""
    manager = _manager(request)
    manager.plugin_of(cid)
    if request.query_params.get("new") != "1":
        manager.require(cid)
    return _integrations_page(request, cid)


@router.get("/settings/integrations/{plugin_id}/add", response_class=HTMLResponse)
def add_account(plugin_id: str, request: Request) -> Response:
    """"Add account": check the NAME, then open the new connection's form (Save creates it)."""
    manager = _manager(request)
    plugin_id = manager.plugin_of(plugin_id)
    name = str(request.query_params.get("name") or "").strip()
    problem = "Enter a name for the account, e.g. acme." if not name else connections.name_problem(name)
    cid = connections.connection_id(plugin_id, name)
    if problem is None and manager.exists(cid):
        problem = f"{manager.label(cid)} already exists."
    if problem:
        message = problem[0].upper() + problem[1:]
        if not message.endswith("."):
            message += "."
        return _integrations_page(request, plugin_id, errors={"add_name": message}, adding=name, status_code=422)
    return _back(f"{_href(cid)}?new=1")


@router.post("/settings/integrations/{cid}/credentials")
async def save_credentials(cid: str, request: Request) -> Response:
    manager = _manager(request)
    model = manager.plugin_class(cid).credentials_model
    form = await request.form()
    values = {f.key: str(form.get(f.key) or "").strip() or None for f in model.fields()}
    try:
        saved = manager.save_credentials(cid, values)
        cleared = saved.cleared
    except CredentialsInvalid as exc:
        typed = {f.key: values[f.key] or "" for f in model.fields() if not f.masked}
        return _integrations_page(request, cid, errors=exc.errors, typed=typed, status_code=422)
    also = f"&cleared={quote(','.join(cleared))}" if cleared else ""
    if saved.warnings:  # a secret kept in the file for want of a keychain: said, never silent
        also += "&kept=file"
    return _back(f"{_href(cid)}?flash=saved{also}")


@router.post("/settings/integrations/{cid}/enabled")
async def set_enabled(cid: str, request: Request) -> Response:
    form = await request.form()
    _manager(request).set_enabled(cid, form.get("enabled") == "1")
    return _back(_href(cid))


@router.post("/settings/integrations/{cid}/test")
async def test(cid: str, request: Request) -> Response:
    manager = _manager(request)
    manager.require(cid)
    await manager.test(cid)
    return _back(f"{_href(cid)}?flash=tested")


@router.post("/settings/integrations/{cid}/remove")
async def remove(cid: str, request: Request) -> Response:
    """Remove a named connection; only with ``confirm=yes`` from the confirmation step, so a
    stray post (or a page without JavaScript) always goes through "Remove …? Yes / Cancel"."""
    manager = _manager(request)
    manager.require(cid)
    form = await request.form()
    if form.get("confirm") != "yes":
        return _back(f"{_href(cid)}?remove=1#remove")
    plugin_id = manager.plugin_of(cid)
    manager.remove_connection(cid)
    return _back(f"{_href(plugin_id)}?flash=removed&removed={quote(cid, safe=':')}")


# ---------------------------------------------------------------------- AI providers


def _ai(request: Request) -> AiProviders:
    return request.app.state.ai  # type: ignore[no-any-return]


@router.get("/settings/ai", response_class=HTMLResponse)
def ai_page(request: Request) -> HTMLResponse:
    ai = _ai(request)
    return _render(
        request, "ai.html", providers=ai.statuses(), helicone=ai.helicone(),
        flash=request.query_params.get("flash", ""), flash_id=request.query_params.get("id", ""),
    )


@router.post("/settings/ai/{provider_id}/key")
async def ai_save(provider_id: str, request: Request) -> Response:
    form = await request.form()
    _ai(request).set_key(provider_id, str(form.get("api_key") or ""))
    return _back(f"/settings/ai?flash=saved&id={quote(provider_id)}#ai-{quote(provider_id)}")


@router.post("/settings/ai/{provider_id}/test")
async def ai_test(provider_id: str, request: Request) -> Response:
    await _ai(request).test(provider_id)
    return _back(f"/settings/ai?flash=tested&id={quote(provider_id)}#ai-{quote(provider_id)}")


# ---------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    if not request.app.state.guard.access_token:
        return _back("/")
    return _render(request, "login.html", error="", next=safe_next(request.query_params.get("next")))


@router.post("/login")
async def login(request: Request) -> Response:
    guard: Guard = request.app.state.guard
    form = await request.form()
    target = safe_next(str(form.get("next") or ""))
    if not guard.check_token(str(form.get("token") or "")):
        return _render(request, "login.html", 401, error="That access token is not right.", next=target)
    response = _back(target)
    response.set_cookie(AUTH_COOKIE, guard.auth_cookie_value(), httponly=True, samesite="strict", path="/")
    return response


@router.post("/logout")
def logout() -> Response:
    response = _back("/login")
    response.delete_cookie(AUTH_COOKIE, path="/")
    return response


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI without inline script (FastAPI's own page would break the CSP)."""
    return _render(request, "docs.html")
