"""The emulator's data, and the REST and GraphQL shapes GitHub gives it.

REST objects carry every field GitHub's OpenAPI description marks required (the contract
test validates them against it); GraphQL nodes carry the fields ``gh`` selects.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

EPOCH = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def iso(t: datetime | None) -> str | None:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def node_id(kind: str, n: int) -> str:
    return base64.b64encode(f"0:{kind}{n}".encode()).decode().rstrip("=")


def sha_for(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class User:
    login: str
    id: int
    name: str | None = None
    scopes: list[str] = field(default_factory=lambda: ["repo", "read:org", "workflow"])


@dataclass
class Label:
    id: int
    name: str
    color: str = "d73a4a"
    description: str | None = None


@dataclass
class Pull:
    number: int
    title: str
    author: str
    head: str
    base: str = "main"
    state: str = "open"  # open | closed
    merged: bool = False
    draft: bool = False
    created_at: datetime = EPOCH
    updated_at: datetime | None = None
    body: str | None = None


@dataclass
class Issue:
    number: int
    title: str
    author: str
    state: str = "open"
    labels: list[Label] = field(default_factory=list)
    created_at: datetime = EPOCH
    updated_at: datetime | None = None
    comments: int = 0


@dataclass
class Workflow:
    id: int
    name: str
    path: str


@dataclass
class Run:
    id: int
    workflow_id: int
    run_number: int
    title: str
    branch: str
    status: str = "completed"
    conclusion: str | None = "success"
    event: str = "push"
    created_at: datetime = EPOCH
    sha: str = ""


@dataclass
class Repo:
    owner: str
    name: str
    id: int = 1296269
    default_branch: str = "main"
    has_issues: bool = True
    pulls: list[Pull] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    workflows: list[Workflow] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def workflow(self, wid: int) -> Workflow | None:
        return next((w for w in self.workflows if w.id == wid), None)


def seeded_repo(owner: str = "octo", name: str = "demo") -> Repo:
    """A small, varied repository: open/draft/merged/closed PRs, labelled issues, runs
    whose newest one failed."""
    t = EPOCH
    bug, docs = Label(1, "bug", "d73a4a", "Something is broken"), Label(2, "documentation", "0075ca", None)
    repo = Repo(owner=owner, name=name)
    repo.pulls = [
        Pull(7, "Add the dashboard", "mona", "feature/dashboard", created_at=t + timedelta(days=6)),
        Pull(6, "WIP: faster status", "hubot", "perf/status", draft=True, created_at=t + timedelta(days=5)),
        Pull(5, "Fix crash on empty repo", "mona", "fix/empty", state="closed", merged=True,
             created_at=t + timedelta(days=4)),
        Pull(4, "Rejected idea", "octocat", "idea", state="closed", created_at=t + timedelta(days=3)),
    ]
    repo.issues = [
        Issue(3, "Crash when the remote is missing", "mona", labels=[bug], created_at=t + timedelta(days=2),
              comments=2),
        Issue(2, "Document the gh fallback", "octocat", labels=[docs, bug], created_at=t + timedelta(days=1)),
        Issue(1, "First issue ✓ — ünïcode", "octocat", state="closed", created_at=t),
    ]
    repo.workflows = [Workflow(161335, "CI", ".github/workflows/ci.yml"),
                      Workflow(161336, "Release", ".github/workflows/release.yml")]
    repo.runs = [
        Run(30433642, 161335, 12, "Add the dashboard", "feature/dashboard", conclusion="failure",
            event="pull_request", created_at=t + timedelta(days=6, hours=1)),
        Run(30433641, 161335, 11, "Fix crash on empty repo", "main", created_at=t + timedelta(days=4, hours=2)),
        Run(30433640, 161336, 3, "v0.1.0", "main", created_at=t + timedelta(days=4, hours=1)),
        Run(30433639, 161335, 10, "Start", "main", status="in_progress", conclusion=None,
            created_at=t + timedelta(days=1)),
    ]
    for run in repo.runs:
        run.sha = run.sha or sha_for(f"{run.id}")
    return repo


# ---------------------------------------------------------------------- REST shapes


class Rest:
    """Builds REST JSON for one emulator (``api`` is its ``…/api/v3`` URL, ``web`` its root)."""

    def __init__(self, api: str, web: str, users: dict[str, User]) -> None:
        self.api = api
        self.web = web
        self.users = users

    def user_id(self, login: str) -> int:
        u = self.users.get(login)
        return u.id if u else 1000 + int(hashlib.sha1(login.encode()).hexdigest()[:6], 16)

    def simple_user(self, login: str) -> dict[str, Any]:
        u = f"{self.api}/users/{login}"
        uid = self.user_id(login)
        return {
            "login": login, "id": uid, "node_id": node_id("User", uid),
            "avatar_url": f"{self.web}/avatars/u/{uid}?v=4", "gravatar_id": "",
            "url": u, "html_url": f"{self.web}/{login}",
            "followers_url": f"{u}/followers", "following_url": f"{u}/following{{/other_user}}",
            "gists_url": f"{u}/gists{{/gist_id}}", "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{u}/subscriptions", "organizations_url": f"{u}/orgs",
            "repos_url": f"{u}/repos", "events_url": f"{u}/events{{/privacy}}",
            "received_events_url": f"{u}/received_events", "type": "User",
            "user_view_type": "public", "site_admin": False,
        }

    def private_user(self, user: User) -> dict[str, Any]:
        return self.simple_user(user.login) | {
            "user_view_type": "private", "name": user.name, "company": None, "blog": "",
            "location": None, "email": None, "hireable": None, "bio": None,
            "twitter_username": None, "public_repos": 2, "public_gists": 0, "followers": 1,
            "following": 0, "created_at": iso(EPOCH), "updated_at": iso(EPOCH),
            "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
            "disk_usage": 10, "collaborators": 0, "two_factor_authentication": True,
            "plan": {"name": "free", "space": 976562499, "collaborators": 0, "private_repos": 10000},
        }

    def minimal_repo(self, repo: Repo) -> dict[str, Any]:
        r = f"{self.api}/repos/{repo.full_name}"
        out: dict[str, Any] = {
            "id": repo.id, "node_id": node_id("Repository", repo.id), "name": repo.name,
            "full_name": repo.full_name, "owner": self.simple_user(repo.owner), "private": False,
            "html_url": f"{self.web}/{repo.full_name}", "description": "A demo repository", "fork": False,
            "url": r,
        }
        for key, tail in (
            ("archive_url", "/{archive_format}{/ref}"), ("assignees_url", "/assignees{/user}"),
            ("blobs_url", "/git/blobs{/sha}"), ("branches_url", "/branches{/branch}"),
            ("collaborators_url", "/collaborators{/collaborator}"), ("comments_url", "/comments{/number}"),
            ("commits_url", "/commits{/sha}"), ("compare_url", "/compare/{base}...{head}"),
            ("contents_url", "/contents/{+path}"), ("contributors_url", "/contributors"),
            ("deployments_url", "/deployments"), ("downloads_url", "/downloads"), ("events_url", "/events"),
            ("forks_url", "/forks"), ("git_commits_url", "/git/commits{/sha}"),
            ("git_refs_url", "/git/refs{/sha}"), ("git_tags_url", "/git/tags{/sha}"), ("hooks_url", "/hooks"),
            ("issue_comment_url", "/issues/comments{/number}"), ("issue_events_url", "/issues/events{/number}"),
            ("issues_url", "/issues{/number}"), ("keys_url", "/keys{/key_id}"), ("labels_url", "/labels{/name}"),
            ("languages_url", "/languages"), ("merges_url", "/merges"), ("milestones_url", "/milestones{/number}"),
            ("notifications_url", "/notifications{?since,all,participating}"), ("pulls_url", "/pulls{/number}"),
            ("releases_url", "/releases{/id}"), ("stargazers_url", "/stargazers"),
            ("statuses_url", "/statuses/{sha}"), ("subscribers_url", "/subscribers"),
            ("subscription_url", "/subscription"), ("tags_url", "/tags"), ("teams_url", "/teams"),
            ("trees_url", "/git/trees{/sha}"),
        ):
            out[key] = r + tail
        return out

    def repository(self, repo: Repo) -> dict[str, Any]:
        host = self.web.split("://", 1)[1]
        return self.minimal_repo(repo) | {
            "clone_url": f"{self.web}/{repo.full_name}.git", "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host.split(':')[0]}:{repo.full_name}.git", "svn_url": f"{self.web}/{repo.full_name}",
            "mirror_url": None, "homepage": None, "language": "Python", "forks": 0, "forks_count": 0,
            "stargazers_count": 3, "watchers": 3, "watchers_count": 3, "size": 120,
            "default_branch": repo.default_branch, "open_issues": sum(i.state == "open" for i in repo.issues),
            "open_issues_count": sum(i.state == "open" for i in repo.issues), "has_issues": repo.has_issues,
            "has_projects": True, "has_wiki": False, "has_pages": False, "has_downloads": True,
            "archived": False, "disabled": False, "license": None, "pushed_at": iso(EPOCH),
            "created_at": iso(EPOCH), "updated_at": iso(EPOCH), "visibility": "public",
        }

    def label(self, repo: Repo, lb: Label) -> dict[str, Any]:
        return {"id": lb.id, "node_id": node_id("Label", lb.id), "name": lb.name, "color": lb.color,
                "description": lb.description or "", "default": False,
                "url": f"{self.api}/repos/{repo.full_name}/labels/{lb.name}"}

    def pull(self, repo: Repo, p: Pull) -> dict[str, Any]:
        r = f"{self.api}/repos/{repo.full_name}"
        self_url = f"{r}/pulls/{p.number}"
        html = f"{self.web}/{repo.full_name}/pull/{p.number}"
        head_sha = sha_for(f"{repo.full_name}#{p.number}")
        closed = p.created_at + timedelta(hours=3) if p.state == "closed" else None
        links = {"self": self_url, "html": html, "issue": f"{r}/issues/{p.number}",
                 "comments": f"{r}/issues/{p.number}/comments", "review_comments": f"{self_url}/comments",
                 "review_comment": f"{r}/pulls/comments{{/number}}", "commits": f"{self_url}/commits",
                 "statuses": f"{r}/statuses/{head_sha}"}
        ref = lambda name, sha: {"label": f"{repo.owner}:{name}", "ref": name, "sha": sha,  # noqa: E731
                                 "user": self.simple_user(repo.owner), "repo": self.repository(repo)}
        return {
            "url": self_url, "id": 1000000 + p.number, "node_id": node_id("PullRequest", p.number),
            "html_url": html, "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
            "issue_url": links["issue"], "commits_url": links["commits"],
            "review_comments_url": links["review_comments"], "review_comment_url": links["review_comment"],
            "comments_url": links["comments"], "statuses_url": links["statuses"],
            "number": p.number, "state": p.state, "locked": False, "title": p.title,
            "user": self.simple_user(p.author), "body": p.body, "labels": [], "milestone": None,
            "active_lock_reason": None, "created_at": iso(p.created_at),
            "updated_at": iso(p.updated_at or closed or p.created_at), "closed_at": iso(closed),
            "merged_at": iso(closed) if p.merged else None,
            "merge_commit_sha": sha_for(f"merge{p.number}") if p.merged else None,
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
            "head": ref(p.head, head_sha), "base": ref(p.base, sha_for(p.base)),
            "_links": {k: {"href": v} for k, v in links.items()},
            "author_association": "MEMBER", "auto_merge": None, "draft": p.draft,
        }

    def issue(self, repo: Repo, i: Issue, pull: Pull | None = None) -> dict[str, Any]:
        r = f"{self.api}/repos/{repo.full_name}"
        u = f"{r}/issues/{i.number}"
        closed = i.created_at + timedelta(days=1) if i.state == "closed" else None
        out: dict[str, Any] = {
            "id": 2000000 + i.number, "node_id": node_id("Issue", i.number), "url": u,
            "repository_url": r, "labels_url": f"{u}/labels{{/name}}", "comments_url": f"{u}/comments",
            "events_url": f"{u}/events", "html_url": f"{self.web}/{repo.full_name}/issues/{i.number}",
            "number": i.number, "state": i.state, "title": i.title, "body": None,
            "user": self.simple_user(i.author), "labels": [self.label(repo, lb) for lb in i.labels],
            "assignee": None, "assignees": [], "milestone": None, "locked": False,
            "active_lock_reason": None, "comments": i.comments, "closed_at": iso(closed),
            "created_at": iso(i.created_at), "updated_at": iso(i.updated_at or closed or i.created_at),
            "author_association": "MEMBER",
        }
        if closed:  # GitHub sends null when open; OAS 3.0's nullable enum cannot say so, so omit it
            out["state_reason"] = "completed"
        if pull is not None:
            html = f"{self.web}/{repo.full_name}/pull/{pull.number}"
            out["html_url"] = html
            out["draft"] = pull.draft
            out["pull_request"] = {"url": f"{r}/pulls/{pull.number}", "html_url": html,
                                   "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
                                   "merged_at": iso(pull.created_at + timedelta(hours=3)) if pull.merged else None}
        return out

    def issue_for_pull(self, repo: Repo, p: Pull) -> dict[str, Any]:
        """GitHub's /issues lists pull requests too, as issues with a ``pull_request`` key."""
        return self.issue(repo, Issue(p.number, p.title, p.author, p.state, created_at=p.created_at), p)

    def workflow(self, repo: Repo, w: Workflow) -> dict[str, Any]:
        r = f"{self.api}/repos/{repo.full_name}"
        return {"id": w.id, "node_id": node_id("Workflow", w.id), "name": w.name, "path": w.path,
                "state": "active", "created_at": iso(EPOCH), "updated_at": iso(EPOCH),
                "url": f"{r}/actions/workflows/{w.id}",
                "html_url": f"{self.web}/{repo.full_name}/blob/main/{w.path}",
                "badge_url": f"{self.web}/{repo.full_name}/workflows/{w.name}/badge.svg"}

    def run(self, repo: Repo, run: Run) -> dict[str, Any]:
        r = f"{self.api}/repos/{repo.full_name}"
        u = f"{r}/actions/runs/{run.id}"
        wf = repo.workflow(run.workflow_id)
        minimal = self.minimal_repo(repo)
        return {
            "id": run.id, "name": wf.name if wf else None, "node_id": node_id("WorkflowRun", run.id),
            "head_branch": run.branch, "head_sha": run.sha, "path": wf.path if wf else "",
            "display_title": run.title, "run_number": run.run_number, "run_attempt": 1, "event": run.event,
            "status": run.status, "conclusion": run.conclusion, "workflow_id": run.workflow_id,
            "check_suite_id": run.id + 7, "check_suite_node_id": node_id("CheckSuite", run.id),
            "url": u, "html_url": f"{self.web}/{repo.full_name}/actions/runs/{run.id}",
            "pull_requests": [], "created_at": iso(run.created_at),
            "updated_at": iso(run.created_at + timedelta(minutes=4)),
            "run_started_at": iso(run.created_at), "actor": self.simple_user(repo.owner),
            "triggering_actor": self.simple_user(repo.owner),
            "jobs_url": f"{u}/jobs", "logs_url": f"{u}/logs",
            "check_suite_url": f"{r}/check-suites/{run.id + 7}", "artifacts_url": f"{u}/artifacts",
            "cancel_url": f"{u}/cancel", "rerun_url": f"{u}/rerun", "previous_attempt_url": None,
            "workflow_url": f"{r}/actions/workflows/{run.workflow_id}",
            "head_commit": {"id": run.sha, "tree_id": sha_for(f"tree{run.id}"), "message": run.title,
                            "timestamp": iso(run.created_at),
                            "author": {"name": "Mona Lisa", "email": "mona@example.com"},
                            "committer": {"name": "Mona Lisa", "email": "mona@example.com"}},
            "repository": minimal, "head_repository": minimal,
        }


