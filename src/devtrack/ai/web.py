"""Settings → AI Providers and ``/api/v1/ai``, backed by :class:`~devtrack.ai.providers.AiProviders`.

The web app talks to the small ``AiProviders`` protocol of :mod:`devtrack.web.ai`;
:class:`WebAiProviders` implements it with the same keys, tests and Helicone routing as
``devtrack ai``. The models the web app shows are defined here, so the dependency runs one
way only: ``devtrack.web`` imports ``devtrack.ai``, never the reverse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from ..integrations.contract import ConnectionResult
from .providers import AiProviders, ProviderStatus
from .routing import helicone_state

if TYPE_CHECKING:
    from ..integrations.manager import IntegrationManager

#: One provider as shown: never the key itself, only its mask and where it comes from.
AiProviderStatus = ProviderStatus


class HeliconeRouting(BaseModel):
    """Whether AI traffic through DevTrack's proxy is observed by Helicone."""

    routed: bool
    detail: str


class WebAiProviders:
    """``devtrack.web.ai.AiProviders`` backed by :mod:`devtrack.ai`."""

    def __init__(self, manager: IntegrationManager) -> None:
        self.ai = AiProviders(manager)

    def statuses(self) -> list[AiProviderStatus]:
        return self.ai.statuses()

    def status(self, provider_id: str) -> AiProviderStatus:
        return self.ai.status(provider_id)

    def set_key(self, provider_id: str, api_key: str | None) -> AiProviderStatus:
        """A blank key keeps the stored one, as the credential forms do."""
        if api_key and api_key.strip():
            return self.ai.set_key(provider_id, api_key)
        return self.status(provider_id)

    def remove_key(self, provider_id: str) -> None:
        self.ai.remove_key(provider_id)

    async def test(self, provider_id: str) -> ConnectionResult:
        return await self.ai.test(provider_id)

    def helicone(self) -> HeliconeRouting:
        """Routed when the Helicone integration is on (derived now, from the store as it is)."""
        manager = self.ai.manager
        from ..secretrefs import Unresolvable

        doc = manager.store.read()
        try:
            state = helicone_state(doc, manager.environ)
        except Unresolvable as exc:
            return HeliconeRouting(routed=False, detail=f"Helicone's API key cannot be read, so the proxy "
                                                        f"refuses AI traffic: {exc}")
        if state:
            return HeliconeRouting(routed=True, detail=f"AI traffic through DevTrack's proxy is logged in "
                                                       f"Helicone ({state.get('region', 'us').upper()}).")
        if manager.is_configured("helicone", doc) and not manager.is_enabled("helicone", doc):
            return HeliconeRouting(routed=False, detail="Helicone is disabled: AI traffic goes straight to the providers.")
        return HeliconeRouting(routed=False, detail="connect Helicone in Settings → Integrations to log AI traffic.")
