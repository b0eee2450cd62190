"""``devtrack git status|log|branches|diff|prs|ci|issues``: the local repository and GitHub.

Works in any repository (``--repo PATH``) with nothing configured: git for the local part,
``gh`` (or the stored GitHub token) for pull requests, CI runs and issues.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from .output import JSON_OPTION, console, emit_json, fail, markup, say

app = typer.Typer(help="The local git repository and its GitHub pull requests, CI runs and issues.",
                  no_args_is_help=True)

REPO_OPTION = typer.Option("--repo", "-C", help="Repository path (default: DEVTRACK_GITHUB_PATH or here).")
GH_REPO_OPTION = typer.Option("--gh-repo", help="GitHub repository [HOST/]OWNER/REPO (default: from the remote).")
LIMIT_OPTION = typer.Option("--limit", "-n", min=1, help="How many to show.")


def _path(repo: str | None) -> str:
    from ..github.service import default_path

    return repo or default_path()


def _run(coro: Any, as_json: bool) -> Any:
    from ..github.models import GitError

    try:
        return asyncio.run(coro)
    except GitError as exc:
        fail(exc.message, as_json=as_json, kind="not_found" if exc.kind != "error" else "error")


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A table that fits the terminal: values whole, prose cut with "…" (see :mod:`.tables`).

    Cells are text as git or GitHub gave it (a subject "fix [/] parsing" is not markup);
    only the cells built with :func:`.output.markup` are styled.
    """
    from .tables import fit

    fit(title, columns, rows, console.width).print(console)


def _when(t: Any) -> str:
    from ..text import humane_time

    return humane_time(t, "") if t else ""


def _plural(count: int, word: str, many: str | None = None) -> str:
    from ..text import plural

    return plural(count, word, many)


@app.command()
def status(repo: Annotated[str | None, REPO_OPTION] = None, as_json: bool = JSON_OPTION) -> None:
    """Branch, upstream, ahead/behind, remote, last commit and local changes."""
    from ..github.git import git_status

    st = _run(git_status(_path(repo)), as_json)
    if as_json:
        emit_json(st.model_dump(mode="json") | {"dirty": st.dirty})
        raise typer.Exit(0 if st.is_repo else 1)
    if not st.is_repo:
        fail(st.error or "not a git repository")
    head = st.branch or (f"detached at {st.head[:8]}" if st.head else "?")
    say(markup("[bold]{}[/]  {}", st.root, head) + (markup("  [dim](no commits yet)[/]") if st.empty else "")
        + (markup("  [yellow](shallow)[/]") if st.shallow else ""))
    if st.upstream:
        say(f"upstream {st.upstream}: {st.ahead or 0} ahead, {st.behind or 0} behind")
    if st.remote:
        slug = f" → {st.remote.slug}" if st.remote.is_github else " (not GitHub)"
        say(f"remote {st.remote.name}: {st.remote.url}{slug}")
    if st.last_commit:
        c = st.last_commit
        say(f"last commit {c.hash[:8]} {c.subject} — {c.author}, {_when(c.date)}  ({_plural(st.total_commits, 'commit')})")
    rows = [[markup("[green]{}[/]", c.index), "staged", c.path + (f" ← {c.orig_path}" if c.orig_path else "")]
            for c in st.staged]
    rows += [[markup("[red]{}[/]", c.worktree), "unstaged", c.path] for c in st.unstaged]
    rows += [[markup("[red]U[/]"), "conflicted", c.path] for c in st.conflicted]
    rows += [["?", "untracked", p] for p in st.untracked]
    if rows:
        _table(_plural(st.dirty, "changed path"), ["", "state", "path"], [[a, b, repr(c)[1:-1]] for a, b, c in rows])
    else:
        say(markup("[green]working tree clean[/]"))


