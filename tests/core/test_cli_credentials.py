"""The CLI's credential commands, run as real processes against a real file."""

from __future__ import annotations

import ast
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from ..thirdparty import THIRD_PARTY
from .helpers import assert_no_secret, run_cli

IDS = ["github", "vercel", "supabase", "sentry", "helicone", "upstash", "aws-ec2", "cloudflare", *THIRD_PARTY]
TOKEN = "vercel_tok_ABCDEFGHIJ0123456789"


def test_list_json_has_the_eight_plugins_in_order_with_fields() -> None:
    out = run_cli("integrations", "list", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [p["id"] for p in data] == IDS
    by_id = {p["id"]: p for p in data}
    vercel_fields = {f["key"]: f for f in by_id["vercel"]["fields"]}
    assert vercel_fields["token"]["secret"] is True and vercel_fields["token"]["required"] is True
    assert vercel_fields["team_id"]["secret"] is False
    assert by_id["aws-ec2"]["fields"][1]["key"] == "secret_access_key"
    assert all({"key", "label", "kind", "secret", "required", "help", "placeholder"} <= set(f)
               for p in data for f in p["fields"])
    for p in data:
        assert {"id", "name", "description", "docs_url", "enabled", "configured", "last_tested", "test_result"} <= set(p)
    # Every plugin has at least one secret field except none: GitHub's token is secret too.
    assert all(any(f["secret"] for f in p["fields"]) for p in data)


def test_set_show_merge_unset_roundtrip(_isolated_store: Path) -> None:
    out = run_cli("integrations", "set", "vercel", f"token={TOKEN}", "team_id=team_abc", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["credentials"] == {"token": "verc••••6789", "team_id": "team_abc"}
    mode = stat.S_IMODE(_isolated_store.stat().st_mode)
    assert mode == 0o600
    stored = json.loads(_isolated_store.read_text())
    assert stored["version"] == 2  # issue 14: the schema that holds connections
    assert stored["integrations"]["vercel"]["credentials"]["token"] == TOKEN

    # Merge: setting another field keeps the token; a blank value keeps the stored one.
    out = run_cli("integrations", "set", "vercel", "project_id=prj_1", "team_id=", "--json")
    assert out.returncode == 0, out.stderr
    creds = json.loads(_isolated_store.read_text())["integrations"]["vercel"]["credentials"]
    assert creds == {"token": TOKEN, "team_id": "team_abc", "project_id": "prj_1"}

    show = run_cli("integrations", "show", "vercel", "--json")
    assert show.returncode == 0
    shown = json.loads(show.stdout)
    assert shown["credentials"]["token"] == "verc••••6789"
    assert shown["configured"] is True

    out = run_cli("integrations", "unset", "vercel", "team_id", "--json")
    assert out.returncode == 0, out.stderr
    creds = json.loads(_isolated_store.read_text())["integrations"]["vercel"]["credentials"]
    assert creds == {"token": TOKEN, "project_id": "prj_1"}
    out = run_cli("integrations", "unset", "vercel")
    assert out.returncode == 0
    assert json.loads(_isolated_store.read_text())["integrations"]["vercel"]["credentials"] == {}

    texts = [show.stdout, show.stderr, run_cli("integrations", "show", "vercel").stdout,
             run_cli("integrations", "list").stdout]
    assert_no_secret(texts, [TOKEN])


def test_human_output_never_shows_secret() -> None:
    assert run_cli("integrations", "set", "vercel", f"token={TOKEN}").returncode == 0
    outputs = []
    for args in (["list"], ["show", "vercel"], ["test", "vercel"], ["data", "vercel"], ["test", "--all"],
                 ["test", "vercel", "--json"], ["data", "--all", "--json"]):
        r = run_cli("integrations", *args)
        outputs += [r.stdout, r.stderr]
    assert_no_secret(outputs, [TOKEN])


def test_secret_prompted_with_hidden_input(_isolated_store: Path) -> None:
    out = run_cli("integrations", "set", "vercel", "token", input=TOKEN + "\n")
    assert out.returncode == 0, out.stderr
    assert TOKEN not in out.stdout + out.stderr
    assert json.loads(_isolated_store.read_text())["integrations"]["vercel"]["credentials"]["token"] == TOKEN


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sentry", "token=abcdefghijkl", "org=acme", "base_url=ftp://nope"], "http"),
        (["sentry", "token=abcdefghijkl", "org=acme", "base_url=http://sentry.example.com"], "https"),
        (["vercel", "team_id=team_1"], "required"),
        (["vercel", "token=x123456789", "colour=blue"], "unknown field"),
        (["nosuch", "a=b"], "unknown integration"),
    ],
)
def test_invalid_input_is_refused_and_nothing_written(args: list[str], needle: str, _isolated_store: Path) -> None:
    out = run_cli("integrations", "set", *args)
    assert out.returncode != 0
    assert needle in (out.stdout + out.stderr).lower()
    assert not _isolated_store.exists()
    j = run_cli("integrations", "set", *args, "--json")
    assert j.returncode != 0
    assert json.loads(j.stdout)["ok"] is False


