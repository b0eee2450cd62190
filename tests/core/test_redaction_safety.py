"""Redaction that never corrupts output, and HTTP errors that cannot leak a secret (issue 13 I).

1. A token with a line break (from ``DEVTRACK_<PLUGIN>_<FIELD>``, ``OPENAI_API_KEY`` or a
   hand-edited file) made httpx's "Illegal header value b'Bearer …\\n…'" quote it whole, and
   the escaped form slipped past redaction into ``integrations test``, ``views refresh``,
   ``status`` and the snapshot store. Now the HTTP layer refuses such a header before httpx
   sees it, naming the credential, and the redactor masks escaped forms and pieces anyway.
2. A 4-character secret ("true", "null", "test") was masked inside serialised JSON, renaming
   keys and breaking ``--json`` and ``/api/v1/integrations``; one spelled like a result kind
   ("network") crashed ``integrations test``. Structures are now masked by value.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import zlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import ResultKind
from devtrack.integrations.http import HttpError, ServiceClient, header_problem
from devtrack.integrations.manager import IntegrationManager
from devtrack.redact import MASK, Redactor, encoded_forms, redactor, safe_str
from devtrack.sandbox import Sandbox
from devtrack.web.server import ServerThread

from .. import leakscan, webauth
from .helpers import json_shape, json_strings, run_cli

HALVES = ("vercel_tok_LINEBREAK0123", "SECONDHALF4567xyz")
BROKEN = "\n".join(HALVES)
AI_HALVES = ("sk-proj-LINEBREAK0123", "AIKEYTAIL4567xyz")


@pytest.fixture
def own_redactor() -> Iterator[None]:
    """Short secrets registered in this process (the web app runs in it) would mask ordinary
    words in later tests; put the redactor back as it was."""
    saved = redactor.secrets()
    yield
    redactor.clear()
    redactor.add(*saved)


def _spellings(*secrets: str) -> set[str]:
    """Every way a secret (or a piece of it) could show: plain, encoded and escaped."""
    return {f for s in secrets for f in encoded_forms(s) if len(f) >= 8}


def _assert_hidden(texts: dict[str, str], *secrets: str) -> None:
    for where, text in texts.items():
        for form in _spellings(*secrets):
            assert form not in text, f"{where} shows {form[:12]}…: {text[:400]!r}"


def _snapshot_texts(db: Path) -> dict[str, str]:
    """The snapshot database as stored: raw file bytes, each error, each decompressed payload."""
    out = {"snapshot db file": db.read_bytes().decode("utf-8", "replace")}
    with sqlite3.connect(db) as con:
        for i, (error,) in enumerate(con.execute("SELECT error FROM snapshots")):
            out[f"snapshot error {i}"] = error or ""
        for i, (body,) in enumerate(con.execute("SELECT body FROM payloads")):
            out[f"snapshot payload {i}"] = zlib.decompress(body).decode("utf-8", "replace")
        for i, (body,) in enumerate(con.execute("SELECT body FROM plugin_state")):
            out[f"plugin state {i}"] = body
    return out


# ---------------------------------------------------------------------- 1. line breaks in secrets


def test_env_token_with_a_line_break_is_refused_by_name_and_shown_nowhere(
        sb: Sandbox, tmp_path: Path, _isolated_store: Path) -> None:
    db = tmp_path / "snapshots.db"
    env = sb.env() | {"DEVTRACK_VERCEL_TOKEN": BROKEN, "DEVTRACK_STORE_URL": f"sqlite:///{db}"}
    tested = run_cli("integrations", "test", "vercel", "--json", env=env, cwd=tmp_path)
    result = json.loads(tested.stdout)
    assert tested.returncode == 1 and result["ok"] is False and result["status"] == "config"
    # Named, not quoted: which credential, what is wrong with it, what to do.
    message = result["message"]
    assert "token" in message.lower() and "line break" in message and "enter" in message
    # Refused by the credential check (then counted as not configured) or by the HTTP layer
    # (then a config failure): either way no fetch goes out and nothing shows the token.
    refreshed = run_cli("views", "refresh", env=env, cwd=tmp_path)
    assert refreshed.returncode in (0, 1) and "Traceback" not in refreshed.stderr
    assert "vercel" not in refreshed.stdout or "vercel: config" in refreshed.stdout
    status = run_cli("status", env=env, cwd=tmp_path)
    assert status.returncode == 0 and "Traceback" not in status.stderr
    assert sb.emulator("vercel").requests.count() == 0  # nothing was sent with the broken header
    texts = {f"{name} {stream}": text for name, proc in (("test", tested), ("refresh", refreshed), ("status", status))
             for stream, text in (("stdout", proc.stdout), ("stderr", proc.stderr))}
    texts |= _snapshot_texts(db)
    if _isolated_store.exists():
        texts["credential file test_result"] = json.dumps(
            json.loads(_isolated_store.read_text())["integrations"].get("vercel", {}).get("test_result"))
    _assert_hidden(texts, BROKEN, *HALVES)


def test_ai_key_with_a_line_break_from_the_environment_is_refused_by_name(sb: Sandbox, tmp_path: Path) -> None:
    """No credential validation stands before an AI key taken from ``OPENAI_API_KEY``: only
    the HTTP layer refuses it, naming the variable it came from."""
    env = sb.env() | {"OPENAI_API_KEY": "\n".join(AI_HALVES)}
    before = sb.emulator("openai").requests.count()
    tested = run_cli("ai", "test", "openai", "--json", env=env, cwd=tmp_path)
    result = json.loads(tested.stdout)["results"][0]
    assert tested.returncode == 1 and result["kind"] == "config", tested.stdout
    assert "OPENAI_API_KEY" in result["message"] and "line break (U+000A)" in result["message"]
    assert "re-enter it" in result["message"]
    assert sb.emulator("openai").requests.count() == before
    providers = run_cli("ai", "providers", "--json", env=env, cwd=tmp_path)
    _assert_hidden({"ai test": tested.stdout + tested.stderr, "ai providers": providers.stdout + providers.stderr},
                   "\n".join(AI_HALVES), *AI_HALVES)


@pytest.mark.parametrize("token, problem", [
    ("tok_with\ttab_0123456789", "a tab (U+0009)"),
    ("tok_with\x00nul_0123456789", "a control character (U+0000)"),
    ("tok_pasted••••_0123456789", "a non-ASCII character (U+2022)"),
])
def test_service_client_refuses_an_unsendable_header_before_anything_is_sent(
        sb: Sandbox, token: str, problem: str) -> None:
    vercel = sb.emulator("vercel")

    async def call() -> HttpError:
        async with ServiceClient("vercel", vercel.url, service="Vercel",
                                 headers={"Authorization": f"Bearer {token}"}, secrets=[token]) as c:
            with pytest.raises(HttpError) as info:
                await c.get_json("/v2/user")
            assert c.requests_sent == 0
            return info.value

    err = asyncio.run(call())
    assert err.kind == ResultKind.CONFIG
    assert err.message.startswith(f"The Vercel token contains {problem}") and "re-enter it" in err.message
    assert token not in err.message and token.split("_")[1] not in err.message
    assert vercel.requests.count() == 0


def test_surrounding_spaces_are_stripped_not_sent(sb: Sandbox) -> None:
    """httpx refuses a trailing space too, quoting the token; the layer strips it instead."""
    vercel = sb.emulator("vercel")
    token = sb.credentials()["vercel"]["token"]

    async def call() -> Any:
        async with ServiceClient("vercel", vercel.url, service="Vercel",
                                 headers={"Authorization": f"Bearer {token} "}, secrets=[token]) as c:
            return await c.get_json("/v2/user")

    assert "user" in asyncio.run(call())
    assert header_problem(f"Bearer {token} ") is None


def test_an_http_library_error_quoting_a_secret_escaped_is_masked(sb: Sandbox) -> None:
    """The second line of defence, against httpx itself (the layer above is bypassed here):
    its error quotes the header as a bytes repr, ``b'Bearer …\\n…'``."""
    red = Redactor()
    red.add(BROKEN)

    async def send() -> Exception:
        async with httpx.AsyncClient() as client:
            try:
                await client.get(sb.emulator("vercel").url + "/v2/user", headers={"Authorization": f"Bearer {BROKEN}"})
            except httpx.HTTPError as exc:
                return exc
        raise AssertionError("httpx sent a header with a line break")

    exc = asyncio.run(send())
    raw = str(exc)
    assert HALVES[0] in raw and "\\n" in raw  # what an unmasked message would show
    for text in (red(raw), red(repr(raw)), red(json.dumps(raw)), red(json.dumps(json.dumps(raw)))):
        assert HALVES[0] not in text and HALVES[1] not in text and MASK in text
    redactor.add(BROKEN)  # what the credential store does for every secret it hands out
    assert HALVES[0] not in safe_str(exc) and HALVES[1] not in safe_str(exc)


def test_the_leak_scan_finds_escaped_secrets_and_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan that guards the whole suite sees what the redactor must mask."""
    monkeypatch.setattr(leakscan, "COLLECTED", defaultdict(list))
    monkeypatch.setattr(leakscan, "EXTRA_SECRETS", {BROKEN})
    leakscan.record("cli output", f"Illegal header value {(b'Bearer ' + BROKEN.encode())!r}")
    leakscan.record("store files", json.dumps({"message": f"half: {HALVES[1]}"}))
    leakscan.record("web responses", f"masked: {MASK}")
    _, leaks, _ = leakscan.scan()
    assert len(leaks) == 2 and {leak.split(":")[0] for leak in leaks} == {"cli output", "store files"}


