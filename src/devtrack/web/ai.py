"""AI provider keys as the web app sees them: a small interface, backed by :mod:`devtrack.ai`.

The pages and the JSON API only talk to :class:`AiProviders`, so a test can pass another
implementation to ``create_app(ai=...)``. Keys live in the credential store at
``doc["ai_providers"][provider] = {"api_key": ...}``, with environment fallbacks. The shown
models come from :mod:`devtrack.ai.web` (the web app depends on ``devtrack.ai``, not the reverse).
"""

from __future__ import annotations

from typing import Protocol

from ..ai.specs import UnknownProvider
from ..ai.web import AiProviderStatus, HeliconeRouting, WebAiProviders
from ..integrations.contract import ConnectionResult
from ..integrations.manager import IntegrationManager

__all__ = ["AiProviderStatus", "AiProviders", "HeliconeRouting", "UnknownProvider", "default_ai_providers"]


class AiProviders(Protocol):
    """What Settings → AI Providers and ``/api/v1/ai`` need; :class:`devtrack.ai.web.WebAiProviders` implements it."""

    def statuses(self) -> list[AiProviderStatus]: ...

    def status(self, provider_id: str) -> AiProviderStatus: ...

    def set_key(self, provider_id: str, api_key: str | None) -> AiProviderStatus: ...

    def remove_key(self, provider_id: str) -> None: ...

    async def test(self, provider_id: str) -> ConnectionResult: ...

    def helicone(self) -> HeliconeRouting: ...


def default_ai_providers(manager: IntegrationManager) -> AiProviders:
    """The implementation the app uses unless one is passed in: :mod:`devtrack.ai` itself."""
    return WebAiProviders(manager)

