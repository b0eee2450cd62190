"""Cloudflare: Zones, Workers scripts and Pages deployments."""

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


class CloudflareCredentials(Credentials):
    api_token: SecretStr | None = field(
        label="API token", kind=FieldKind.TOKEN,
        help="Zone:Read, Workers Scripts:Read and Pages:Read.",
    )
    account_id: str | None = field(
        label="Account ID", kind=FieldKind.PROJECT_ID, placeholder="32 hex characters",
    )
    zone_id: str | None = field(
        label="Zone ID", kind=FieldKind.PROJECT_ID, required=False, help="Blank for every zone.",
    )


class CloudflareIntegration(Integration):
    id = "cloudflare"
    name = "Cloudflare"
    description = "Zones, Workers scripts and Pages deployments."
    docs_url = "https://developers.cloudflare.com/api/"
    setup_guide = (
        "Create an API token (My Profile → API Tokens, or an account-owned token under Manage Account) with Zone:Read, Workers Scripts:Read and Pages:Read, and give the account id from the dashboard's sidebar."
    )
    credentials_model = CloudflareCredentials

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        return unavailable(self.name)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        return IntegrationData.failed(unavailable(self.name))
