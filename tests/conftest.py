"""Shared test set-up: every test gets its own credential file and a clean manager."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["devtrack.sandbox.testing", "tests.leakscan"]


def pytest_configure(config: pytest.Config) -> None:
    """Start watching for host freezes before any test times anything (see tests/timing.py)."""
    from devtrack.sandbox import stalls

    stalls.clock()


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point DEVTRACK_CREDENTIALS at a fresh file so no test can touch a real one."""
    from devtrack.integrations import manager

    path = tmp_path_factory.mktemp("store") / "credentials.json"
    monkeypatch.setenv("DEVTRACK_CREDENTIALS", str(path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(path.parent / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(path.parent / "data"))
    manager.set_manager(None)
    yield path
    manager.set_manager(None)
