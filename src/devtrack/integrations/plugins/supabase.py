"""Supabase: Projects, their status and per-service health (auth, database, REST, realtime, storage)."""

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


class SupabaseCredentials(Credentials):
    access_token: SecretStr | None = field(
        label="Access token", kind=FieldKind.TOKEN, placeholder="sbp_…",
        help="A Management API personal access token.",
    )
    project_ref: str | None = field(
        label="Project ref", kind=FieldKind.PROJECT_ID, required=False,
        placeholder="abcdefghijklmnopqrst", help="Leave blank to follow every project.",
    )


class SupabaseIntegration(Integration):
    id = "supabase"
    name = "Supabase"
    description = "Projects, their status and per-service health (auth, database, REST, realtime, storage)."
    docs_url = "https://supabase.com/docs/reference/api/introduction"
    setup_guide = (
        "Create a personal access token at https://supabase.com/dashboard/account/tokens (it starts with sbp_). Give a project ref to follow one project, or leave it blank for all."
    )
    credentials_model = SupabaseCredentials

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        return unavailable(self.name)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        return IntegrationData.failed(unavailable(self.name))
