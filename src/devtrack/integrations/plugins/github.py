"""GitHub: zero-config through the local ``git`` and ``gh``; an optional token for the REST API."""

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


class GitHubCredentials(Credentials):
    token: SecretStr | None = field(
        label="Personal access token",
        kind=FieldKind.TOKEN,
        required=False,
        placeholder="ghp_… or github_pat_…",
        help="Optional. Only needed when the gh CLI is not installed or not logged in.",
    )


class GitHubIntegration(Integration):
    id = "github"
    name = "GitHub"
    description = "Repository status, commits, branches, pull requests, CI runs and issues."
    docs_url = "https://cli.github.com/manual/"
    setup_guide = (
        "Nothing to set up in a git repository: DevTrack reads it with `git`.\n\n"
        "For pull requests, CI runs and issues install the GitHub CLI and run `gh auth login`, "
        "or paste a fine-grained token with read access to the repository's contents, "
        "pull requests, issues and actions."
    )
    credentials_model = GitHubCredentials

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        return unavailable(self.name)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        return IntegrationData.failed(unavailable(self.name))
