"""Copying a whole snapshot store to another database (``devtrack store migrate``).

Why this shape:

- **Schema first, from the source itself.** The target gets the core schema by being opened,
  and the add-ons' tables by replaying the SQL the source recorded beside each add-on
  migration (``extension_migrations.statements``). So the core copies tables it has never
  heard of without importing any add-on; only migrations recorded before the store kept their
  SQL need the caller's ``known`` lookup (the CLI knows the bundled add-ons).
- **Batches by key, each its own transaction, with a checkpoint in it.** Every batch writes
  its rows and the key of its last row (``meta``: ``migrate.progress.<table>``) in one
  target transaction, so whatever stops the copy (Ctrl+C, a kill, the target going away)
  leaves either the whole batch and its checkpoint or neither. The next run reads the
  checkpoint and asks the *source* for the rows after it: the order is the source's, so the
  two databases' collations never need to agree.
- **An identity in the target.** Before copying, the target records which store it is a copy
  of (``migrate.source``: a hash of the source's fingerprint key, never the key). A target
  with rows and no such record, or another store's, is refused before anything is written.
- **Counts decide.** The result is each table's row count on both sides; the caller reports a
  mismatch as a failure.

The copy's own ``migrate.*`` keys in ``meta`` are never copied and never counted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .sqldb import StoreError
from .store import SqlStore

#: Rows per batch (one target transaction each).
BATCH = 500
#: ``meta`` keys of the copy's bookkeeping (identity, checkpoints); never copied or counted.
MARK = "migrate."
SOURCE_KEY = MARK + "source"
#: The core's tables, parents before children (``snapshots.payload`` references ``payloads``);
#: add-ons' tables follow in name order.
CORE_ORDER = ("meta", "plugin_state", "payloads", "snapshots")
#: Each database keeps its own migration records: the target's come from running them.
NOT_COPIED = frozenset({"schema_migrations", "extension_migrations"})

#: An add-on's migrations by name, for those the source ran before it recorded their SQL.
Known = Callable[[str], list[tuple[int, str]] | None]
#: Called after every batch: (table, rows of it in the target so far, rows in the source).
Progress = Callable[[str, int, int], None]


class CopyError(StoreError):
    """The copy cannot start or go on; the message says why and what to do."""


class ForeignTarget(CopyError):
    """The target holds rows that are not (a copy of) the source's."""


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int
    copied: int = 0  #: rows this run wrote

    @property
    def ok(self) -> bool:
        return self.source == self.target


def identity(store: SqlStore) -> str:
    """Which store this is, shareable: a hash of its fingerprint key (created if it has none)."""
    return hashlib.sha256(b"devtrack-store-identity\0" + store.secret_key()).hexdigest()[:32]


def _mark_filter(table: str) -> str:
    return f"key NOT LIKE '{MARK}%'" if table == "meta" else ""


def count(store: SqlStore, table: str) -> int:
    where = _mark_filter(table)
    return int(store.query(f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else ""))[0][0])


def tables(store: SqlStore) -> list[str]:
    """The tables a copy carries, in copy order."""
    present = set(store.driver.tables()) - NOT_COPIED
    return [t for t in CORE_ORDER if t in present] + sorted(present - set(CORE_ORDER))


def _meta(store: SqlStore, key: str) -> str | None:
    rows = store.query("SELECT value FROM meta WHERE key = ?", (key,))
    return bytes(rows[0][0]).decode() if rows else None


def _set_meta(db: Any, key: str, value: str) -> None:
    db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
               (key, value.encode()))


def check_target(source_id: str, target: SqlStore) -> bool:
    """Raise :class:`ForeignTarget` unless the target is empty or a copy of this source;
    True when it is a copy begun before (a resume)."""
    recorded = _meta(target, SOURCE_KEY)
    if recorded == source_id:
        return True
    if recorded is not None:
        raise ForeignTarget(f"the target {target.url} holds a copy of another snapshot store; "
                            "nothing was copied: migrate into an empty database")
    held = {t: n for t in tables(target) if (n := count(target, t))}
    if held:
        what = ", ".join(f"{n} in {t}" for t, n in held.items())
        raise ForeignTarget(f"the target {target.url} already holds rows ({what}) that are not a copy of "
                            "the source; nothing was copied: migrate into an empty database")
    return False


