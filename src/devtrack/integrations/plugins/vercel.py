"""Vercel: Projects and deployments, with health from the latest production deployment."""

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


class VercelCredentials(Credentials):
    token: SecretStr | None = field(
        label="Access token", kind=FieldKind.TOKEN, placeholder="vercel_…",
        help="Account Settings → Tokens.",
    )
    team_id: str | None = field(
        label="Team ID", kind=FieldKind.PROJECT_ID, required=False, placeholder="team_…",
        help="Needed when the projects belong to a team.",
    )
    project_id: str | None = field(
        label="Project ID", kind=FieldKind.PROJECT_ID, required=False, placeholder="prj_…",
        help="Leave blank to follow every project.",
    )


class VercelIntegration(Integration):
    id = "vercel"
    name = "Vercel"
    description = "Projects and deployments, with health from the latest production deployment."
    docs_url = "https://vercel.com/docs/rest-api"
    setup_guide = (
        "Create a token at https://vercel.com/account/tokens. For a team's projects, also give the team id (Team Settings → General), or every call answers 403/404."
    )
    credentials_model = VercelCredentials

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        return unavailable(self.name)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        return IntegrationData.failed(unavailable(self.name))
