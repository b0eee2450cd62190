"""The snapshot store on both databases (``store_url``: SQLite and a real PostgreSQL the suite
starts): migrations once, last good vs latest, de-duplicated payloads, history, the retention
policy, several processes on one database, and a database that is not there."""

from __future__ import annotations

from devtrack.redact import MASK

import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from devtrack.integrations.contract import ConnectionResult, Deployment, Health, IntegrationData, Records, ResultKind
from devtrack.views.state import PluginState
from devtrack.views.store import (MIGRATIONS, PostgresStore, Retention, SqliteStore, StoreError, StoreUnavailable,
                                  default_url, open_store)

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
    with pytest.raises(StoreError, match="unsupported .*'mysql'.*DEVTRACK_STORE_URL"):
        open_store("mysql://db.example/devtrack")
    with pytest.raises(StoreError, match="sqlite:///"):
        open_store("sqlite:relative.db")


def test_latest_good_survives_failures_and_payloads_are_shared(store_url: str) -> None:
    store = open_store(store_url)
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


def test_state_round_trip_and_a_stable_secret_key(store_url: str) -> None:
    store = open_store(store_url)
    store.save_state(PluginState(id="vercel", failures=2, needs_attention=True, fingerprint="ab"))
    assert store.states()["vercel"].needs_attention and store.states()["vercel"].failures == 2
    assert store.secret_key() == store.secret_key() and len(store.secret_key()) == 32


def test_retention_thins_old_snapshots_and_keeps_the_newest(store_url: str) -> None:
    store = open_store(store_url, retention=Retention(full_hours=48, hourly_days=7, daily_days=20))
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


def test_migrations_run_once_on_either_database(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(3)]  # three processes starting on one database
    assert {s.schema_version() for s in stores} == {MIGRATIONS[-1][0]}
    assert stores[0].query("SELECT COUNT(*) FROM schema_migrations")[0][0] == len(MIGRATIONS)
    ext = [(1, "CREATE TABLE addon_things (id INTEGER PRIMARY KEY, at REAL NOT NULL, blob BLOB)")]
    for s in stores:
        s.migrate_extension("addon", ext)
    with stores[1].transaction() as db:
        first = db.insert("INSERT INTO addon_things (at, blob) VALUES (?, ?)", (1.5, b"\x00\xff"))
        second = db.insert("INSERT INTO addon_things (at, blob) VALUES (?, ?)", (2.25, None))
    assert second == (first or 0) + 1
    assert stores[2].query("SELECT at, blob FROM addon_things ORDER BY id") == [(1.5, b"\x00\xff"), (2.25, None)]
    assert stores[0].query("SELECT COUNT(*) FROM extension_migrations WHERE name = ?", ("addon",))[0][0] == 1
    for s in stores:
        s.close()


def test_times_keep_sub_second_precision(store_url: str) -> None:
    """Times are doubles on both (PostgreSQL's REAL would round them to whole minutes)."""
    store = open_store(store_url)
    at = NOW + timedelta(microseconds=123456)
    store.save(good("vercel", at))
    snap = store.latest("vercel")
    assert snap is not None and abs((snap.fetched_at - at).total_seconds()) < 1e-5
    store.close()


def test_two_processes_saving_and_pruning_lose_nothing(store_url: str) -> None:
    """Writers of two stores on one database, one of them pruning all along: every save
    lands and no snapshot points at a dropped payload."""
    a, b = open_store(store_url), open_store(store_url)
    errors: list[BaseException] = []

    def writer(store: object, plugin: str) -> None:
        try:
            for i in range(40):
                store.save(good(plugin, NOW - timedelta(days=10) + timedelta(minutes=i), n=1 + i % 2))  # type: ignore[attr-defined]
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    def pruner() -> None:
        try:
            for _ in range(20):
                a.prune(NOW)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(a, "vercel")), threading.Thread(target=writer, args=(b, "sentry")),
               threading.Thread(target=pruner)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for plugin in ("vercel", "sentry"):
        snap = b.latest(plugin, good=True)
        assert snap is not None and snap.data is not None  # its payload is there
    dangling = a.query("SELECT COUNT(*) FROM snapshots s WHERE s.payload IS NOT NULL AND NOT EXISTS "
                       "(SELECT 1 FROM payloads p WHERE p.hash = s.payload)")[0][0]
    assert dangling == 0
    a.close()
    b.close()


def test_postgres_url_is_masked_and_a_missing_server_is_a_clear_error(pg_url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(pg_url)
    dead = f"postgresql://devtrack:hunter2-not-shown@127.0.0.1:1/{parts.path.lstrip('/')}"
    with pytest.raises(StoreUnavailable) as info:
        open_store(dead)
    text = str(info.value)
    assert "hunter2-not-shown" not in text and f"postgresql://devtrack:{MASK}@127.0.0.1:1/" in text
    assert "snapshot database" in text
    store = open_store(pg_url.replace("postgresql://", "postgres://"))
    assert isinstance(store, PostgresStore) and store.backend == "postgresql"
    assert store.stats()["backend"] == "postgresql" and store.stats()["bytes"] > 0
    store.close()


def test_the_newest_good_snapshots_are_an_index_walk_not_a_sort(store_url: str) -> None:
    """The dashboard's read (latest_all(good=True)) must not sort each plugin's history: on
    PostgreSQL it did (4 ms at a week of snapshots, 0.2 ms with migration 6's index)."""
    store = open_store(store_url)
    for minute in range(300):  # ties on fetched_at too: the id breaks them
        at = NOW - timedelta(minutes=minute // 2)
        for plugin in ("vercel", "sentry", "github"):
            store.save(good(plugin, at, n=1) if minute % 7 else failed(plugin, at))
    sql = store.driver.newest_per_plugin(store._COLS, True)
    if store_url.startswith("sqlite"):
        plan = " ".join(str(r[-1]) for r in store.query("EXPLAIN QUERY PLAN " + sql))
        assert "TEMP B-TREE" not in plan, plan
    else:
        plan = " ".join(r[0] for r in store.query("EXPLAIN " + sql))
        assert "Sort" not in plan and "snapshots_good_newest" in plan, plan
    newest = store.latest_all(good=True)
    assert {p: s.fetched_at for p, s in newest.items()} == {p: NOW for p in ("vercel", "sentry", "github")}
    assert all(s.ok for s in newest.values())
