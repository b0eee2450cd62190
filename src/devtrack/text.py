"""Words for people: counts with the right plural, times as people read them, "did you mean".

Pure functions with no heavy imports, shared by the CLI, the web pages and the plugins'
messages, so that "1 commit" and "2 commits" read the same everywhere.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timezone


def plural(count: int, word: str, many: str | None = None) -> str:
    """``"1 commit"``, ``"2 commits"``, ``"1,204 branches"`` (``many`` for irregular plurals)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to a mistyped one, if one is close enough to suggest."""
    close = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
    return close[0] if close else None


#: A stored time as the views write it: ISO 8601, or "YYYY-MM-DD HH:MM" (UTC).
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def parse_time(text: str) -> datetime | None:
    """A cell or field holding only a time, as an aware datetime (no zone means UTC)."""
    text = text.strip()
    if not _TIME.fullmatch(text):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def humane_time(when: datetime | str | None, never: str = "never", now: datetime | None = None) -> str:
    """"just now", "5 min ago", "3 h ago" within a day; older (or future) as local "2026-12-01 14:03".

    Relative times read fastest for what just happened; past a day people want the date, in
    their own time zone rather than the UTC the snapshots are stored in.
    """
    if isinstance(when, str):
        when = parse_time(when) if when else None
    if when is None:
        return never
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    seconds = ((now or datetime.now(timezone.utc)) - when).total_seconds()
    if -60 < seconds < 45:
        return "just now"
    if 0 < seconds < 3600:
        return f"{max(1, int(seconds // 60))} min ago"
    if 0 < seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{when.astimezone():%Y-%m-%d %H:%M}"


def control_char_problem(label: str, value: str) -> str | None:
    """Why a field value is refused for holding a control character (never the value itself).

    No credential is more than one line of printable text; a line break inside a token would
    end up in an HTTP header, where the client library's error quotes the whole token.
    Surrounding whitespace is not counted: it is stripped before use.
    """
    for char in value.strip():
        if unicodedata.category(char) == "Cc":
            what = {"\n": "a line break", "\r": "a line break", "\t": "a tab"}.get(char, "a control character")
            return f"{label} contains {what} (U+{ord(char):04X}); enter the value on one line, without it"
    return None
