"""Small helpers shared by the benchmarks: timing and the one-line ratio report."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

from devtrack.sandbox.stalls import clock


#: Host freezes are left out of every timing here (see devtrack.sandbox.stalls).
CLOCK = clock()


def median_seconds(fn: Callable[[], Any], runs: int = 7, warmup: int = 1) -> float:
    """Median time of ``fn``, host freezes left out."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(CLOCK.active(t))
    return statistics.median(samples)


def run(cmd: Sequence[str], **kw: Any) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def report(name: str, measured: float, baseline: float, target: float | None, unit: str = "s",
           note: str = "") -> dict[str, Any]:
    """Print one result as a ratio to its baseline, and return it for the summary table."""
    ratio = measured / baseline if baseline else float("inf")
    share = CLOCK.frozen_share()
    if share >= 0.01:
        note = f"{note}; host froze the machine {share:.0%} of the time, left out".lstrip("; ")
    verdict = "" if target is None else ("ok" if ratio <= target else "over target")
    line = {
        "benchmark": name,
        "measured": round(measured, 4),
        "baseline": round(baseline, 4),
        "unit": unit,
        "ratio": round(ratio, 2),
        "target": target,
        "verdict": verdict,
        "note": note,
    }
    print(json.dumps(line))
    return line
