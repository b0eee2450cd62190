"""The access token the suite's web servers require, and clients that carry it.

``devtrack serve`` always requires an access token (loopback too: other accounts on the
machine reach 127.0.0.1), so every test builds the app the same way: :func:`app`. Scripts send
``Authorization: Bearer`` (:func:`client`); browsers log in through the link ``devtrack serve``
prints (:func:`login`), which sets the login cookie, so their forms still go through the CSRF
checks. The token is one per test run and in the leak scan: no page, log or output may show it.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import httpx

from tests import leakscan

TOKEN = "dta-suite-" + secrets.token_urlsafe(24)
BEARER = {"Authorization": f"Bearer {TOKEN}"}
leakscan.add_secrets(TOKEN)


def app(manager: Any = None, **kw: Any) -> Any:
    """``create_app`` as ``devtrack serve`` calls it: every request needs :data:`TOKEN`."""
    from devtrack.web import create_app

    return create_app(manager, access_token=TOKEN, **kw)


def client(base_url: str, **kw: Any) -> httpx.Client:
    """An httpx client that sends the token as a script does (no CSRF token needed then)."""
    headers = {**BEARER, **kw.pop("headers", {})}
    return httpx.Client(base_url=base_url, headers=headers, **kw)


def login_url(base_url: str, path: str = "/", token: str = TOKEN) -> str:
    """The link that logs a browser in and lands on ``path``."""
    return f"{base_url.rstrip('/')}/login?token={quote(token, safe='')}&next={quote(path, safe='/')}"


def login(page: Any, base_url: str, path: str = "/") -> None:
    """Log a Playwright page in (the cookie stays in its context) and open ``path``."""
    page.goto(login_url(base_url, path))
