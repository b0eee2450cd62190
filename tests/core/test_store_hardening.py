"""The credential store under hostile conditions, through the real CLI in fresh processes.

Interrupted saves leave only what git ignores and the next write cleans up; a read-only
disk, a full disk, a directory the user cannot write, a planted lock symlink and absurd
nesting are clear errors (JSON under ``--json``, exit 1) that leave the old file as it was; a
hand-edited file is read strictly; a value with a control character is refused at save.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.registry import default_registry
from devtrack.store_json import MAX_DEPTH

from .helpers import assert_no_secret, run_cli
from .store_faults import (PROJECT_FILES, NoTmpfs, fill, git, init_project, kill_mid_save, leftovers,
                          plant_lock_symlink, remount, saved_store, small_tmpfs, store_error)

TOKEN = "vercel_tok_ABCDEFGHIJ0123456789"
NOBODY = 65534


def _label(plugin_id: str, key: str) -> str:
    model = default_registry(include_entry_points=False).get(plugin_id).credentials_model
    return next(f.label for f in model.fields() if f.key == key)


def _store_error(out: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """The message of a ``--json`` store failure; fails unless it is a clean one with ``phrases``."""
    message = store_error(out)
    assert message is not None, (out.returncode, out.stdout, out.stderr)
    for phrase in phrases:
        assert phrase in message, message
    return message


def _flat(text: str) -> str:
    """Console text with rich's line wrapping undone."""
    return " ".join(text.split())


# ---------------------------------------------------------------------- 1. interrupted saves

@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A real git repository after ``devtrack init``, holding one saved token."""
    return init_project(tmp_path / "proj", TOKEN)


def test_a_killed_save_leaves_a_copy_git_ignores_and_the_next_write_removes(project: Path) -> None:
    store = project / ".credentials.json"
    before = store.read_bytes()
    kill_mid_save(store)
    assert store.read_bytes() == before
    left = leftovers(project, *PROJECT_FILES)
    assert len(left) == 1, left
    copy = project / left[0]
    assert TOKEN in copy.read_text()  # a full copy of the secrets: it must never be committed
    assert git(project, "check-ignore", "-q", "--", left[0]).returncode == 0, left[0]
    assert f"!! {left[0]}" in git(project, "status", "--porcelain", "--ignored").stdout.splitlines()
    git(project, "add", ".")
    assert git(project, "ls-files").stdout.split() == [".gitignore"]
    # No warning on the way: git ignores the store, its lock and its temp copies.
    out = run_cli("integrations", "set", "vercel", "project_id=prj_1", cwd=project, env={"DEVTRACK_CREDENTIALS": ""})
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr, out.stderr
    assert leftovers(project, *PROJECT_FILES) == []
    creds = json.loads(store.read_text())["integrations"]["vercel"]["credentials"]
    assert creds == {"token": TOKEN, "project_id": "prj_1"}


def test_the_next_write_removes_temp_copies_left_by_older_versions(tmp_path: Path) -> None:
    store = tmp_path / ".credentials.json"
    CredentialStore(store).update(lambda d: d["ai_proxy"].update(a=1))
    old_copy = tmp_path / "..credentials.json.k2j4h5g6.tmp"  # the name versions before used
    old_copy.write_text(json.dumps({"integrations": {"vercel": {"credentials": {"token": TOKEN}}}}))
    unrelated = tmp_path / ".credentials.json.notes"
    unrelated.write_text("mine")
    CredentialStore(store).update(lambda d: d["ai_proxy"].update(a=2))
    assert not old_copy.exists()
    assert unrelated.read_text() == "mine"


def test_init_completes_an_older_gitignore_and_warns_until_then(tmp_path: Path) -> None:
    repo = tmp_path
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".credentials.json\n.credentials.json.lock\n")  # what init wrote before
    CredentialStore(repo / ".credentials.json").update(lambda d: None)
    env = {"DEVTRACK_CREDENTIALS": ""}
    out = run_cli("integrations", "list", "--json", cwd=repo, env=env)
    assert out.returncode == 0
    assert f"git does not ignore .credentials.json.tmp-* in {repo}, so `git add .` would commit your secrets; " \
        "run: devtrack init" in _flat(out.stderr), out.stderr
    out = run_cli("init", "--json", cwd=repo, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["warnings"] == []
    assert (repo / ".gitignore").read_text().splitlines().count(".credentials.json.tmp-*") == 1
    assert git(repo, "check-ignore", "-q", ".credentials.json.tmp-abcd1234").returncode == 0
    out = run_cli("integrations", "list", "--json", cwd=repo, env=env)
    assert "git does not ignore" not in out.stderr, out.stderr


# ---------------------------------------------------------------------- 2. failures are clear errors

@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs (see :func:`small_tmpfs`); skipped where it cannot be mounted."""
    try:
        with small_tmpfs(tmp_path / "fs") as mnt:
            yield mnt
    except NoTmpfs as exc:
        pytest.skip(str(exc))


