"""GitHub: zero-config through the local ``git`` and ``gh``; an optional token for the REST API.

What "ok" means for ``test_connection``: a git repository was found at the project path
(``DEVTRACK_GITHUB_PATH``, else the current directory), and, if a token is stored, GitHub
accepted it. ``gh`` is optional: whether it is installed and logged in, and why not, is in the
details, never a failure. Without a repository the test still passes when a stored token
authenticates (the remote data then needs ``DEVTRACK_GITHUB_REPO=[HOST/]OWNER/REPO``).

The work lives in :mod:`devtrack.github`; it is imported inside the methods so that listing
integrations stays light.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from ...github.env import repository_named as repository_named  # re-exported: its old home
from ..contract import (
    ConnectionResult,
    Credentials,
    FieldKind,
    Integration,
    IntegrationData,
    ResultKind,
    field,
)
from ..condition import Condition

if TYPE_CHECKING:
    from ...github.models import CiRun, GhResult, GitStatus

FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure", "action_required"})
#: Conclusions of runs that neither passed nor failed.
NEUTRAL_CONCLUSIONS = frozenset({"cancelled", "skipped", "neutral", "stale"})


class GitHubCredentials(Credentials):
    token: SecretStr | None = field(
        label="Personal access token",
        kind=FieldKind.TOKEN,
        required=False,
        placeholder="ghp_… or github_pat_…",
        help="Optional. Only needed when the gh CLI is not installed or not logged in.",
    )

    def is_configured(self) -> bool:
        """Zero-config, but only where it can work: in a git repository (this directory or
        one above it), or where ``DEVTRACK_GITHUB_PATH`` or ``DEVTRACK_GITHUB_REPO`` names one.

        Elsewhere GitHub counts as not configured, so ``views refresh``, ``data --all`` and
        the dashboard skip it rather than report a failure nobody can act on.
        """
        return repository_named()


def repository_identity(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> str | None:
    """Which repository this process reads, as a key for its snapshots (``None``: none named).

    The work tree's root (from ``DEVTRACK_GITHUB_PATH``, ``GIT_DIR`` or the current directory
    upwards), plus ``DEVTRACK_GITHUB_REPO`` when set, since it chooses the pull requests and CI
    runs. Why: two repositories sharing one snapshot store must never show each other's branch,
    dirty files or commits. A look for ``.git`` like :func:`repository_named`, never a run of git.
    """
    from ...github.env import PATH_ENV, REPO_ENV

    environ = os.environ if environ is None else environ
    root: Path | None = None
    try:
        if environ.get(PATH_ENV):
            start = Path(environ[PATH_ENV]).expanduser().resolve()
        elif environ.get("GIT_DIR"):
            start = Path(environ["GIT_DIR"]).expanduser().resolve()
            root = start
        else:
            start = (cwd or Path.cwd()).resolve()
    except OSError:  # the working directory was deleted
        start = None
    if start is not None and root is None:
        root = next((d for d in (start, *start.parents) if (d / ".git").exists()), None)
        if root is None and environ.get(PATH_ENV):
            root = start  # named but not (yet) a repository: still its own
    repo = (environ.get(REPO_ENV) or "").strip()
    if root is None and not repo:
        return None
    return str(root or "") + (f"#{repo}" if repo else "")


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

    @staticmethod
    def snapshot_scope(environ: Mapping[str, str] | None = None) -> str | None:
        """What, besides the connection, a snapshot of this plugin belongs to: the repository
        (see :func:`repository_identity`). The snapshot store keys GitHub's snapshots by it."""
        return repository_identity(environ)

    def __init__(self, path: str | None = None) -> None:
        #: The repository to read; ``None`` means ``DEVTRACK_GITHUB_PATH`` or the current directory.
        self.path = path

    def _path(self) -> str:
        from ...github.service import default_path

        return self.path or default_path()

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        from ...github.git import git_status
        from ...github.service import resolve_target, viewers

        token = creds.value("token")
        status = await git_status(self._path())
        target, no_target = resolve_target(status)
        who = await viewers(status, token)
        gh_v, tok_v = who["gh"], who.get("token")
        details: dict[str, Any] = {
            "path": status.path,
            "repository": _repo_details(status) if status.is_repo else None,
            "github_repo": target.gh_repo if target else None,
            "gh": _drop_none(gh_v.model_dump(mode="json", exclude={"source"})),
        }
        if not target and no_target:
            details["github_repo_reason"] = no_target
        if tok_v is not None:
            details["token"] = _drop_none(tok_v.model_dump(mode="json", exclude={"source"}))
            if not tok_v.available:
                return ConnectionResult.failure(
                    tok_v.kind, f"The stored GitHub token does not work: {tok_v.reason}", **details)
        gh_text = (f"gh logged in as {gh_v.login}" if gh_v.available
                   else f"gh unavailable: {(gh_v.reason or '').rstrip('.')}")
        tok_text = ""
        if tok_v is not None:
            scopes = ", ".join(tok_v.scopes) if tok_v.scopes else "no classic scopes"
            tok_text = f"; token authenticates as {tok_v.login} ({scopes})"
        if status.is_repo:
            where = status.branch or (f"detached at {status.head[:8]}" if status.head else "no commits")
            return ConnectionResult.success(f"Git repository at {status.root} ({where}); {gh_text}{tok_text}.",
                                            **details)
        if tok_v is not None:
            return ConnectionResult.success(
                f"No git repository at {status.path}, but the token authenticates as {tok_v.login}.", **details)
        return ConnectionResult.failure(
            ResultKind.NOT_FOUND,
            f"{status.error or 'No git repository found.'} Run DevTrack inside your project, "
            "or set DEVTRACK_GITHUB_PATH to it.", **details)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        import asyncio

        from ...github import service
        from ...github.git import git_branches, git_log, git_status
        from ..contract import Branch, Commit, Event, Records

        token = creds.value("token")
        status = await git_status(self._path())
        target, _ = service.resolve_target(status)
        if not status.is_repo and not (token and target):
            return IntegrationData.failed(ConnectionResult.failure(
                ResultKind.NOT_FOUND,
                f"{status.error or 'No git repository found.'} Run DevTrack inside your project, "
                "or set DEVTRACK_GITHUB_PATH to it."))
        local = status.is_repo and not status.empty
        commits, branches, prs, runs, issues = await asyncio.gather(
            git_log(status.path, limit=30) if local else _nothing(),
            git_branches(status.path) if status.is_repo else _nothing(),
            service.pull_requests(status, token=token),
            service.ci_runs(status, token=token),
            service.issues(status, token=token),
        )
        health = _health(status, runs)
        health.metrics["pull_requests"] = service.summary(prs)
        health.metrics["ci_runs"] = service.summary(runs)
        health.metrics["issues"] = service.summary(issues)
        events = [Event(title=f"{c.hash[:8]} {c.subject} — {c.author}", time=c.date, source="git")
                  for c in commits[:15]]
        events += [Event(title=f"CI {r.name} {r.conclusion} on {r.branch}", time=r.created_at,
                         severity="error", url=r.url, source="actions")
                   for r in runs.items[:10] if ci_condition(r).level == "bad"]
        events.sort(key=lambda e: e.time.timestamp() if e.time else 0.0, reverse=True)
        return IntegrationData(
            health=health,
            events=events,
            records=Records(
                commits=[Commit(hash=c.hash, author=c.author, subject=c.subject, date=c.date, email=c.email)
                         for c in commits],
                branches=[Branch(name=b.name, current=b.current, upstream=b.upstream, last_commit=b.last_commit,
                                 last_commit_date=b.last_commit_date, ahead=b.ahead, behind=b.behind)
                          for b in branches],
                pull_requests=prs.items,
                ci_runs=runs.items,
                issues=issues.items,
            ),
        )


