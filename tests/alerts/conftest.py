"""Alerts against the sandbox: its manager and a snapshot store on temp files, the real
receivers, and a harness that refreshes, restarts (fresh objects on the same files) and waits
for deliveries."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .receivers import JsonReceiver, SmtpReceiver


@pytest.fixture
def json_receiver() -> Iterator[JsonReceiver]:
    r = JsonReceiver()
    yield r
    r.close()


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    r = SmtpReceiver()
    yield r
    r.close()


class Harness:
    """A refresh coordinator with alerts attached, as ``devtrack views refresh`` builds it."""

    def __init__(self, credentials: Path, store_url: str, **engine: Any) -> None:
        self.credentials, self.store_url, self.engine_options = credentials, store_url, engine
        self._open()

    def _open(self) -> None:
        from devtrack.alerts import attach
        from devtrack.credentials import CredentialStore
        from devtrack.integrations.manager import IntegrationManager
        from devtrack.views.coordinator import Coordinator
        from devtrack.views.store import open_store

        self.manager = IntegrationManager(store=CredentialStore(self.credentials), environ=dict(os.environ))
        self.store = open_store(self.store_url)
        self.coordinator = Coordinator(self.manager, self.store, quiet=True)
        self.engine = attach(self.coordinator, **self.engine_options)

    def refresh(self, ids: list[str], drain: float = 20.0) -> list[Any]:
        states = asyncio.run(self.coordinator.refresh_many(ids))
        if drain:
            assert self.engine.dispatcher.drain(drain), "deliveries did not finish"
        return states

    def restart(self) -> None:
        """As a new process would: every object new, on the same files."""
        self.close()
        self._open()

    def close(self) -> None:
        self.coordinator.close()
        self.engine.close(wait=0)
        self.store.close()


@pytest.fixture
def harness(sandbox_manager: Any, store_url: str) -> Iterator[Harness]:
    """On each database the store runs on: incidents, outbox and history are the store's."""
    h = Harness(sandbox_manager.store.path, store_url)
    yield h
    h.close()


def only_rule(store: Any, rule_id: str, **settings: str) -> None:
    """Switch every rule off but ``rule_id`` (with ``settings``), so each test hears one rule."""
    from devtrack.alerts import manage
    from devtrack.alerts.rules import RULES

    for rid in RULES:
        if rid != rule_id:
            manage.set_rule(store, rid, {"enabled": "false"})
    manage.set_rule(store, rule_id, {"enabled": "true", **settings})
