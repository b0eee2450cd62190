"""The typer command tree: the root callback, ``init``, and the sub-commands in :data:`COMMANDS`."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from .. import __version__
from .app import COMMANDS
from .output import JSON_OPTION, emit_json, fail, markup, say, warn


def build(only: set[str] | None = None) -> typer.Typer:
    """The root app with every sub-command, or only those in ``only``."""
    root_app = typer.Typer(
        name="devtrack",
        help="DevTrack: connect the services your project lives on, check they work, see their data.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name, (module, attr, group) in COMMANDS.items():
        if only is not None and name not in only:
            continue
        target = getattr(importlib.import_module(module, __package__), attr)
        if group:
            root_app.add_typer(target, name=name)
        else:
            root_app.command(name)(target)
    root_app.callback()(root)
    root_app.command("init")(init)
    return root_app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"devtrack {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """DevTrack: a local-first developer dashboard."""
    from ..redact import install_logging_filter

    install_logging_filter()


def init(
    directory: Annotated[Path | None, typer.Argument(help="Project directory (default: here).")] = None,
    secrets: Annotated[str | None, typer.Option(
        "--secrets", help="Where new secrets go: keyring (the OS keychain, where one answers) or file.")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create the project's .credentials.json (mode 600) and make git ignore it."""
    from ..credentials import CredentialStore, CredentialStoreError, init_project
    from ..secretstore import STORES, preference, set_preference

    if secrets is not None and secrets not in STORES:
        fail(f"--secrets must be one of {', '.join(STORES)}, not {secrets!r}", as_json=as_json, kind="usage", code=2)
    try:
        path, done = init_project(directory)
        store = CredentialStore(path)
        warnings = store.warnings()
        if secrets is not None:
            chosen = secrets
            if secrets == "keyring":
                from ..keychain import probe

                problem = probe()
                if problem is not None:
                    chosen = "file"
                    warnings.append(f"{problem}: new secrets will be kept in {path} instead; run "
                                    "devtrack init --secrets keyring again where a keychain answers")
            store.update(lambda doc: set_preference(doc, chosen))
            done.append("new secrets go to " + ("the OS keychain" if chosen == "keyring" else str(path)))
            if chosen == "keyring":
                done.append("secrets already stored stay where they are until: "
                            "devtrack integrations move-secrets --to keyring")
        chosen = preference(store.read())
    except CredentialStoreError as exc:
        fail(str(exc), as_json=as_json, kind="config")
    if as_json:
        emit_json({"ok": True, "path": str(path), "done": done, "warnings": warnings, "secrets": chosen})
        return
    for line in done:
        say(markup("[green]✓[/] {}", line))
    for w in warnings:
        warn(w)