def test_enable_disable(_isolated_store: Path) -> None:
    assert run_cli("integrations", "disable", "sentry").returncode == 0
    data = {p["id"]: p for p in json.loads(run_cli("integrations", "list", "--json").stdout)}
    assert data["sentry"]["enabled"] is False and data["vercel"]["enabled"] is True
    assert run_cli("integrations", "enable", "sentry").returncode == 0
    data = {p["id"]: p for p in json.loads(run_cli("integrations", "list", "--json").stdout)}
    assert data["sentry"]["enabled"] is True


def test_env_override_applies_without_being_stored(_isolated_store: Path) -> None:
    env = {"DEVTRACK_SENTRY_TOKEN": "sntrys_from_env_0123456789", "DEVTRACK_SENTRY_ORG": "acme"}
    data = {p["id"]: p for p in json.loads(run_cli("integrations", "list", "--json", env=env).stdout)}
    assert data["sentry"]["configured"] is True
    show = json.loads(run_cli("integrations", "show", "sentry", "--json", env=env).stdout)
    assert show["env_overrides"] == ["org", "token"]
    # A write for another field does not persist the env values.
    assert run_cli("integrations", "set", "sentry", "project=web", env=env).returncode == 0
    stored = json.loads(_isolated_store.read_text())["integrations"]["sentry"]["credentials"]
    assert stored == {"project": "web"}
    data = {p["id"]: p for p in json.loads(run_cli("integrations", "list", "--json").stdout)}
    assert data["sentry"]["configured"] is False


def test_test_exits_1_on_failure_and_records_result(_isolated_store: Path) -> None:
    out = run_cli("integrations", "test", "supabase", "--json")
    assert out.returncode == 1
    res = json.loads(out.stdout)
    assert res["id"] == "supabase" and res["ok"] is False and res["status"] == "config"
    # issue 14: every test entry names its connection (id) and its plugin
    assert {"id", "plugin", "ok", "status", "message", "elapsed_ms", "details"} == set(res) and res["plugin"] == "supabase"
    listed = {p["id"]: p for p in json.loads(run_cli("integrations", "list", "--json").stdout)}
    assert listed["supabase"]["last_tested"] is not None
    assert listed["supabase"]["test_result"]["status"] == "config"
    many = run_cli("integrations", "test", "--all", "--json")
    assert many.returncode == 1
    assert [r["id"] for r in json.loads(many.stdout)] == IDS


def test_test_needs_id_or_all() -> None:
    out = run_cli("integrations", "test")
    assert out.returncode == 2


def test_corrupt_file_gives_clear_error_and_stays_unchanged(_isolated_store: Path) -> None:
    garbage = b'{"version": 1, "integrations": {"vercel": \x00 nope'
    _isolated_store.write_bytes(garbage)
    for args in (["set", "vercel", f"token={TOKEN}"], ["list"], ["enable", "vercel"],
                 ["test", "--all"], ["unset", "vercel"], ["set", "vercel", f"token={TOKEN}", "--json"]):
        out = run_cli("integrations", *args)
        assert out.returncode == 1, args
        text = out.stdout + out.stderr
        assert "not valid JSON" in text and str(_isolated_store) in text
        assert _isolated_store.read_bytes() == garbage


