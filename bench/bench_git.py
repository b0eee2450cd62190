"""git_log(limit=1000) and git_status against the raw git commands they run (target ≤ 1.3×).

The repository is generated with ``git fast-import``: 50,000 commits, 6,000 files, and 5,000
changed paths in the working tree (4,000 modified, 500 staged, 500 untracked). The baseline
runs the very same argument lists as raw subprocesses — concurrently for ``git_status``,
exactly as ``git_status`` does — so the ratio is what DevTrack's async runner and parsing cost.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from common import median_seconds, report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from devtrack.github.git import git_argv, git_log, git_status, log_args, status_commands  # noqa: E402
from devtrack.sandbox.github.repogen import generate_repo  # noqa: E402

COMMITS, FILES, MODIFIED, STAGED, UNTRACKED = 50_000, 6_000, 4_000, 500, 500


def raw_sequential(argv: list[str]) -> None:
    subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)


def raw_concurrent(argvs: list[list[str]]) -> None:
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for a in argvs]
    for p in procs:
        p.communicate()


def main() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="devtrack-bench-git-") as tmp:
        started = time.perf_counter()
        repo = generate_repo(Path(tmp) / "big", COMMITS, FILES, MODIFIED, STAGED, UNTRACKED)
        print(f"# generated {COMMITS} commits, {MODIFIED + STAGED + UNTRACKED} changed paths "
              f"in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        st = asyncio.run(git_status(repo))
        assert st.total_commits == COMMITS and len(st.unstaged) == MODIFIED and len(st.staged) == STAGED
        assert len(asyncio.run(git_log(repo, limit=1000))) == 1000

        out = []
        log_raw = median_seconds(partial(raw_sequential, git_argv(repo, *log_args(1000))), runs=9)
        log_ours = median_seconds(lambda: asyncio.run(git_log(repo, limit=1000)), runs=9)
        out.append(report("git_log(limit=1000) vs raw git log", log_ours, log_raw, target=1.3,
                          note=f"{COMMITS} commits"))
        status_raw = median_seconds(partial(raw_concurrent, [git_argv(repo, *c) for c in status_commands()]), runs=9)
        status_ours = median_seconds(lambda: asyncio.run(git_status(repo)), runs=9)
        out.append(report("git_status vs its raw git commands", status_ours, status_raw, target=1.3,
                          note=f"{MODIFIED + STAGED + UNTRACKED} changed paths, 5 commands"))
        return out


if __name__ == "__main__":
    main()
