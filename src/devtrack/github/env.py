"""The environment variables that name a repository: a module of their own, so the GitHub
plugin can ask "is a repository named?" on every listing without importing git and gh."""

REPO_ENV = "DEVTRACK_GITHUB_REPO"
PATH_ENV = "DEVTRACK_GITHUB_PATH"
