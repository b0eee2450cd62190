"""Every failure as ``{"ok": false, "error": {"kind", "message"}}`` (API) or a short page.

Also the JSON response class of the whole app, which masks any registered secret in what it
renders: a last line of defence behind the manager's own masking.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import redact
from ..credentials import CredentialStoreError
from ..integrations.connections import InvalidConnectionId
from ..integrations.manager import CredentialsInvalid, DefaultConnection
from ..integrations.registry import RegistryError, UnknownIntegration
from ..views.sqldb import StoreError, StoreUnavailable
from .ai import UnknownProvider

log = logging.getLogger(__name__)


class SafeJSONResponse(JSONResponse):
    """JSON with every registered secret masked, whatever a handler put in it.

    Masked by value (:meth:`~devtrack.redact.Redactor.dumps`), never in the serialised text, so
    a short secret such as ``true`` cannot rename a key or break the JSON.
    """

    def render(self, content: Any) -> bytes:
        text = redact.redactor.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
        return text.encode("utf-8")


def error_response(request: Request, status: int, kind: str, message: str, **extra: Any) -> Response:
    message = redact.redactor(message)
    if request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", ""):
        return SafeJSONResponse({"ok": False, "error": {"kind": kind, "message": message, **extra}}, status_code=status)
    return PlainTextResponse(f"{status}: {message}", status_code=status)


_HTTP_KINDS = {400: "invalid_request", 401: "auth", 403: "permission", 404: "not_found", 405: "method_not_allowed"}


def install(app: FastAPI) -> None:
    """Register the handlers that turn the core's exceptions into classified answers."""

    @app.exception_handler(UnknownIntegration)
    @app.exception_handler(UnknownProvider)
    async def _unknown(request: Request, exc: KeyError) -> Response:
        return error_response(request, 404, "not_found", str(exc))

    @app.exception_handler(InvalidConnectionId)
    @app.exception_handler(DefaultConnection)
    async def _bad_connection(request: Request, exc: ValueError) -> Response:
        return error_response(request, 400, "invalid_request", str(exc))

    @app.exception_handler(CredentialsInvalid)
    async def _invalid(request: Request, exc: CredentialsInvalid) -> Response:
        return error_response(request, 422, "config", str(exc), fields=exc.errors)

    @app.exception_handler(CredentialStoreError)
    @app.exception_handler(RegistryError)
    async def _store(request: Request, exc: Exception) -> Response:
        return error_response(request, 500, "config", redact.safe_str(exc))

    @app.exception_handler(StoreError)
    async def _snapshots(request: Request, exc: StoreError) -> Response:
        if isinstance(exc, StoreUnavailable):  # try again later; pages say since when
            return error_response(request, 503, "unavailable", redact.safe_str(exc))
        return error_response(request, 500, "config", redact.safe_str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
        )
        return error_response(request, 422, "invalid_request", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = _HTTP_KINDS.get(exc.status_code, "error")
        return error_response(request, exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s: %s", request.url.path, redact.format_exception(exc))
        return error_response(request, 500, "error", f"Unexpected error: {redact.safe_str(exc)}")
