"""``devtrack integrations …``: list, show, set, unset, remove, enable, disable, test, data.

Each takes a connection id: the plugin id for its default connection (``vercel``), or
``PLUGIN:NAME`` for a named one (``vercel:acme``), which ``set`` creates and ``remove`` deletes.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer

from ..credentials import CredentialStoreError
from ..integrations.connections import InvalidConnectionId, parse
from ..integrations.contract import ConnectionResult, IntegrationData
from ..integrations.manager import (
    ConnectionStatus,
    CredentialsInvalid,
    DefaultConnection,
    IntegrationManager,
    PluginStatus,
    get_manager,
)
from ..integrations.registry import RegistryError, UnknownIntegration
from ..secretstore import STORES
from ..text import humane_time, plural
from .fastlist import print_table, last_test_dot
from .output import JSON_OPTION, Markup, NoInput, ask, console, emit_json, err_console, fail, markup, say, warn

app = typer.Typer(help="Connect, test and read your integrations.", no_args_is_help=True)

T = TypeVar("T")

ID_ARG = typer.Argument(
    ..., help="Connection id: a plugin id (github, vercel, aws-ec2) or PLUGIN:NAME (vercel:acme)."
)


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """Turn the known failures of the core into clear messages and exit status 1."""
    try:
        yield
    except UnknownIntegration as exc:
        fail(str(exc), as_json=as_json, kind="not_found")
    except InvalidConnectionId as exc:
        fail(str(exc), as_json=as_json, kind="usage", code=2)
    except DefaultConnection as exc:
        fail(str(exc), as_json=as_json, kind="config")
    except CredentialsInvalid as exc:
        if as_json:
            emit_json({"ok": False, "error": {"kind": "config", "message": str(exc), "fields": exc.errors}})
            raise typer.Exit(1) from None
        fail(str(exc), kind="config")
    except (CredentialStoreError, RegistryError) as exc:
        fail(str(exc), as_json=as_json, kind="config")
    except NoInput as exc:
        fail(str(exc), as_json=as_json, kind="config", code=2)


def _manager(as_json: bool) -> IntegrationManager:
    with _errors(as_json):
        manager = get_manager()
        for problem in manager.registry.problems:
            warn(problem)
        for w in manager.store.warnings():
            warn(w)
        return manager
    raise AssertionError("unreachable")  # pragma: no cover


def _connection_json(c: ConnectionStatus) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "label": c.label,
        "enabled": c.enabled,
        "configured": c.configured,
        "last_tested": c.last_tested.isoformat() if c.last_tested else None,
        "test_result": _result_json(c.id, c.test_result, plugin=parse(c.id)[0]) if c.test_result else None,
    }


def _status_json(st: PluginStatus) -> dict[str, Any]:
    return {
        "id": st.id,
        "plugin": st.plugin or st.id,
        "name": st.name,
        "label": st.label or st.name,
        "description": st.description,
        "docs_url": st.docs_url,
        "enabled": st.enabled,
        "configured": st.configured,
        "last_tested": st.last_tested.isoformat() if st.last_tested else None,
        "test_result": _result_json(st.id, st.test_result, plugin=st.plugin or st.id) if st.test_result else None,
        "connections": [_connection_json(c) for c in st.connections],
        "fields": [
            {
                "key": f.key,
                "label": f.label,
                "kind": str(f.kind),
                "secret": f.secret,
                "masked": f.masked,
                "required": f.required,
                "help": f.help,
                "placeholder": f.placeholder,
            }
            for f in st.fields
        ],
    }


def _result_json(cid: str, r: ConnectionResult, plugin: str | None = None) -> dict[str, Any]:
    """A test result; ``plugin`` (given for integrations, not AI providers) names the plugin
    of the connection ``cid``."""
    return {
        "id": cid,
        **({"plugin": plugin} if plugin is not None else {}),
        "ok": r.ok,
        "status": str(r.kind),
        "message": r.message,
        "elapsed_ms": round(r.elapsed_ms, 1),
        "details": r.details,
    }


def _data_json(d: IntegrationData) -> dict[str, Any]:
    return {
        "id": d.id,
        "plugin": d.plugin or d.id,
        "fetched_at": d.fetched_at.isoformat(),
        "health": d.health.model_dump(mode="json"),
        "events": [e.model_dump(mode="json") for e in d.events],
        "records": d.records.model_dump(mode="json"),
        "error": _result_json(d.id, d.error, plugin=d.plugin or d.id) if d.error else None,
    }


def _dot(st: PluginStatus | ConnectionStatus) -> Markup:
    return last_test_dot({"ok": st.test_result.ok, "status": str(st.test_result.kind)} if st.test_result else None)


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List every integration and its connections: enabled, configured, last test."""
    manager = _manager(as_json)
    with _errors(as_json):
        statuses = manager.statuses()
    if as_json:
        emit_json([_status_json(s) for s in statuses])
        return
    print_table([_status_json(s) for s in statuses])


