"""Where the reliability tests leave their tables, for `./dev reliability` to print."""

from __future__ import annotations

from pathlib import Path

DIR = Path("artifacts") / "reliability"


def write(name: str, text: str) -> None:
    DIR.mkdir(parents=True, exist_ok=True)
    (DIR / f"{name}.txt").write_text(text.rstrip() + "\n")
