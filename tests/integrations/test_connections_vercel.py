"""Two Vercel connections, a personal account and a team, set and read from the real CLI
against the sandbox's Vercel emulator (issue 14).

The emulator's token sees the personal account without ``teamId`` and the Acme team with it,
so one token gives two connections with different projects and deployments.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devtrack.sandbox import Sandbox

from ..core.helpers import run_cli


@pytest.fixture
def env(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The sandbox's base-URL overrides and an empty credentials file of this test's own."""
    for key in [k for k in os.environ if k.startswith("DEVTRACK_")]:
        monkeypatch.delenv(key)
    return sb.env() | {"DEVTRACK_CREDENTIALS": str(tmp_path / "credentials.json")}


def _cli(env: dict[str, str], *args: str) -> tuple[int, object]:
    out = run_cli("integrations", *args, "--json", env=env)
    assert out.stdout, out.stderr
    return out.returncode, json.loads(out.stdout)


def test_a_personal_and_a_team_connection_each_show_their_own_deployments(sb: Sandbox, env: dict[str, str]) -> None:
    emu = sb.emulator("vercel")
    acme = emu.teams[0]["id"]
    assert run_cli("integrations", "set", "vercel", f"token={emu.good_token}", env=env).returncode == 0
    out = run_cli("integrations", "set", "vercel:acme", f"token={emu.good_token}", f"team_id={acme}", env=env)
    assert out.returncode == 0, out.stderr
    assert "created the connection vercel:acme" in out.stdout

    for cid in ("vercel", "vercel:acme"):
        code, res = _cli(env, "test", cid)
        assert code == 0 and isinstance(res, dict), res
        assert res["ok"] is True and res["id"] == cid and res["plugin"] == "vercel", res
    code, tested = _cli(env, "test", "--all")
    by_id = {r["id"]: r for r in tested}  # type: ignore[union-attr]
    assert by_id["vercel"]["ok"] and by_id["vercel:acme"]["ok"]
    assert by_id["vercel:acme"]["plugin"] == "vercel"

    code, fetched = _cli(env, "data", "--all")
    assert code == 0, fetched
    entries = {d["id"]: d for d in fetched if d["plugin"] == "vercel"}  # type: ignore[union-attr]
    assert set(entries) == {"vercel", "vercel:acme"}
    personal = {p["id"] for p in emu.projects if p["accountId"] == emu.user_id}
    team = {p["id"] for p in emu.projects if p["accountId"] == acme}
    assert personal and team
    mine = {d["uid"] for d in emu.deployments if d["projectId"] in personal}
    theirs = {d["uid"] for d in emu.deployments if d["projectId"] in team}
    got_personal = {d["id"] for d in entries["vercel"]["records"]["deployments"]}
    got_team = {d["id"] for d in entries["vercel:acme"]["records"]["deployments"]}
    assert got_personal and got_personal <= mine
    assert got_team and got_team <= theirs
    assert not got_personal & got_team

    # list keeps one row per plugin; its connections say which were tested and how.
    code, listed = _cli(env, "list")
    vercel = next(p for p in listed if p["id"] == "vercel")  # type: ignore[union-attr]
    assert [c["id"] for c in vercel["connections"]] == ["vercel", "vercel:acme"]
    named = vercel["connections"][1]
    assert named["name"] == "acme" and named["label"] == "Vercel · acme"
    assert named["enabled"] and named["configured"] and named["test_result"]["ok"]
    assert named["last_tested"] is not None
    assert {"id", "name", "enabled", "configured", "last_tested", "test_result"} <= set(named)

    # show takes the connection id and shows only that connection's (masked) credentials.
    code, shown = _cli(env, "show", "vercel:acme")
    assert code == 0 and shown["id"] == "vercel:acme" and shown["plugin"] == "vercel"  # type: ignore[index]
    assert shown["credentials"]["team_id"] == acme  # type: ignore[index]
    code, shown = _cli(env, "show", "vercel")
    assert "team_id" not in shown["credentials"]  # type: ignore[index]


def test_a_connection_of_its_own_base_url_is_not_pointed_at_the_sandbox(sb: Sandbox, env: dict[str, str]) -> None:
    """DEVTRACK_VERCEL_BASE_URL points every connection at the sandbox unless one has its own."""
    emu = sb.emulator("vercel")
    for cid in ("vercel:one", "vercel:two"):
        assert run_cli("integrations", "set", cid, f"token={emu.good_token}", env=env).returncode == 0
    own = env | {"DEVTRACK_VERCEL__TWO__BASE_URL": "http://127.0.0.1:9"}  # nothing listens there
    code, one = _cli(own, "test", "vercel:one")
    assert code == 0 and one["ok"], one  # type: ignore[index]
    code, two = _cli(own, "test", "vercel:two")
    assert code == 1 and two["status"] == "network", two  # type: ignore[index]
