"""Small helpers shared by the benchmarks: timing with its costs, and the one-line report.

Every row says what it measured three ways: wall time, CPU time (user + sys of this process,
of the subprocesses it waited for, and of any server process named with ``pids``), and the
seconds left out because the separate freeze watcher (devtrack.sandbox.stalls) saw the whole
machine paused. A ratio is computed from wall time minus exactly those seconds, nothing else.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from devtrack.sandbox.stalls import clock

#: Host freezes are left out of every timing here (see devtrack.sandbox.stalls).
CLOCK = clock()
_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + sys) a live process has used so far, 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (after the name and state)


def cpu_now(pids: Iterable[int] = ()) -> float:
    """CPU seconds of this process, its waited-for children, and the processes ``pids``."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime + sum(proc_cpu(p) for p in pids)


@dataclass
class Timing:
    """One measured quantity and what it cost: medians over the runs, freezes left out."""

    active: float  #: wall time minus what the freeze watcher saw (the figure ratios use)
    wall: float
    cpu: float
    left_out: float  #: seconds of freezes left out, summed over every run
    runs: int = 1
    samples: list[float] = field(default_factory=list, repr=False)

    def __float__(self) -> float:
        return self.active


class Span:
    """Times one block: ``with Span(pids) as s: ...``, then ``s.timing``."""

    def __init__(self, pids: Iterable[int] = ()) -> None:
        self.pids = list(pids)

    def __enter__(self) -> Span:
        self._cpu = cpu_now(self.pids)
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        end = time.perf_counter()
        cpu = cpu_now(self.pids) - self._cpu
        frozen = CLOCK.frozen(self._t, end)
        self.timing = Timing(active=end - self._t - frozen, wall=end - self._t, cpu=cpu, left_out=frozen,
                             samples=[end - self._t - frozen])


def combine(timings: Sequence[Timing]) -> Timing:
    """Medians of several timings, their freezes summed."""
    return Timing(active=statistics.median(t.active for t in timings), wall=statistics.median(t.wall for t in timings),
                  cpu=statistics.median(t.cpu for t in timings), left_out=sum(t.left_out for t in timings),
                  runs=len(timings), samples=[t.active for t in timings])


def median_seconds(fn: Callable[[], Any], runs: int = 7, warmup: int = 1, pids: Iterable[int] = ()) -> Timing:
    """``fn`` timed ``runs`` times after ``warmup`` calls: medians, freezes left out."""
    pids = list(pids)
    for _ in range(warmup):
        fn()
    spans = []
    for _ in range(runs):
        with Span(pids) as s:
            fn()
        spans.append(s.timing)
    return combine(spans)


def run(cmd: Sequence[str], **kw: Any) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def _value(x: Timing | float) -> float:
    return x.active if isinstance(x, Timing) else float(x)


def report(name: str, measured: Timing | float, baseline: Timing | float, target: float | None, unit: str = "s",
           note: str = "", cost: Timing | None = None, higher_is_better: bool = False,
           ratio: float | None = None) -> dict[str, Any]:
    """Print one result as a ratio to its baseline, with its target, verdict and costs.

    ``cost`` is what the measurement took when ``measured`` is not itself a ``Timing`` (a
    size, a rate); the row's wall, CPU and left-out figures come from it. A target is an
    upper bound on the ratio unless ``higher_is_better``. ``ratio`` overrides measured÷baseline
    (for an added-time row whose target is in the unit itself).
    """
    m, b = _value(measured), _value(baseline)
    if ratio is None:
        ratio = m / b if b else float("inf")
    spent = cost if cost is not None else measured if isinstance(measured, Timing) else None
    left_out = (spent.left_out if spent else 0.0) + (baseline.left_out if isinstance(baseline, Timing) else 0.0)
    if target is None:
        verdict = ""
    else:
        verdict = "ok" if (ratio >= target if higher_is_better else ratio <= target) else "over target"
    load = os.getloadavg()[0]
    note = f"{note}; load {load:.1f} on {os.cpu_count()} cores".lstrip("; ")
    line = {
        "benchmark": name,
        "measured": round(m, 4),
        "baseline": round(b, 4),
        "unit": unit,
        "ratio": round(ratio, 3),
        "target": target,
        "target_op": "≥" if higher_is_better else "≤",
        "verdict": verdict,
        "wall_s": round(spent.wall, 3) if spent else None,
        "cpu_s": round(spent.cpu, 3) if spent else None,
        "left_out_s": round(left_out, 3),
        "note": note,
    }
    print(json.dumps(line), flush=True)
    return line