@app.command()
def show(plugin_id: str = ID_ARG, as_json: bool = JSON_OPTION) -> None:
    """Show one connection, its fields and its stored credentials (masked)."""
    manager = _manager(as_json)
    with _errors(as_json):
        doc = manager.store.read()
        manager.require(plugin_id, doc)
        st = manager.status(plugin_id, doc)
        masked = manager.masked(plugin_id, doc)
        sources = manager.env_sources(plugin_id)
        overrides = sorted(sources)
        cls = manager.plugin_class(plugin_id)
    if as_json:
        emit_json(
            _status_json(st)
            | {
                "credentials": masked,
                "env_overrides": overrides,
                "env_vars": dict(sorted(sources.items())),
                "sources": manager.sources(plugin_id, doc),
                "setup_guide": cls.setup_guide,
                "store": str(manager.store.path),
            }
        )
        return
    say(markup("[bold]{}[/] ({}) — {}", st.label or st.name, st.id, st.description))
    say(f"docs: {st.docs_url}")
    say(f"enabled: {'yes' if st.enabled else 'no'}   configured: {'yes' if st.configured else 'no'}   " + _dot(st))
    if st.test_result:
        say(f"last test: {st.test_result.message}")
    from rich.table import Table

    table = Table(title_justify="left")
    for col in ("field", "label", "kind", "required", "stored"):
        table.add_column(col)
    for f in st.fields:
        stored = masked.get(f.key, "")
        if f.key in overrides:
            stored = stored + markup(" [cyan](env override: {})[/]", sources[f.key])
        table.add_row(f.key, f.label, str(f.kind) + (" 🔒" if f.secret else ""),
                      "yes" if f.required else "", stored)
    console.print(table)
    if cls.setup_guide:
        say(markup("\n[bold]Setup[/]\n{}", cls.setup_guide))
    say(markup("\n[dim]credentials file: {}[/]", manager.store.path))


def _parse_pairs(manager: IntegrationManager, plugin_id: str, pairs: list[str]) -> dict[str, str | None]:
    """``FIELD=VALUE`` pairs; a bare secret ``FIELD`` is prompted for with hidden input."""
    fields = {f.key: f for f in manager.plugin_class(plugin_id).credentials_model.fields()}
    values: dict[str, str | None] = {}
    if not pairs:  # interactive (or one line per field on stdin): every field, blank keeps
        for f in fields.values():
            values[f.key] = ask(f"{f.label} (blank keeps the stored value)", secret=f.secret, default="") or None
        return values
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep:
            if key in fields and fields[key].secret:
                value = ask(fields[key].label, secret=True)
            else:
                raise CredentialsInvalid(plugin_id, {key: "expected FIELD=VALUE"})
        values[key] = value
    return values


def _cleared_lines(manager: IntegrationManager, plugin_id: str, cleared: list[str]) -> list[str]:
    """What a user is told when a changed URL or host cleared secrets: which, why, what to run."""
    if not cleared:
        return []
    fields = manager.plugin_class(plugin_id).credentials_model.fields()
    labels = {f.key: f.label for f in fields}
    moved = [f.label for f in fields if f.destination and set(f.carries) & set(cleared)]
    names = ", ".join(f"{labels[k]} ({k})" for k in cleared)
    return [
        markup("[yellow]![/] ") + f"cleared the stored {names}: {'it was' if len(cleared) == 1 else 'they were'} "
        f"entered for the previous {' / '.join(moved) or 'destination'}",
        f"  enter {'it' if len(cleared) == 1 else 'them'} again with: "
        f"devtrack integrations set {plugin_id} {' '.join(cleared)}",
    ]


