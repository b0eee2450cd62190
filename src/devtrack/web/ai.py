"""AI provider keys as the web app sees them: a small interface, backed by :mod:`devtrack.ai`.

The pages and the JSON API only talk to :class:`AiProviders`, so a test can pass another
implementation to ``create_app(ai=...)``. Keys live in the credential store at
``doc["ai_providers"][provider] = {"api_key": ...}``, with environment fallbacks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from ..ai.specs import UnknownProvider
from ..integrations.contract import ConnectionResult
from ..integrations.manager import IntegrationManager

__all__ = ["AiProviderStatus", "AiProviders", "HeliconeRouting", "UnknownProvider", "default_ai_providers"]


class AiProviderStatus(BaseModel):
    """One provider as shown: never the key itself, only its mask and where it comes from."""

    id: str
    name: str
    configured: bool
    source: str | None  # "store", "env:<VAR>" or None
    masked: str
    env_vars: list[str]
    keys_url: str
    last_tested: datetime | None = None
    test_result: ConnectionResult | None = None


class HeliconeRouting(BaseModel):
    """Whether AI traffic through DevTrack's proxy is observed by Helicone."""

    routed: bool
    detail: str


class AiProviders(Protocol):
    """What Settings → AI Providers and ``/api/v1/ai`` need; ``devtrack.ai`` will implement it."""

    def statuses(self) -> list[AiProviderStatus]: ...

    def status(self, provider_id: str) -> AiProviderStatus: ...

    def set_key(self, provider_id: str, api_key: str | None) -> AiProviderStatus: ...

    def remove_key(self, provider_id: str) -> None: ...

    async def test(self, provider_id: str) -> ConnectionResult: ...

    def helicone(self) -> HeliconeRouting: ...


def default_ai_providers(manager: IntegrationManager) -> AiProviders:
    """The implementation the app uses unless one is passed in: :mod:`devtrack.ai` itself."""
    from ..ai.web import WebAiProviders

    return WebAiProviders(manager)

