"""Small helpers shared by the benchmarks: timing and the one-line ratio report."""

from __future__ import annotations

import json
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any


class StallClock:
    """Elapsed time minus the moments when the whole machine was frozen.

    The VM these benchmarks were written on is paused by its host for 0.5–1 s about every
    second, every process at once. A thread that wakes every 2 ms sees each pause as one long
    gap; time inside such gaps is taken out, so that ratios compare work rather than which
    run a pause happened to hit. On a quiet machine no gap is seen and nothing changes.
    """

    #: A gap longer than this is a freeze: the GIL is handed over every 5 ms, and no call
    #: measured here holds it for 100 ms.
    THRESHOLD = 0.1

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self.started = time.perf_counter()
        threading.Thread(target=self._watch, name="stall-clock", daemon=True).start()

    def _watch(self) -> None:
        last = time.perf_counter()
        while True:
            time.sleep(0.002)
            now = time.perf_counter()
            if now - last > self.THRESHOLD:
                with self._lock:
                    self.gaps.append((last, now))
            last = now

    def frozen(self, start: float, end: float, settle: bool = True) -> float:
        """Seconds of [start, end] that fell inside freezes.

        ``settle`` waits 10 ms first, since a freeze that just ended is recorded only when the
        watcher next wakes; inside an event loop pass False and call it well after ``end``.
        """
        if settle:
            time.sleep(0.01)
        with self._lock:
            return sum(max(0.0, min(e, end) - max(s, start)) for s, e in self.gaps)

    def active(self, start: float, end: float | None = None, settle: bool = True) -> float:
        """Seconds from ``start`` (a ``perf_counter`` value) to ``end`` or now, freezes excluded."""
        end = time.perf_counter() if end is None else end
        return (end - start) - self.frozen(start, end, settle)

    def frozen_share(self) -> float:
        """The share of time since start-up the machine spent frozen."""
        now = time.perf_counter()
        return self.frozen(self.started, now) / max(now - self.started, 1e-9)


CLOCK = StallClock()


def median_seconds(fn: Callable[[], Any], runs: int = 7, warmup: int = 1) -> float:
    """Median time of ``fn``, host freezes excluded (see :class:`StallClock`)."""
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
