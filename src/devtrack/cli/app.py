"""The ``devtrack`` command: the root app and its sub-commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import __version__
from .ai import app as ai_app
from .git import app as git_app
from .integrations import app as integrations_app
from .sandbox import app as sandbox_app
from .serve import serve
from .views import app as views_app
from .views import status
from .output import JSON_OPTION, emit_json, fail, say, warn

app = typer.Typer(
    name="devtrack",
    help="DevTrack: connect the services your project lives on, check they work, see their data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(integrations_app, name="integrations")
app.add_typer(git_app, name="git")
app.add_typer(views_app, name="views")
app.command("status")(status)
app.command("serve")(serve)
app.add_typer(ai_app, name="ai")
app.add_typer(sandbox_app, name="sandbox")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"devtrack {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """DevTrack: a local-first developer dashboard."""
    from ..redact import install_logging_filter

    install_logging_filter()


@app.command()
def init(
    directory: Annotated[Path | None, typer.Argument(help="Project directory (default: here).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create the project's .credentials.json (mode 600) and make git ignore it."""
    from ..credentials import CredentialStore, CredentialStoreError, init_project

    try:
        path, done = init_project(directory)
    except CredentialStoreError as exc:
        fail(str(exc), as_json=as_json, kind="config")
    warnings = CredentialStore(path).warnings()
    if as_json:
        emit_json({"ok": True, "path": str(path), "done": done, "warnings": warnings})
        return
    for line in done:
        say(f"[green]✓[/] {line}")
    for w in warnings:
        warn(w)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
