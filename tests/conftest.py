"""Shared test set-up: every test gets its own credential file and a clean manager."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from pathlib import Path

import pytest

if TYPE_CHECKING:
    from tests.pgserver import PgServer

T = TypeVar("T")

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



def _or_fail(call: Callable[[], T]) -> T:
    """call(), or fail the test with the PgServerError's message alone (no traceback, no chain)."""
    from tests.pgserver import PgServerError

    try:
        return call()
    except PgServerError as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for this session (so one per xdist worker), stopped and removed
    at the end. Fails, never skips, without PostgreSQL: CI and ./dev test install it."""
    from tests.pgserver import PgServer

    server = _or_fail(PgServer().start)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh empty database on ``pg_server``, dropped after the test (a test that
    left the server down gets it started again first, so the next test finds it up)."""
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    name = f"t_{stem}_{uuid.uuid4().hex[:8]}"
    yield _or_fail(lambda: pg_server.create_database(name))
    if not pg_server.running:
        pg_server.start_again()
    pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh snapshot store's URL on each database the store runs on (the store's tests and
    the alerts' run on both)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'snapshots.db'}"
    return str(request.getfixturevalue("pg_url"))

