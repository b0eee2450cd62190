"""Text from outside is printed as text: commit subjects, stored values, service errors, paths.

Rich reads ``[…]`` as markup, so a commit subject ``fix [/] parsing`` used to crash
``devtrack git status`` and a stored ``[link=…]`` printed a live terminal hyperlink (OSC 8).
Every test runs the real CLI in a subprocess, with colour forced and a terminal width set, as
a terminal would show it; git commands run in a real repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from devtrack.sandbox import Sandbox

from .helpers import run_cli

OSC8 = "\x1b]8;"
#: A commit subject with markup of every kind: a stray closing tag, a style and a hyperlink.
SUBJECT = "fix [/] parsing, [bold]loud[/bold], [link=https://evil.example]x[/link] :bug:"
#: A subject carrying the terminal's own hyperlink escape, as git stores it byte for byte.
RAW = "raw \x1b]8;;https://evil.example\x1b\\y\x1b]8;;\x1b\\ link"
AUTHOR = "Eve [/] [red]"
LINK = "[link=https://evil.example]click[/link]"
TERMINAL = {"FORCE_COLOR": "1", "COLUMNS": "200", "TERM": "xterm-256color"}


def _git(repo: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _no_gh_path(tmp_path: Path) -> str:
    """A PATH with git and without gh: pull requests and CI are simply unavailable, offline."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("git") or "/usr/bin/git", bindir / "git")
    return str(bindir)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A repository whose directory name, author and commit subjects hold markup."""
    env = {**os.environ, "GIT_AUTHOR_NAME": AUTHOR, "GIT_AUTHOR_EMAIL": "eve@example.com",
           "GIT_COMMITTER_NAME": AUTHOR, "GIT_COMMITTER_EMAIL": "eve@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig")}
    root = tmp_path / "proj[red]"  # "/" cannot be in a name, but a style can
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    for i, subject in enumerate((RAW, SUBJECT)):
        (root / "README.md").write_text(f"version {i}\n")
        _git(root, "add", "README.md", env=env)
        _git(root, "commit", "-q", "-m", subject, env=env)
    _git(root, "branch", "old", "HEAD~1", env=env)  # git refuses "[" and ":" in branch names
    return root, env


def _literal(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr and "MarkupError" not in out.stderr, out.stderr
    assert OSC8 not in out.stdout + out.stderr, "a live terminal hyperlink was printed"
    return out.stdout


@pytest.mark.parametrize("command", [["git", "status"], ["git", "log"], ["git", "branches"]])
def test_git_commands_print_subjects_names_and_paths_as_they_are(repo: tuple[Path, dict[str, str]],
                                                                  command: list[str]) -> None:
    root, env = repo
    out = run_cli(*command, "--repo", str(root), env={**env, **TERMINAL})
    assert out.returncode == 0, out.stderr
    text = _literal(out)
    assert SUBJECT in text
    if command[1] == "status":
        assert str(root) in text and AUTHOR in text
    else:
        # git keeps the escape byte; it is shown as \x1b, never sent to the terminal
        assert "raw \\x1b]8;;https://evil.example\\x1b\\y" in text and "\x1b\\" not in text
    if command[1] == "log":
        assert AUTHOR in text


def test_a_bad_revision_is_named_as_typed(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    for rev in ("[/x]", "[red]nope"):
        out = run_cli("git", "log", "--repo", str(root), "--branch", rev, env={**env, **TERMINAL})
        assert out.returncode == 1
        assert "Traceback" not in out.stderr
        assert f"no branch or revision named '{rev}'" in out.stderr, out.stderr


def test_the_dashboard_and_views_show_commit_subjects_as_they_are(repo: tuple[Path, dict[str, str]],
                                                                  tmp_path: Path) -> None:
    root, env = repo
    env = {**env, **TERMINAL, "DEVTRACK_GITHUB_PATH": str(root), "PATH": _no_gh_path(tmp_path)}
    refreshed = run_cli("views", "refresh", "github", env=env)
    assert "Traceback" not in refreshed.stderr, refreshed.stderr
    for command in (["status"], ["views", "code"], ["integrations", "data", "github"]):
        out = run_cli(*command, env=env)
        text = _literal(out)
        assert SUBJECT in text and AUTHOR in text, (command, text)


def test_a_stored_value_with_markup_is_saved_and_shown_as_text(_isolated_store: Path) -> None:
    saved = run_cli("integrations", "set", "sentry", "token=sntrys_markup0123456789", "org=[/x]",
                    f"project={LINK}", env=TERMINAL)
    assert saved.returncode == 0, saved.stderr
    assert f"org=[/x], project={LINK}" in _literal(saved)
    shown = run_cli("integrations", "show", "sentry", env=TERMINAL)
    assert shown.returncode == 0, shown.stderr
    text = _literal(shown)
    assert " [/x] " in text and LINK in text


def test_a_warning_names_the_real_path(tmp_path: Path) -> None:
    store = tmp_path / "store[bold]" / "credentials.json"
    store.parent.mkdir()
    store.write_text("{}")
    store.chmod(0o644)
    out = run_cli("integrations", "list", env={**TERMINAL, "COLUMNS": "400", "DEVTRACK_CREDENTIALS": str(store)})
    assert out.returncode == 0, out.stderr
    assert f"run: chmod 600 {store}" in out.stderr


def test_a_service_error_with_markup_is_printed_as_text(sb: Sandbox, sandbox_env: dict[str, str]) -> None:
    message = "[/] denied [bold]by policy[/bold] [link=https://evil.example]x[/link]"
    body = {"error": {"code": "forbidden", "message": message}}
    sb.emulator("vercel").faults.add(route="/**", status=403, body=body)
    env = {**sandbox_env, **TERMINAL}
    tested = run_cli("integrations", "test", "vercel", env=env)
    assert tested.returncode == 1  # the test failed, and says why
    assert message in _literal(tested)
    for command in (["integrations", "data", "vercel"], ["views", "refresh", "vercel"]):
        out = run_cli(*command, env=env)
        assert out.returncode == 1
        assert message in _literal(out), command
    dashboard = run_cli("status", env=env)
    assert message in _literal(dashboard)


def test_an_ai_provider_error_with_markup_is_printed_as_text(sb: Sandbox, sandbox_env: dict[str, str]) -> None:
    message = "[/] key [bold]revoked[/bold] [link=https://evil.example]x[/link]"
    openai = sb.emulator("openai")
    openai.faults.add(route="/**", status=401, body={"error": {"message": message, "type": "invalid_request_error"}})
    out = run_cli("ai", "test", "openai", env={**sandbox_env, **TERMINAL, "OPENAI_API_KEY": openai.key})  # type: ignore[attr-defined]
    assert out.returncode == 1
    assert message in _literal(out)


def test_only_markup_devtrack_wrote_is_read_as_markup() -> None:
    """The printing helpers' contract, which every command gets without asking for it."""
    from devtrack.cli.output import Markup, console, markup

    value = console.render_str("[bold]x[/] [link=https://evil.example]y[/link] :bug:")
    assert value.plain == "[bold]x[/] [link=https://evil.example]y[/link] :bug:" and not value.spans
    ours = console.render_str(markup("[bold]{}[/] {:>5}", "[/x]", "[b]"))
    assert ours.plain == "[/x]   [b]" and [(s.start, s.end, str(s.style)) for s in ours.spans] == [(0, 4, "bold")]
    joined = console.render_str(Markup("[green]ok[/] ") + "[red]no[/]")
    assert joined.plain == "ok [red]no[/]"
    assert console.render_str("a\x1b]8;;u\x1b\\b\tc").plain == "a\\x1b]8;;u\\x1b\\b\tc"
