"""Where the reliability tests leave their tables, for `./dev reliability` to print."""

from __future__ import annotations

from pathlib import Path

DIR = Path("artifacts") / "reliability"

#: One row of a table of cases: what was tried, what came back, and whether that is right
#: (None: the case cannot run on this machine; the answer says why).
Row = tuple[str, str, bool | None]


def write(name: str, text: str) -> None:
    DIR.mkdir(parents=True, exist_ok=True)
    (DIR / f"{name}.txt").write_text(text.rstrip() + "\n")
