"""Async git functions on any repository path, parsing only NUL-separated machine formats.

Every command is an argument list run with ``git -C <path>`` (no shell), with optional locks
off (a dashboard must never take ``index.lock`` from under the user's own git), hooks'
``GIT_DIR``-style variables removed, and prompts disabled. Paths are decoded as UTF-8; bytes
that are not UTF-8 come out backslash-escaped rather than failing.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path

from .models import (
    BranchInfo,
    CommitInfo,
    DiffStats,
    DiffTotals,
    FileChange,
    FileDiff,
    GitError,
    GitStatus,
    Remote,
)
from .remote import configured_hosts, parse_remote

GIT_OPTIONS = (
    "--no-pager",
    "--no-optional-locks",
    "-c", "color.ui=false",
    "-c", "core.quotepath=false",
    "-c", "log.showSignature=false",
    "-c", "diff.external=",
)
#: Variables that would make git ignore ``-C path`` (set inside hooks, for instance).
_REPO_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
             "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX")
DEFAULT_TIMEOUT = 30.0
_LOG_FIELDS = ("%H", "%an", "%ae", "%aI", "%s", "%B")
_LOG_FORMAT = "%x00".join(_LOG_FIELDS)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C", LANGUAGE="C")
    return env


def decode(raw: bytes) -> str:
    """UTF-8 exactly; anything else visible as ``\\xNN`` instead of an error."""
    return raw.decode("utf-8", "backslashreplace")


def git_argv(path: str | os.PathLike[str], *args: str) -> list[str]:
    """The full argument list of one git call (the bench runs these raw)."""
    return ["git", "-C", os.fspath(path), *GIT_OPTIONS, *args]


async def run_git(
    path: str | os.PathLike[str], *args: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT
) -> tuple[int, bytes, bytes]:
    """Run git; with ``check`` a failure raises :class:`GitError` classified from stderr."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *git_argv(path, *args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_env(),
        )
    except FileNotFoundError:
        raise GitError("git_missing", "git is not installed (no `git` on PATH).") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        await _kill(proc)
        raise GitError("timeout", f"git {args[0]} took longer than {timeout:g}s in {path}.") from None
    except asyncio.CancelledError:
        await _kill(proc)
        raise
    code = proc.returncode or 0
    if check and code != 0:
        raise classify_git_error(path, err)
    return code, out, err


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
        await proc.wait()


def classify_git_error(path: str | os.PathLike[str], stderr: bytes) -> GitError:
    text = decode(stderr).strip()
    first = next((ln for ln in text.splitlines() if ln.startswith("fatal:")), text.splitlines()[0] if text else "")
    first = first.removeprefix("fatal: ").strip()
    low = text.lower()
    if "not a git repository" in low or "outside a repository" in low or "git diff --no-index" in low:
        return GitError("not_a_repository", f"{path} is not a git repository.")
    if "cannot change to" in low or "no such file or directory" in low:
        return GitError("not_a_repository", f"{path} does not exist.")
    if "dubious ownership" in low:
        return GitError("error", f"git refuses {path}: it is owned by another user (see `git config --global --add safe.directory`).")
    if "unknown revision" in low or "bad revision" in low or "ambiguous argument" in low or "not a valid" in low:
        return GitError("not_found", first or "unknown revision")
    return GitError("error", f"git failed in {path}: {first or 'unknown error'}")


# ---------------------------------------------------------------------- status


def _parse_commit_fields(fields: list[bytes]) -> CommitInfo:
    h, an, ae, date, subject = (decode(f) for f in fields[:5])
    message = decode(fields[5]).rstrip("\n") if len(fields) > 5 else subject
    return CommitInfo(hash=h, author=an, email=ae, date=datetime.fromisoformat(date),
                      subject=subject, message=message)


def parse_porcelain_v2(raw: bytes, status: GitStatus) -> None:
    """Fill ``status`` from ``git status --porcelain=v2 -z --branch --show-stash``."""
    tokens = iter(raw.split(b"\0"))
    for tok in tokens:
        if not tok:
            continue
        kind = tok[:1]
        if kind == b"#":
            key, _, value = decode(tok[2:]).partition(" ")
            if key == "branch.oid":
                status.head = None if value == "(initial)" else value
                status.empty = value == "(initial)"
            elif key == "branch.head":
                status.detached = value == "(detached)"
                status.branch = None if status.detached else value
            elif key == "branch.upstream":
                status.upstream = value
            elif key == "branch.ab":
                ahead, behind = value.split()
                status.ahead, status.behind = int(ahead), abs(int(behind))
            elif key == "stash":
                status.stashes = int(value)
        elif kind == b"1":
            parts = tok.split(b" ", 8)
            _add_change(status, parts[1], decode(parts[8]), None)
        elif kind == b"2":
            parts = tok.split(b" ", 9)
            orig = decode(next(tokens, b""))  # -z: the rename's source path follows
            _add_change(status, parts[1], decode(parts[9]), orig)
        elif kind == b"u":
            parts = tok.split(b" ", 10)
            xy = decode(parts[1])
            status.conflicted.append(FileChange(path=decode(parts[10]), index=xy[0], worktree=xy[1]))
        elif kind == b"?":
            status.untracked.append(decode(tok[2:]))


