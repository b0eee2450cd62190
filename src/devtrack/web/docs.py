"""Swagger UI for ``/docs``, served from DevTrack's own origin: no CDN, no third-party host.

Why not the CDN FastAPI uses by default: a script loaded from another host runs with this
origin's rights (it could read the CSRF token and call every endpoint), and a CSP that allows
the whole CDN host allows any file on it. Swagger UI's files come from the
``swagger-ui-bundle-v2`` package instead, and only the two the page uses are served (the
package's demo ``index.html`` and OAuth redirect page carry inline script).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

#: The files ``templates/docs.html`` loads, and their types.
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
PREFIX = "/static/swagger-ui"

router = APIRouter(include_in_schema=False)


def asset_dir() -> Path:
    """Where the installed package keeps Swagger UI's distribution files."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


@router.get(PREFIX + "/{name}")
def swagger_asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, "Not Found")
    return FileResponse(asset_dir() / name, media_type=ASSETS[name])