def test_a_full_disk_is_a_clear_error_and_the_old_file_stays(small_fs: Path) -> None:
    store, env = saved_store(small_fs, TOKEN)
    before = store.read_bytes()
    fill(small_fs)
    out = run_cli("integrations", "set", "vercel", "team_id=team_abc", "--json", env=env)
    _store_error(out, str(store), "no space left on the device", "previous file is unchanged", "free some space")
    assert store.read_bytes() == before
    assert leftovers(small_fs, "credentials.json", "credentials.json.lock", "filler") == []


def test_a_read_only_disk_is_a_clear_error_and_reading_still_works(small_fs: Path) -> None:
    store, env = saved_store(small_fs, TOKEN)
    before = store.read_bytes()
    remount(small_fs, "ro")
    out = run_cli("integrations", "set", "vercel", "team_id=team_abc", "--json", env=env)
    _store_error(out, str(store), "read-only", "previous file is unchanged", "DEVTRACK_CREDENTIALS")
    out = run_cli("integrations", "set", "vercel", "team_id=team_abc", env=env)  # the same, for people
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "error:" in out.stderr and "read-only" in _flat(out.stderr)
    assert store.read_bytes() == before
    shown = run_cli("integrations", "show", "vercel", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["configured"] is True


def _as_nobody() -> tuple[list[str], dict[str, object]] | str:
    """How to start the CLI as user nobody here (a command prefix, Popen arguments), or why not.

    ``setpriv`` first: it resolves the interpreter's path before giving up root's rights, so
    it works even where the interpreter lives under a directory only root may enter.
    """
    if os.geteuid() != 0:
        return "needs root to start the CLI as another user"
    ways: list[tuple[list[str], dict[str, object]]] = [
        (["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"], {}),
        ([], {"user": NOBODY, "group": NOBODY, "extra_groups": []}),
    ]
    why = ""
    for prefix, kwargs in ways:
        try:
            probe = subprocess.run([*prefix, sys.executable, "-c", "import devtrack.cli.app"], cwd="/",
                                   capture_output=True, text=True, check=False, timeout=60, **kwargs)  # type: ignore[call-overload]
        except OSError as exc:
            why = str(exc)
            continue
        if probe.returncode == 0:
            return prefix, kwargs
        why = probe.stderr[-300:]
    return f"cannot run this interpreter as uid {NOBODY}: {why}"


@pytest.mark.parametrize("lock_exists", [False, True], ids=["lock-missing", "lock-present"])
def test_a_directory_the_user_cannot_write_is_a_clear_error(lock_exists: bool) -> None:
    # Root ignores permission bits, so the CLI runs as the unprivileged user nobody: then the
    # kernel refuses the lock file (or, when it exists, the temp file) as it would for a user.
    way = _as_nobody()
    if isinstance(way, str):
        pytest.skip(way)
    prefix, kwargs = way
    directory = Path(tempfile.mkdtemp(prefix="devtrack-readonly-"))
    try:
        directory.chmod(0o755)  # root's directory: nobody may read it, not create files in it
        home = directory / "home"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        store = directory / "credentials.json"
        CredentialStore(store).update(
            lambda d: d["integrations"].setdefault("vercel", {"credentials": {"token": TOKEN}}))
        os.chown(store, NOBODY, NOBODY)
        if lock_exists:
            os.chown(directory / "credentials.json.lock", NOBODY, NOBODY)
        else:
            (directory / "credentials.json.lock").unlink()
        before = store.read_bytes()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "COLUMNS": "200",
               "DEVTRACK_CREDENTIALS": str(store), "XDG_CONFIG_HOME": str(home), "XDG_DATA_HOME": str(home)}
        env |= {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*prefix, sys.executable, "-m", "devtrack", *args], env=env, cwd=home,
                                  capture_output=True, text=True, timeout=60, **kwargs)  # type: ignore[call-overload]

        out = cli("integrations", "set", "vercel", "team_id=team_abc", "--json")
        _store_error(out, str(store), "permission denied", "previous file is unchanged", "DEVTRACK_CREDENTIALS")
        assert store.read_bytes() == before
        assert leftovers(directory, "credentials.json", "credentials.json.lock", "home") == []
        shown = cli("integrations", "show", "vercel", "--json")  # reading needs no write access
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["configured"] is True
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    store, env = saved_store(tmp_path, TOKEN)
    before = store.read_bytes()
    lock, victim = plant_lock_symlink(store)
    out = run_cli("integrations", "set", "vercel", "team_id=team_abc", "--json", env=env)
    _store_error(out, str(lock), "symbolic link", f"rm {lock}")
    assert victim.read_text() == "precious\n"
    assert store.read_bytes() == before
    assert lock.is_symlink()