def _add_change(status: GitStatus, xy_raw: bytes, path: str, orig: str | None) -> None:
    xy = decode(xy_raw)
    change = FileChange(path=path, orig_path=orig, index=xy[0], worktree=xy[1])
    if xy[0] != ".":
        status.staged.append(change)
    if xy[1] != ".":
        status.unstaged.append(change)


def parse_remotes(raw: bytes, branch: str | None, hosts: set[str]) -> tuple[Remote | None, list[Remote]]:
    """From ``git config -z --get-regexp``: every remote, and the one the branch tracks
    (else ``origin``, else the first)."""
    urls: dict[str, str] = {}
    tracked: str | None = None
    for entry in raw.split(b"\0"):
        if not entry:
            continue
        key_raw, _, value_raw = entry.partition(b"\n")
        key, value = decode(key_raw), decode(value_raw)
        if key.startswith("remote.") and key.endswith(".url"):
            urls.setdefault(key[len("remote."):-len(".url")], value)
        elif branch and key == f"branch.{branch}.remote":
            tracked = value
    remotes = [parse_remote(n, u, hosts) for n, u in sorted(urls.items())]
    by_name = {r.name: r for r in remotes}
    chosen = by_name.get(tracked or "") or by_name.get("origin") or (remotes[0] if remotes else None)
    return chosen, remotes


REPO_PROBE = ("rev-parse", "--is-shallow-repository", "--show-toplevel")
STATUS_ARGS = ("status", "--porcelain=v2", "-z", "--branch", "--show-stash")
LAST_COMMIT_ARGS = ("log", "-1", "-z", "--format=" + "%x00".join(_LOG_FIELDS[:5]))
COUNT_ARGS = ("rev-list", "--count", "HEAD")
REMOTE_ARGS = ("config", "-z", "--get-regexp", r"^(remote\..+\.url|branch\..+\.remote)$")


def status_commands() -> list[tuple[str, ...]]:
    """The git commands ``git_status`` runs (concurrently), for the bench's raw baseline."""
    return [REPO_PROBE, STATUS_ARGS, LAST_COMMIT_ARGS, COUNT_ARGS, REMOTE_ARGS]


async def git_status(path: str | os.PathLike[str] = ".") -> GitStatus:
    """Everything about the working tree at ``path``; ``is_repo`` false (with ``error``) if none."""
    where = os.fspath(Path(path).expanduser())
    result = GitStatus(path=where, is_repo=False)
    if not Path(where).is_dir():
        result.error = f"{where} does not exist or is not a directory."
        return result
    probe, status, last, count, remotes = await asyncio.gather(
        run_git(where, *REPO_PROBE, check=False),
        run_git(where, *STATUS_ARGS, check=False),
        run_git(where, *LAST_COMMIT_ARGS, check=False),
        run_git(where, *COUNT_ARGS, check=False),
        run_git(where, *REMOTE_ARGS, check=False),
        return_exceptions=True,
    )
    for outcome in (probe, status):
        if isinstance(outcome, BaseException):
            result.error = outcome.message if isinstance(outcome, GitError) else str(outcome)
            return result
    assert not isinstance(probe, BaseException) and not isinstance(status, BaseException)
    if probe[0] != 0:
        result.error = classify_git_error(where, probe[2]).message
        return result
    if status[0] != 0:
        result.error = classify_git_error(where, status[2]).message
        return result
    shallow, _, top = decode(probe[1]).partition("\n")
    result.is_repo = True
    result.shallow = shallow.strip() == "true"
    result.root = top.strip() or None
    parse_porcelain_v2(status[1], result)
    if not isinstance(last, BaseException) and last[0] == 0 and last[1]:
        result.last_commit = _parse_commit_fields(last[1].rstrip(b"\0").split(b"\0"))
    if not isinstance(count, BaseException) and count[0] == 0:
        result.total_commits = int(count[1].strip() or 0)
    if not isinstance(remotes, BaseException) and remotes[0] == 0:
        result.remote, result.remotes = parse_remotes(remotes[1], result.branch, configured_hosts())
    return result


# ---------------------------------------------------------------------- log


