"""Upstash: Redis databases with state, region, requests and storage."""

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


class UpstashCredentials(Credentials):
    email: str | None = field(
        label="Account email", kind=FieldKind.EMAIL, required=False, placeholder="you@example.com",
    )
    api_key: SecretStr | None = field(
        label="Developer API key", kind=FieldKind.TOKEN, required=False,
    )
    rest_url: str | None = field(
        label="Database REST URL", kind=FieldKind.URL, required=False,
        placeholder="https://eu1-example-12345.upstash.io",
    )
    rest_token: SecretStr | None = field(
        label="Database REST token", kind=FieldKind.TOKEN, required=False,
    )

    def missing(self) -> list[str]:
        """Either the Developer API pair or the REST pair is enough."""
        if (self.value("email") and self.value("api_key")) or (
            self.value("rest_url") and self.value("rest_token")
        ):
            return []
        return ["email", "api_key"] if not self.value("rest_url") else ["rest_token"]


class UpstashIntegration(Integration):
    id = "upstash"
    name = "Upstash"
    description = "Redis databases with state, region, requests and storage."
    docs_url = "https://upstash.com/docs/devops/developer-api/introduction"
    setup_guide = (
        "Either your account email and a Developer API key (Account → Management API), to see every database, or one database's REST URL and token (database page → REST API)."
    )
    credentials_model = UpstashCredentials

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        return unavailable(self.name)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        return IntegrationData.failed(unavailable(self.name))
