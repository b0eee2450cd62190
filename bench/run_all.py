"""Run every benchmark under bench/ and print one table: ratio, target, verdict, and what each
row cost (wall time, CPU time, seconds of host freezes left out).

``./dev bench`` saves this table as artifacts/bench.txt, which scripts/readme_report.py puts
in the README. ``python bench/run_all.py startup proxy`` runs only the files whose names
contain one of the words.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
#: The table's columns, in order (scripts/readme_report.py checks the header has them).
COLUMNS = ("benchmark", "ratio", "target", "verdict", "wall", "cpu", "left out", "note")


def _seconds(x: Any) -> str:
    return "-" if x is None else f"{x:.2f}s"


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as aligned text lines, header first."""
    cells = [list(COLUMNS)]
    for r in rows:
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}"
        target = "-" if r.get("target") is None else f"{r.get('target_op', '≤')}{r['target']:g}"
        cells.append([r["benchmark"], ratio, target, r.get("verdict") or "-", _seconds(r.get("wall_s")),
                      _seconds(r.get("cpu_s")), _seconds(r.get("left_out_s")), str(r.get("note") or "")])
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS) - 1)]
    right = {1, 2, 4, 5, 6}
    return ["  ".join([*(c[i].rjust(w) if i in right else c[i].ljust(w) for i, w in enumerate(widths)), c[-1]]).rstrip()
            for c in cells]


def main(argv: list[str]) -> int:
    rows: list[dict[str, Any]] = []
    scripts = [s for s in sorted(HERE.glob("bench_*.py")) if not argv or any(a in s.stem for a in argv)]
    for script in scripts:
        print(f"# {script.name}", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE, capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                rows.append(json.loads(line))
            elif line.startswith("#"):
                print(line, file=sys.stderr)
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            rows.append({"benchmark": script.stem, "verdict": "FAILED", "note": last[0]})
    print("\n".join(table(rows)))
    return 1 if any(r.get("verdict") == "FAILED" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
