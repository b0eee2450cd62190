"""Typed results of the git, gh and REST functions (what the CLI prints and the plugin maps)."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from ..integrations.contract import CiRun, IssueItem, PullRequest, ResultKind

__all__ = [
    "GitError",
    "Remote",
    "CommitInfo",
    "FileChange",
    "GitStatus",
    "BranchInfo",
    "FileDiff",
    "DiffStats",
    "Source",
    "GhResult",
    "Viewer",
    "PullRequest",
    "CiRun",
    "IssueItem",
]

GitErrorKind = Literal["not_a_repository", "not_found", "git_missing", "timeout", "error"]


class GitError(Exception):
    """A git command failed in a way the caller should report; ``kind`` says how."""

    def __init__(self, kind: GitErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Remote(BaseModel):
    """A git remote; ``url`` never carries a password or token (they are stripped)."""

    name: str
    url: str
    host: str | None = None
    owner: str | None = None
    repo: str | None = None
    is_github: bool = False

    @property
    def slug(self) -> str | None:
        return f"{self.owner}/{self.repo}" if self.owner and self.repo else None


class CommitInfo(BaseModel):
    hash: str
    author: str
    email: str
    date: datetime
    subject: str
    message: str = ""


class FileChange(BaseModel):
    """One path from ``git status``: ``index``/``worktree`` are the porcelain X/Y letters."""

    path: str
    orig_path: str | None = None
    index: str = "."
    worktree: str = "."


class GitStatus(BaseModel):
    path: str
    is_repo: bool
    error: str | None = None
    root: str | None = None
    branch: str | None = None
    detached: bool = False
    head: str | None = None
    empty: bool = False
    shallow: bool = False
    upstream: str | None = None
    ahead: int | None = None
    behind: int | None = None
    remote: Remote | None = None
    remotes: list[Remote] = Field(default_factory=list)
    last_commit: CommitInfo | None = None
    total_commits: int = 0
    stashes: int = 0
    staged: list[FileChange] = Field(default_factory=list)
    unstaged: list[FileChange] = Field(default_factory=list)
    untracked: list[str] = Field(default_factory=list)
    conflicted: list[FileChange] = Field(default_factory=list)

    @property
    def dirty(self) -> int:
        """Paths with any local change (a path staged and unstaged counts once)."""
        paths = {c.path for c in self.staged} | {c.path for c in self.unstaged}
        paths |= set(self.untracked) | {c.path for c in self.conflicted}
        return len(paths)


class BranchInfo(BaseModel):
    name: str
    current: bool = False
    upstream: str | None = None
    ahead: int | None = None
    behind: int | None = None
    upstream_gone: bool = False
    last_commit: str | None = None
    last_commit_date: datetime | None = None
    subject: str = ""


class FileDiff(BaseModel):
    path: str
    orig_path: str | None = None
    insertions: int | None = None
    deletions: int | None = None
    binary: bool = False


class DiffTotals(BaseModel):
    files: int = 0
    insertions: int = 0
    deletions: int = 0
    binary: int = 0


class DiffStats(BaseModel):
    staged: list[FileDiff] = Field(default_factory=list)
    unstaged: list[FileDiff] = Field(default_factory=list)
    staged_totals: DiffTotals = Field(default_factory=DiffTotals)
    unstaged_totals: DiffTotals = Field(default_factory=DiffTotals)
    totals: DiffTotals = Field(default_factory=DiffTotals)


Source = Literal["gh", "rest"]
T = TypeVar("T")


class GhResult(BaseModel, Generic[T]):
    """Items from ``gh`` (or the REST fallback), with why they could not be had.

    ``available`` is true when the source answered; ``logged_in`` is false only when we know
    authentication is what is missing; ``reason`` is a sentence a user can act on.
    """

    source: Source | None = None
    available: bool = False
    logged_in: bool | None = None
    kind: ResultKind = ResultKind.OK
    reason: str | None = None
    repo: str | None = None
    #: Why another source was used (e.g. gh logged out, so the REST API with the token).
    note: str | None = None
    items: list[T] = Field(default_factory=list)


class Viewer(BaseModel):
    """Who a token or ``gh`` is authenticated as."""

    source: Source | None = None
    available: bool = False
    logged_in: bool | None = None
    kind: ResultKind = ResultKind.OK
    reason: str | None = None
    host: str | None = None
    login: str | None = None
    scopes: list[str] | None = None
