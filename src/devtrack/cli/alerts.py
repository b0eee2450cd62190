"""``devtrack alerts …``: channels, rules, mutes and the history of what was sent.

Imported by every ``devtrack`` command: the alerts package, the stores and Apprise load
inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .output import JSON_OPTION, NoInput, ask, emit_json, fail, fail_store, markup, say

if TYPE_CHECKING:
    from ..views.store import SnapshotStore

app = typer.Typer(help="Alerts: where they go (channels), what raises them (rules), mutes and history.",
                  no_args_is_help=True)
channels_app = typer.Typer(help="Where alerts go: Apprise URLs (slack://, mailto://, json://, ntfy://, …).",
                           no_args_is_help=True)
app.add_typer(channels_app, name="channels")

T = TypeVar("T")


def _manager() -> Any:
    from ..integrations.manager import get_manager

    return get_manager()


@contextmanager
def _snapshots(manager: Any, as_json: bool) -> Iterator[SnapshotStore]:
    from ..views.store import StoreError, open_store

    try:
        store = open_store(credentials=manager.store.path)
    except StoreError as exc:
        fail_store(exc, as_json=as_json)
    try:
        yield store
    except StoreError as exc:  # it went away since it opened
        fail_store(exc, as_json=as_json)
    finally:
        store.close()


def _run(as_json: bool, call: Callable[[], T]) -> T:
    """``call()``, with refused input reported as one line (JSON under ``--json``)."""
    from ..alerts.manage import AlertsError

    try:
        return call()
    except AlertsError as exc:
        fail(str(exc), as_json=as_json, kind=exc.kind, code=2 if exc.kind == "usage" else 1)


# ---------------------------------------------------------------------- channels


@channels_app.command("add")
def channels_add(
    url: Annotated[str | None, typer.Argument(
        help="An Apprise URL, e.g. slack://T…/B…/… or mailto://user:pass@host?to=you@example.com. "
             "Leave it out (or give -) to type it at a hidden prompt or pipe it in: it holds secrets.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The channel's name (default: its service's).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a channel; the URL is checked with Apprise first and stored in the credential store."""
    from ..alerts import manage

    if url in (None, "-"):
        try:
            url = ask("Apprise URL", secret=True)
        except NoInput as exc:
            fail(str(exc), as_json=as_json, kind="usage", code=2)
    manager = _manager()
    added = _run(as_json, lambda: manage.add_channel(manager.store, url or "", name))
    if as_json:
        emit_json({"ok": True, **added})
        return
    say(markup("[green]✓[/] added channel [bold]{}[/] ({}): {}", added["name"], added["service"], added["url"]))
    if added["stored"] == "keyring":
        say("  its URL is in the keychain (secrets.store is keyring)")
    for warning in added["warnings"]:
        say(markup("[yellow]![/] {}", warning))
    say(f"  send a test: devtrack alerts channels test {added['name']}")


@channels_app.command("list")
def channels_list(as_json: bool = JSON_OPTION) -> None:
    """Every channel, its URL masked."""
    from ..alerts import manage

    rows = manage.list_channels(_manager().store)
    if as_json:
        emit_json({"ok": True, "channels": rows})
        return
    if not rows:
        say("no channels yet: devtrack alerts channels add URL")
        return
    from .output import console
    from .tables import fit

    fit(None, ["name", "service", "url"], [[r["name"], r["service"], r["url"]] for r in rows],
        console.width).print(console)


@channels_app.command("remove")
def channels_remove(name: Annotated[str, typer.Argument(help="The channel's name.")],
                    as_json: bool = JSON_OPTION) -> None:
    """Remove a channel (its URL leaves the credential store)."""
    from ..alerts import manage

    _run(as_json, lambda: manage.remove_channel(_manager().store, name))
    if as_json:
        emit_json({"ok": True, "removed": name})
        return
    say(markup("[green]✓[/] removed channel {}", name))


@channels_app.command("test")
def channels_test(name: Annotated[str | None, typer.Argument(help="One channel (default: every one).")] = None,
                  as_json: bool = JSON_OPTION) -> None:
    """Send a test message now; exit 1 if a channel did not take it."""
    from ..alerts import manage

    manager = _manager()
    with _snapshots(manager, as_json) as snapshots:
        results = _run(as_json, lambda: manage.test_channels(manager.store, snapshots, name))
    ok = all(r["ok"] for r in results)
    if as_json:
        emit_json({"ok": ok, "results": results})
    else:
        for r in results:
            say(markup("{}: [green]sent[/]", r["name"]) if r["ok"]
                else markup("{}: [red]failed[/] {}", r["name"], r["error"]))
    if not ok:
        raise typer.Exit(1)


