"""``devtrack ai``: keys from stdin, masked listings, tests, status and the token alone on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devtrack.sandbox import Sandbox


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devtrack", "ai", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def _env(box: Sandbox, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_") and not k.endswith("_API_KEY")}
    overrides = {k: v for k, v in box.env().items() if not k.endswith("_API_KEY")}
    return base | overrides | {"DEVTRACK_CREDENTIALS": str(tmp_path / "c.json"), "NO_COLOR": "1", "COLUMNS": "200"}


def test_set_test_providers_status_and_token(box: Sandbox, keys: dict[str, str], tmp_path: Path) -> None:
    env = _env(box, tmp_path)
    out = _run(["set", "openai"], env, stdin=keys["openai"] + "\n")
    assert out.returncode == 0, out.stderr
    assert keys["openai"] not in out.stdout + out.stderr
    ok = _run(["test", "openai", "--json"], env)
    assert ok.returncode == 0 and json.loads(ok.stdout)["results"][0]["kind"] == "ok"

    env_bad = env | {"GEMINI_API_KEY": "AIza-wrong-key-0123456789"}
    bad = _run(["test", "google", "--json"], env_bad)
    assert bad.returncode == 1 and json.loads(bad.stdout)["results"][0]["kind"] == "auth"
    assert "AIza-wrong-key-0123456789" not in bad.stdout

    listing = json.loads(_run(["providers", "--json"], env_bad).stdout)["providers"]
    by_id = {p["id"]: p for p in listing}
    assert by_id["openai"]["source"] == "store" and by_id["openai"]["masked"].endswith(keys["openai"][-4:])
    assert by_id["google"]["source"] == "env:GEMINI_API_KEY" and by_id["anthropic"]["configured"] is False
    assert keys["openai"] not in json.dumps(listing)

    token = _run(["token"], env)
    assert token.returncode == 0 and token.stdout.count("\n") == 1 and token.stdout.startswith("dtp-")
    assert _run(["token"], env).stdout == token.stdout  # generated once
    assert _run(["token", "--rotate"], env).stdout != token.stdout

    helicone_key = box.emulator("helicone").good_key  # type: ignore[attr-defined]
    subprocess.run([sys.executable, "-m", "devtrack", "integrations", "set", "helicone", f"api_key={helicone_key}",
                    "org_id=org-cli"], env=env, capture_output=True, check=True, timeout=60)
    status = json.loads(_run(["status", "--json"], env).stdout)
    assert status["helicone"] == {"routed": True, "masked_key": status["helicone"]["masked_key"],
                                  "region": "us", "org_id": "org-cli"}
    assert helicone_key not in json.dumps(status)
    assert {p["provider"]: p["upstream"] for p in status["providers"]}["openai"] == env["DEVTRACK_HELICONE_OAI_BASE_URL"]
    subprocess.run([sys.executable, "-m", "devtrack", "integrations", "disable", "helicone"], env=env,
                   capture_output=True, check=True, timeout=60)
    assert json.loads(_run(["status", "--json"], env).stdout)["helicone"]["routed"] is False


def test_set_refuses_an_unknown_provider_and_removes(box: Sandbox, tmp_path: Path) -> None:
    env = _env(box, tmp_path)
    unknown = _run(["set", "mistral"], env, stdin="x\n")
    assert unknown.returncode == 1 and "unknown AI provider" in unknown.stderr
    _run(["set", "anthropic"], env, stdin="sk-ant-some-key-123456\n")
    removed = _run(["set", "anthropic", "--remove", "--json"], env)
    assert json.loads(removed.stdout)["provider"]["configured"] is False