# ---------------------------------------------------------------------- 2. short secrets


@pytest.mark.parametrize("secret", ["true", "null", "test", "network"])
def test_a_short_secret_never_breaks_cli_json(secret: str, tmp_path: Path) -> None:
    baseline = run_cli("integrations", "list", "--json")
    saved = run_cli("integrations", "set", "sentry", f"token={secret}", "org=acme", "--json")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert json.loads(saved.stdout)["ok"] is True
    env = {"DEVTRACK_SENTRY_BASE_URL": "http://127.0.0.1:9"}  # refused at once: a failing test
    tested = run_cli("integrations", "test", "sentry", "--json", env=env)
    assert tested.returncode == 1 and "Traceback" not in tested.stderr, tested.stderr
    result = json.loads(tested.stdout)
    assert result["ok"] is False and result["id"] == "sentry"
    listed = run_cli("integrations", "list", "--json")
    shown = run_cli("integrations", "show", "sentry", "--json")
    data = json.loads(listed.stdout)
    before = json.loads(baseline.stdout)
    sentry = next(p for p in data if p["id"] == "sentry")
    assert sentry["configured"] is True and sentry["enabled"] is True and sentry["test_result"]["ok"] is False
    others = [p for p in data if p["id"] != "sentry"]
    assert json_shape(others) == json_shape([p for p in before if p["id"] != "sentry"])
    assert set(sentry) == set(next(p for p in before if p["id"] == "sentry"))
    for doc in (data, result, json.loads(shown.stdout)):
        assert secret not in json_strings(doc)


