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
        try:
            rows = bench_table(bench.read_text())
        except ValueError as exc:
            print(f"artifacts/bench.txt: {exc}")
            return 1
        parts.append(f"```\nBenchmarks of {day} (./dev bench)\n\n" + rows + "\n```")
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


#: The columns bench/run_all.py prints; a table without them comes from an older run.
BENCH_COLUMNS = ("benchmark", "ratio", "target", "verdict", "wall", "cpu", "left out", "note")


def bench_table(text: str) -> str:
    """The table of a ``./dev bench`` output (progress lines and anything before the header
    dropped), checked to carry every column: wall time, CPU time and the seconds left out sit
    beside each ratio, and a table without them would hide what a ratio left out."""
    lines = text.strip().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("benchmark "):
            missing = [c for c in BENCH_COLUMNS if f" {c} " not in f" {line} "]
            if missing:
                raise ValueError(f"the table has no {', '.join(missing)} column; run ./dev bench again")
            return "\n".join(row for row in lines[i:] if not row.startswith("#"))
    raise ValueError("no benchmark table in it; run ./dev bench again")


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
