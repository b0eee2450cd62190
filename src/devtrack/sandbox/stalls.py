"""Whole-machine freezes, measured: for the fault matrix and the benchmarks.

Shared virtual machines are sometimes paused by their host for most of a second, every process
at once. A thread that wakes every 2 ms sees each pause as one long gap in its clock. Timing
that matters (a benchmark's ratio, whether a fault-matrix cell was late because of the plugin
or because of the machine) asks how much of an interval fell inside such gaps.
"""

from __future__ import annotations

import threading
import time


class StallClock:
    """A background watcher of gaps in ``time.perf_counter``."""

    #: A gap longer than this is a freeze: Python hands the GIL over every 5 ms, and nothing
    #: measured with this clock holds it for 100 ms.
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
        """Seconds of [start, end] (``perf_counter`` values) that fell inside freezes.

        ``settle`` waits 10 ms first, since a freeze that just ended is recorded only when the
        watcher next wakes; inside an event loop pass False and ask well after ``end``.
        """
        if settle:
            time.sleep(0.01)
        with self._lock:
            return sum(max(0.0, min(e, end) - max(s, start)) for s, e in self.gaps)

    def active(self, start: float, end: float | None = None, settle: bool = True) -> float:
        """Seconds from ``start`` to ``end`` (or now) with freezes left out."""
        end = time.perf_counter() if end is None else end
        return (end - start) - self.frozen(start, end, settle)

    def frozen_share(self) -> float:
        """The share of the time since this clock started that the machine spent frozen."""
        now = time.perf_counter()
        return self.frozen(self.started, now) / max(now - self.started, 1e-9)


_CLOCK: StallClock | None = None
_CLOCK_LOCK = threading.Lock()


def clock() -> StallClock:
    """The process's one watcher, started on first use."""
    global _CLOCK
    with _CLOCK_LOCK:
        if _CLOCK is None:
            _CLOCK = StallClock()
        return _CLOCK
