"""The safety rules over real sockets: rebinding, cross-origin, CSRF, headers, tokens, leaks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devtrack.integrations.manager import IntegrationManager
from devtrack.redact import mask
from devtrack.web import create_app
from devtrack.web.security import BindRefused, check_bind, is_loopback
from devtrack.web.server import ServerThread

from .conftest import ApiClient
from .echo import GOOD_AI_KEY, GOOD_TOKEN, EchoService

PAGES = ["/settings/integrations", "/settings/integrations/echo", "/settings/integrations/plain", "/settings/ai"]


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "10.0.0.7:{port}"])
def test_foreign_host_header_is_refused(api: ApiClient, host: str) -> None:
    """DNS rebinding: the attacker's page reaches 127.0.0.1 but still says its own Host."""
    host = host.format(port=_port(api.base))
    for path in ("/settings/integrations", "/api/v1/integrations", "/static/app.js"):
        r = api.http.get(path, headers={"Host": host})
        assert r.status_code == 421, (host, path)
        assert "test_result" not in r.text
    r = api.http.put("/api/v1/integrations/echo/credentials", headers=api.headers(Host=host),
                     json={"values": {"url": "http://127.0.0.1:9"}})
    assert r.status_code == 421


def test_loopback_host_names_are_allowed(api: ApiClient) -> None:
    port = _port(api.base)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert api.http.get("/api/v1/integrations", headers={"Host": host}).status_code == 200


def test_cross_origin_post_is_refused(api: ApiClient, manager: IntegrationManager) -> None:
    for origin in ("http://evil.example", "null", f"http://localhost.evil.example:{_port(api.base)}",
                   api.base.replace("127.0.0.1", "localhost").replace(_port(api.base), "1")):
        r = api.http.post("/api/v1/integrations/echo/disable", headers={"Origin": origin, "X-CSRF-Token": api.csrf})
        assert r.status_code == 403, origin
        assert r.json()["error"]["kind"] == "origin"
    # An opaque origin (sandboxed iframe) says null; only Fetch Metadata saying same-origin
    # (our own form under no-referrer; no page can set Sec-Fetch-*) makes null acceptable.
    for site in ("cross-site", "same-site", "none", None):
        headers = {"Origin": "null", "X-CSRF-Token": api.csrf} | ({"Sec-Fetch-Site": site} if site else {})
        r = api.http.post("/api/v1/integrations/echo/disable", headers=headers)
        assert r.status_code == 403, site
    # No Origin at all (an old browser, or a form submitted by a non-browser without auth): refused.
    r = api.http.post("/api/v1/integrations/echo/disable", headers={"X-CSRF-Token": api.csrf})
    assert r.status_code == 403
    assert manager.is_enabled("echo") is True
    # The same request from our own origin works: the refusals above were about the origin.
    assert api.send("POST", "/api/v1/integrations/echo/disable").status_code == 200
    assert manager.is_enabled("echo") is False


def test_missing_or_wrong_csrf_token_is_refused(api: ApiClient, manager: IntegrationManager, echo: EchoService) -> None:
    body = {"values": {"url": echo.url, "token": GOOD_TOKEN}}
    r = api.http.put("/api/v1/integrations/echo/credentials", headers={"Origin": api.base}, json=body)
    assert r.status_code == 403 and r.json()["error"]["kind"] == "csrf"
    r = api.http.put("/api/v1/integrations/echo/credentials", headers={"Origin": api.base, "X-CSRF-Token": "0" * 64}, json=body)
    assert r.status_code == 403
    # A token from another session does not fit this session's cookie.
    other = ApiClient(api.base)
    r = api.http.put("/api/v1/integrations/echo/credentials",
                     headers={"Origin": api.base, "X-CSRF-Token": other.csrf}, json=body)
    other.close()
    assert r.status_code == 403
    # HTML forms: the token travels in a form field.
    form = {"url": echo.url, "token": GOOD_TOKEN}
    r = api.http.post("/settings/integrations/echo/credentials", headers={"Origin": api.base}, data=form)
    assert r.status_code == 403
    assert manager.stored_credentials("echo") == {}
    r = api.http.post("/settings/integrations/echo/credentials", headers={"Origin": api.base},
                      data=form | {"csrf_token": api.csrf})
    assert r.status_code == 303
    assert manager.stored_credentials("echo")["token"] == GOOD_TOKEN


def test_security_headers_and_no_cors(api: ApiClient) -> None:
    for path in [*PAGES, "/api/v1/integrations", "/static/app.css", "/api/v1/missing"]:
        r = api.http.get(path, headers={"Origin": "http://evil.example"})
        h = r.headers
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, path
        assert h["x-frame-options"] == "DENY"
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert not any(k.lower().startswith("access-control-") for k in h), path
    r = api.http.options("/api/v1/integrations/echo/disable", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    refused = api.http.get("/", headers={"Host": "evil.example"})
    assert refused.headers["x-frame-options"] == "DENY"


def test_pages_have_no_inline_script_or_style(api: ApiClient) -> None:
    for path in PAGES:
        html = api.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (path, tag)
        assert all(not body.strip() for body in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)), path
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert not re.search(r"\sstyle\s*=", html) and "<style" not in html, path
        assert "javascript:" not in html


