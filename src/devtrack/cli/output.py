"""Printing for the CLI: rich tables for people, ``--json`` for scripts, secrets masked in both.

What the consoles print is plain text unless DevTrack marked it as its own markup
(:class:`Markup`, built with :func:`markup`): a commit subject ``fix [/] parsing``, a stored
``[link=…]`` or a service's error text prints as it is, whichever command prints it.
"""


from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer
from rich.text import Text

from .. import redact
from .console import Markup as Markup  # re-exported: commands import them from here
from .console import console as console
from .console import err_console as err_console
from .console import markup as markup
from .console import plain as plain


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, set):
        return sorted(obj)
    return str(obj)


def to_json(data: Any) -> str:
    """``data`` as JSON, secrets masked by value: a short secret never touches keys or syntax."""
    return redact.redactor.dumps(data, indent=2, default=_default, ensure_ascii=False)


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (secrets masked, whatever a caller passed)."""
    sys.stdout.write(to_json(data) + "\n")
    sys.stdout.flush()


def say(message: str) -> None:
    """Print a line on stdout: plain text, or our own :class:`Markup`."""
    console.print(message)


def warn(message: str) -> None:
    """Print ``warning: message`` on stderr (``message`` is text unless it is :class:`Markup`)."""
    err_console.print(markup("[yellow]warning:[/] {}", message))


def fail(message: str, *, as_json: bool = False, kind: str = "error", code: int = 1) -> NoReturn:
    """Report an error (as ``{ok: false, error: {kind, message}}`` under ``--json``) and exit."""
    if as_json:
        text = Text.from_markup(message).plain if isinstance(message, Markup) else message
        emit_json({"ok": False, "error": {"kind": kind, "message": redact.redactor(text)}})
    else:
        err_console.print(markup("[red]error:[/] {}", message), soft_wrap=True)
    raise typer.Exit(code)


def fail_store(exc: Exception, *, as_json: bool = False) -> NoReturn:
    """Report a snapshot store failure in one line: ``unavailable`` (the database is away: try
    again later) or ``config`` (the store URL or its database is unusable); exit status 1."""
    from ..views.sqldb import StoreUnavailable

    fail(redact.safe_str(exc), as_json=as_json, kind="unavailable" if isinstance(exc, StoreUnavailable) else "config")


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
