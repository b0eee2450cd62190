"""The freeze watcher runs in its own process, so the measured process's own work is never
mistaken for a host pause and left out of a timing."""

from __future__ import annotations

import os
import time

from devtrack.sandbox.stalls import StallClock


def _hold_the_gil(seconds: float) -> float:
    """One C call that keeps the GIL (``sum`` over a range never releases it); its duration."""
    n = 5_000_000
    started = time.perf_counter()
    sum(range(n))
    per = time.perf_counter() - started
    started = time.perf_counter()
    sum(range(int(n * seconds / max(per, 1e-6))))
    return time.perf_counter() - started


def test_work_holding_the_gil_is_not_a_freeze() -> None:
    clock = StallClock()
    try:
        assert clock.pid != os.getpid()
        start = time.perf_counter()
        held = _hold_the_gil(0.8)
        end = time.perf_counter()
        assert held > 2 * StallClock.THRESHOLD  # long enough that a watcher thread would have reported it
        # A real host pause inside this interval would show here too; one as long as the
        # hold itself would be remarkable, so allow a little.
        assert clock.frozen(start, end) < held / 2
        assert clock.active(start, end) > held / 2
    finally:
        clock.close()


def test_a_paused_watcher_reports_the_gap() -> None:
    """A gap the watcher does see (its process stopped, as a host pause stops everything) is
    reported in this process's clock, and only the overlap with an interval counts."""
    import signal

    clock = StallClock()
    try:
        start = time.perf_counter()
        os.kill(clock.pid, signal.SIGSTOP)
        time.sleep(0.4)
        os.kill(clock.pid, signal.SIGCONT)
        time.sleep(0.05)
        end = time.perf_counter()
        frozen = clock.frozen(start, end)
        assert 0.3 < frozen <= end - start
        assert clock.frozen(end, end + 1) == 0.0
    finally:
        clock.close()
