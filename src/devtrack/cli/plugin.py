"""``devtrack plugin``: tools for writing a third-party integration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .output import JSON_OPTION, emit_json, fail, markup, say

app = typer.Typer(help="Write a third-party integration: scaffold a package that passes the plugin kit.",
                  no_args_is_help=True, add_completion=False)


@app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="The plugin id (lower-case, dashes allowed), e.g. acme.")],
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Where to write the package (default: ./devtrack-NAME); must not exist or be empty.",
    )] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Scaffold a plugin package: pyproject with the entry point, plugin, emulator, conformance test."""
    from ..scaffold import ScaffoldError, scaffold

    try:
        root, written = scaffold(name, directory)
    except ScaffoldError as exc:
        fail(str(exc), as_json=as_json, kind="config")
    if as_json:
        emit_json({"ok": True, "path": str(root), "files": [str(p.relative_to(root)) for p in written]})
        return
    say(markup("[green]✓[/] wrote {} ({} files)", str(root), len(written)))
    say(markup("next: {}", f"cd {root} && pip install -e '.[test]' && pytest"))
