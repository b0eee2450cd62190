"""Shared test set-up: every test gets its own credential file and a clean manager."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import pytest

pytest_plugins = ["devtrack.sandbox.testing", "tests.leakscan", "tests.reliability.report"]


#: Fixtures that make any test using them ``slow`` (left out by ``./dev test --quick``):
#: headless Chromium, and the wheel built and installed into a fresh venv.
SLOW_FIXTURES = {"browser", "installed"}
#: Test functions measured slow (see the file's header).
SLOW_TESTS = {line.split("#")[0].strip() for line in (Path(__file__).parent / "slow.txt").read_text().splitlines()} - {""}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark slow tests, then put them first: in a parallel run the longest
    tests start at once instead of leaving one worker busy long after the others are done."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if SLOW_FIXTURES & used or item.nodeid.partition("[")[0] in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


#: Set in every xdist worker (to 80 and 24) though not in the controller: a `devtrack` the tests
#: start would then wrap its output at 80 columns in a parallel run only.
TERMINAL_VARS = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller: hand each worker the terminal size variables as the controller has them."""
    node.workerinput["terminal_env"] = {k: os.environ.get(k) for k in TERMINAL_VARS}


def pytest_configure(config: pytest.Config) -> None:
    """Start watching for host freezes before any test times anything (see tests/timing.py)."""
    from devtrack.sandbox import stalls

    for key, value in getattr(config, "workerinput", {}).get("terminal_env", {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

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
