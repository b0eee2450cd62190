"""Run every benchmark under bench/ and print one table of ratios with their targets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    rows: list[dict] = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"# {script.name}", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE, capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                rows.append(json.loads(line))
        if proc.returncode != 0:
            rows.append({"benchmark": script.stem, "ratio": None, "target": None, "verdict": "FAILED",
                         "note": proc.stderr.strip().splitlines()[-1:] or ""})
    width = max((len(r["benchmark"]) for r in rows), default=10)
    print(f"{'benchmark':<{width}}  {'ratio':>8}  {'target':>7}  verdict  note")
    for r in rows:
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}"
        target = "-" if r.get("target") is None else f"≤{r['target']}"
        print(f"{r['benchmark']:<{width}}  {ratio:>8}  {target:>7}  {r.get('verdict', ''):<7}  {r.get('note', '')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
