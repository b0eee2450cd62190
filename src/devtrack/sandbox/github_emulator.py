"""A loopback GitHub for tests and the sandbox: HTTPS with its own test CA.

It answers what the real ``gh`` 2.23 asks of a GitHub Enterprise host (``/api/v3/…`` REST,
``/api/graphql`` with the ``PullRequestList``, ``IssueList``, ``Issue_fields`` introspection
and ``UserCurrent`` operations) and the REST paths DevTrack's fallback reads, with
``Link`` pagination, ``X-OAuth-Scopes`` and rate-limit headers. Faults (a status with
headers, e.g. a 403 rate limit) can be queued per path. Standalone::

    with GitHubEmulator() as gh:
        gh.url, gh.api_url, gh.ca_file, gh.host, gh.token, gh.requests
"""

from __future__ import annotations

import json
import re
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .github import graphql
from .github.objects import ISSUE_TYPE_FIELDS, Issue, Pull, Repo, Rest, Run, User, connection, iso, seeded_repo, sha_for

__all__ = ["GitHubEmulator", "EMULATOR", "SandboxGitHub", "LoggedRequest", "Fault", "Repo", "Pull", "Issue", "User", "seeded_repo"]

DEFAULT_TOKEN = "gho_emulatortoken0000000000000000000000"
RATE_LIMIT = 5000


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    authorized: bool
    operation: str | None = None
    body: Any = None
    status: int = 0


@dataclass
class Fault:
    """An answer to give instead of the real one, ``times`` times, to paths matching ``pattern``."""

    pattern: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    #: Matching requests to let through before the fault starts (e.g. 1: from the second page).
    skip: int = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: GitHubEmulator