def replay_schema(source: SqlStore, target: SqlStore, known: Known) -> None:
    """Give the target the add-ons' tables, from the migrations the source recorded."""
    for name, steps in source.extensions().items():
        fallback: dict[int, str] | None = None
        migrations = []
        for version, sql in steps:
            if sql is None:
                if fallback is None:
                    fallback = dict(known(name) or [])
                sql = fallback.get(version)
            if sql is None:
                raise CopyError(f"cannot create the {name!r} add-on's tables on the target: its migration "
                                f"{version} ran before the store recorded its SQL and this DevTrack does not "
                                f"know it; run a command that uses {name!r} on the source once, then migrate again")
            migrations.append((version, sql))
        target.migrate_extension(name, migrations)


def _columns(source: SqlStore, target: SqlStore, table: str) -> list[str]:
    cols = source.driver.columns(table)
    missing = [c for c in cols if c not in set(target.driver.columns(table))]
    if missing:
        raise CopyError(f"the target's table {table} has no column {', '.join(missing)}: "
                        "it was made by another version of DevTrack or an add-on")
    return cols


def copy_table(source: SqlStore, target: SqlStore, table: str, *, batch: int = BATCH,
               progress: Progress | None = None) -> int:
    """Copy the source's rows of ``table`` after the target's checkpoint; rows written."""
    if table not in set(target.driver.tables()):
        raise CopyError(f"the target has no table {table}: the source's add-on that made it did not record "
                        "its migration; run a command that uses it on the source once, then migrate again")
    cols = _columns(source, target, table)
    key = source.driver.primary_key(table)
    total = count(source, table)
    names = ", ".join(cols)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in cols)})"
    done_key = f"{MARK}progress.{table}"
    mark = _mark_filter(table)
    if not key:  # no key to resume by: the whole table in one transaction, once
        if _meta(target, done_key) is not None:
            return 0
        rows = source.query(f"SELECT {names} FROM {table}" + (f" WHERE {mark}" if mark else ""))
        with target.transaction() as db:
            db.executemany(insert, rows)
            _set_meta(db, done_key, "[]")
        if progress:
            progress(table, len(rows), total)
        return len(rows)
    at = [cols.index(k) for k in key]
    order = ", ".join(key)
    saved = _meta(target, done_key)
    last: list[Any] | None = json.loads(saved) if saved else None
    written = 0
    in_target = count(target, table)
    while True:
        where = [mark] if mark else []
        params: tuple[Any, ...] = ()
        if last is not None:
            where.append(f"({order}) > ({', '.join('?' for _ in key)})")
            params = tuple(last)
        rows = source.query(f"SELECT {names} FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else "")
                            + f" ORDER BY {order} LIMIT {int(batch)}", params)
        if not rows:
            break
        last = [rows[-1][i] for i in at]
        with target.transaction() as db:
            db.executemany(insert, rows)
            _set_meta(db, done_key, json.dumps(last))
            if key == ["id"]:
                target.driver.reset_ids(db, table)  # new rows on the target get the next ids
        written += len(rows)
        in_target += len(rows)
        if progress:
            progress(table, in_target, total)
        if len(rows) < batch:
            break
    return written


def migrate(source: SqlStore, target: SqlStore, *, known: Known, batch: int = BATCH,
            progress: Progress | None = None,
            on_start: Callable[[list[str], bool], None] | None = None,
            on_table: Callable[[TableCount], None] | None = None) -> list[TableCount]:
    """Copy every table of ``source`` into ``target`` (see the module); each table's counts.

    Resumes a copy of the same source that stopped; refuses any other non-empty target
    before writing anything. ``on_start(tables, resuming)`` is called once the checks passed,
    ``on_table(counts)`` after each table.
    """
    source_id = identity(source)
    resuming = check_target(source_id, target)
    replay_schema(source, target, known)
    names = tables(source)
    with target.transaction() as db:
        _set_meta(db, SOURCE_KEY, source_id)
    if on_start:
        on_start(names, resuming)
    written = {}
    for t in names:
        written[t] = copy_table(source, target, t, batch=batch, progress=progress)
        if on_table:
            on_table(TableCount(t, count(source, t), count(target, t), written[t]))
    # counted again at the end: a row the source gained meanwhile shows as a difference
    return [TableCount(t, count(source, t), count(target, t), written[t]) for t in names]