async def _nothing() -> list[Any]:
    return []


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def ci_condition(run: CiRun) -> Condition:
    """A CI run's verdict, the one this plugin's health counts: the failed conclusions are bad
    (the latest of them makes the repository degraded); a run still going is on its way."""
    if run.conclusion in FAILED_CONCLUSIONS:
        return Condition("bad", run.conclusion)
    if run.conclusion == "success":
        return Condition("ok", "success")
    if run.conclusion:
        return Condition("off" if run.conclusion in NEUTRAL_CONCLUSIONS else "warn", run.conclusion)
    return Condition("warn", run.status or "unknown")  # queued, in_progress, waiting, …


def _repo_details(status: GitStatus) -> dict[str, Any]:
    return _drop_none({
        "root": status.root, "branch": status.branch, "detached": status.detached or None,
        "head": status.head, "empty": status.empty or None, "shallow": status.shallow or None,
        "remote": status.remote.url if status.remote else None,
        "commits": status.total_commits, "dirty_files": status.dirty,
    })


def _latest_ci(status: GitStatus, runs: GhResult[CiRun]) -> CiRun | None:
    """The newest finished run of the current branch, else the newest finished run."""
    done = [r for r in runs.items if r.conclusion]
    mine = [r for r in done if status.branch and r.branch == status.branch]
    return (mine or done or [None])[0]


def _health(status: GitStatus, runs: GhResult[CiRun]) -> Any:
    from ..contract import Health

    latest = _latest_ci(status, runs)
    metrics: dict[str, Any] = {
        "branch": status.branch, "detached": status.detached, "dirty_files": status.dirty,
        "staged": len(status.staged), "unstaged": len(status.unstaged), "untracked": len(status.untracked),
        "conflicted": len(status.conflicted), "unpushed_commits": status.ahead, "behind": status.behind,
        "total_commits": status.total_commits, "latest_ci_conclusion": latest.conclusion if latest else None,
    }
    parts: list[str] = []
    if status.is_repo:
        parts.append(status.branch or ("detached HEAD" if status.detached else "no branch"))
        parts.append(f"{status.dirty} dirty file{'s' * (status.dirty != 1)}")
        if status.ahead:
            parts.append(f"{status.ahead} unpushed")
        if status.conflicted:
            parts.append(f"{len(status.conflicted)} conflicted")
    if latest is not None:
        parts.append(f"CI {latest.conclusion} ({latest.name} on {latest.branch})")
    elif not runs.available and runs.reason:
        parts.append(f"CI unknown: {runs.reason}")
    degraded = bool(latest and ci_condition(latest).level == "bad") or bool(status.conflicted)
    return Health(status="degraded" if degraded else "healthy", detail=" · ".join(parts), metrics=metrics)
