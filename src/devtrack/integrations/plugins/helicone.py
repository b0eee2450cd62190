"""Helicone: AI request costs, volumes and latency; its key also routes the AI proxy through Helicone."""

from __future__ import annotations

from pydantic import SecretStr

from ..contract import (
    ConnectionResult,
    Credentials,
    FieldKind,
    Integration,
    IntegrationData,
    field,
    unavailable,
)


class HeliconeCredentials(Credentials):
    api_key: SecretStr | None = field(
        label="API key", kind=FieldKind.TOKEN, placeholder="sk-helicone-…",
        help="A read+write key; pk- keys are write-only.",
    )
    region: str | None = field(
        label="Region", kind=FieldKind.CHOICE, required=False, choices=["us", "eu"],
        placeholder="us", help="eu for keys created on eu.helicone.ai.",
    )
    org_id: str | None = field(
        label="Organization ID", kind=FieldKind.PROJECT_ID, required=False,
        help="Optional; sent with proxied requests.",
    )


class HeliconeIntegration(Integration):
    id = "helicone"
    name = "Helicone"
    description = "AI request costs, volumes and latency; its key also routes the AI proxy through Helicone."
    docs_url = "https://docs.helicone.ai/rest/overview"
    setup_guide = (
        "Create an API key at https://us.helicone.ai/settings/api-keys. A read+write key (sk-…) is needed for metrics; a write-only key (pk-…) only works for the proxy."
    )
    credentials_model = HeliconeCredentials

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        return unavailable(self.name)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        return IntegrationData.failed(unavailable(self.name))
