"""An adapter from :class:`~devtrack.ai.providers.AiProviders` to the web app's ``AiProviders`` protocol.

The web app (``devtrack.web.ai``) was written against a small interface while this package
was being built; ``create_app(ai=WebAiProviders(manager))`` (or its
``default_ai_providers``) makes Settings → AI Providers use the same keys, tests and
Helicone state as ``devtrack ai``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..integrations.contract import ConnectionResult
from .providers import AiProviders
from .routing import helicone_state

if TYPE_CHECKING:
    from ..integrations.manager import IntegrationManager


class WebAiProviders:
    """``devtrack.web.ai.AiProviders`` backed by :mod:`devtrack.ai`."""

    def __init__(self, manager: IntegrationManager) -> None:
        self.ai = AiProviders(manager)

    @staticmethod
    def _web(status: Any) -> Any:
        from ..web.ai import AiProviderStatus

        return AiProviderStatus.model_validate(status.model_dump())

    def statuses(self) -> list[Any]:
        return [self._web(s) for s in self.ai.statuses()]

    def status(self, provider_id: str) -> Any:
        return self._web(self.ai.status(provider_id))

    def set_key(self, provider_id: str, api_key: str | None) -> Any:
        """A blank key keeps the stored one, as the credential forms do."""
        if api_key and api_key.strip():
            return self._web(self.ai.set_key(provider_id, api_key))
        return self.status(provider_id)

    def remove_key(self, provider_id: str) -> None:
        self.ai.remove_key(provider_id)

    async def test(self, provider_id: str) -> ConnectionResult:
        return await self.ai.test(provider_id)

    def helicone(self) -> Any:
        from ..web.ai import HeliconeRouting

        manager = self.ai.manager
        doc = manager.store.read()
        state = helicone_state(doc)
        if state:
            return HeliconeRouting(routed=True, detail=f"AI traffic through DevTrack's proxy is logged in "
                                                       f"Helicone ({state.get('region', 'us').upper()}).")
        if manager.is_configured("helicone", doc) and not manager.is_enabled("helicone", doc):
            return HeliconeRouting(routed=False, detail="Helicone is disabled: AI traffic goes straight to the providers.")
        return HeliconeRouting(routed=False, detail="connect Helicone in Settings → Integrations to log AI traffic.")
