"""The environment variables that name a repository: a module of their own, so the GitHub
plugin can ask "is a repository named?" on every listing without importing git and gh (nor, for ``integrations list``, pydantic)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

REPO_ENV = "DEVTRACK_GITHUB_REPO"
PATH_ENV = "DEVTRACK_GITHUB_PATH"


def repository_named(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> bool:
    """Whether a repository is named by the environment or found from ``cwd`` upwards.

    A look for ``.git`` (a directory, or a file in worktrees and submodules), not a run of
    ``git``: it is asked for every listing, which must stay instant.
    """
    environ = os.environ if environ is None else environ
    if environ.get(PATH_ENV) or environ.get(REPO_ENV) or environ.get("GIT_DIR"):
        return True
    try:
        here = cwd or Path.cwd()
    except OSError:  # the working directory was deleted
        return False
    return any((d / ".git").exists() for d in (here, *here.parents))
