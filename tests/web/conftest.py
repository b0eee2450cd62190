"""Fixtures for the web app: a manager on a temp store with a test plugin, served for real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.integrations.registry import default_registry
from devtrack.web.server import ServerThread

from .. import webauth
from .echo import EchoIntegration, EchoService, PlainIntegration

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def echo() -> Iterator[EchoService]:
    with EchoService() as service:
        yield service


@pytest.fixture
def manager(tmp_path: Path, echo: EchoService) -> IntegrationManager:
    """The 8 built-ins plus the echo plugin, on a fresh store; the AI base URL is the echo service."""
    registry = default_registry(include_entry_points=False)
    registry.add("echo", EchoIntegration, origin="tests")
    registry.add("plain", PlainIntegration, origin="tests")
    environ = {"DEVTRACK_OPENAI_BASE_URL": f"{echo.url}/v1"}
    return IntegrationManager(CredentialStore(tmp_path / "credentials.json"), registry=registry, environ=environ)


@pytest.fixture
def server(manager: IntegrationManager) -> Iterator[ServerThread]:
    with ServerThread(webauth.app(manager)) as running:
        yield running


class ApiClient:
    """An httpx client that behaves like the app's own pages: logged in through the link
    ``devtrack serve`` prints (login cookie), session cookie, Origin, CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=20.0)
        assert self.http.get(webauth.login_url(base)).status_code == 303
        self.csrf = self.http.get("/api/v1/session").json()["csrf_token"]

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Origin": self.base, "X-CSRF-Token": self.csrf, **extra}

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = self.headers(**kw.pop("headers", {}))
        return self.http.request(method, path, headers=headers, **kw)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def api(server: ServerThread) -> Iterator[ApiClient]:
    client = ApiClient(server.url)
    yield client
    client.close()
