"""The JSON API under ``/api/v1/``: the CLI's commands over HTTP, in the CLI's JSON shapes.

Shapes come from the CLI's own serialisers so ``devtrack integrations show --json`` and
``GET /api/v1/integrations/{id}`` can never drift apart. ``{cid}`` is a connection id:
``vercel`` (the default connection) or ``vercel:acme`` (the ``:`` may be sent as is or as
``%3A``). Errors are
``{"ok": false, "error": {"kind", "message"}}`` (see ``errors.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ..cli.integrations import _data_json, _result_json, _status_json
from ..integrations.connections import parse
from ..integrations.contract import ConnectionResult
from ..integrations.manager import IntegrationManager
from .ai import AiProviders, AiProviderStatus
from .security import Guard

router = APIRouter(prefix="/api/v1")


def _manager(request: Request) -> IntegrationManager:
    return request.app.state.manager  # type: ignore[no-any-return]


def _ai(request: Request) -> AiProviders:
    return request.app.state.ai  # type: ignore[no-any-return]


def result_json(cid: str, result: ConnectionResult, plugin: str | None = None) -> dict[str, Any]:
    """The CLI's test result shape, plus ``kind`` spelled out for API clients."""
    return _result_json(cid, result, plugin=plugin) | {"kind": str(result.kind)}


class CredentialsIn(BaseModel):
    """Field values to save; a blank or missing field keeps the stored value."""

    values: dict[str, str | None] = Field(default_factory=dict, examples=[{"token": "…", "team_id": "team_123"}])


class AiKeyIn(BaseModel):
    api_key: str | None = Field(default=None, description="A blank key keeps the stored one.")


@router.get("/session", tags=["session"], summary="Get a CSRF token for this session")
def session(request: Request) -> dict[str, Any]:
    """Scripts call this first: it sets the session cookie and returns the token to send back
    in ``X-CSRF-Token`` (with ``Origin`` set to this server) on every state-changing request."""
    guard: Guard = request.app.state.guard
    return {"ok": True, "csrf_token": guard.csrf_token(request.state.session_id)}


@router.get("/integrations", tags=["integrations"], summary="List integrations (integrations list)")
def list_integrations(request: Request) -> list[dict[str, Any]]:
    return [_status_json(s) for s in _manager(request).statuses()]


@router.get("/integrations/{plugin_id}", tags=["integrations"], summary="Show one connection, credentials masked")
def show_integration(plugin_id: str, request: Request) -> dict[str, Any]:
    manager = _manager(request)
    doc = manager.store.read()
    manager.require(plugin_id, doc)
    cls = manager.plugin_class(plugin_id)
    sources = manager.env_sources(plugin_id)
    return _status_json(manager.status(plugin_id, doc)) | {
        "credentials": manager.masked(plugin_id, doc),
        "env_overrides": sorted(sources),
        "env_vars": dict(sorted(sources.items())),
        "setup_guide": cls.setup_guide,
    }


@router.delete("/integrations/{plugin_id}", tags=["integrations"], summary="Remove a named connection (integrations remove)")
def remove_connection(plugin_id: str, request: Request) -> dict[str, Any]:
    _manager(request).remove_connection(plugin_id)
    return {"ok": True, "id": plugin_id, "removed": True}


@router.put("/integrations/{plugin_id}/credentials", tags=["integrations"], summary="Save credentials (integrations set)")
def save_credentials(plugin_id: str, body: CredentialsIn, request: Request) -> dict[str, Any]:
    """``cleared``: stored secrets removed because the URL or host they were entered for changed;
    ``warnings``: e.g. a secret kept in the file because no keychain answered."""
    manager = _manager(request)
    saved = manager.save_credentials(plugin_id, body.values)
    return {"ok": True, "id": plugin_id, "credentials": manager.masked(plugin_id), "cleared": saved.cleared,
            "warnings": saved.warnings}


@router.delete("/integrations/{plugin_id}/credentials", tags=["integrations"], summary="Remove credentials (integrations unset)")
def remove_credentials(
    plugin_id: str, request: Request, keys: list[str] | None = Query(default=None)
) -> dict[str, Any]:
    manager = _manager(request)
    cleared = manager.unset(plugin_id, keys or None)
    return {"ok": True, "id": plugin_id, "credentials": manager.masked(plugin_id), "cleared": cleared}


@router.post("/integrations/{plugin_id}/enable", tags=["integrations"], summary="Enable an integration")
def enable(plugin_id: str, request: Request) -> dict[str, Any]:
    _manager(request).set_enabled(plugin_id, True)
    return {"ok": True, "id": plugin_id, "enabled": True}


@router.post("/integrations/{plugin_id}/disable", tags=["integrations"], summary="Disable an integration")
def disable(plugin_id: str, request: Request) -> dict[str, Any]:
    _manager(request).set_enabled(plugin_id, False)
    return {"ok": True, "id": plugin_id, "enabled": False}


@router.post("/integrations/{plugin_id}/test", tags=["integrations"], summary="Test the connection (recorded)")
async def test_integration(plugin_id: str, request: Request) -> dict[str, Any]:
    manager = _manager(request)
    manager.require(plugin_id)
    return result_json(plugin_id, await manager.test(plugin_id), plugin=parse(plugin_id)[0])


@router.get("/integrations/{plugin_id}/data", tags=["integrations"], summary="Fetch data (health, events, records)")
async def integration_data(plugin_id: str, request: Request) -> dict[str, Any]:
    manager = _manager(request)
    manager.require(plugin_id)
    return _data_json(await manager.fetch(plugin_id))


def _ai_json(st: AiProviderStatus) -> dict[str, Any]:
    out = st.model_dump(mode="json", exclude={"test_result"})
    out["test_result"] = result_json(st.id, st.test_result) if st.test_result else None
    return out


@router.get("/ai/providers", tags=["ai"], summary="AI provider keys (masked) and Helicone routing")
def ai_providers(request: Request) -> dict[str, Any]:
    ai = _ai(request)
    return {
        "providers": [_ai_json(s) for s in ai.statuses()],
        "helicone": ai.helicone().model_dump(),
    }


@router.put("/ai/providers/{provider_id}/key", tags=["ai"], summary="Save an AI provider key")
def save_ai_key(provider_id: str, body: AiKeyIn, request: Request) -> dict[str, Any]:
    return {"ok": True} | _ai_json(_ai(request).set_key(provider_id, body.api_key))


@router.delete("/ai/providers/{provider_id}/key", tags=["ai"], summary="Remove a stored AI provider key")
def remove_ai_key(provider_id: str, request: Request) -> dict[str, Any]:
    _ai(request).remove_key(provider_id)
    return {"ok": True, "id": provider_id}


@router.post("/ai/providers/{provider_id}/test", tags=["ai"], summary="Test an AI provider key (lists models)")
async def test_ai_key(provider_id: str, request: Request) -> dict[str, Any]:
    return result_json(provider_id, await _ai(request).test(provider_id))