@app.command()
def log(
    repo: Annotated[str | None, REPO_OPTION] = None,
    limit: Annotated[int, LIMIT_OPTION] = 30,
    since: Annotated[str | None, typer.Option(help="Only commits since (e.g. '2 weeks ago', 2024-05-01).")] = None,
    branch: Annotated[str | None, typer.Option(help="Branch or revision (default: HEAD).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Recent commits."""
    from ..github.git import git_log

    commits = _run(git_log(_path(repo), limit=limit, since=since, branch=branch), as_json)
    if as_json:
        emit_json([c.model_dump(mode="json") for c in commits])
        return
    _table(_plural(len(commits), "commit"), ["hash", "date", "author", "subject"],
           [[c.hash[:10], _when(c.date), c.author, c.subject] for c in commits])


@app.command()
def branches(repo: Annotated[str | None, REPO_OPTION] = None, as_json: bool = JSON_OPTION) -> None:
    """Local branches with their upstream and last commit."""
    from ..github.git import git_branches

    items = _run(git_branches(_path(repo)), as_json)
    if as_json:
        emit_json([b.model_dump(mode="json") for b in items])
        return
    rows = []
    for b in items:
        track = "gone" if b.upstream_gone else (f"+{b.ahead} -{b.behind}" if b.upstream else "")
        rows.append([("* " if b.current else "  ") + b.name, b.upstream or "", track,
                     (b.last_commit or "")[:10], _when(b.last_commit_date), b.subject or ""])
    _table(_plural(len(items), "branch", "branches"), ["branch", "upstream", "track", "commit", "date", "subject"], rows)


@app.command()
def diff(repo: Annotated[str | None, REPO_OPTION] = None, as_json: bool = JSON_OPTION) -> None:
    """Insertions and deletions per file, staged and unstaged."""
    from ..github.git import git_diff_stats

    stats = _run(git_diff_stats(_path(repo)), as_json)
    if as_json:
        emit_json(stats.model_dump(mode="json"))
        return
    rows = []
    for where, files in (("staged", stats.staged), ("unstaged", stats.unstaged)):
        for f in files:
            ins = "binary" if f.binary else markup("[green]+{}[/]", f.insertions)
            dels = "" if f.binary else markup("[red]-{}[/]", f.deletions)
            name = repr(f.path)[1:-1] + (f" ← {repr(f.orig_path)[1:-1]}" if f.orig_path else "")
            rows.append([where, ins, dels, name])
    t = stats.totals
    _table(f"{_plural(t.files, 'file')}, +{t.insertions} -{t.deletions}" + (f", {t.binary} binary" if t.binary else ""),
           ["", "+", "-", "path"], rows)


def _remote(kind: str, repo: str | None, gh_repo: str | None, limit: int, state: str | None) -> Any:
    from ..github import service
    from ..github.git import git_status
    from ..integrations.manager import get_manager

    async def go() -> Any:
        st = await git_status(_path(repo))
        try:
            token = get_manager().credentials("github").value("token")
        except Exception:  # a broken store must not hide what gh can show
            token = None
        if kind == "prs":
            return await service.pull_requests(st, token=token, repo=gh_repo, state=state or "open", limit=limit)
        if kind == "issues":
            return await service.issues(st, token=token, repo=gh_repo, state=state or "open", limit=limit)
        return await service.ci_runs(st, token=token, repo=gh_repo, limit=limit)

    return asyncio.run(go())


def _emit_remote(res: Any, as_json: bool, title: tuple[str, str], columns: list[str], row: Any) -> None:
    if as_json:
        emit_json(res.model_dump(mode="json"))
    elif not res.available:
        fail(f"{res.kind}: {res.reason}")
    else:
        if res.note:
            say(markup("[dim]{}[/]", res.note))
        _table(_plural(len(res.items), title[0], title[1]) + (f" of {res.repo}" if res.repo else ""), columns,
               [row(i) for i in res.items])
    if not res.available:
        raise typer.Exit(1)


@app.command()
def prs(
    repo: Annotated[str | None, REPO_OPTION] = None,
    gh_repo: Annotated[str | None, GH_REPO_OPTION] = None,
    state: Annotated[str, typer.Option(help="open, closed, merged or all.")] = "open",
    limit: Annotated[int, LIMIT_OPTION] = 30,
    as_json: bool = JSON_OPTION,
) -> None:
    """Pull requests (gh, or the REST API with the stored token)."""
    res = _remote("prs", repo, gh_repo, limit, state)
    _emit_remote(res, as_json, ("pull request", "pull requests"), ["#", "state", "title", "author", "branch", "created"],
                 lambda p: [str(p.number), p.state + (" (draft)" if p.draft else ""), p.title or "", p.author or "",
                            p.branch or "", _when(p.created_at)])


@app.command()
def ci(
    repo: Annotated[str | None, REPO_OPTION] = None,
    gh_repo: Annotated[str | None, GH_REPO_OPTION] = None,
    limit: Annotated[int, LIMIT_OPTION] = 20,
    as_json: bool = JSON_OPTION,
) -> None:
    """GitHub Actions runs."""
    res = _remote("ci", repo, gh_repo, limit, None)
    colour = {"success": "green", "failure": "red", "cancelled": "yellow"}

    def row(r: Any) -> list[str]:
        tint = colour.get(r.conclusion or "", "dim")
        return [r.name or "", r.status, markup(f"[{tint}]{{}}[/]", r.conclusion or ""), r.branch or "",
                getattr(r, "title", "") or "", _when(r.created_at)]

    _emit_remote(res, as_json, ("CI run", "CI runs"), ["workflow", "status", "conclusion", "branch", "title", "created"],
                 row)


@app.command()
def issues(
    repo: Annotated[str | None, REPO_OPTION] = None,
    gh_repo: Annotated[str | None, GH_REPO_OPTION] = None,
    state: Annotated[str, typer.Option(help="open, closed or all.")] = "open",
    limit: Annotated[int, LIMIT_OPTION] = 30,
    as_json: bool = JSON_OPTION,
) -> None:
    """Issues (pull requests excluded)."""
    res = _remote("issues", repo, gh_repo, limit, state)
    _emit_remote(res, as_json, ("issue", "issues"), ["#", "state", "title", "author", "labels", "created"],
                 lambda i: [str(i.number), i.state, i.title or "", i.author or "", ", ".join(i.labels),
                            _when(i.created_at)])