def test_newer_schema_is_refused_unchanged(_isolated_store: Path) -> None:
    body = b'{"version": 99, "integrations": {}}'
    _isolated_store.write_bytes(body)
    out = run_cli("integrations", "set", "vercel", f"token={TOKEN}")
    assert out.returncode == 1 and "newer DevTrack" in out.stderr
    assert _isolated_store.read_bytes() == body


def test_world_readable_file_warns(_isolated_store: Path) -> None:
    assert run_cli("integrations", "set", "vercel", f"token={TOKEN}").returncode == 0
    os.chmod(_isolated_store, 0o644)
    out = run_cli("integrations", "list")
    assert "readable by other users" in out.stderr


HEAVY = ("httpx", "boto3", "botocore", "fastapi", "starlette", "uvicorn", "jinja2")


def _run_main(*argv: str, watch: tuple[str, ...] = HEAVY) -> tuple[list[str], list[str], str]:
    """Run the console entry point in a fresh interpreter: its devtrack.cli modules, which of
    the ``watch`` modules it imported, its stdout."""
    import subprocess

    code = (
        "import sys\n"
        f"sys.argv = ['devtrack', *{list(argv)!r}]\n"
        "from devtrack.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('devtrack.cli.')), file=sys.stderr)\n"
        f"print('HEAVY', [m for m in {watch!r} if m in sys.modules], file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = dict(line.split(" ", 1) for line in out.stderr.splitlines() if line.startswith(("LOADED", "HEAVY")))
    assert set(lines) == {"LOADED", "HEAVY"}, out.stderr
    return ast.literal_eval(lines["LOADED"]), ast.literal_eval(lines["HEAVY"]), out.stdout


def test_list_imports_nothing_heavy() -> None:
    _, heavy, stdout = _run_main("integrations", "list", "--json")
    assert heavy == [] and len(json.loads(stdout)) >= 8


def test_list_imports_neither_git_nor_gh_nor_other_commands() -> None:
    """Listing reads the store and the plugins' light metadata: no git or gh layer (the GitHub
    plugin only looks for a ``.git``), no typer, pydantic, rich or plugin module, no command
    module but the fast path's."""
    watch = ("devtrack.github.service", "devtrack.github.git", "devtrack.github.gh", "rich", "typer", "pydantic",
             "devtrack.integrations.contract", "devtrack.integrations.plugins.vercel")
    loaded, heavy, stdout = _run_main("integrations", "list", "--json", watch=watch)
    assert loaded == ["devtrack.cli.app", "devtrack.cli.fastlist"]
    assert heavy == [] and [p["id"] for p in json.loads(stdout)][:2] == ["github", "vercel"]


def test_version_imports_no_framework() -> None:
    """``--version`` is answered before typer, rich, pydantic or any plugin is imported."""
    watch = ("typer", "click", "rich", "pydantic", "devtrack.integrations", "devtrack.credentials", *HEAVY)
    loaded, heavy, stdout = _run_main("--version", watch=watch)
    assert loaded == ["devtrack.cli.app"] and heavy == []
    assert stdout.strip().startswith("devtrack ")


def test_a_command_loads_only_its_own_cli_module() -> None:
    """``devtrack status`` must not pay for the web app, the AI proxy, the sandbox or git."""
    loaded, heavy, stdout = _run_main("status", "--json")
    assert loaded == ["devtrack.cli.app", "devtrack.cli.console", "devtrack.cli.output", "devtrack.cli.tree",
                      "devtrack.cli.views"]
    assert heavy == [] and json.loads(stdout)["ok"] is True
    # Help and a mistyped command still see every command.
    full = run_cli("--help")
    for name in ("integrations", "git", "views", "status", "serve", "ai", "sandbox", "init"):
        assert name in full.stdout
    typo = run_cli("statsu")
    assert typo.returncode != 0 and "No such command" in typo.stderr


def test_version() -> None:
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("devtrack ")
