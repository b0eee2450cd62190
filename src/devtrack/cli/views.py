"""``devtrack status`` and ``devtrack views …``: the native views from stored snapshots.

Both read the snapshot store only (written by ``devtrack serve``'s refresh coordinator or by
``devtrack views refresh``), so they answer at once whatever state the services are in.
Imported by every ``devtrack`` command: the views, the store and rich tables load inside
the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .output import JSON_OPTION, Markup, emit_json, fail, fail_store, markup

if TYPE_CHECKING:
    from ..views.current import Current

app = typer.Typer(help="The native views (deployments, errors, code, infra, ai) from stored snapshots.",
                  no_args_is_help=True)

ICONS = {status: Markup(icon) for status, icon in {
    "healthy": "[green]●[/]", "degraded": "[yellow]●[/]", "down": "[red]●[/]", "failing": "[red]●[/]",
    "needs_attention": "[red]![/]", "unconfigured": "[dim]○[/]", "disabled": "[dim]–[/]",
    "pending": "[dim]…[/]", "unknown": "[dim]?[/]"}.items()}


CONNECTION_OPTION = typer.Option("--connection", "-c", metavar="ID",
                                 help="Only this connection's rows (e.g. vercel:acme).")


def _require(manager: Any, cid: str, as_json: bool) -> None:
    """Exit with a clear message unless the manager lists connection ``cid``."""
    from ..integrations.registry import UnknownIntegration

    try:
        manager.require(cid)
    except UnknownIntegration as exc:
        fail(str(exc), as_json=as_json, kind="not_found")
    except ValueError as exc:  # not a connection id at all
        fail(str(exc), as_json=as_json, kind="usage", code=2)


def _current(connection: str | None = None, as_json: bool = False) -> list[Current]:
    return _read(connection, as_json)[0]


def _read(connection: str | None = None, as_json: bool = False,
          incidents: bool = False) -> tuple[list[Current], list[dict[str, Any]]]:
    """Every connection's stored state and data; with ``incidents``, the open alert incidents
    too (from the same store, opened once)."""
    from ..integrations.manager import get_manager
    from ..views.current import from_store
    from ..views.store import StoreError, open_store

    manager = get_manager()
    if connection is not None:
        _require(manager, connection, as_json)
    try:
        store = open_store(credentials=manager.store.path)
    except StoreError as exc:
        fail_store(exc, as_json=as_json)
    try:
        current = from_store(manager, store)
        if not incidents:
            return current, []
        from ..alerts.incidents import Incidents

        return current, [i.to_json() for i in Incidents(store).open_all()]
    except StoreError as exc:  # it went away since it opened
        fail_store(exc, as_json=as_json)
    finally:
        store.close()


def status(as_json: bool = JSON_OPTION) -> None:
    """One screen: every integration's status, key metrics and last refresh (stored snapshots)."""
    from ..text import humane_time
    from ..views.build import dashboard

    current, open_incidents = _read(as_json=as_json, incidents=True)
    view = dashboard(current, timeline=8)
    if as_json:
        emit_json({"ok": True, **view, "open_incidents": open_incidents})
        return
    from rich.table import Table

    from .output import console

    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for col in ("", "integration", "status", "key metrics", "refreshed"):
        table.add_column(col, no_wrap=col != "key metrics", overflow="ellipsis")
    notes: list[str] = []
    for c in view["cards"]:
        when = humane_time(c["last_refresh"])
        if c["stale"]:
            when = when + markup(" [yellow](stale)[/]")
        metrics = " · ".join(f"{m['label']} {m['value']}" for m in c["metrics"][:4])
        table.add_row(ICONS.get(c["status"], "?"), c["name"], c["status"].replace("_", " "), metrics, when)
        if c["needs_attention"]:
            notes.append(markup("[red]{} needs attention:[/] {} (polling stopped until its credentials change)",
                                c["name"], c["error"]["message"] if c["error"] else ""))
        elif c["error"]:
            notes.append(markup("[yellow]{}:[/] {}: {}", c["name"], c["error"]["kind"], c["error"]["message"]))
    console.print(table)
    for note in notes:
        console.print(note, soft_wrap=False, overflow="ellipsis")
    if open_incidents:
        console.print(markup("\n[bold red]Open incidents[/] ({})", len(open_incidents)))
        for inc in open_incidents:
            console.print(markup("  [dim]{:>16}[/] {}{}", humane_time(inc["started_at"], ""), inc["title"],
                                 " (muted)" if inc["muted"] else ""), overflow="ellipsis", no_wrap=True,
                          highlight=False)
    if view["timeline"]:
        console.print(markup("\n[bold]Recent events[/]"))
        for e in view["timeline"]:
            when = humane_time(e["time"], "")
            console.print(markup("  [dim]{:>16}[/] [cyan]{}[/] {}", when, e["source"], e["title"]),
                          overflow="ellipsis", no_wrap=True, highlight=False)
    if view["empty"]:
        console.print(f"\n{view['empty']['message']} Refresh with: devtrack views refresh")


