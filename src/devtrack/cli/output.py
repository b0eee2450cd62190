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


class NoInput(Exception):
    """Standard input ended before a value that had to be read from it."""


def ask(label: str, *, secret: bool, default: str | None = None) -> str:
    """A value typed at the terminal (prompt on stderr, hidden for secrets), or the next line of
    piped standard input.

    Piped input is read directly: ``getpass`` would warn that it cannot hide the echo, and
    the prompt goes to stderr either way, so stdout carries only the command's own output
    (``set … --json`` prints JSON alone). ``default`` is what a blank answer or the end of
    the input gives; without one, the end of the input raises :class:`NoInput`.
    """
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        line = stdin.readline() if stdin is not None else ""
        if not line and default is None:
            raise NoInput(f"no value for {label} on standard input: pipe one line into the command "
                          "or run it in a terminal to be asked")
        return line.rstrip("\r\n") or (default or "")
    return str(typer.prompt(label, default=default, show_default=False, hide_input=secret, err=True))


JSON_OPTION = typer.Option(False, "--json", help="Print JSON for scripts instead of tables.")
