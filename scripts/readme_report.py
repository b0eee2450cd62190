"""`./dev report`: rewrite the README's "Reliability and performance" section from the last
`./dev reliability` and `./dev bench` outputs (artifacts/), with their dates."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

README = Path("README.md")
START, END = "<!-- reliability:start -->", "<!-- reliability:end -->"


def main() -> int:
    parts = []
    rel = Path("artifacts/reliability/summary.txt")
    bench = Path("artifacts/bench.txt")
    if rel.exists():
        parts.append("```\n" + rel.read_text().strip() + "\n```")
    if bench.exists():
        day = date.fromtimestamp(bench.stat().st_mtime).isoformat()
        parts.append(f"```\nBenchmarks of {day} (./dev bench)\n\n" + bench.read_text().strip() + "\n```")
    if not parts:
        print("nothing to report: run ./dev reliability and ./dev bench first")
        return 1
    text = README.read_text()
    body = f"{START}\n" + "\n\n".join(parts) + f"\n{END}"
    if START in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: body, text, flags=re.S)
    else:
        text += "\n## Reliability and performance\n\n" + body + "\n"
    README.write_text(text)
    print("README.md updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
