"""Whole-machine freezes, measured: for the fault matrix, the benchmarks and the timing guards.

Shared virtual machines are sometimes paused by their host for most of a second, every process
at once. A watcher that wakes every 2 ms sees each pause as one long gap in its clock. Timing
that matters (a benchmark's ratio, whether a fault-matrix cell was late because of the plugin
or because of the machine) asks how much of an interval fell inside such gaps.

The watcher is a separate process, not a thread: a thread shares the measured process's GIL,
so work that holds it (building models, parsing JSON) looked like a host pause and was left
out of the very timing it belonged to. The watcher process holds nothing of ours; it reports
each gap over a pipe as two ``time.perf_counter`` values, which on Linux and macOS read the
system-wide monotonic clock, so they compare with this process's own readings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

#: The watcher: no site, no imports of ours, a raised priority where allowed (so that a busy
#: machine delays it less than the processes it watches), gone when its parent is.
_WATCHER = r"""
import os, sys, time
try:
    os.nice(-10)
except OSError:
    pass
parent = os.getppid()
threshold = float(sys.argv[1])
out = sys.stdout
out.write("ready\n"); out.flush()
last = time.perf_counter()
while True:
    time.sleep(0.002)
    now = time.perf_counter()
    if now - last > threshold:
        try:
            out.write(f"{last!r} {now!r}\n"); out.flush()
        except (BrokenPipeError, OSError):
            break
    last = now
    if os.getppid() != parent:
        break
"""


class StallClock:
    """Gaps in ``time.perf_counter`` seen by a watcher process of its own."""

    #: A gap longer than this is a freeze: the watcher does nothing but sleep 2 ms, and a
    #: busy 2-core machine still schedules a runnable process well within 100 ms.
    THRESHOLD = 0.1

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHER, repr(self.THRESHOLD)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self._proc.stdout is not None
        ready = self._proc.stdout.readline()
        if ready.strip() != "ready":
            raise RuntimeError("the freeze watcher did not start")
        self.started = time.perf_counter()
        threading.Thread(target=self._read, name="stall-clock", daemon=True).start()

    @property
    def pid(self) -> int:
        """The watcher process (for tests that check it is one)."""
        return self._proc.pid

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            start, _, end = line.partition(" ")
            try:
                gap = (float(start), float(end))
            except ValueError:
                continue
            with self._lock:
                self.gaps.append(gap)

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

    def frozen_total(self) -> float:
        """Seconds spent frozen since this clock started."""
        return self.frozen(self.started, time.perf_counter())

    def close(self) -> None:
        """Stop the watcher (it also stops by itself when this process ends)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)


_CLOCK: StallClock | None = None
_CLOCK_LOCK = threading.Lock()


def clock() -> StallClock:
    """The process's one watcher, started on first use (again in a forked child)."""
    global _CLOCK, _OWNER
    with _CLOCK_LOCK:
        if _CLOCK is None or _OWNER != os.getpid():
            _CLOCK = StallClock()
            _OWNER = os.getpid()
        return _CLOCK


_OWNER = 0
