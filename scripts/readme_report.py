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
    text = README.read_text()
    if bench.exists():
        day = date.fromtimestamp(bench.stat().st_mtime).isoformat()
        parts.append(f"```\nBenchmarks of {day} (./dev bench)\n\n" + bench.read_text().strip() + "\n```")
    elif old := _kept_block(text, "Benchmarks of "):
        parts.append(old)  # no new bench run: keep the last one, with its own date
    if not parts:
        print("nothing to report: run ./dev reliability and ./dev bench first")
        return 1
    body = f"{START}\n" + "\n\n".join(parts) + f"\n{END}"
    if START in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: body, text, flags=re.S)
    else:
        text += "\n## Reliability and performance\n\n" + body + "\n"
    README.write_text(text)
    print("README.md updated")
    return 0


def _kept_block(text: str, head: str) -> str | None:
    """The fenced block of the current section that starts with ``head``, to keep as it is."""
    section = re.search(re.escape(START) + r"(.*?)" + re.escape(END), text, flags=re.S)
    if not section:
        return None
    for block in re.findall(r"```\n.*?\n```", section.group(1), flags=re.S):
        if block[4:].startswith(head):
            return block
    return None


if __name__ == "__main__":
    raise SystemExit(main())
