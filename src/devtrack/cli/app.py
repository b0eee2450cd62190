"""The ``devtrack`` command: the root app and its sub-commands."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import __version__
from .output import JSON_OPTION, emit_json, fail, markup, say, warn

#: Sub-commands in help order: name -> (module, attribute, is a group). Each module is
#: imported only when its command runs (or for the full help), so that ``devtrack status``
#: does not pay for the web app, the AI proxy or the sandbox.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "integrations": (".integrations", "app", True),
    "git": (".git", "app", True),
    "views": (".views", "app", True),
    "status": (".views", "status", False),
    "serve": (".serve", "serve", False),
    "ai": (".ai", "app", True),
    "alerts": (".alerts", "app", True),
    "sandbox": (".sandbox", "app", True),
    "doctor": (".doctor", "doctor", False),
    "plugin": (".plugin", "app", True),
}


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


def invoked(argv: list[str]) -> set[str] | None:
    """The sub-commands a command line needs: its first word's, or all (for help and typos)."""
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        return set() if "--version" in argv else None
    first = words[0]
    if first == "init":
        return set()
    return {first} if first in COMMANDS else None


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


def main() -> None:
    """Console-script entry point: builds only what this command line needs.

    A credential-store failure that a command did not report itself is reported here, as
    every other error is (JSON under ``--json``, exit 1), never as a traceback.
    """
    from ..store_errors import CredentialStoreError

    if "DEVTRACK_SANDBOX_PID" in os.environ:  # this shell loaded a sandbox's env file: still running?
        from .sandbox import warn_if_stale

        warn_if_stale(os.environ)
    try:
        build(invoked(sys.argv[1:]))()
    except CredentialStoreError as exc:
        try:
            fail(str(exc), as_json="--json" in sys.argv[1:], kind="config")
        except typer.Exit as done:
            sys.exit(done.exit_code)


def __getattr__(name: str) -> typer.Typer:
    """``app``: the full command tree, for tests and tools that import it."""
    if name == "app":
        return build()
    raise AttributeError(name)


if __name__ == "__main__":  # pragma: no cover
    main()