@app.command("set")
def set_(
    plugin_id: str = ID_ARG,
    pairs: Annotated[list[str] | None, typer.Argument(help="FIELD=VALUE pairs; a secret FIELD alone is prompted for.")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Save credentials, merged with what is stored; validated before anything is written.

    A named connection (vercel:acme) that does not exist yet is created. A secret may be given
    as a reference: env:NAME, file:PATH, op://VAULT/ITEM/FIELD or keyring:ACCOUNT (plain:…
    stores a value that only looks like one).
    """
    manager = _manager(as_json)
    with _errors(as_json):
        created = not manager.exists(plugin_id)
        values = _parse_pairs(manager, plugin_id, list(pairs or []))
        saved = manager.save_credentials(plugin_id, values)
        cleared = saved.cleared
        masked = manager.masked(plugin_id)
    if as_json:
        emit_json({"ok": True, "id": plugin_id, "credentials": masked, "cleared": cleared,
                   "warnings": saved.warnings})
        return
    for w in saved.warnings:
        warn(w)
    if created:
        say(markup("[green]✓[/] created the connection {}", plugin_id))
    say(markup("[green]✓[/] saved {} credentials: {}", plugin_id, ", ".join(f"{k}={v}" for k, v in masked.items())))
    for line in _cleared_lines(manager, plugin_id, cleared):
        say(line)
    if not cleared:
        say(f"  test them with: devtrack integrations test {plugin_id}")


@app.command()
def unset(
    plugin_id: str = ID_ARG,
    keys: Annotated[list[str] | None, typer.Argument(help="Fields to remove (default: all).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove some or all stored credentials of a connection (a named one stays, empty: see remove)."""
    manager = _manager(as_json)
    with _errors(as_json):
        cleared = manager.unset(plugin_id, keys or None)
        masked = manager.masked(plugin_id)
    if as_json:
        emit_json({"ok": True, "id": plugin_id, "credentials": masked, "cleared": cleared})
        return
    say(markup("[green]✓[/] removed {} stored credentials of {}", ", ".join(keys) if keys else "all", plugin_id))
    for line in _cleared_lines(manager, plugin_id, cleared):
        say(line)


@app.command()
def remove(
    plugin_id: Annotated[str, typer.Argument(help="A named connection, e.g. vercel:acme.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a named connection: its credentials, switch and test record (asks first)."""
    manager = _manager(as_json)
    with _errors(as_json):
        doc = manager.store.read()
        if parse(plugin_id)[1] is None:
            manager.plugin_of(plugin_id)
            manager.remove_connection(plugin_id)  # refuses, saying to use unset
        manager.require(plugin_id, doc)
        label = manager.label(plugin_id)
    if not yes:
        if not sys.stdin.isatty():
            fail(f"removing {plugin_id} deletes its stored credentials and cannot be undone; "
                 f"confirm with: devtrack integrations remove {plugin_id} --yes", as_json=as_json, kind="usage", code=2)
        if not typer.confirm(f"Remove the connection {plugin_id} ({label}) and its stored credentials?",
                             default=False, err=True):
            fail(f"not removed: {plugin_id} is unchanged", as_json=as_json, kind="cancelled")
    with _errors(as_json):
        manager.remove_connection(plugin_id)
    if as_json:
        emit_json({"ok": True, "id": plugin_id, "removed": True})
    else:
        say(markup("[green]✓[/] removed the connection {}", plugin_id))


def _toggle(plugin_id: str, enabled: bool, as_json: bool) -> None:
    manager = _manager(as_json)
    with _errors(as_json):
        manager.set_enabled(plugin_id, enabled)
    if as_json:
        emit_json({"ok": True, "id": plugin_id, "enabled": enabled})
    else:
        say(markup("[green]✓[/] {} {}", plugin_id, "enabled" if enabled else "disabled"))


@app.command()
def enable(plugin_id: str = ID_ARG, as_json: bool = JSON_OPTION) -> None:
    """Enable an integration."""
    _toggle(plugin_id, True, as_json)


@app.command()
def disable(plugin_id: str = ID_ARG, as_json: bool = JSON_OPTION) -> None:
    """Disable an integration (its credentials stay stored)."""
    _toggle(plugin_id, False, as_json)


def _run_with_progress(
    label: str, ids: list[str], one: Callable[[str], Awaitable[T]], as_json: bool
) -> list[T]:
    """Run ``one`` for every id concurrently, with a live progress display for people."""
    import asyncio

    async def run_all() -> list[T]:
        if as_json or len(ids) < 2 or not err_console.is_terminal:
            return list(await asyncio.gather(*(one(i) for i in ids)))
        from rich.progress import Progress, SpinnerColumn, TextColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), console=err_console, transient=True) as prog:
            task = prog.add_task(f"{label} {plural(len(ids), 'connection')}…", total=len(ids))

            async def tracked(i: str) -> T:
                out = await one(i)
                prog.advance(task)
                prog.update(task, description=f"{label}: {i} done")
                return out

            return list(await asyncio.gather(*(tracked(i) for i in ids)))

    return asyncio.run(run_all())


def _pick(manager: IntegrationManager, plugin_id: str | None, all_: bool, as_json: bool, what: str) -> list[str]:
    if all_ == (plugin_id is not None):
        fail(f"give one connection id or --all (e.g. devtrack integrations {what} github)", as_json=as_json, kind="config", code=2)
    if plugin_id is not None:
        with _errors(as_json):
            manager.require(plugin_id)
        return [plugin_id]
    return []


@app.command()
def test(
    plugin_id: Annotated[str | None, typer.Argument(help="Connection id (vercel, vercel:acme).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Test every connection of every integration.")] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Test connections; exits 1 when any tested connection failed."""
    import asyncio

    manager = _manager(as_json)
    ids = _pick(manager, plugin_id, all_, as_json, "test")
    with _errors(as_json):
        ids = ids or manager.connection_ids()
        if len(ids) == 1:
            results = [(ids[0], asyncio.run(manager.test(ids[0])))]
        else:
            results = _run_with_progress("testing", ids, lambda i: manager.test(i, record=False), as_json)
            results = list(zip(ids, results))
            manager._record_many(results)
    if as_json:
        out = [_result_json(i, r, plugin=parse(i)[0]) for i, r in results]
        emit_json(out if all_ else out[0])
    else:
        from rich.table import Table

        table = Table(title="Connection tests", title_justify="left")
        for col in ("id", "result", "message", "time"):
            table.add_column(col)
        for i, r in results:
            table.add_row(i, markup("[green]ok[/]") if r.ok else markup("[red]{}[/]", r.kind), r.message,
                          f"{r.elapsed_ms:.0f} ms")
        console.print(table)
    if not all(r.ok for _, r in results):
        raise typer.Exit(1)


@app.command()
def data(
    plugin_id: Annotated[str | None, typer.Argument(help="Connection id (vercel, vercel:acme).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every enabled, configured connection.")] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Fetch data (health, events, records); exits 1 when any fetch failed."""
    manager = _manager(as_json)
    with _errors(as_json):
        ids = _pick(manager, plugin_id, all_, as_json, "data") or manager.fetchable()
        results = _run_with_progress("fetching", ids, manager.fetch, as_json)
    if as_json:
        out = [_data_json(d) for d in results]
        emit_json(out if all_ else out[0])
    else:
        for d in results:
            colour = {"healthy": "green", "degraded": "yellow", "down": "red"}.get(d.health.status, "dim")
            say(markup(f"[bold]{{}}[/] [{colour}]{{}}[/] {{}}", d.id, d.health.status, d.health.detail))
            if d.error:
                say(markup("  [red]{}[/]: {}", d.error.kind, d.error.message))
            counts = d.records.non_empty()
            if counts:
                say("  records: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
            for e in d.events[:5]:
                colour = {"error": "red", "warning": "yellow"}.get(e.severity, "dim")
                when = humane_time(e.time, "")
                say(markup(f"  [{colour}]•[/] {{}} {{}}", when, e.title))
        if not results:
            say("No enabled, configured integrations. See: devtrack integrations list")
    if any(d.error for d in results):
        raise typer.Exit(1)


@app.command("move-secrets")
def move_secrets(
    to: Annotated[str, typer.Option("--to", help="Where every stored secret goes: keyring or file.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Move every stored secret to the OS keychain, or back into the credentials file.

    Safe if interrupted: each secret is copied and read back before its original goes, so it
    is always in one place or the other; running it again finishes the job. New secrets then
    go where they were moved. Exits 1 when some secret could not be moved.
    """
    from ..secret_move import MoveFailed, move

    if to not in STORES:
        fail(f"--to must be one of {', '.join(STORES)}, not {to!r}", as_json=as_json, kind="usage", code=2)
    manager = _manager(as_json)
    with _errors(as_json):
        try:
            report = move(manager.store, to, [manager.secret_locator()])
        except MoveFailed as exc:
            fail(str(exc), as_json=as_json, kind="config")
    where = "the keychain" if to == "keyring" else str(manager.store.path)
    if as_json:
        emit_json({"ok": not report.kept, "to": to, "moved": report.moved, "already": report.already,
                   "references": report.references, "kept": report.kept, "removed": report.removed})
    else:
        if report.moved:
            say(markup("[green]✓[/] moved {} to {}: {}", plural(len(report.moved), "secret"), where,
                       ", ".join(report.moved)))
        else:
            say(f"nothing to move: no stored secret was outside {where}")
        if report.already:
            say(f"  already there: {', '.join(report.already)}")
        if report.references:
            say(f"  references, left as they are: {', '.join(report.references)}")
        if report.removed:
            say(f"  removed from the keychain: {plural(len(report.removed), 'entry', 'entries')}")
        for line in report.kept:
            warn(f"not moved: {line}")
    if report.kept:
        raise typer.Exit(1)