def test_setup_guide_is_rendered_safely(api: ApiClient) -> None:
    html = api.get("/settings/integrations/echo").text
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert '<a href="https://example.com/tokens"' in html and "<code>echo --token</code>" in html


def test_no_saved_secret_in_any_page_or_json(api: ApiClient, echo: EchoService, manager: IntegrationManager) -> None:
    api.send("PUT", "/api/v1/integrations/echo/credentials", json={"values": {"url": echo.url, "token": GOOD_TOKEN}})
    api.send("PUT", "/api/v1/ai/providers/openai/key", json={"api_key": GOOD_AI_KEY})
    api.send("POST", "/api/v1/integrations/echo/test")
    api.send("POST", "/api/v1/ai/providers/openai/test")
    assert manager.stored_credentials("echo")["token"] == GOOD_TOKEN  # it is stored, so the checks below mean something
    seen = ""
    for path in [*PAGES, "/api/v1/integrations", "/api/v1/integrations/echo", "/api/v1/integrations/echo/data",
                 "/api/v1/ai/providers", "/openapi.json"]:
        r = api.get(path)
        assert r.status_code == 200, path
        for secret in (GOOD_TOKEN, GOOD_AI_KEY):
            assert secret not in r.text, (path, secret)
        seen += r.text
    assert mask(GOOD_TOKEN) in seen and mask(GOOD_AI_KEY) in seen
    # Secret inputs are never pre-filled.
    html = api.get("/settings/integrations/echo").text
    for tag in re.findall(r'<input[^>]*type="password"[^>]*>', html):
        assert 'value=""' in tag


def test_check_bind_rules() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host)
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        assert not is_loopback(host)
        with pytest.raises(BindRefused):
            check_bind(host, None)
        check_bind(host, "a-token")


def _devtrack(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "devtrack.cli.app", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_serve_refuses_a_non_loopback_bind_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DEVTRACK_ACCESS_TOKEN"}
    proc = _devtrack("serve", "--host", "0.0.0.0", "--port", "0", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "refusing to listen on 0.0.0.0" in err and "DEVTRACK_ACCESS_TOKEN" in err
    assert "running at" not in out


def test_serve_with_a_token_requires_it_on_every_request(tmp_path: Path) -> None:
    token = "access-TOKEN-for-tests-7c1d"
    # The Vercel test below must fail fast on loopback, never reach the internet.
    env = dict(os.environ) | {"DEVTRACK_ACCESS_TOKEN": token, "DEVTRACK_VERCEL_BASE_URL": "http://127.0.0.1:9"}
    proc = _devtrack("serve", "--host", "0.0.0.0", "--port", "0", "--verbose", env=env)
    secret = "vercel_SECRET_in_body_8f7e6d5c"
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"http://0\.0\.0\.0:(\d+)/", line)
        assert m, line
        base = f"http://127.0.0.1:{m.group(1)}"
        with httpx.Client(base_url=base, timeout=20) as http:
            assert http.get("/api/v1/integrations").status_code == 401
            assert http.get("/api/v1/integrations", headers={"Authorization": "Bearer nope"}).status_code == 401
            r = http.get("/settings/integrations")
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
            ok = http.get("/api/v1/integrations", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and token not in ok.text
            # A script holding the token needs no CSRF token, but a foreign Origin is still refused.
            r = http.post("/api/v1/integrations/github/enable", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200
            r = http.post("/api/v1/integrations/github/enable",
                          headers={"Authorization": f"Bearer {token}", "Origin": "http://evil.example"})
            assert r.status_code == 403
            r = http.put("/api/v1/integrations/vercel/credentials", json={"values": {"token": secret}},
                         headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and secret not in r.text
            http.post("/api/v1/integrations/vercel/test", headers={"Authorization": f"Bearer {token}"})
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    logs = line + out + err
    assert "PUT /api/v1/integrations/vercel/credentials" in logs  # --verbose logged the requests...
    assert token not in logs and secret not in logs  # ...and no secret


def test_login_form_sets_a_cookie_that_is_not_the_token(manager: IntegrationManager) -> None:
    token = "another-ACCESS-token-42ab"
    with ServerThread(create_app(manager, access_token=token)) as srv, httpx.Client(base_url=srv.url) as http:
        page = http.get("/login")
        assert page.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
        bad = http.post("/login", data={"token": "wrong", "csrf_token": csrf, "next": "/settings/ai"},
                        headers={"Origin": srv.url})
        assert bad.status_code == 401 and "not right" in bad.text
        good = http.post("/login", data={"token": token, "csrf_token": csrf, "next": "//evil.example/"},
                         headers={"Origin": srv.url})
        assert good.status_code == 303 and good.headers["location"] == "/"
        assert token not in good.headers.get("set-cookie", "")
        assert http.get("/settings/integrations").status_code == 200
        assert http.get("/api/v1/integrations").status_code == 200
