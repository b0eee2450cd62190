"""Instances of a team behind one name: a browser logged in on one is logged in on every
instance on the same PostgreSQL store (the sessions' key comes from the store's secret), while
instances on their own SQLite stores keep their sessions to themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devtrack.views.store import open_store
from devtrack.web.security import AUTH_COOKIE, SESSION_COOKIE
from devtrack.web.views_routes import share_sessions
from tests import webauth


def _instance(url: str) -> Any:
    app = webauth.app()
    app.state.views.use_store(open_store(url))
    assert share_sessions(app) is None
    return app


def _logged_in(app: Any) -> dict[str, str]:
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.get(webauth.login_url("http://127.0.0.1", "/settings/integrations"), follow_redirects=False)
        c.get("/settings/integrations")  # a page gives the browser its session
        return {k: v for k, v in c.cookies.items() if k in (AUTH_COOKIE, SESSION_COOKIE)}


def _csrf(app: Any, cookies: dict[str, str]) -> str:
    with TestClient(app, base_url="http://127.0.0.1", cookies=cookies) as c:
        r = c.get("/api/v1/session")
        assert r.status_code == 200, r.text
        return str(r.json()["csrf_token"])


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_login_on_one_instance_works_on_the_other_only_on_a_shared_store(
        backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
        urls = [url, url]
    else:
        urls = [f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"]
    a, b = _instance(urls[0]), _instance(urls[1])
    cookies = _logged_in(a)
    assert AUTH_COOKIE in cookies
    with TestClient(b, base_url="http://127.0.0.1", cookies=cookies) as c:
        page = c.get("/settings/integrations", follow_redirects=False)
    shared = backend == "postgresql"
    assert (page.status_code == 200) is shared, page.status_code
    if shared:  # the CSRF token one instance gives is good on the other (a form posted via either)
        assert _csrf(a, cookies) == _csrf(b, cookies)
    for app in (a, b):
        app.state.views.store.close()