def _print_view(name: str, as_json: bool, connection: str | None = None) -> None:
    from ..views.build import build

    view = build(name, _current(connection, as_json), connection=connection)
    if as_json:
        emit_json({"ok": True, **view})
        return
    _print_tables(view)


def _text(cell: Any) -> str:
    """A cell as people read it: times relative or local (the views store UTC), the rest as is."""
    from ..text import humane_time, parse_time

    text = str(cell["text"]) if isinstance(cell, dict) else str(cell)
    when = parse_time(text)
    return humane_time(when) if when else text


def _print_tables(view: dict[str, Any]) -> None:
    from ..text import humane_time
    from .output import console
    from ..views.build import CONNECTION_COLUMN
    from .tables import DROP_FIRST, fit

    console.print(markup("[bold]{}[/]", view["title"]))
    for s in view["sources"]:
        line = f"  {s['name']}: {s['status'].replace('_', ' ')}, refreshed {humane_time(s['last_refresh'])}"
        if s["stale"]:
            line = line + markup(" [yellow](stale)[/]")
        if s["error"]:
            line = line + f" — {s['error']['kind']}: {s['error']['message']}"
        console.print(line)
    if view["empty"]:
        console.print(view["empty"]["message"])
        return
    if view["summary"]:
        console.print("  " + " · ".join(f"{m['label']}: {m['value']}" for m in view["summary"]))
    for t in view["tables"]:
        rows = [[_text(c) for c in row] for row in t["rows"]]
        drop = DROP_FIRST
        if CONNECTION_COLUMN in t["columns"]:
            _name_connections(t["columns"].index(CONNECTION_COLUMN), rows)
            drop = ("provider", *(d for d in DROP_FIRST if d != "provider"))  # a connection names it too
        fit(t["title"], list(t["columns"]), rows, console.width, drop_first=drop).print(console)


def _name_connections(at: int, rows: list[list[str]]) -> None:
    """In a terminal the Connection column holds just the connection's name ("acme"; the
    plugin's for a default connection), so the columns that matter keep their room; the full
    labels ("Vercel · acme") head the view, and ``--json`` has them on every item."""
    for row in rows:
        row[at] = row[at].split(" · ", 1)[-1]


def _view_command(name: str, doc: str) -> None:
    def command(as_json: bool = JSON_OPTION,
                connection: Annotated[str | None, CONNECTION_OPTION] = None) -> None:
        _print_view(name, as_json, connection)

    command.__doc__ = doc
    app.command(name)(command)


for _name, _doc in (
    ("deployments", "Recent deployments from Vercel and Cloudflare Pages."),
    ("errors", "Unresolved Sentry issues of the last 24 h."),
    ("code", "Branch, working tree, pull requests with CI, issues (GitHub)."),
    ("infra", "EC2 instances, Upstash databases, Supabase projects, Cloudflare zones and Workers."),
    ("ai", "AI cost and requests per day and per model (Helicone)."),
):
    _view_command(_name, _doc)


@app.command("refresh")
def refresh(
    plugins: Annotated[list[str] | None, typer.Argument(
        help="Connection ids, e.g. vercel or vercel:acme (default: every enabled, configured one).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Fetch now and store the snapshots (the same refresh ``devtrack serve`` runs on a timer)."""
    import asyncio

    from ..integrations.manager import get_manager
    from ..views.coordinator import Coordinator
    from ..views.store import StoreError, open_store

    manager = get_manager()
    for cid in plugins or []:
        _require(manager, cid, as_json)
    try:
        store = open_store(credentials=manager.store.path)
    except StoreError as exc:
        fail_store(exc, as_json=as_json)
    coordinator = Coordinator(manager, store, quiet=True)  # each outcome is printed below, once
    from ..alerts import attach  # the alert rules run after every stored refresh, here as in serve

    alerts = attach(coordinator)
    try:
        states = asyncio.run(coordinator.refresh_many(plugins or None))
        coordinator.health.check()  # a fetch that could not be stored is no success
    except StoreError as exc:
        fail_store(exc, as_json=as_json)
    finally:
        coordinator.close()
        alerts.close()  # a few seconds for the messages to go out; the rest wait in the outbox
        store.close()
    if as_json:
        emit_json({"ok": all(s.error is None for s in states),
                   "results": [s.model_dump(mode="json", exclude={"fingerprint"}) for s in states]})
    else:
        from .output import say

        for s in states:
            say(f"{s.id}: " + (markup("[green]ok[/]") if s.error is None
                                else markup("[red]{}[/] {}", s.error.kind, s.error.message)))
    if any(s.error is not None for s in states):
        raise typer.Exit(1)
