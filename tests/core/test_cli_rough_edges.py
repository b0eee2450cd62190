"""CLI rough edges, run as real processes: piped secrets, one line per refresh error, GitHub
configured only where a repository is, "did you mean" for mistyped ids, AI key removal."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from .helpers import run_cli, run_detached

TOKEN = "vercel_tok_PIPED0123456789"


def _stored(path: Path) -> dict[str, str]:
    return json.loads(path.read_text())["integrations"]["vercel"]["credentials"]


# ---------------------------------------------------------------------- 1. piped secrets


def test_a_piped_secret_is_read_without_a_warning_and_json_stays_alone_on_stdout(_isolated_store: Path) -> None:
    out = run_detached("integrations", "set", "vercel", "token", "--json", input=TOKEN + "\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"ok": True, "id": "vercel", "credentials": {"token": "verc••••6789"},
                                      "cleared": [], "warnings": []}
    assert "GetPassWarning" not in out.stderr and "echoed" not in out.stderr and "Warning" not in out.stderr
    assert _stored(_isolated_store) == {"token": TOKEN}
    assert TOKEN not in out.stdout + out.stderr

    human = run_detached("integrations", "set", "vercel", "token", input="vercel_tok_SECOND0123456789\n")
    assert human.returncode == 0 and "Access token" not in human.stdout and "Warning" not in human.stderr
    assert human.stdout.startswith("✓ saved vercel credentials")


def test_every_field_can_be_piped_one_line_each(_isolated_store: Path) -> None:
    out = run_detached("integrations", "set", "vercel", "--json", input=f"{TOKEN}\nteam_pipe\n\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["credentials"] == {"token": "verc••••6789", "team_id": "team_pipe"}
    assert _stored(_isolated_store) == {"token": TOKEN, "team_id": "team_pipe"}


def test_empty_stdin_for_a_secret_says_how_to_give_it(_isolated_store: Path) -> None:
    out = run_detached("integrations", "set", "vercel", "token", input="")
    assert out.returncode == 2
    assert "no value for Access token on standard input" in out.stderr and "pipe one line" in out.stderr
    assert "Traceback" not in out.stderr and not _isolated_store.exists()
    j = run_detached("integrations", "set", "vercel", "token", "--json", input="")
    assert j.returncode == 2 and json.loads(j.stdout)["error"]["kind"] == "config"


# ---------------------------------------------------------------------- 2 and 6. views refresh


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refresh_prints_each_error_once(tmp_path: Path) -> None:
    env = {"DEVTRACK_VERCEL_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
           "DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 'snap.db'}"}
    assert run_detached("integrations", "set", "vercel", f"token={TOKEN}", env=env).returncode == 0
    out = run_detached("views", "refresh", env=env, cwd=tmp_path)
    assert out.returncode == 1
    both = out.stdout + out.stderr
    assert both.count("Cannot connect to Vercel") == 1, both
    assert "WARNING:" not in out.stderr and "devtrack.views.coordinator" not in both
    assert out.stdout.startswith("vercel: network Cannot connect to Vercel")


def test_github_counts_as_configured_only_where_a_repository_is(tmp_path: Path) -> None:
    env = {"DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 'snap.db'}"}
    outside = tmp_path / "plain"
    outside.mkdir()
    refreshed = run_detached("views", "refresh", "--json", env=env, cwd=outside)
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert json.loads(refreshed.stdout) == {"ok": True, "results": []}

    def configured(cwd: Path, extra: Mapping[str, str] | None = None) -> tuple[bool, str]:
        listed = {p["id"]: p for p in json.loads(run_detached("integrations", "list", "--json",
                                                              env=extra, cwd=cwd).stdout)}
        human = run_detached("integrations", "show", "github", env=extra, cwd=cwd).stdout
        return listed["github"]["configured"], human

    flag, human = configured(outside)
    assert flag is False and "configured: no" in human
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "src").mkdir()
    flag, human = configured(repo / "src")  # found from a subdirectory, as git finds it
    assert flag is True and "configured: yes" in human
    assert configured(outside, {"DEVTRACK_GITHUB_PATH": str(repo)})[0] is True
    assert configured(outside, {"DEVTRACK_GITHUB_REPO": "octo/demo"})[0] is True
    # Asked explicitly, the test still runs and says what to do.
    test = run_detached("integrations", "test", "github", cwd=outside)
    assert test.returncode == 1 and "DEVTRACK_GITHUB_PATH" in test.stdout


# ---------------------------------------------------------------------- 7. did you mean


@pytest.mark.parametrize("args", [["show", "vercle"], ["set", "vercle", "token=x123456789"], ["unset", "vercle"],
                                  ["enable", "vercle"], ["disable", "vercle"], ["test", "vercle"],
                                  ["data", "vercle"]])
def test_a_mistyped_id_gets_a_suggestion(args: list[str], _isolated_store: Path) -> None:
    out = run_cli("integrations", *args)
    assert out.returncode == 1
    assert "unknown integration 'vercle'; did you mean 'vercel'?" in out.stderr
    j = run_cli("integrations", *args, "--json")
    assert j.returncode == 1
    assert json.loads(j.stdout) == {"ok": False, "error": {
        "kind": "not_found", "message": "unknown integration 'vercle'; did you mean 'vercel'?"}}
    assert not _isolated_store.exists()


def test_refresh_suggests_too_and_a_far_off_id_lists_the_known_ones(tmp_path: Path) -> None:
    out = run_cli("views", "refresh", "githbu", env={"DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 's.db'}"})
    assert out.returncode == 1 and "did you mean 'github'?" in out.stderr
    far = run_cli("integrations", "show", "zzzz")
    assert far.returncode == 1 and "unknown integration 'zzzz'; known: github, vercel" in far.stderr


# ---------------------------------------------------------------------- 5. ai set --remove


def test_removing_an_ai_key_that_is_not_stored_says_so(_isolated_store: Path) -> None:
    env = {"GOOGLE_AI_API_KEY": "", "GEMINI_API_KEY": ""}
    nothing = run_detached("ai", "set", "google", "--remove", env=env)
    assert nothing.returncode == 0, nothing.stderr
    assert nothing.stdout.strip() == "no Google (Gemini) key was stored; nothing changed"
    assert not _isolated_store.exists()  # nothing written either
    j = run_detached("ai", "set", "google", "--remove", "--json", env=env)
    assert json.loads(j.stdout)["removed"] is False

    assert run_detached("ai", "set", "google", input="AIza-stored-key-0123456789\n", env=env).returncode == 0
    removed = run_detached("ai", "set", "google", "--remove", "--json", env=env)
    body = json.loads(removed.stdout)
    assert body["removed"] is True and body["provider"]["configured"] is False
    again = run_detached("ai", "set", "google", "--remove", env=env | {"GEMINI_API_KEY": "AIza-env-key-0123456789"})
    assert "nothing changed; GEMINI_API_KEY in the environment still sets one" in again.stdout.replace("\n", " ")


def test_a_piped_ai_key_prompts_nothing_on_stdout(_isolated_store: Path) -> None:
    out = run_detached("ai", "set", "openai", "--json", input="sk-piped-key-0123456789\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["provider"]["source"] == "store"
    empty = run_detached("ai", "set", "openai", input="")
    assert empty.returncode == 2 and "on standard input" in empty.stderr
