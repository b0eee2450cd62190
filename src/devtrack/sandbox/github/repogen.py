"""Generate large git repositories fast with ``git fast-import`` (tests and the bench).

``generate_repo(path, commits=50_000, files=6_000, modified=4_000, staged=500, untracked=500)``
builds a history whose first commit adds ``files`` files and whose later commits each change
one of them, checks it out, then leaves ``modified + staged + untracked`` local changes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

_ENV = {"GIT_AUTHOR_NAME": "Gen", "GIT_AUTHOR_EMAIL": "gen@example.com",
        "GIT_COMMITTER_NAME": "Gen", "GIT_COMMITTER_EMAIL": "gen@example.com"}


def _file(i: int) -> str:
    return f"src/pkg{i % 50:02d}/module_{i:05d}.py"


def _stream(commits: int, files: int, start: int = 1_700_000_000) -> bytes:
    out: list[bytes] = []
    for c in range(1, commits + 1):
        when = start + c * 60
        msg = f"Commit {c}: change {_file((c - 2) % files) if c > 1 else 'everything'}\n\nBody line for {c}.\n".encode()
        out.append(b"commit refs/heads/main\nmark :%d\n" % c)
        out.append(b"author Dev %d <dev%d@example.com> %d +0000\n" % (c % 7, c % 7, when))
        out.append(b"committer Dev <dev@example.com> %d +0000\n" % when)
        out.append(b"data %d\n%s\n" % (len(msg), msg))
        if c > 1:
            out.append(b"from :%d\n" % (c - 1))
        targets = range(files) if c == 1 else (((c - 2) % files),)
        for i in targets:
            data = f"# {_file(i)} v{c}\nVALUE = {c}\n".encode()
            out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (_file(i).encode(), len(data), data))
    return b"".join(out)


def generate_repo(path: str | Path, commits: int, files: int = 100, modified: int = 0, staged: int = 0,
                  untracked: int = 0) -> Path:
    """Create the repository at ``path`` (which must not exist yet) and return it."""
    import os

    root = Path(path)
    env = {**os.environ, **_ENV}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input=_stream(commits, files),
                   check=True, env=env)
    subprocess.run(["git", "-C", str(root), "reset", "-q", "--hard", "main"], check=True, env=env)
    changed = 0
    for i in range(min(modified + staged, files)):
        p = root / _file(i)
        p.write_text(p.read_text() + f"# local change {i}\n")
        changed += 1
    if staged:
        names = [_file(i) for i in range(modified, min(modified + staged, files))]
        for k in range(0, len(names), 500):
            subprocess.run(["git", "-C", str(root), "add", "--", *names[k:k + 500]], check=True, env=env)
    for i in range(untracked):
        p = root / "untracked" / f"new_{i:05d}.txt"
        p.parent.mkdir(exist_ok=True)
        p.write_text(f"new {i}\n")
    return root
