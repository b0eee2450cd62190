"""Printing for the CLI: rich tables for people, ``--json`` for scripts, secrets masked in both."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

from .. import redact

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, set):
        return sorted(obj)
    return str(obj)


def to_json(data: Any) -> str:
    return redact.redactor(json.dumps(data, indent=2, default=_default, ensure_ascii=False))


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (secrets masked, whatever a caller passed)."""
    sys.stdout.write(to_json(data) + "\n")
    sys.stdout.flush()


def say(message: str) -> None:
    console.print(redact.redactor(message))


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {redact.redactor(message)}")


def fail(message: str, *, as_json: bool = False, kind: str = "error", code: int = 1) -> NoReturn:
    """Report an error (as ``{ok: false, error: {kind, message}}`` under ``--json``) and exit."""
    message = redact.redactor(message)
    if as_json:
        emit_json({"ok": False, "error": {"kind": kind, "message": message}})
    else:
        err_console.print(f"[red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


JSON_OPTION = typer.Option(False, "--json", help="Print JSON for scripts instead of tables.")