# ---------------------------------------------------------------------- GraphQL shapes

ISSUE_TYPE_FIELDS = (
    "activeLockReason", "assignees", "author", "authorAssociation", "body", "bodyHTML", "bodyResourcePath",
    "bodyText", "bodyUrl", "closed", "closedAt", "comments", "createdAt", "createdViaEmail", "databaseId",
    "editor", "fullDatabaseId", "hovercard", "id", "includesCreatedEdit", "isPinned", "isReadByViewer",
    "labels", "lastEditedAt", "linkedBranches", "locked", "milestone", "number", "participants",
    "projectCards", "projectItems", "projectNext", "projectV2", "projectsNext", "projectsV2",
    "publishedAt", "reactionGroups", "reactions", "repository", "resourcePath", "state", "stateReason",
    "timeline", "timelineItems", "title", "titleHTML", "trackedInIssues", "trackedIssues",
    "trackedIssuesCount", "updatedAt", "url", "userContentEdits", "viewerCanDelete", "viewerCanReact",
    "viewerCanSubscribe", "viewerCanUpdate", "viewerCannotUpdateReasons", "viewerDidAuthor",
    "viewerSubscription",
)


def connection(items: list[Any], args: dict[str, Any], kind: str) -> dict[str, Any]:
    """A GraphQL connection over ``items`` honouring ``first``/``after`` with opaque cursors."""
    start = 0
    if args.get("after"):
        start = int(base64.b64decode(args["after"]).decode().split(":")[-1])
    first = args.get("first")
    first = 100 if first is None else max(0, min(int(first), 100))
    page = items[start:start + first]
    end = start + len(page)
    cursor = base64.b64encode(f"cursor:{kind}:{end}".encode()).decode()
    return {"__typename": f"{kind}Connection", "totalCount": len(items), "nodes": page,
            "pageInfo": {"__typename": "PageInfo", "hasNextPage": end < len(items),
                         "endCursor": cursor if page else None}}