def log_args(limit: int, since: datetime | str | None = None, branch: str | None = None) -> list[str]:
    """Arguments of the ``git log`` that ``git_log`` runs."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    args = ["log", "-z", f"--format={_LOG_FORMAT}", f"--max-count={limit}", "--no-decorate"]
    if since is not None:
        args.append(f"--since={since.isoformat() if isinstance(since, datetime) else since}")
    args.append("--end-of-options")
    args.append(branch or "HEAD")
    args.append("--")
    return args


def parse_log(raw: bytes) -> list[CommitInfo]:
    """Commits from ``git log -z`` with NUL-separated fields (a fixed count per commit)."""
    if not raw:
        return []
    fields = raw.split(b"\0")
    n = len(_LOG_FIELDS)
    if fields and fields[-1] == b"" and len(fields) % n == 1:
        fields.pop()
    return [_parse_commit_fields(fields[i:i + n]) for i in range(0, len(fields) - n + 1, n)]


async def git_log(
    path: str | os.PathLike[str] = ".",
    limit: int = 50,
    since: datetime | str | None = None,
    branch: str | None = None,
) -> list[CommitInfo]:
    """Recent commits, newest first; an empty repository gives ``[]``, an unknown branch
    raises :class:`GitError` ``not_found``."""
    code, out, err = await run_git(path, *log_args(limit, since, branch), check=False)
    if code != 0:
        text = decode(err).lower()
        if "does not have any commits yet" in text or (branch is None and "bad revision 'head'" in text):
            return []
        if branch and ("bad revision" in text or "unknown revision" in text or "ambiguous argument" in text):
            raise GitError("not_found", f"no branch or revision named {branch!r} in {path}.")
        raise classify_git_error(path, err)
    return parse_log(out)


# ---------------------------------------------------------------------- branches

_BRANCH_FORMAT = "%00".join((
    "%(refname:short)", "%(HEAD)", "%(upstream:short)", "%(upstream:track,nobracket)",
    "%(objectname)", "%(committerdate:iso-strict)", "%(contents:subject)",
))


async def git_branches(path: str | os.PathLike[str] = ".") -> list[BranchInfo]:
    """Local branches with upstream, ahead/behind and last commit (an empty repo has none)."""
    _, out, _ = await run_git(path, "for-each-ref", f"--format={_BRANCH_FORMAT}", "refs/heads/")
    branches: list[BranchInfo] = []
    for line in out.split(b"\n"):
        if not line:
            continue
        name, head, upstream, track, oid, date, subject = (decode(f) for f in line.split(b"\0", 6))
        info = BranchInfo(name=name, current=head == "*", upstream=upstream or None,
                          last_commit=oid or None, subject=subject,
                          last_commit_date=datetime.fromisoformat(date) if date else None)
        if upstream:
            info.upstream_gone = track == "gone"
            if not info.upstream_gone:
                info.ahead = info.behind = 0
                for part in track.split(","):
                    word, _, num = part.strip().partition(" ")
                    if word == "ahead":
                        info.ahead = int(num)
                    elif word == "behind":
                        info.behind = int(num)
        branches.append(info)
    return branches


# ---------------------------------------------------------------------- diff


def parse_numstat(raw: bytes) -> list[FileDiff]:
    """``git diff --numstat -z``: ``ins\\tdel\\tpath\\0``, renames ``ins\\tdel\\t\\0old\\0new\\0``."""
    out: list[FileDiff] = []
    tokens = iter(raw.split(b"\0"))
    for tok in tokens:
        if not tok:
            continue
        ins, dels, path_raw = tok.split(b"\t", 2)
        orig = None
        if not path_raw:  # a rename or copy: the two paths follow
            orig, path_raw = decode(next(tokens, b"")), next(tokens, b"")
        binary = ins == b"-" and dels == b"-"
        out.append(FileDiff(
            path=decode(path_raw), orig_path=orig, binary=binary,
            insertions=None if binary else int(ins), deletions=None if binary else int(dels),
        ))
    return out


def _totals(files: list[FileDiff]) -> DiffTotals:
    return DiffTotals(
        files=len(files),
        insertions=sum(f.insertions or 0 for f in files),
        deletions=sum(f.deletions or 0 for f in files),
        binary=sum(1 for f in files if f.binary),
    )


async def git_diff_stats(path: str | os.PathLike[str] = ".") -> DiffStats:
    """Per-file insertions/deletions, staged and unstaged, with totals; binary files marked."""
    args = ("diff", "--numstat", "-z", "--no-color", "--no-ext-diff", "-M")
    (_, staged_raw, _), (_, unstaged_raw, _) = await asyncio.gather(
        run_git(path, *args, "--cached"), run_git(path, *args)
    )
    staged, unstaged = parse_numstat(staged_raw), parse_numstat(unstaged_raw)
    every = staged + unstaged
    return DiffStats(
        staged=staged, unstaged=unstaged,
        staged_totals=_totals(staged), unstaged_totals=_totals(unstaged),
        totals=DiffTotals(
            files=len({f.path for f in every}),
            insertions=sum(f.insertions or 0 for f in every),
            deletions=sum(f.deletions or 0 for f in every),
            binary=len({f.path for f in every if f.binary}),
        ),
    )
