"""The snapshot store: one SQLite file in WAL mode, migrations once, last good vs latest,
de-duplicated payloads, history and the retention policy."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from devtrack.integrations.contract import ConnectionResult, Deployment, Health, IntegrationData, Records, ResultKind
from devtrack.views.state import PluginState
from devtrack.views.store import MIGRATIONS, Retention, SqliteStore, StoreError, default_url, open_store

NOW = datetime(2030, 6, 1, 12, tzinfo=timezone.utc)


def good(plugin: str, at: datetime, n: int = 1) -> IntegrationData:
    return IntegrationData(id=plugin, fetched_at=at, health=Health(status="healthy", metrics={"deployments": n}),
                           records=Records(deployments=[Deployment(id=f"dpl_{i}", state="ready") for i in range(n)]))


def failed(plugin: str, at: datetime) -> IntegrationData:
    data = IntegrationData.failed(ConnectionResult.failure(ResultKind.NETWORK, "down"))
    return data.model_copy(update={"id": plugin, "fetched_at": at})


def test_one_file_wal_and_migrations_once(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "snapshots.db"
    store = open_store(f"sqlite:///{path}")
    assert isinstance(store, SqliteStore) and store.schema_version() == MIGRATIONS[-1][0]
    store.save(good("vercel", NOW))
    store.close()
    again = open_store(f"sqlite:///{path}")
    assert again.latest("vercel") is not None
    again.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT version FROM schema_migrations").fetchall() == [(v,) for v, _ in MIGRATIONS]
    assert path.stat().st_mode & 0o077 == 0


def test_default_url_is_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DEVTRACK_STORE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_url() == f"sqlite:///{tmp_path / 'xdg' / 'devtrack' / 'snapshots.db'}"
    monkeypatch.setenv("DEVTRACK_STORE_URL", "sqlite:///:memory:")
    assert default_url() == "sqlite:///:memory:"


def test_unsupported_url_names_the_setting() -> None:
    with pytest.raises(StoreError, match="unsupported .*'postgresql'.*DEVTRACK_STORE_URL"):
        open_store("postgresql://db.example/devtrack")
    with pytest.raises(StoreError, match="sqlite:///"):
        open_store("sqlite:relative.db")


def test_latest_good_survives_failures_and_payloads_are_shared() -> None:
    store = open_store("sqlite:///:memory:")
    store.save(good("vercel", NOW - timedelta(minutes=2), n=3))
    store.save(good("vercel", NOW - timedelta(minutes=1), n=3))
    store.save(failed("vercel", NOW))
    store.save(good("sentry", NOW, n=1))
    latest, last_good = store.latest("vercel"), store.latest("vercel", good=True)
    assert latest is not None and not latest.ok and latest.data is None and latest.error.kind == "network"
    assert last_good is not None and last_good.fetched_at == NOW - timedelta(minutes=1)
    assert last_good.data is not None and [d.id for d in last_good.data.records.deployments] == ["dpl_0", "dpl_1", "dpl_2"]
    assert last_good.data.fetched_at == last_good.fetched_at and last_good.data.id == "vercel"
    assert {k: v.ok for k, v in store.latest_all().items()} == {"vercel": False, "sentry": True}
    assert set(store.latest_all(good=True)) == {"vercel", "sentry"}
    assert store.stats()["payloads"] == 2  # the two identical vercel fetches share one
    assert store.history("vercel", "deployments", NOW - timedelta(hours=1)) == [
        (NOW - timedelta(minutes=2), 3), (NOW - timedelta(minutes=1), 3)]


def test_state_round_trip_and_a_stable_secret_key() -> None:
    store = open_store("sqlite:///:memory:")
    store.save_state(PluginState(id="vercel", failures=2, needs_attention=True, fingerprint="ab"))
    assert store.states()["vercel"].needs_attention and store.states()["vercel"].failures == 2
    assert store.secret_key() == store.secret_key() and len(store.secret_key()) == 32


def test_retention_thins_old_snapshots_and_keeps_the_newest() -> None:
    store = open_store("sqlite:///:memory:", retention=Retention(full_hours=48, hourly_days=7, daily_days=20))
    start = NOW - timedelta(days=30)
    t = start
    while t <= NOW:  # every 15 minutes for 30 days, the count changing hourly
        store.save(good("vercel", t, n=1 + t.hour % 3))
        t += timedelta(minutes=15)
    store.save(good("old", start, n=1))  # a plugin nobody refreshes any more
    total = store.stats()["snapshots"]
    removed = store.prune(NOW)
    ts = [when for when, _ in store.history("vercel", "deployments", start)]
    recent = [x for x in ts if x >= NOW - timedelta(hours=48)]
    hourly = [x for x in ts if NOW - timedelta(days=7) <= x < NOW - timedelta(hours=48)]
    daily = [x for x in ts if x < NOW - timedelta(days=7)]
    assert len(recent) == 48 * 4 + 1                     # everything of the last 48 h
    assert len(hourly) == 5 * 24                         # one per hour
    assert 12 <= len(daily) <= 14 and min(ts) >= NOW - timedelta(days=20)  # one per day, 20 days at most
    assert store.latest("old", good=True) is not None    # a plugin's newest good snapshot stays
    assert store.stats()["payloads"] <= 4                # orphaned payloads are gone
    assert removed == total - store.stats()["snapshots"] and store.prune(NOW) == 0
