"""The CLI's consoles and markup, without typer: what every command prints through.

What the consoles print is plain text unless DevTrack marked it as its own markup
(:class:`Markup`, built with :func:`markup`): a commit subject ``fix [/] parsing``, a stored
``[link=…]`` or a service's error text prints as it is, whichever command prints it. Kept
apart from :mod:`.output` so ``integrations list`` can print its table without typer.
"""

from __future__ import annotations

import re
import string
from typing import Any

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