# ---------------------------------------------------------------------- rules


@app.command("rules")
def rules(as_json: bool = JSON_OPTION) -> None:
    """The built-in rules: on or off, and their settings."""
    from ..alerts import manage

    listed = manage.list_rules(_manager().store)
    if as_json:
        emit_json({"ok": True, "rules": listed})
        return
    for r in listed:
        state = markup("[green]on[/]") if r["enabled"] else markup("[dim]off[/]")
        say(markup("{} [bold]{}[/] — {}", state, r["id"], r["title"]))
        for s in r["settings"]:
            say(f"      {s['key']}={s['value']}  ({s['help']})")


def _pairs(items: list[str], as_json: bool) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"expected KEY=VALUE, not {item!r} (e.g. enabled=false, budget_usd=50)", as_json=as_json,
                 kind="usage", code=2)
        out[key.strip()] = value
    return out


@app.command("set")
def set_(rule: Annotated[str, typer.Argument(help="A rule id (devtrack alerts rules).")],
         values: Annotated[list[str] | None, typer.Argument(help="KEY=VALUE, e.g. enabled=false or days=7.")] = None,
         as_json: bool = JSON_OPTION) -> None:
    """Switch a rule on or off, or change its settings."""
    from ..alerts import manage

    pairs = _pairs(values or [], as_json)
    updated = _run(as_json, lambda: manage.set_rule(_manager().store, rule, pairs))
    if as_json:
        emit_json({"ok": True, "rule": updated})
        return
    settings = ", ".join(f"{s['key']}={s['value']}" for s in updated["settings"])
    say(markup("[green]✓[/] {}: {}", updated["id"], "on" if updated["enabled"] else "off")
        + (f"; {settings}" if settings else ""))


# ---------------------------------------------------------------------- mutes


@app.command("mute")
def mute(target: Annotated[str, typer.Argument(help="A connection id (vercel:acme) or a rule id.")],
         duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d.")] = "1h",
         as_json: bool = JSON_OPTION) -> None:
    """Send nothing for a connection or a rule for a while (incidents are still tracked)."""
    from ..alerts import manage

    manager = _manager()
    with _snapshots(manager, as_json) as snapshots:
        done = _run(as_json, lambda: manage.mute(manager, snapshots, target, duration))
    if as_json:
        emit_json({"ok": True, **done})
        return
    from ..text import humane_time, parse_time

    say(markup("[green]✓[/] muted {} until {}", target, humane_time(parse_time(done["until"]))))


@app.command("unmute")
def unmute(target: Annotated[str, typer.Argument(help="A connection id or a rule id.")],
           as_json: bool = JSON_OPTION) -> None:
    """End a mute now."""
    from ..alerts import manage

    manager = _manager()
    with _snapshots(manager, as_json) as snapshots:
        was = _run(as_json, lambda: manage.unmute(manager, snapshots, target))
    if as_json:
        emit_json({"ok": True, "target": target, "was_muted": was})
        return
    say(markup("[green]✓[/] unmuted {}", target) if was else f"{target} was not muted; nothing changed")


# ---------------------------------------------------------------------- history


@app.command("history")
def history(limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many lines of each.")] = 30,
            as_json: bool = JSON_OPTION) -> None:
    """Open incidents first, then recent incidents and every delivery attempt."""
    from ..alerts import manage

    manager = _manager()
    with _snapshots(manager, as_json) as snapshots:
        view = manage.overview(snapshots, limit)
    if as_json:
        emit_json({"ok": True, **view})
        return
    from ..text import humane_time, parse_time
    from .output import console
    from .tables import fit

    def when(text: str | None) -> str:
        return humane_time(parse_time(text)) if text else ""

    say(markup("[bold]Open incidents[/]") + f" ({len(view['open'])})")
    if view["open"]:
        fit(None, ["#", "started", "connection", "title"],
            [[str(i["id"]), when(i["started_at"]), i["connection"], i["title"]] for i in view["open"]],
            console.width).print(console)
    for m in view["mutes"]:
        say(f"  muted: {m['target']} until {when(m['until'])}")
    say(markup("\n[bold]Deliveries[/]") + (f" ({view['pending']} waiting)" if view["pending"] else ""))
    if not view["deliveries"]:
        say("  nothing sent yet")
        return
    fit(None, ["time", "kind", "channel", "status", "title", "message"],
        [[when(d["time"]), d["kind"], d["channel"] or "", d["status"], d["title"], d["detail"]]
         for d in view["deliveries"]], console.width).print(console)
