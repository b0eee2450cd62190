"""Web safety, as one table: rebinding Host, cross-origin POST, missing CSRF, non-loopback bind,
what ``/docs`` loads, a stored token that must not follow a changed base URL, what a client
of the AI proxy under ``/ai/`` cannot do with the keys, secrets that must neither leak
through an HTTP library's error nor break a JSON answer, request bodies read whole but capped,
and the credential store's own findings (store_rows.py): a row per finding of issue 13."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devtrack.ai.proxy_token import ensure_token
from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox, stalls
from devtrack.sandbox.openai_emulator import OpenAIEmulator
from devtrack.web.server import ServerThread
from tests import leakscan

from .. import webauth
from ..ai.watch import DisconnectWatch, raw_request
from ..core.listener import Listener
from .report import Row, write
from .store_rows import killed_save_row, piped_json_row, store_failure_rows, strict_rows

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def _docs_row(http: httpx.Client) -> Row:
    page = http.get("/docs")
    urls = [u for u in re.findall(r'(?:src|href)="([^"]+)"', page.text) if not u.startswith("data:")]
    foreign = [u for u in urls if not u.startswith("/") or u.startswith("//")]
    broken = [u for u in urls if u.startswith("/static/") and http.get(u).status_code != 200]
    hosts = re.findall(r"\b(?:https?|wss?)://\S+", page.headers["content-security-policy"])
    good = page.status_code == 200 and not foreign and not broken and not hosts
    answer = "same-origin only" if good else f"{len(foreign + hosts)} foreign, {len(broken)} broken"
    return ("/docs: Swagger UI assets and CSP hosts", answer, good)


def _rebind_row(http: httpx.Client, same: dict[str, str]) -> Row:
    """Anything that can save credentials points Sentry at its own listener, then tests."""
    token = "sntrys_owner_token_for_sentry_io_0123456789"
    leakscan.add_secrets(token)
    put = "/api/v1/integrations/sentry/credentials"
    http.put(put, headers=same, json={"values": {"token": token, "org": "acme"}})
    with Listener() as ear:
        r = http.put(put, headers=same, json={"values": {"base_url": ear.url}})
        http.post("/api/v1/integrations/sentry/test", headers=same)
        leaked = ear.received(token)
    cleared = r.json().get("cleared") if r.status_code == 200 else None
    answer = "token sent to the new host" if leaked else f"cleared {cleared}, listener got nothing"
    return ("Sentry base_url moved to a listener, no token given", answer, not leaked and cleared == ["token"])


def _proxy_rows(tmp_path: Path) -> list[Row]:
    """The AI proxy as ``devtrack serve`` mounts it, routed through the Helicone proxy emulator."""
    rows: list[Row] = []
    with Sandbox(["openai", "helicone", "helicone-proxy"], seed=3) as box:
        m = IntegrationManager(store=CredentialStore(tmp_path / "ai.json"), environ=box.env())
        m.set_credentials("helicone", {"api_key": box.emulator("helicone").good_key})  # type: ignore[attr-defined]
        auth = {"Authorization": f"Bearer {ensure_token(m.store)}"}
        with ServerThread(webauth.app(m)) as web:
            r = httpx.post(web.url + "/ai/openai/v1/chat/completions", json=CHAT,
                           headers={**auth, "Helicone-OpenAI-Api-Base": "https://evil.example"})
            moved = "helicone-openai-api-base" in dict(box.emulator("helicone-proxy").observed.last())  # type: ignore[attr-defined]
            rows.append(("AI proxy: client Helicone-OpenAI-Api-Base", "relayed" if moved else "dropped",
                         r.status_code == 200 and not moved))
            for target in ("/ai/openai/v1/../../x", "/ai/openai/v1/%2e%2e/%2e%2e/x"):
                before = sum(len(box.emulator(s).requests) for s in ("openai", "helicone-proxy"))
                status, _, _ = raw_request(web.url, target, auth)
                reached = sum(len(box.emulator(s).requests) for s in ("openai", "helicone-proxy")) > before
                rows.append((f"AI proxy: {target}", f"{status}{', sent upstream' if reached else ''}",
                             status in (400, 404) and not reached))
    return rows + [_hang_up_row(tmp_path)]


def _hang_up_row(tmp_path: Path) -> Row:
    """The model is silent for 8 s after its first token; the client leaves meanwhile."""
    clock = stalls.clock()
    emu = OpenAIEmulator(seed=13)
    emu.chunk_delay, emu.reply_words = 8.0, 3
    watch = DisconnectWatch(emu.app())
    with ServerThread(watch) as upstream:
        m = IntegrationManager(store=CredentialStore(tmp_path / "hangup.json"),
                               environ={"DEVTRACK_OPENAI_BASE_URL": upstream.url + "/v1", "OPENAI_API_KEY": emu.key})
        headers = {"Authorization": f"Bearer {ensure_token(m.store)}", "Connection": "close"}
        with ServerThread(webauth.app(m)) as web:
            with httpx.stream("POST", web.url + "/ai/openai/v1/chat/completions", json={**CHAT, "stream": True},
                              headers=headers) as resp:
                next(resp.iter_raw())
            left = time.perf_counter()
            closed = watch.wait_closed(13.0)
    took = clock.active(left, closed) if closed is not None else None
    answer = f"upstream closed in {took:.1f}s" if took is not None else "upstream kept going"
    return ("AI proxy: client hangs up, model silent", answer, took is not None and took < 2.0)


def _redaction_rows(tmp_path: Path) -> list[Row]:
    """Issue 13 I: a secret with a line break reaches no answer (env overrides are not checked
    when saved), and short secrets never break the JSON."""
    from devtrack.redact import encoded_forms, redactor

    halves = ("vercel_tok_WEBLINEBREAK01", "SECONDHALFWEB234")
    ai_halves = ("sk-proj-WEBLINEBREAK01", "AIKEYTAILWEB234")
    rows: list[Row] = []
    with Sandbox(["vercel", "openai"], seed=5) as box:
        env = box.env() | {"DEVTRACK_VERCEL_TOKEN": "\n".join(halves), "OPENAI_API_KEY": "\n".join(ai_halves)}
        m = IntegrationManager(store=CredentialStore(tmp_path / "linebreak.json"), environ=env)
        with ServerThread(webauth.app(m)) as web, webauth.client(web.url) as http:
            for case, path, secret in (
                ("token with a line break from DEVTRACK_VERCEL_TOKEN", "/api/v1/integrations/vercel/test", halves),
                ("AI key with a line break from OPENAI_API_KEY", "/api/v1/ai/providers/openai/test", ai_halves),
            ):
                r = http.post(path)
                kind = r.json().get("kind") if r.status_code == 200 else str(r.status_code)
                shown = [f for h in (*secret, "\n".join(secret)) for f in encoded_forms(h) if f in r.text]
                sent = sum(len(box.emulator(s).requests) for s in ("vercel", "openai"))
                rows.append((f"{case}: POST {path.rsplit('/', 2)[-2]} test",
                             f"{kind}, {'secret shown' if shown else 'secret not shown'}, {sent} sent",
                             kind == "config" and not shown and sent == 0))
    saved = redactor.secrets()
    try:
        m = IntegrationManager(store=CredentialStore(tmp_path / "short.json"), environ={})
        with ServerThread(webauth.app(m)) as web, webauth.client(web.url) as http:
            before = http.get("/api/v1/integrations").json()
            for secret in ("true", "null", "test"):
                http.put("/api/v1/integrations/sentry/credentials", json={"values": {"token": secret, "org": "acme"}})
            r = http.get("/api/v1/integrations")
            try:
                after = r.json()
                same = [sorted(p) for p in after] == [sorted(p) for p in before] and all(
                    isinstance(p["enabled"], bool) and isinstance(p["configured"], bool) for p in after)
                answer = "valid JSON, keys and booleans kept" if same else "keys or booleans changed"
            except ValueError:
                same, answer = False, "broken JSON"
            rows.append(("secrets true/null/test stored: GET /api/v1/integrations", answer, same))
    finally:  # the short secrets would mask ordinary words in later tests of this process
        redactor.clear()
        redactor.add(*saved)
    return rows


def _cli_markup_row(tmp_path: Path) -> Row:
    """Issue 13 H: a stored value written as Rich markup is printed as text by the CLI, on a
    colour terminal too: no style, no live OSC 8 hyperlink, no crash after saving."""
    value = "[link=https://evil.example]click[/link] [/x]"
    env = {**os.environ, "DEVTRACK_CREDENTIALS": str(tmp_path / "markup.json"), "FORCE_COLOR": "1", "COLUMNS": "200"}
    runs = [subprocess.run([sys.executable, "-m", "devtrack", "integrations", *args], capture_output=True,
                           text=True, timeout=60, env=env)
            for args in (("set", "sentry", "token=sntrys_markuprow0123456789", f"org={value}"), ("show", "sentry"))]
    link = any("\x1b]8;" in r.stdout + r.stderr for r in runs)
    good = all(r.returncode == 0 for r in runs) and value in runs[1].stdout and not link
    answer = "live link" if link else "printed as text" if good else "exit " + "/".join(str(r.returncode) for r in runs)
    return ("CLI: stored value with [link=…] and [/x] markup", answer, good)


def _raw(base: str, head: str, body: bytes = b"", wait: float = 30.0) -> str:
    """What the server answers a raw request (``""``: it hung up without a word)."""
    url = httpx.URL(base)
    with socket.create_connection((url.host, url.port), timeout=wait) as sock:
        sock.sendall(head.encode() + body)
        try:
            return sock.recv(65536).decode("latin-1")
        except (ConnectionResetError, TimeoutError):
            return "no answer"


def _long_form_row(http: httpx.Client, m: IntegrationManager, base: str, csrf: str) -> Row:
    """The settings form as a logged-in browser posts it: a 200 KiB field, then another one
    (the CSRF check once handed on only the first 64 KiB, so both were lost or cut short)."""
    long, token = "t" * (200 * 1024), "vercel_tok_LONGFORMROW0123456789"
    leakscan.add_secrets(token)
    r = http.post("/settings/integrations/vercel/credentials", headers={"Origin": base},
                  data={"csrf_token": csrf, "team_id": long, "token": token})
    saved = m.stored_credentials("vercel")
    kept = [k for k, v in (("team_id", long), ("token", token)) if saved.get(k) == v]
    answer = f"{r.status_code}, saved whole: {', '.join(kept) or 'nothing'}"
    return ("form: 200 KiB field, then another field", answer, r.status_code == 303 and len(kept) == 2)


def _access_and_limit_rows(tmp_path: Path) -> list[Row]:
    """Issue 13 G: loopback needs the access token; bodies are capped before they are read;
    a client that never finishes its headers is hung up on."""
    m = IntegrationManager(store=CredentialStore(tmp_path / "limits.json"), environ={})
    rows: list[Row] = []
    with ServerThread(webauth.app(m), header_timeout=1.0) as web, httpx.Client(base_url=web.url) as http:
        r = http.get("/api/v1/session")
        rows.append(("loopback, no access token: GET /api/v1/session", str(r.status_code), r.status_code == 401))
        r = http.get("/login", params={"token": "dta-guess"})
        rows.append(("loopback, guessed login link", str(r.status_code), r.status_code == 401))
        http.get(webauth.login_url(web.url))
        csrf = http.get("/api/v1/session").json()["csrf_token"]
        rows.append(_long_form_row(http, m, web.url, csrf))
        host = web.url.removeprefix("http://")
        cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        head = (f"PUT /api/v1/integrations/sentry/credentials HTTP/1.1\r\nHost: {host}\r\nOrigin: {web.url}\r\n"
                f"Cookie: {cookies}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: application/json\r\n")
        answer = _raw(web.url, head + f"Content-Length: {200 * 1024 * 1024}\r\n\r\n")
        rows.append(("200 MB body declared, CSRF token valid, none sent", answer[:12] or "hung up",
                     answer.startswith("HTTP/1.1 413")))
        piece = b"x" * 65536
        answer = _raw(web.url, head + "Transfer-Encoding: chunked\r\n\r\n",
                      b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(17)))
        rows.append(("chunked body past 1 MiB, never finished", answer[:12] or "hung up",
                     answer.startswith("HTTP/1.1 413")))
        answer = _raw(web.url, "GET /api/v1/integ")
        rows.append(("half a request line, then silence (1 s deadline)", answer or "hung up", answer == ""))
    return rows


def test_web_safety_cases(tmp_path: Path) -> None:
    manager = IntegrationManager(store=CredentialStore(tmp_path / "c.json"), environ={})
    rows: list[Row] = []
    with ServerThread(webauth.app(manager)) as server:
        base = server.url
        port = base.rsplit(":", 1)[1]
        with httpx.Client(base_url=base) as http:
            http.get(webauth.login_url(base))  # a browser that logged in: cookie, so CSRF applies
            csrf = http.get("/api/v1/session").json()["csrf_token"]
            same = {"Origin": base, "X-CSRF-Token": csrf}
            ok = http.post("/api/v1/integrations/sentry/disable", headers=same)
            rows.append(("same-origin POST with CSRF token (control)", str(ok.status_code), ok.status_code == 200))
            r = http.get("/api/v1/integrations", headers={"Host": f"attacker.example:{port}"})
            rows.append(("DNS rebinding: foreign Host header", str(r.status_code), r.status_code == 421))
            r = http.post("/api/v1/integrations/sentry/enable",
                          headers={"Origin": "http://attacker.example", "X-CSRF-Token": csrf})
            rows.append(("cross-origin POST", str(r.status_code), r.status_code == 403))
            r = http.post("/api/v1/integrations/sentry/enable", headers={"Origin": base})
            rows.append(("POST without CSRF token", str(r.status_code), r.status_code == 403))
            r = http.options("/api/v1/integrations", headers={"Origin": "http://attacker.example",
                                                              "Access-Control-Request-Method": "POST"})
            no_cors = not any(h.lower().startswith("access-control-") for h in r.headers)
            rows.append(("CORS preflight from another origin", "no CORS headers" if no_cors else "CORS!", no_cors))
            rows.append(_docs_row(http))
            rows.append(_rebind_row(http, same))
        assert manager.is_enabled("sentry") is False  # none of the refused requests changed anything
    env = {k: v for k, v in os.environ.items() if k != "DEVTRACK_ACCESS_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "devtrack", "serve", "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, timeout=60, env=env)
    rows.append(("bind 0.0.0.0 without an access token", f"exit {proc.returncode}", proc.returncode != 0))
    rows += _access_and_limit_rows(tmp_path)
    rows.append(_cli_markup_row(tmp_path))
    rows.append(piped_json_row(tmp_path))
    rows.append(killed_save_row(tmp_path))
    rows += store_failure_rows(tmp_path)
    rows += strict_rows(tmp_path)
    rows += _proxy_rows(tmp_path)
    rows += _redaction_rows(tmp_path)
    wc, wa = max(len(r[0]) for r in rows) + 1, max(len(r[1]) for r in rows) + 1
    table = ["web safety", f"{'case':<{wc}} {'answer':<{wa}} result"]
    table += [f"{case:<{wc}} {answer:<{wa}} {'SKIP' if good is None else 'PASS' if good else 'FAIL'}"
              for case, answer, good in rows]
    write("web-safety", "\n".join(table))
    assert all(good is not False for _, _, good in rows), table
