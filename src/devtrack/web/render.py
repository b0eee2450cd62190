"""Template filters: setup guides rendered safely, times people can read, status dots."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

from ..integrations.contract import utcnow

_URL = re.compile(r"https?://[^\s<>\"')]+[^\s<>\"').,;:]")
_CODE = re.compile(r"`([^`]+)`")


def guide(text: str | None) -> Markup:
    """Plain text to HTML: escaped first, then paragraphs, `code` and bare links.

    Only markup we add survives; a guide can never inject HTML or a ``javascript:`` link.
    """
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text or ""):
        if not para.strip():
            continue
        html = str(escape(para.strip()))
        html = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", html)
        html = _URL.sub(lambda m: f'<a href="{m.group(0)}" rel="noopener noreferrer" target="_blank">{m.group(0)}</a>', html)
        out.append("<p>" + html.replace("\n", "<br>") + "</p>")
    return Markup("\n".join(out))


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """"3 min ago", "2 h ago", "5 days ago", or the date when older."""
    if when is None:
        return "never"
    seconds = ((now or utcnow()) - when).total_seconds()
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    if seconds < 7 * 86400:
        from ..text import plural

        return f"{plural(round(seconds / 86400), 'day')} ago"
    return f"{when:%Y-%m-%d}"


def dot(result: Any) -> str:
    """The status-dot class of a last test result: never tested, passing or failing."""
    if result is None:
        return "never"
    return "passing" if result.ok else "failing"


def install_filters(env: Environment) -> None:
    env.filters["guide"] = guide
    env.filters["ago"] = ago
    env.filters["dot"] = dot