def test_absurd_nesting_is_a_parse_error_with_its_position(tmp_path: Path) -> None:
    store = tmp_path / "credentials.json"
    head = '{"version": 1, "integrations": {}, "x": '
    store.write_text(head + "[" * 100_000 + "]" * 100_000 + "}\n")
    before = store.read_bytes()
    env = {"DEVTRACK_CREDENTIALS": str(store)}
    # The object is level 1, the integrations object closed again: the bracket that opens level
    # MAX_DEPTH + 1 is the MAX_DEPTH-th one.
    column = len(head) + MAX_DEPTH
    for args in (("integrations", "list", "--json"), ("integrations", "set", "vercel", f"token={TOKEN}", "--json"),
                 ("status", "--json")):
        out = run_cli(*args, env=env)
        _store_error(out, str(store), f"line 1, column {column}", f"nested more than {MAX_DEPTH} levels",
                     "fix or move it away")
    assert store.read_bytes() == before


# ---------------------------------------------------------------------- 3. strict reading

GOOD_ENTRY = '"vercel": {"enabled": true, "credentials": {"token": "vercel_tok_ABCDEFGHIJ0123456789"}}'


@pytest.mark.parametrize(("text", "phrases"), [
    ('{"version": 1,\n "integrations": {"vercel": {"enabled": "false", "credentials": {}}}}',
     ["integrations.vercel.enabled must be true or false, not a string"]),
    ('{"version": 1,\n "integrations": {"vercel": {"enabled": 0}}}',
     ["integrations.vercel.enabled must be true or false, not a number"]),
    ('{"version": 1,\n "integrations": {\n  "vercel": {"enabled": NaN}}}', ["line 3, column 25", "NaN is not a JSON value"]),
    ('{"version": 1,\n "ai_proxy": {"port": Infinity}}', ["line 2, column 23", "Infinity is not a JSON value"]),
    ('{"version": 1,\n "ai_proxy": {"port": -Infinity}}', ["line 2, column 23", "-Infinity is not a JSON value"]),
    ('{"version": 1,\n "ai_proxy": {"port": 1e999}}', ["line 2, column 23", "the number 1e999 is too large"]),
    ('{"version": 1,\n "integrations": {' + GOOD_ENTRY + ',\n  ' + GOOD_ENTRY + '}}',
     ['line 3, column 3', 'duplicate key "vercel"']),
    ('{"version": 1, "integrations": {"vercel": {"credentials": {"token": "a", "token": "b"}}}}',
     ['line 1, column 74', 'duplicate key "token"']),
    ('{"version": 1, "integrations": {"vercel": {"credentials": {"token": 12345678}}}}',
     ["integrations.vercel.credentials.token must be a string, not a number"]),
    ('{"version": 1, "integrations": {"vercel": {"last_tested": "yesterday"}}}',
     ["integrations.vercel.last_tested must be an ISO 8601 date and time"]),
    ('{"version": true}', ["'version' must be a positive integer"]),
])
def test_a_hand_edited_store_is_read_strictly(tmp_path: Path, text: str, phrases: list[str]) -> None:
    store = tmp_path / "credentials.json"
    store.write_text(text)
    env = {"DEVTRACK_CREDENTIALS": str(store)}
    out = run_cli("integrations", "list", "--json", env=env)
    _store_error(out, str(store), *phrases, "fix or move it away")
    out = run_cli("integrations", "set", "vercel", f"token={TOKEN}", "--json", env=env)
    _store_error(out, *phrases)
    assert store.read_text() == text
    assert_no_secret([out.stdout, out.stderr], ["12345678"])


def test_keys_and_brackets_inside_strings_are_not_misread(tmp_path: Path) -> None:
    store = tmp_path / "credentials.json"
    value = 'a "quoted" [{NaN}] \\u0041 :, Infinity'
    doc = {"version": 1, "integrations": {"vercel": {"enabled": False, "credentials": {"token": TOKEN, "team_id": value}}},
           "ai_proxy": {"enabled": {"enabled": 1.5e10}}}
    store.write_text(json.dumps(doc, indent=1))
    read = CredentialStore(store).read()
    assert read["integrations"]["vercel"]["credentials"]["team_id"] == value
    assert read["ai_proxy"] == {"enabled": {"enabled": 1.5e10}}


