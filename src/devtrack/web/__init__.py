"""The web app (``devtrack serve``): Settings pages, JSON API and their safety layer.

Importing this package pulls in FastAPI; the CLI imports it only inside ``serve``.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
