"""`./dev reliability`: run the whole suite (which holds the fault matrix, the store torture,
the web safety cases and the fuzzers, with the leak scan over everything) and print their tables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

DIR = Path("artifacts") / "reliability"
ORDER = ["fault-matrix", "leak-scan", "torture", "web-safety", "fuzz"]


def main() -> int:
    """``--tables``: print the tables of the last test run without running the suite again."""
    if sys.argv[1:] == ["--tables"]:
        code = 0 if all((DIR / f"{n}.txt").exists() for n in ORDER) else 1
    else:
        shutil.rmtree(DIR, ignore_errors=True)
        env = dict(os.environ, DEVTRACK_RELIABILITY="1")
        args = sys.argv[1:] or ["tests"]  # `./dev reliability` adds its parallel options (see ./dev)
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", *args], env=env)
    if sys.argv[1:] == ["--tables"]:
        head = f"Reliability tables of {date.today().isoformat()}, from the last test run"
    else:
        head = f"Reliability run of {date.today().isoformat()}: pytest exit status {code}"
    out = [head, ""]
    for name in ORDER:
        path = DIR / f"{name}.txt"
        out.append(path.read_text().rstrip() if path.exists() else f"{name}: not produced (did its test run?)")
        out.append("")
    text = "\n".join(out)
    print("\n" + text)
    DIR.mkdir(parents=True, exist_ok=True)
    (DIR / "summary.txt").write_text(text)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
