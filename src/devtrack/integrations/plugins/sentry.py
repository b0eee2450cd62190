"""Sentry: Unresolved issues of the last 24 hours, with event and user counts."""

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


class SentryCredentials(Credentials):
    token: SecretStr | None = field(
        label="Auth token", kind=FieldKind.TOKEN, placeholder="sntrys_… or sntryu_…",
        help="Needs org:read, project:read and event:read.",
    )
    org: str | None = field(
        label="Organization slug", kind=FieldKind.TEXT, placeholder="my-org",
    )
    project: str | None = field(
        label="Project slug", kind=FieldKind.TEXT, required=False,
        help="Leave blank for every project of the organization.",
    )
    base_url: str | None = field(
        label="Base URL", kind=FieldKind.URL, required=False,
        placeholder="https://sentry.io", help="https://de.sentry.io for the EU region, or your self-hosted URL.",
    )


class SentryIntegration(Integration):
    id = "sentry"
    name = "Sentry"
    description = "Unresolved issues of the last 24 hours, with event and user counts."
    docs_url = "https://docs.sentry.io/api/"
    setup_guide = (
        "Create an organization auth token (Settings → Auth Tokens) or a user token with org:read, project:read and event:read. Self-hosted or EU? Set the base URL."
    )
    credentials_model = SentryCredentials

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        return unavailable(self.name)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        return IntegrationData.failed(unavailable(self.name))