def test_a_short_secret_never_breaks_the_web_api(tmp_path: Path, own_redactor: None) -> None:
    manager = IntegrationManager(store=CredentialStore(tmp_path / "c.json"), environ={})
    with ServerThread(webauth.app(manager)) as server, webauth.client(server.url) as http:
        before = http.get("/api/v1/integrations").json()
        for secret in ("true", "null", "test"):
            put = http.put("/api/v1/integrations/sentry/credentials", json={"values": {"token": secret, "org": "acme"}})
            assert put.status_code == 200 and put.json()["ok"] is True, put.text
        # All three stay registered until the server restarts; none may touch the JSON.
        listed = http.get("/api/v1/integrations")
        one = http.get("/api/v1/integrations/sentry")
        data = json.loads(listed.text)
        others = [p for p in data if p["id"] != "sentry"]
        assert json_shape(others) == json_shape([p for p in before if p["id"] != "sentry"])
        sentry = next(p for p in data if p["id"] == "sentry")
        assert sentry["configured"] is True and isinstance(sentry["enabled"], bool)
        shown = json.loads(one.text)
        assert shown["credentials"]["org"] == "acme"
        for doc in (data, shown):
            assert not {"true", "null", "test"} & set(json_strings(doc))


def test_text_masks_short_secrets_as_words_and_never_json_syntax() -> None:
    red = Redactor()
    red.add("true", "null", "test", "1234", "abc1")
    doc = {"test": "test", "ok": True, "test_result": None, "n": 1234.5, "m": -1234, "k": [1234, "1234"],
           "msg": "a test passed; latest\ntest", "kind": "tested"}
    for text in (json.dumps(doc), json.dumps(doc, indent=2), json.dumps(doc, ensure_ascii=False)):
        masked = json.loads(red(text))
        assert json_shape(masked) == json_shape(doc)
        assert masked["test"] == MASK and masked["k"][1] == MASK and masked["kind"] == "tested"
        assert masked["msg"] == f"a {MASK} passed; latest\n{MASK}"
    assert red("token: true; pin=1234, ok") == f"token: {MASK}; pin={MASK}, ok"
    assert red("attestation contest abc12 xabc1") == "attestation contest abc12 xabc1"
    assert json.loads(red.dumps(doc)) == {**doc, "test": MASK, "k": [1234, MASK],
                                         "msg": f"a {MASK} passed; latest\n{MASK}"}
