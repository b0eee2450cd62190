"""Printing for the CLI: rich tables for people, ``--json`` for scripts, secrets masked in both.

What the consoles print is plain text unless DevTrack marked it as its own markup
(:class:`Markup`, built with :func:`markup`): a commit subject ``fix [/] parsing``, a stored
``[link=…]`` or a service's error text prints as it is, whichever command prints it.
"""


from __future__ import annotations

import re
import string
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console, HighlighterType, JustifyMethod, OverflowMethod
from rich.markup import escape
from rich.style import Style
from rich.text import Text

from .. import redact

#: Control characters but newline and tab: a terminal would act on them (ESC starts colours,
#: titles and OSC 8 hyperlinks), so they are shown as ``\x1b`` instead.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str) -> str:
    """``text`` as it may reach the terminal: secrets masked, control characters made visible."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", redact.redactor(text))


class Markup(str):
    """Rich markup that DevTrack wrote: the only strings its consoles read as markup.

    Build one with :func:`markup`. ``Markup + str`` (either way round) escapes the plain side,
    so a value can never turn into a style or a link by being joined to our markup.
    """

    def __add__(self, other: str) -> Markup:
        return Markup(str.__add__(self, _quote(other)))

    def __radd__(self, other: str) -> Markup:
        return Markup(_quote(other) + str(self))


def _quote(value: object) -> str:
    return str(value) if isinstance(value, Markup) else escape(plain(str(value)))


class _Filler(string.Formatter):
    """``str.format`` whose fields are plain text: formatted, then escaped (Markup stays markup)."""

    def format_field(self, value: Any, format_spec: str) -> str:
        text = format(value, format_spec)
        return text if isinstance(value, Markup) else escape(plain(text))


_FILLER = _Filler()


def markup(template: str, *args: Any, **kwargs: Any) -> Markup:
    """Our markup ``template`` with its ``{}`` fields filled in as text, e.g.
    ``markup("[green]✓[/] saved {} credentials", plugin_id)``."""
    return Markup(_FILLER.vformat(template, args, kwargs))


class _Console(Console):
    """A console that reads markup only from :class:`Markup`; any other string is plain text.

    Every string rich prints (``print`` arguments, table cells, headers and titles) goes
    through :meth:`render_str`, so no command can print a value as markup by forgetting to
    escape it. Emoji codes are left as typed (``:bug:`` in a subject is not an emoji).
    """

    def render_str(self, text: str, *, style: str | Style = "", justify: JustifyMethod | None = None,
                   overflow: OverflowMethod | None = None, emoji: bool | None = None, markup: bool | None = None,
                   highlight: bool | None = None, highlighter: HighlighterType | None = None) -> Text:
        ours = isinstance(text, Markup)
        return super().render_str(
            redact.redactor(text) if ours else plain(text), style=style, justify=justify, overflow=overflow,
            emoji=False, markup=markup if ours else False, highlight=highlight, highlighter=highlighter)


console = _Console(highlight=False, emoji=False)
err_console = _Console(stderr=True, highlight=False, emoji=False)


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
