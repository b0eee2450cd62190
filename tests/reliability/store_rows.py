"""Rows of the web safety table about the credential store and the CLI (issue 13): a killed
save's temp copy, store failures that are clear errors, strict reading of a hand-edited file,
and ``--json`` output that stays one document when a value is piped in.

Each runs the real CLI in fresh processes, with the helpers of the focused tests in
tests/core (test_store_hardening.py, test_cli_rough_edges.py), which check the same at length.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devtrack.store_json import MAX_DEPTH
from tests import leakscan

from ..core.helpers import run_cli, run_detached
from ..core.store_faults import (PROJECT_FILES, NoTmpfs, fill, git, init_project, kill_mid_save, leftovers,
                                 plant_lock_symlink, remount, saved_store, small_tmpfs, store_error)
from .report import Row

TOKEN = "vercel_tok_TABLEROW0123456789"
leakscan.add_secrets(TOKEN)


def killed_save_row(tmp_path: Path) -> Row:
    """A writer SIGKILLed between writing its temp copy and renaming it, in a project after
    ``devtrack init``: git must ignore the copy (it holds every secret), the next save removes it."""
    repo = init_project(tmp_path / "killed", TOKEN)
    store = repo / ".credentials.json"
    before = store.read_bytes()
    kill_mid_save(store)
    kept = store.read_bytes() == before
    left = leftovers(repo, *PROJECT_FILES)
    ignored = [name for name in left if git(repo, "check-ignore", "-q", "--", name).returncode == 0]
    out = run_cli("integrations", "set", "vercel", "project_id=prj_row", cwd=repo, env={"DEVTRACK_CREDENTIALS": ""})
    after = leftovers(repo, *PROJECT_FILES)
    saved = json.loads(store.read_text())["integrations"]["vercel"]["credentials"]
    good = kept and len(left) == 1 and ignored == left and out.returncode == 0 and not after \
        and saved == {"token": TOKEN, "project_id": "prj_row"}
    answer = (f"store {'kept' if kept else 'CHANGED'}, {len(left)} temp copy, {len(ignored)} git-ignored; "
              f"next save: exit {out.returncode}, {len(after)} left")
    return ("killed save's temp copy (after devtrack init)", answer, good)


def _failure_row(case: str, out: subprocess.CompletedProcess[str], intact: bool, *phrases: str) -> Row:
    """A save that must fail cleanly: JSON ``kind: config`` naming the problem, exit 1, file intact."""
    message = store_error(out)
    told = message is not None and all(p in message for p in phrases)
    what = "JSON config error" if message is not None else "traceback" if "Traceback" in out.stderr else "no JSON error"
    answer = f"exit {out.returncode}, {what}{'' if told or message is None else ' (unclear)'}, " \
             f"file {'intact' if intact else 'CHANGED'}"
    return (case, answer, told and intact)


def store_failure_rows(tmp_path: Path) -> list[Row]:
    """A planted lock symlink, absurd nesting, a read-only disk and a full disk (a real tmpfs;
    the last two rows are skipped, with the reason, where no tmpfs can be mounted)."""
    rows: list[Row] = []
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    store, env = saved_store(lock_dir, TOKEN)
    before = store.read_bytes()
    lock, victim = plant_lock_symlink(store)
    out = run_cli("integrations", "set", "vercel", "team_id=team_row", "--json", env=env)
    intact = store.read_bytes() == before and victim.read_text() == "precious\n"
    rows.append(_failure_row("store: lock file is a symlink: set --json", out, intact, "symbolic link", f"rm {lock}"))

    deep = tmp_path / "deep.json"
    deep.write_text('{"version": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    before = deep.read_bytes()
    out = run_cli("integrations", "set", "vercel", f"token={TOKEN}", "--json", env={"DEVTRACK_CREDENTIALS": str(deep)})
    rows.append(_failure_row("store: nested 100,000 levels: set --json", out, deep.read_bytes() == before,
                             f"nested more than {MAX_DEPTH} levels", "line 1, column"))

    cases = ("store: read-only filesystem: set --json", "store: disk full (ENOSPC): set --json")
    try:
        with small_tmpfs(tmp_path / "fs") as mnt:
            store, env = saved_store(mnt, TOKEN)
            before = store.read_bytes()
            remount(mnt, "ro")
            out = run_cli("integrations", "set", "vercel", "team_id=team_row", "--json", env=env)
            rows.append(_failure_row(cases[0], out, store.read_bytes() == before,
                                     "read-only", "previous file is unchanged"))
            remount(mnt, "rw")
            fill(mnt)
            out = run_cli("integrations", "set", "vercel", "team_id=team_row", "--json", env=env)
            intact = store.read_bytes() == before and leftovers(mnt, store.name, f"{store.name}.lock", "filler") == []
            rows.append(_failure_row(cases[1], out, intact, "no space left on the device",
                                     "previous file is unchanged"))
    except NoTmpfs as exc:
        rows += [(case, f"skipped: {exc}", None) for case in cases]
    return rows


def _position(text: str, needle: str) -> str:
    """Where the last ``needle`` in ``text`` starts, as the store's errors say it."""
    at = text.rindex(needle)
    line = text.count("\n", 0, at) + 1
    return f"line {line}, column {at - text.rfind(chr(10), 0, at)}"


STRICT = [
    ('"enabled": "false"', '{"version": 1,\n "integrations": {"vercel": {"enabled": "false", "credentials": {}}}}',
     '"false"', "integrations.vercel.enabled must be true or false, not a string"),
    ("NaN", '{"version": 1,\n "integrations": {\n  "vercel": {"enabled": NaN}}}', "NaN", "NaN is not a JSON value"),
    ("duplicate key", '{"version": 1,\n "integrations": {"vercel": {},\n  "vercel": {"enabled": true}}}',
     '"vercel"', 'duplicate key "vercel"'),
]


def strict_rows(tmp_path: Path) -> list[Row]:
    """A hand-edited store is read strictly: refused with where the problem is, never rewritten."""
    rows: list[Row] = []
    for n, (case, text, needle, phrase) in enumerate(STRICT):
        store = tmp_path / f"strict{n}.json"
        store.write_text(text)
        env = {"DEVTRACK_CREDENTIALS": str(store)}
        out = run_cli("integrations", "set", "vercel", f"token={TOKEN}", "--json", env=env)
        message = store_error(out) or ""
        where = "integrations.vercel.enabled" if needle == '"false"' else _position(text, needle)
        unchanged = store.read_text() == text
        good = phrase in message and where in message and unchanged
        answer = f"exit {out.returncode}, {'refused at ' + where if good else repr(message[:60])}, " \
                 f"file {'unchanged' if unchanged else 'CHANGED'}"
        rows.append((f"hand-edited store, {case}: set --json", answer, good))
    return rows


def piped_json_row(tmp_path: Path) -> Row:
    """``set vercel token --json`` with the token piped in, no terminal (as in CI): stdout is
    the one JSON document, nothing of the prompt."""
    env = {"DEVTRACK_CREDENTIALS": str(tmp_path / "piped.json")}
    out = run_detached("integrations", "set", "vercel", "token", "--json", input=TOKEN + "\n", env=env)
    try:
        doc = json.loads(out.stdout)  # refuses anything before or after the one document
        answer = "one JSON document" if doc.get("ok") is True else "JSON, not ok"
    except ValueError:
        doc, answer = None, "prompt text in stdout" if "Access token" in out.stdout else "not JSON"
    good = out.returncode == 0 and doc is not None and doc.get("ok") is True and "Access token" not in out.stdout
    return ("set vercel token --json, token piped in: stdout", f"exit {out.returncode}, {answer}", good)