class GitHubEmulator:
    """A GitHub REST + GraphQL emulator on ``127.0.0.1`` in a background thread."""

    def __init__(self, *, tokens: dict[str, User] | None = None, repos: list[Repo] | None = None,
                 port: int = 0, tls: bool = True) -> None:
        self.tokens: dict[str, User] = tokens if tokens is not None else {
            DEFAULT_TOKEN: User("octocat", 583231, "The Octocat")}
        self.repos: dict[str, Repo] = {r.full_name.lower(): r for r in (repos if repos is not None else [seeded_repo()])}
        self.requests: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self.remaining: dict[str, int] = {}
        self._lock = threading.Lock()
        self._port = port
        self._tls = tls
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.ca_file: str = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> GitHubEmulator:
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.emulator = self
        if self._tls:
            import trustme

            self._tmp = tempfile.TemporaryDirectory(prefix="devtrack-gh-emulator-")
            ca = trustme.CA()
            cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
            self.ca_file = str(Path(self._tmp.name) / "ca.pem")
            ca.cert_pem.write_to_path(self.ca_file)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(ctx)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="github-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the emulator first"
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """What ``GH_HOST`` must be (gh treats it as an Enterprise host)."""
        return f"localhost:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self.host}"

    @property
    def api_url(self) -> str:
        """The REST base (``DEVTRACK_GITHUB_BASE_URL``)."""
        return f"{self.url}/api/v3"

    @property
    def token(self) -> str:
        return next(iter(self.tokens))

    def gh_env(self, config_dir: str, tmp_dir: str, *, logged_in: bool = True) -> dict[str, str]:
        """Environment that points the real ``gh`` here (add ``--repo HOST/OWNER/REPO``)."""
        env = {"GH_CONFIG_DIR": config_dir, "TMPDIR": tmp_dir, "SSL_CERT_FILE": self.ca_file,
               "GH_NO_UPDATE_NOTIFIER": "1", "GH_PROMPT_DISABLED": "1"}
        if logged_in:
            env |= {"GH_HOST": self.host, "GH_ENTERPRISE_TOKEN": self.token}
        return env

    # ------------------------------------------------------------------ test helpers

    def repo(self, full_name: str = "octo/demo") -> Repo:
        return self.repos[full_name.lower()]

    def add_repo(self, repo: Repo) -> Repo:
        self.repos[repo.full_name.lower()] = repo
        return repo

    def fail(self, pattern: str, status: int, body: Any = None, headers: dict[str, str] | None = None,
             times: int = 1, skip: int = 0) -> None:
        """Queue a fault for paths matching the regex ``pattern``."""
        with self._lock:
            self.faults.append(Fault(pattern, status, body, dict(headers or {}), times, skip))

    def rate_limit(self, pattern: str, times: int = 1, reset_in: int = 3600, skip: int = 0) -> None:
        """GitHub's exhausted-quota answer: 403 with ``x-ratelimit-remaining: 0``."""
        self.fail(pattern, 403, {
            "message": "API rate limit exceeded for user ID 583231.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
            {"x-ratelimit-remaining": "0", "x-ratelimit-limit": str(RATE_LIMIT), "x-ratelimit-used": str(RATE_LIMIT),
             "x-ratelimit-reset": str(int(time.time()) + reset_in), "x-ratelimit-resource": "core"}, times, skip)

    def count(self, path_prefix: str = "", operation: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path.startswith(path_prefix)
                       and (operation is None or r.operation == operation))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if re.search(f.pattern, path):
                    if f.skip > 0:
                        f.skip -= 1
                        continue
                    f.times -= 1
                    if f.times <= 0:
                        self.faults.remove(f)
                    return f
        return None

    def _log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(entry)

    # ------------------------------------------------------------------ answering

    def respond(self, method: str, target: str, raw: bytes, authorization: str = "", client: str = "127.0.0.1",
                base: str | None = None) -> tuple[int, Any, dict[str, str]]:
        """Answer one request (any server can carry it); logged in :attr:`requests`."""
        ex = _Exchange(self, method, target, raw, authorization, client, base or self.url)
        entry = LoggedRequest(method, ex.path, ex.query, authorized=ex.user is not None, body=ex.body)
        if ex.path == "/api/graphql" and isinstance(ex.body, dict):
            m = re.search(r"\b(?:query|mutation)\s+(\w+)", str(ex.body.get("query", "")))
            entry.operation = m.group(1) if m else None
        status, body, headers = ex.answer()
        entry.status = status
        self._log(entry)
        return status, body, headers

    def rest(self, base: str | None = None) -> Rest:
        users = {u.login: u for u in self.tokens.values()}
        web = base or self.url
        return Rest(f"{web}/api/v3", web, users)

    def graphql_root(self, user: User, base: str | None = None) -> dict[str, Any]:
        def repository(args: dict[str, Any]) -> dict[str, Any]:
            repo = self.repos.get(f"{args.get('owner')}/{args.get('name')}".lower())
            if repo is None:
                raise graphql.GraphQLError(
                    f"Could not resolve to a Repository with the name '{args.get('owner')}/{args.get('name')}'.")
            return self._repo_node(repo, base or self.url)

        def type_info(args: dict[str, Any]) -> dict[str, Any] | None:
            if args.get("name") != "Issue":
                return None
            return {"__typename": "__Type", "name": "Issue",
                    "fields": lambda a: [{"__typename": "__Field", "name": n} for n in ISSUE_TYPE_FIELDS]}

        return {"__typename": "Query", "repository": repository, "__type": type_info,
                "viewer": {"__typename": "User", "login": user.login, "name": user.name,
                           "id": f"U_{user.id}", "databaseId": user.id}}

    def _actor(self, login: str) -> dict[str, Any]:
        return {"__typename": "User", "__implements": ("Actor",), "login": login,
                "id": f"U_{Rest('', '', {}).user_id(login)}", "name": login.title()}

    def _repo_node(self, repo: Repo, web: str) -> dict[str, Any]:

        def pr_state(p: Pull) -> str:
            return "MERGED" if p.merged else p.state.upper()

        def pulls(args: dict[str, Any]) -> dict[str, Any]:
            states = args.get("states") or ["OPEN", "CLOSED", "MERGED"]
            chosen = [p for p in sorted(repo.pulls, key=lambda p: p.created_at, reverse=True)
                      if pr_state(p) in states
                      and (not args.get("headRefName") or p.head == args["headRefName"])
                      and (not args.get("baseRefName") or p.base == args["baseRefName"])]
            nodes = [{
                "__typename": "PullRequest", "id": f"PR_{p.number}", "number": p.number, "title": p.title,
                "state": pr_state(p), "author": self._actor(p.author), "headRefName": p.head,
                "baseRefName": p.base, "createdAt": iso(p.created_at),
                "updatedAt": iso(p.updated_at or p.created_at), "isDraft": p.draft, "closed": p.state == "closed",
                "url": f"{web}/{repo.full_name}/pull/{p.number}", "body": p.body or "",
            } for p in chosen]
            return connection(nodes, args, "PullRequest")

        def issues(args: dict[str, Any]) -> dict[str, Any]:
            states = args.get("states") or ["OPEN", "CLOSED"]
            chosen = [i for i in sorted(repo.issues, key=lambda i: i.created_at, reverse=True)
                      if i.state.upper() in states]
            nodes = [{
                "__typename": "Issue", "id": f"I_{i.number}", "number": i.number, "title": i.title,
                "state": i.state.upper(), "author": self._actor(i.author), "createdAt": iso(i.created_at),
                "updatedAt": iso(i.updated_at or i.created_at), "closed": i.state == "closed",
                "url": f"{web}/{repo.full_name}/issues/{i.number}", "body": "",
                "labels": lambda a, i=i: connection([
                    {"__typename": "Label", "id": f"LA_{lb.id}", "name": lb.name,
                     "description": lb.description, "color": lb.color} for lb in i.labels], a, "Label"),
            } for i in chosen]
            return connection(nodes, args, "Issue")

        return {"__typename": "Repository", "id": f"R_{repo.id}", "name": repo.name,
                "nameWithOwner": repo.full_name, "hasIssuesEnabled": repo.has_issues,
                "pullRequests": pulls, "issues": issues}


def _page(items: list[Any], query: dict[str, list[str]]) -> tuple[list[Any], int, int]:
    per_page = max(1, min(int((query.get("per_page") or ["30"])[0]), 100))
    page = max(1, int((query.get("page") or ["1"])[0]))
    last = max(1, -(-len(items) // per_page))
    return items[(page - 1) * per_page: page * per_page], page, last


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by design
        pass

    @property
    def emu(self) -> GitHubEmulator:
        return self.server.emulator

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, body, headers = self.emu.respond(
            method, self.path, raw, self.headers.get("Authorization", ""), self.client_address[0])
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)



class _Exchange:
    """One request and its answer, independent of the server that carries it."""

    def __init__(self, emu: GitHubEmulator, method: str, target: str, raw: bytes, authorization: str,
                 client: str, base: str) -> None:
        parts = urlsplit(target)
        self.emu, self.method, self.client, self.base = emu, method, client, base
        self.path, self.query = parts.path, parse_qs(parts.query)
        self.body: Any = None
        if raw:
            try:
                self.body = json.loads(raw)
            except ValueError:
                self.body = raw.decode("utf-8", "replace")
        token = authorization.split(" ", 1)[-1].strip() if authorization else ""
        self.sent_auth = bool(token)
        self.user = emu.tokens.get(token) if token else None

    def answer(self) -> tuple[int, Any, dict[str, str]]:
        fault = self.emu._take_fault(self.path)
        if fault is not None:
            return self._send(fault.status, fault.body, fault.headers)
        if self.sent_auth and self.user is None:
            return self._send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        if self.path == "/api/graphql" and self.method == "POST":
            return self._graphql()
        api = self.path.removeprefix("/api/v3")
        if self.method != "GET" or (api == self.path and self.path != "/"):
            return self._not_found()
        return self._rest(api)

    def _graphql(self) -> tuple[int, Any, dict[str, str]]:
        if self.user is None:
            return self._send(401, {"message": "This endpoint requires you to be authenticated.",
                                    "documentation_url": "https://docs.github.com/graphql"})
        body = self.body if isinstance(self.body, dict) else {}
        out = graphql.execute(str(body.get("query", "")), body.get("variables"),
                              self.emu.graphql_root(self.user, self.base), body.get("operationName"))
        return self._send(200, out)

    def _rest(self, api: str) -> tuple[int, Any, dict[str, str]]:
        rest = self.emu.rest(self.base)
        query = self.query
        if api in ("", "/"):
            return self._send(200, {"current_user_url": f"{rest.api}/user"})
        if api == "/user":
            if self.user is None:
                return self._send(401, {"message": "Requires authentication",
                                        "documentation_url": "https://docs.github.com/rest/users/users"})
            return self._send(200, rest.private_user(self.user))
        if api == "/rate_limit":
            core = self._rate()
            return self._send(200, {"resources": {"core": core}, "rate": core})
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", api)
        repo = self.emu.repos.get(f"{m.group(1)}/{m.group(2)}".lower()) if m else None
        if m is None or repo is None:
            return self._not_found()
        tail = m.group(3) or ""
        state = (query.get("state") or ["open"])[0]
        if tail == "":
            return self._send(200, rest.repository(repo))
        if tail == "/pulls":
            pulls = sorted(repo.pulls, key=lambda p: p.created_at, reverse=True)
            return self._list([rest.pull(repo, p) for p in pulls if state in ("all", p.state)])
        if tail == "/issues":
            dated: list[tuple[Any, dict[str, Any]]] = [
                (i.created_at, rest.issue(repo, i)) for i in repo.issues if state in ("all", i.state)]
            dated += [(p.created_at, rest.issue_for_pull(repo, p)) for p in repo.pulls if state in ("all", p.state)]
            dated.sort(key=lambda t: t[0], reverse=True)
            return self._list([d for _, d in dated])
        if tail == "/actions/runs":
            runs = sorted(repo.runs, key=lambda r: r.created_at, reverse=True)
            if branch := (query.get("branch") or [None])[0]:
                runs = [r for r in runs if r.branch == branch]
            page, _, _ = _page(runs, query)
            return self._send(200, {"total_count": len(runs), "workflow_runs": [rest.run(repo, r) for r in page]},
                              self._link(len(runs)))
        if tail == "/actions/workflows":
            flows, _, _ = _page(repo.workflows, query)
            return self._send(200, {"total_count": len(repo.workflows),
                                    "workflows": [rest.workflow(repo, w) for w in flows]},
                              self._link(len(repo.workflows)))
        if wm := re.fullmatch(r"/actions/workflows/(\d+)", tail):
            wf = repo.workflow(int(wm.group(1)))
            return self._send(200, rest.workflow(repo, wf)) if wf else self._not_found()
        return self._not_found()

    def _not_found(self) -> tuple[int, Any, dict[str, str]]:
        return self._send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    def _list(self, items: list[Any]) -> tuple[int, Any, dict[str, str]]:
        page, _, _ = _page(items, self.query)
        return self._send(200, page, self._link(len(items)))

    def _link(self, total: int) -> dict[str, str]:
        _, page, last = _page(list(range(total)), self.query)
        flat = {k: v[0] for k, v in self.query.items()}
        links = []
        for rel, n in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                links.append(f'<{self.base}{self.path}?{urlencode(flat | {"page": n})}>; rel="{rel}"')
        return {"Link": ", ".join(links)} if links else {}

    def _rate(self) -> dict[str, int]:
        key = self.user.login if self.user else f"ip:{self.client}"
        limit = RATE_LIMIT if self.user else 60
        with self.emu._lock:
            left = max(0, self.emu.remaining.get(key, limit) - 1)
            self.emu.remaining[key] = left
        return {"limit": limit, "remaining": left, "reset": int(time.time()) + 3600, "used": limit - left}

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        out = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Media-Type": "github.v3; format=json",
               "X-GitHub-Request-Id": f"EMU:{len(self.emu.requests):06d}"}
        if "x-ratelimit-remaining" not in {k.lower() for k in headers or {}}:
            rate = self._rate()
            out |= {"X-RateLimit-Limit": str(rate["limit"]), "X-RateLimit-Remaining": str(rate["remaining"]),
                    "X-RateLimit-Reset": str(rate["reset"]), "X-RateLimit-Used": str(rate["used"]),
                    "X-RateLimit-Resource": "core"}
        if self.user is not None:
            out |= {"X-OAuth-Scopes": ", ".join(self.user.scopes), "X-Accepted-OAuth-Scopes": ""}
        out |= headers or {}
        return status, body, out


def SandboxGitHub(*, seed: int = 0, scale: dict[str, int] | None = None) -> Any:  # noqa: N802 - a factory
    """The same emulator inside the sandbox framework (``devtrack sandbox``), over its server.

    Imported lazily: the framework pulls in Starlette, which standalone use does not need.
    """
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from datetime import datetime, timezone

    from .emulator import Emulator, SandboxEvent

    class _GitHub(Emulator):
        service = "github"
        plugin_ids = ("github",)
        base_path = "/api/v3"

        def seed_data(self) -> None:
            self.core = GitHubEmulator()
            self._event_runs: set[int] = set()

        def routes(self) -> list[Any]:
            async def any_path(request: Request) -> Response:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                status, body, headers = self.core.respond(
                    request.method, target, await request.body(), request.headers.get("authorization", ""),
                    request.client.host if request.client else "127.0.0.1", str(request.base_url).rstrip("/"))
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                return Response(json.dumps(body) if body is not None else b"", status, headers,
                                media_type="application/json")

            return [Route("/{path:path}", any_path, methods=["GET", "POST"])]

        def error(self, status: int, message: str, **extra: Any) -> Any:
            from starlette.responses import JSONResponse

            return JSONResponse({"message": message, "documentation_url": "https://docs.github.com/rest"}, status)

        def credentials(self, url: str) -> dict[str, dict[str, str]]:
            return {"github": {"token": self.core.token}}

        def env(self, url: str) -> dict[str, str]:
            """The REST base, and the seeded repository as the one GitHub is asked about, so
            pull requests, CI runs and issues show up from any working directory."""
            repo = next(iter(self.core.repos.values()))
            return super().env(url) | {"DEVTRACK_GITHUB_REPO": repo.full_name}

        def on_reset(self) -> None:
            """Also removes the runs events added (the failures and their fixes)."""
            self.core.requests.clear()
            self.core.faults.clear()
            for repo in self.core.repos.values():
                repo.runs[:] = [r for r in repo.runs if r.id not in self._event_runs]
            self._event_runs.clear()

        # -------------------------------------------------------------- events (alert rules)

        def sandbox_events(self) -> dict[str, SandboxEvent]:
            return {"ci_failed": SandboxEvent(
                "the newest CI run on the repository's default branch fails (undo: a newer run passes)",
                lambda o: self._run(o.get("workflow"), "failure"),
                lambda done: self._run(done["workflow_id"], "success"))}

        def _run(self, workflow: Any, conclusion: str) -> dict[str, Any]:
            repo = next(iter(self.core.repos.values()))
            flow = next((w for w in repo.workflows if workflow in (None, w.id, w.name)), None)
            if flow is None:
                raise ValueError(f"no workflow {workflow!r} in {repo.full_name}")
            rid = max(r.id for r in repo.runs) + 1
            number = max((r.run_number for r in repo.runs if r.workflow_id == flow.id), default=0) + 1
            title = "Break the build" if conclusion == "failure" else "Fix the build"
            repo.runs.append(Run(rid, flow.id, number, title, repo.default_branch, conclusion=conclusion,
                                 created_at=datetime.now(timezone.utc), sha=sha_for(f"{rid}")))
            self._event_runs.add(rid)
            return {"repo": repo.full_name, "branch": repo.default_branch, "workflow_id": flow.id,
                    "workflow": flow.name, "run": rid}

    return _GitHub(seed=seed, scale=scale)


#: What the sandbox registry looks for in ``<service>_emulator`` modules.
EMULATOR = SandboxGitHub
