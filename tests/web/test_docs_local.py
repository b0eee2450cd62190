"""``/docs`` runs Swagger UI from DevTrack's own origin: no CDN script, no third-party host in any CSP.

A script from a CDN runs with this origin's rights (it could read the CSRF token and call the
API), so the page, its assets and its policy are checked over a real socket, and the page is
rendered in Chromium under that policy.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
from playwright.sync_api import expect

from devtrack.web.server import ServerThread

from .. import webauth
from .browser import browser, page  # noqa: F401 (fixtures)

HOST_IN_CSP = re.compile(r"\b(?:https?|wss?):|//|\*\.")


class Assets(HTMLParser):
    """Every URL the page makes the browser load (scripts, styles, icons, images, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append(a["src"] or "")
        elif tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "icon", "preload", "modulepreload"):
            self.urls.append(a["href"] or "")
        elif tag in ("img", "iframe", "source") and a.get("src"):
            self.urls.append(a["src"] or "")


def test_docs_page_loads_only_same_origin_assets(server: ServerThread) -> None:
    resp = httpx.get(server.url + "/docs", headers=webauth.BEARER)
    assert resp.status_code == 200
    parser = Assets()
    parser.feed(resp.text)
    scripts = [u for u in parser.urls if u.endswith(".js")]
    assert len(scripts) >= 2 and any("swagger-ui-bundle" in u for u in scripts), parser.urls
    for url in parser.urls:
        if url.startswith("data:"):
            continue
        assert url.startswith("/") and not url.startswith("//"), f"{url} is not on DevTrack's origin"
        asset = httpx.get(server.url + url, headers=webauth.BEARER)
        assert asset.status_code == 200, url
        kind = "javascript" if url.endswith(".js") else "css"
        assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 1000 or url in ("/static/docs.js", "/static/docs.css"), url  # ours are small


def test_only_swagger_ui_files_the_page_uses_are_served(server: ServerThread) -> None:
    """The package also ships an index.html with inline script and an OAuth redirect page: not served."""
    for name in ("index.html", "oauth2-redirect.html", "swagger-initializer.js", "../__init__.py",
                 "%2e%2e%2f__init__.py", "swagger-ui-bundle.js.map"):
        assert httpx.get(f"{server.url}/static/swagger-ui/{name}", headers=webauth.BEARER).status_code == 404, name


def test_no_page_allows_a_third_party_host(server: ServerThread) -> None:
    for path in ("/docs", "/settings/integrations", "/login", "/openapi.json", "/static/swagger-ui/swagger-ui.css"):
        csp = httpx.get(server.url + path, headers=webauth.BEARER).headers["content-security-policy"]
        assert not HOST_IN_CSP.search(csp), (path, csp)
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (path, csp)


def test_docs_page_renders_the_operations_in_chromium(page: Any, server: ServerThread) -> None:  # noqa: F811
    """Under the page's own CSP (the fixture fails on any console error, CSP violations included)."""
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url))
    webauth.login(page, server.url, "/docs")
    ops = page.locator(".opblock")
    expect(ops.first).to_be_visible(timeout=15000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/integrations/{plugin_id}/test").first
           ).to_be_visible()
    assert ops.count() >= 8
    # Try one call from the page: the UI's own request goes to this origin (connect-src 'self').
    session = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/api/v1/session"))
    session.locator(".opblock-summary").click()
    session.get_by_role("button", name="Try it out").click()
    session.get_by_role("button", name="Execute").click()
    expect(session.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(session.locator(".live-responses-table")).to_contain_text("csrf_token")
    foreign = [u for u in loaded if not u.startswith(server.url) and not u.startswith("data:")]
    assert foreign == [], foreign
