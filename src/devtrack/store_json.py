"""Strict JSON for the credential store: what Python's ``json`` lets through, refused with a position.

``json.loads`` accepts ``NaN``, ``Infinity`` and numbers that overflow to infinity (none of them
JSON), keeps the last of duplicate keys (so a hand-edited file silently means something else),
and on deep nesting raises ``RecursionError`` instead of a parse error. A hand-edited credential
file gets a plain answer for each, with the line and column to fix.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Far deeper than the store's schema (about six levels), far below Python's recursion limit.
MAX_DEPTH = 64

_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # a string (skipped whole, so brackets inside it do not count)
    r"|[{}\[\]:]"
    r"|-?Infinity|NaN"
    r"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"
)


class JsonProblem(ValueError):
    """Why the text is not acceptable, and where (1-based, as ``json`` counts)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.message, self.line, self.column = message, line, column


def _problem(text: str, pos: int, message: str) -> JsonProblem:
    line = text.count("\n", 0, pos) + 1
    return JsonProblem(message, line, pos - text.rfind("\n", 0, pos))


def _scan(text: str) -> tuple[JsonProblem | None, JsonProblem | None]:
    """(nesting too deep, first other problem): found outside strings, in one pass."""
    keys: list[set[str] | None] = []  # per open container: the keys seen (None for arrays)
    last = ""
    last_at = 0
    other: JsonProblem | None = None
    for m in _TOKEN.finditer(text):
        tok, at = m.group(), m.start()
        first = tok[0]
        if first in "{[":
            if len(keys) >= MAX_DEPTH:
                return _problem(text, at, f"nested more than {MAX_DEPTH} levels deep"), other
            keys.append(set() if first == "{" else None)
        elif first in "}]":
            if keys:
                keys.pop()
        elif other is not None or first == '"':
            pass
        elif first == ":":
            seen = keys[-1] if keys else None
            if seen is not None and last.startswith('"'):
                try:
                    key = json.loads(last)
                except ValueError:
                    key = None  # a bad escape: json.loads reports it
                if isinstance(key, str):
                    if key in seen:
                        shown = key if len(key) <= 40 else key[:40] + "…"
                        other = _problem(text, last_at, f"duplicate key {json.dumps(shown)}")
                    seen.add(key)
        elif tok in ("NaN", "Infinity", "-Infinity"):
            other = _problem(text, at, f"{tok} is not a JSON value")
        elif not math.isfinite(float(tok)):
            other = _problem(text, at, f"the number {tok[:20]} is too large")
        last, last_at = tok, at
    return None, other


def loads(text: str) -> Any:
    """Parse ``text`` as strict JSON; raise :class:`JsonProblem` with the position otherwise."""
    deep, other = _scan(text)
    if deep is not None:
        raise deep
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonProblem(exc.msg, exc.lineno, exc.colno) from None
    if other is not None:
        raise other
    return value
