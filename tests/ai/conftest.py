"""Fixtures for the AI tests: the LLM emulators, a manager holding their keys, the proxy on a socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtrack.ai.providers import AiProviders
from devtrack.ai.proxy import create_proxy_app
from devtrack.ai.proxy_token import ensure_token
from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox
from devtrack.web.server import ServerThread

AI_SERVICES = ["openai", "anthropic", "google", "helicone", "helicone-proxy"]
KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_AI_API_KEY")
ORG_ID = "org-devtrack-test"


@pytest.fixture(scope="module")
def llm_sandbox() -> Iterator[Sandbox]:
    with Sandbox(AI_SERVICES, seed=7) as sb:
        yield sb


@pytest.fixture
def box(llm_sandbox: Sandbox) -> Iterator[Sandbox]:
    llm_sandbox.reset()
    yield llm_sandbox
    llm_sandbox.reset()


@pytest.fixture
def keys(box: Sandbox) -> dict[str, str]:
    env = box.env()
    return {"openai": env["OPENAI_API_KEY"], "anthropic": env["ANTHROPIC_API_KEY"], "google": env["GOOGLE_AI_API_KEY"]}


@pytest.fixture
def manager(box: Sandbox, keys: dict[str, str], tmp_path: Path) -> IntegrationManager:
    """A manager whose store holds the provider keys; its environment only the base-URL overrides."""
    environ = {k: v for k, v in box.env().items() if k not in KEY_VARS}
    m = IntegrationManager(store=CredentialStore(tmp_path / "credentials.json"), environ=environ)
    ai = AiProviders(m)
    for provider, key in keys.items():
        ai.set_key(provider, key)
    return m


@pytest.fixture
def token(manager: IntegrationManager) -> str:
    return ensure_token(manager.store)


@pytest.fixture
def proxy(manager: IntegrationManager, token: str) -> Iterator[ServerThread]:
    with ServerThread(create_proxy_app(manager)) as server:
        yield server


@pytest.fixture
def helicone_on(manager: IntegrationManager, box: Sandbox) -> str:
    """Helicone saved through the manager (as every UI does): the proxy routes through it."""
    key = box.emulator("helicone").good_key  # type: ignore[attr-defined]
    manager.set_credentials("helicone", {"api_key": key, "org_id": ORG_ID})
    return key
