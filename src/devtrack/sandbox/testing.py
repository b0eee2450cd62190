"""pytest fixtures for tests against the sandbox (load with ``pytest_plugins``).

- ``sandbox``: one :class:`Sandbox` with every emulator, for the whole session;
- ``sb``: the same sandbox with faults, request logs and rate counters cleared for this test;
- ``sandbox_env``: ``os.environ`` patched with the base-URL overrides and ``DEVTRACK_CREDENTIALS``;
- ``sandbox_manager``: an ``IntegrationManager`` on a temp store pre-filled with the sandbox
  credentials, its ``environ`` holding the overrides (also set in ``os.environ``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .orchestrator import Sandbox

SANDBOX_SEED = 1234


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=SANDBOX_SEED) as sb:
        yield sb


@pytest.fixture
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    sandbox.reset()
    yield sandbox
    sandbox.reset()


@pytest.fixture
def sandbox_env(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    path = sb.write_credentials(tmp_path / "sandbox-credentials.json")
    env = sb.env() | {"DEVTRACK_CREDENTIALS": str(path)}
    for key in [k for k in os.environ if k.startswith("DEVTRACK_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def sandbox_manager(sb: Sandbox, sandbox_env: dict[str, str]) -> Any:
    from ..credentials import CredentialStore
    from ..integrations.manager import IntegrationManager

    store = CredentialStore(Path(sandbox_env["DEVTRACK_CREDENTIALS"]))
    return IntegrationManager(store=store, environ=dict(os.environ))