def test_an_unreadable_test_record_shows_as_never_tested(tmp_path: Path) -> None:
    store = tmp_path / "credentials.json"
    store.write_text(json.dumps({"version": 1, "integrations": {"vercel": {
        "credentials": {"token": TOKEN}, "last_tested": "2026-01-02T03:04:05+00:00", "test_result": {"ok": "maybe"}}}}))
    out = run_cli("integrations", "list", "--json", env={"DEVTRACK_CREDENTIALS": str(store)})
    assert out.returncode == 0, out.stderr
    vercel = next(p for p in json.loads(out.stdout) if p["id"] == "vercel")
    assert vercel["test_result"] is None and vercel["configured"] is True
    assert vercel["last_tested"].startswith("2026-01-02T03:04:05")


def test_a_directory_others_can_write_is_warned_about(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    store, env = saved_store(shared, TOKEN)
    out = run_cli("integrations", "list", env=env)
    assert "writable by" not in out.stderr, out.stderr
    shared.chmod(0o777)
    out = run_cli("integrations", "list", env=env)
    assert out.returncode == 0
    assert f"the directory {shared} is writable by every user" in _flat(out.stderr), out.stderr
    assert f"chmod go-w {shared}" in _flat(out.stderr)


def test_a_store_owned_by_another_user_is_warned_about(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving the file to another user needs root")
    store, env = saved_store(tmp_path, TOKEN)
    os.chown(store, NOBODY, NOBODY)
    out = run_cli("integrations", "list", env=env)
    assert out.returncode == 0
    assert f"{store} belongs to another user (nobody)" in _flat(out.stderr), out.stderr
    assert f"chown root {store}" in _flat(out.stderr)


# ---------------------------------------------------------------------- 4. control characters

@pytest.mark.parametrize(("char", "what"), [
    ("\n", "a line break (U+000A)"),
    ("\r", "a line break (U+000D)"),
    ("\t", "a tab (U+0009)"),
    ("\x1b", "a control character (U+001B)"),
    ("\x7f", "a control character (U+007F)"),
])
def test_a_value_with_a_control_character_is_refused_at_save(_isolated_store: Path, char: str, what: str) -> None:
    assert run_cli("integrations", "set", "vercel", f"token={TOKEN}").returncode == 0
    before = _isolated_store.read_bytes()
    value = f"vercel_tok_ABCDEFGH{char}IJ0123456789"
    out = run_cli("integrations", "set", "vercel", f"token={value}", "--json")
    assert out.returncode == 1, out.stdout
    err = json.loads(out.stdout)["error"]
    assert err["kind"] == "config"
    assert err["fields"] == {"token": f"{_label('vercel', 'token')} contains {what}; enter the value on one line, without it"}
    assert _isolated_store.read_bytes() == before
    assert_no_secret([out.stdout, out.stderr], [value, "ABCDEFGH", "IJ0123456789"])
    out = run_cli("integrations", "set", "vercel", f"team_id=team{char}abc")  # plain fields too, for people
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"{_label('vercel', 'team_id')} contains {what}; enter the value on one line" in _flat(out.stderr)
    assert _isolated_store.read_bytes() == before


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_a_stored_value_with_a_line_break_never_reaches_http(tmp_path: Path) -> None:
    # A file written by hand (or by an older version) can still hold one. Sent, it made httpx
    # raise "Illegal header value b'Bearer …\\n…'", which printed the token in escaped form.
    server = http.server.HTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = tmp_path / "credentials.json"
        broken = "vercel_tok_ABCDEFGH\nIJ0123456789"
        store.write_text(json.dumps({"version": 1, "integrations": {"vercel": {"credentials": {"token": broken}}}}))
        env = {"DEVTRACK_CREDENTIALS": str(store), "DEVTRACK_VERCEL_BASE_URL": f"http://127.0.0.1:{server.server_port}"}
        out = run_cli("integrations", "test", "vercel", "--json", env=env)
    finally:
        server.shutdown()
        server.server_close()
    result = json.loads(out.stdout)
    assert result["ok"] is False and result["status"] == "config", result
    assert "contains a line break" in result["message"] and "enter the value on one line" in result["message"]
    assert_no_secret([out.stdout, out.stderr], ["ABCDEFGH", "IJ0123456789"])
