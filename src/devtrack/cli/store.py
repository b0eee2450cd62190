"""``devtrack store …``: the snapshot store's status, and copying it to another database.

Imported by every ``devtrack`` command that lists the full help: the store, psycopg and rich
tables load inside the commands. Passwords in URLs are masked wherever a URL is printed.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer

from .output import JSON_OPTION, emit_json, fail, markup, say

if TYPE_CHECKING:
    from ..views.store import SqlStore
    from ..views.store_copy import TableCount

app = typer.Typer(help="The snapshot store: its status, and copying its whole history to another database.",
                  no_args_is_help=True)

#: The bundled add-ons' migrations, for stores that ran them before recording their SQL (the
#: CLI may know the add-ons; the store does not).
KNOWN_EXTENSIONS = {"alerts": ("devtrack.alerts.incidents", "MIGRATIONS")}


def known_extension(name: str) -> list[tuple[int, str]] | None:
    where = KNOWN_EXTENSIONS.get(name)
    if where is None:
        return None
    return list(getattr(importlib.import_module(where[0]), where[1]))


def _scheme(url: str) -> str:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    return "postgresql" if scheme == "postgres" else scheme


def _sqlite_path(url: str) -> Path | None:
    raw = url.split(":", 1)[1]
    if not raw.startswith("///") or raw[3:] == ":memory:":
        return None
    return Path(raw[3:]).expanduser().absolute()


def _place(url: str) -> tuple[Any, ...]:
    """What a URL points at, for telling two URLs of one database apart from two databases."""
    scheme = _scheme(url)
    if scheme == "sqlite":
        path = _sqlite_path(url)
        return (scheme, str(path.resolve()) if path else url)
    if scheme == "postgresql":
        parts = urlsplit(url)
        return (scheme, (parts.hostname or "localhost").lower(), parts.port or 5432, parts.path.strip("/"))
    return (scheme, url)


def _fail(message: str, as_json: bool, kind: str, code: int) -> NoReturn:
    fail(message, as_json=as_json, kind=kind, code=code)


def _open(url: str, role: str, as_json: bool, *, must_exist: bool) -> SqlStore:
    """The store at ``url``, or exit 2 with one line saying why not."""
    from ..views.sqldb import StoreUnavailable, mask_url
    from ..views.store import StoreError, open_store

    if _scheme(url) == "sqlite" and must_exist:
        path = _sqlite_path(url)
        if path is not None and not path.is_file():
            _fail(f"the {role} {mask_url(url)} does not exist: there is no snapshot store at {path}",
                  as_json, "not_found", 2)
    try:
        return open_store(url)  # type: ignore[return-value]  # both backends are SqlStores
    except StoreUnavailable as exc:
        _fail(f"{role}: {exc}", as_json, "unavailable", 2)
    except StoreError as exc:
        _fail(f"{role}: {exc}", as_json, "config", 2)


def _counts_table(rows: list[TableCount]) -> None:
    from rich.table import Table

    from .output import console

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("table", "source", "target", "copied now", ""):
        table.add_column(col, justify="left" if col == "table" else "right")
    for r in rows:
        table.add_row(r.table, str(r.source), str(r.target), str(r.copied),
                      markup("[green]✓[/]") if r.ok else markup("[red]✗[/]"))
    console.print(table)


class _Progress:
    """Rows copied per table: a live bar in a terminal, one line per table elsewhere."""

    def __init__(self, quiet: bool) -> None:
        from .output import console

        self.quiet = quiet
        self.live = not quiet and console.is_terminal
        self.tasks: dict[str, Any] = {}
        self.bar: Any = None
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                console=console, transient=False)
            self.bar.start()

    def __call__(self, table: str, done: int, total: int) -> None:
        if self.bar is not None:
            if table not in self.tasks:
                self.tasks[table] = self.bar.add_task(table, total=total)
            self.bar.update(self.tasks[table], completed=done, total=max(total, done))

    def table_done(self, row: TableCount) -> None:
        if self.quiet or self.live:
            return
        say(f"{row.table}: {row.copied} rows copied, {row.target} of {row.source} in the target")

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def migrate(
    source_url: Annotated[str, typer.Argument(metavar="SOURCE_URL", help="The store to copy (sqlite:///… or postgresql://…).")],
    target_url: Annotated[str, typer.Argument(metavar="TARGET_URL", help="An empty database, or one this copy began in.")],
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000,
                                            help="Rows per target transaction.")] = 500,
    as_json: bool = JSON_OPTION,
) -> None:
    """Copy a snapshot store's whole history to another database (SQLite ⇄ PostgreSQL).

    Resumable: after an interruption, run the same command again. Stop `devtrack serve` on the
    source first: rows it writes meanwhile make the counts differ (run again to copy them).
    """
    from ..views import store_copy
    from ..views.sqldb import StoreUnavailable, mask_url
    from ..views.store import StoreError

    for url in (source_url, target_url):
        if _scheme(url) not in ("sqlite", "postgresql"):
            _fail(f"unsupported store URL {mask_url(url)} (use sqlite:///path/to/snapshots.db or "
                  "postgresql://user@host/dbname)", as_json, "usage", 2)
    if _place(source_url) == _place(target_url):
        _fail(f"the source and the target are the same database ({mask_url(source_url)})", as_json, "usage", 2)
    source = _open(source_url, "source", as_json, must_exist=True)
    try:
        target = _open(target_url, "target", as_json, must_exist=False)
    except typer.Exit:
        source.close()
        raise
    progress = _Progress(quiet=as_json)
    resumed = False

    def started(names: list[str], resuming: bool) -> None:
        nonlocal resumed
        resumed = resuming
        if not as_json:
            verb = "resuming the copy of" if resuming else "copying"
            say(f"{verb} {source.url} ({source.backend}) to {target.url} ({target.backend}): {', '.join(names)}")

    try:
        try:
            counts = store_copy.migrate(source, target, known=known_extension, batch=batch_size,
                                        progress=progress, on_start=started, on_table=progress.table_done)
        finally:
            progress.stop()
    except store_copy.ForeignTarget as exc:
        _fail(str(exc), as_json, "foreign_target", 1)
    except StoreUnavailable as exc:
        _fail(f"{exc}; nothing copied is lost: run the same command again to continue", as_json, "unavailable", 2)
    except KeyboardInterrupt:
        _fail("interrupted; every batch copied so far is kept: run the same command again to continue",
              as_json, "interrupted", 130)
    except StoreError as exc:
        _fail(str(exc), as_json, "error", 1)
    finally:
        source.close()
        target.close()
    bad = [r for r in counts if not r.ok]
    if as_json:
        emit_json({"ok": not bad, "source": source.url, "target": target.url, "resumed": resumed,
                   "tables": [{"table": r.table, "source": r.source, "target": r.target, "copied": r.copied,
                               "ok": r.ok} for r in counts]})
    else:
        _counts_table(counts)
    if bad:
        what = ", ".join(f"{r.table} {r.source} in the source, {r.target} in the target" for r in bad)
        message = (f"the counts differ ({what}): the source changed while it was copied; stop whatever "
                   "writes to it and run the same command again")
        if as_json:
            raise typer.Exit(1)
        _fail(message, False, "mismatch", 1)
    if not as_json:
        say(markup("[green]✓[/] every table's rows are in the target ({} rows)", str(sum(r.target for r in counts))))


@app.command()
def status(
    url: Annotated[str | None, typer.Argument(metavar="[URL]", help="A store URL (default: this project's store).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """The store's backend, URL (password masked), schema version, rows per table and size."""
    from ..views import store_copy
    from ..views.store import default_url

    store = _open(url or default_url(), "store", as_json, must_exist=url is not None)
    try:
        names = store_copy.tables(store)
        counts = {t: store_copy.count(store, t) for t in names}
        info = {"backend": store.backend, "url": store.url, "schema_version": store.schema_version(),
                "extensions": {n: [v for v, _ in steps] for n, steps in store.extensions().items()},
                "tables": counts, "bytes": store.driver.size()}
    finally:
        store.close()
    if as_json:
        emit_json({"ok": True, **info})
        return
    from rich.table import Table

    from .output import console

    say(f"{info['backend']} store {info['url']}, schema version {info['schema_version']}, "
        f"{info['bytes'] / 1e6:.1f} MB")
    if info["extensions"]:
        say("add-ons: " + ", ".join(f"{n} (migration {max(vs)})" for n, vs in info["extensions"].items()))
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for t, n in counts.items():
        table.add_row(t, str(n))
    console.print(table)
