"""Delivery while the snapshot database (a real PostgreSQL, stopped and started by the test) is
away: the message waiting in the outbox stays there, the dispatcher says so once without a
traceback, and sends it once the database is back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtrack.alerts import delivery, manage

from ..pgserver import PgServer
from .conftest import Harness
from .receivers import JsonReceiver, wait_for
from .test_delivery import fail_once


@pytest.fixture
def pg_harness(sandbox_manager: Any, pg_url: str, pg_server: PgServer) -> Iterator[Harness]:
    h = Harness(sandbox_manager.store.path, pg_url)
    yield h
    if not pg_server.running:
        pg_server.start_again()
    h.close()


def test_an_outbox_message_waits_out_the_outage_and_is_sent_after(
        sb: Any, pg_harness: Harness, pg_server: PgServer, json_receiver: JsonReceiver,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "FIRST_BACKOFF", 8.0)  # the retry falls inside the outage
    caplog.set_level(logging.INFO, logger="devtrack.alerts")
    fail_once(sb, pg_harness, json_receiver)
    assert wait_for(lambda: any(d["status"] == "failed" for d in manage.overview(pg_harness.store)["deliveries"]), 20)

    pg_server.stop_server()
    time.sleep(12)  # past the retry: the dispatcher finds the outbox away
    assert json_receiver.messages == []
    pg_server.start_again()
    assert wait_for(lambda: len(json_receiver.messages) == 1, 60), "the waiting message was not sent"
    assert wait_for(lambda: manage.overview(pg_harness.store)["pending"] == 0, 20)

    mine = [r for r in caplog.records if r.name.startswith("devtrack.alerts")]
    assert not [r for r in mine if r.exc_info or "Traceback" in r.getMessage()]
    paused = [r for r in mine if "unavailable" in r.getMessage()]
    assert len(paused) == 1 and paused[0].levelno == logging.WARNING, [r.getMessage() for r in mine]
    assert sum("is back" in r.getMessage() for r in mine) == 1
