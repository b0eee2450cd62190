"""The fault matrix: every plugin × every fault the sandbox can inject, classified and timed.

Each cell arms one fault on every route of one service, runs the plugin's connection test
through the manager, and checks the result kind, that it came back within the deadline, and
that nothing raised. Services run concurrently (faults are per service); faults run one after
another for each service.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from ..integrations.contract import ResultKind
from ..integrations.manager import IntegrationManager
from . import stalls

OK, AUTH, PERM, NF, RATE, UNAV, INV, NET, TIME = (
    ResultKind.OK, ResultKind.AUTH, ResultKind.PERMISSION, ResultKind.NOT_FOUND, ResultKind.RATE_LIMITED,
    ResultKind.UNAVAILABLE, ResultKind.INVALID_RESPONSE, ResultKind.NETWORK, ResultKind.TIMEOUT,
)

#: Deadline given to each plugin call in the matrix (seconds).
MATRIX_DEADLINE = 5.0
#: Services faulted at the same time (each cell is mostly waiting, but a loaded 2-core
#: machine turns too many concurrent plugins into timeouts of their own).
MATRIX_CONCURRENCY = 1
#: A failed cell is run again (up to this many tries in all) only when the host froze the
#: machine for at least FROZEN_RERUN seconds during the try.
MATRIX_TRIES = 3
FROZEN_RERUN = 0.5

#: (name, fault spec or None for "connection refused", expected kind)
FAULTS: list[tuple[str, dict[str, Any] | None, ResultKind]] = [
    ("401", {"status": 401}, AUTH),
    ("403", {"status": 403}, PERM),
    ("404", {"status": 404}, NF),
    ("429 + Retry-After, once", {"status": 429, "retry_after": 1, "times": 1}, OK),
    ("429 + Retry-After, always", {"status": 429, "retry_after": 1}, RATE),
    ("500, once", {"status": 500, "times": 1}, OK),
    ("500", {"status": 500}, UNAV),
    ("503", {"status": 503}, UNAV),
    ("malformed JSON", {"malformed": True}, INV),
    ("HTML page (200)", {"html": True, "status": 200}, INV),
    ("HTML error page (502)", {"html": True}, UNAV),
    ("truncated body", {"truncate": True}, NET),
    ("connection reset", {"reset": True}, NET),
    ("slow trickle (0.3 s)", {"trickle": 0.3}, OK),
    ("slow trickle past the deadline", {"trickle": MATRIX_DEADLINE + 3}, TIME),
    ("oversized body (20 MB)", {"oversize": 20 * 1024 * 1024}, INV),
    ("timeout", {"latency": MATRIX_DEADLINE + 3}, TIME),
    ("connection refused", None, NET),
]


#: Where a vendor's own answer means something else than the generic expectation.
EXPECTED_OVERRIDES: dict[tuple[str, str], ResultKind] = {
    # EC2 signals throttling (RequestLimitExceeded) with HTTP 503.
    ("aws-ec2", "503"): RATE,
}


@dataclass
class Cell:
    plugin: str
    fault: str
    expected: str
    got: str
    elapsed: float
    deadline: float
    raised: str | None
    message: str
    #: Seconds of the call during which the whole machine was frozen (see ``stalls``).
    frozen: float = 0.0
    #: What earlier, failed tries gave ("timeout 5.7s, 3.1s frozen"), when the cell was rerun.
    earlier: list[str] = dataclass_field(default_factory=list)

    @property
    def passed(self) -> bool:
        late = self.elapsed - self.frozen > self.deadline + 1.5
        return self.raised is None and self.got == self.expected and not late


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _cell(sandbox: Any, manager: IntegrationManager, plugin: str, service: str,
                name: str, spec: dict[str, Any] | None, expected: ResultKind) -> Cell:
    faults = sandbox.faults(service)
    faults.clear()
    env_key = f"DEVTRACK_{plugin}_BASE_URL".upper().replace("-", "_")
    saved = os.environ.get(env_key)
    if spec is None:
        os.environ[env_key] = f"http://127.0.0.1:{_closed_port()}" + _prefix(sandbox, service)
    else:
        faults.add(route="/**", **spec)
    started = time.perf_counter()
    raised = None
    got, message = "none", ""
    try:
        result = await manager.test(plugin, record=False)
        got, message = str(result.kind), result.message
    except Exception as exc:  # the manager must never raise; record it if it does
        raised = f"{type(exc).__name__}: {exc}"
    finally:
        end = time.perf_counter()
        elapsed = end - started
        faults.clear()
        if spec is None:
            if saved is None:
                os.environ.pop(env_key, None)
            else:
                os.environ[env_key] = saved
    await asyncio.sleep(0.01)  # lets the freeze watcher record a freeze that just ended
    frozen = stalls.clock().frozen(started, end, settle=False)
    return Cell(plugin, name, str(expected), got, round(elapsed, 2), manager.deadline(plugin), raised, message[:160],
                round(frozen, 2))


def _prefix(sandbox: Any, service: str) -> str:
    emulator = sandbox.emulator(service)
    return str(getattr(emulator, "base_path", "") or "")


def service_of(sandbox: Any, plugin: str) -> str | None:
    for name, emulator in sandbox.emulators.items():
        if plugin in getattr(emulator, "plugin_ids", ()):
            return str(name)
    return None


async def run_matrix(sandbox: Any, manager: IntegrationManager, plugins: list[str] | None = None,
                     faults: list[tuple[str, dict[str, Any] | None, ResultKind]] | None = None) -> list[Cell]:
    """Run every (plugin, fault) cell; plugins concurrently, faults in turn."""
    manager.deadline_override = MATRIX_DEADLINE
    chosen = plugins or [p for p in manager.ids() if service_of(sandbox, p) and p != "github"]
    table = faults or FAULTS

    gate = asyncio.Semaphore(MATRIX_CONCURRENCY)

    async def column(plugin: str) -> list[Cell]:
        service = service_of(sandbox, plugin)
        assert service is not None, plugin
        async with gate:
            cells = []
            for name, spec, expected in table:
                want = EXPECTED_OVERRIDES.get((plugin, name), expected)
                cell = await _cell(sandbox, manager, plugin, service, name, spec, want)
                earlier: list[str] = []
                # A try during which the host froze the whole machine for a while can run out
                # of its deadline through no fault of the plugin: that cell is run again (a
                # failure on a machine that did not freeze is final). Reruns show in the table.
                while not cell.passed and cell.frozen >= FROZEN_RERUN and len(earlier) < MATRIX_TRIES - 1:
                    earlier.append(f"{cell.got} in {cell.elapsed:.1f}s, {cell.frozen:.1f}s of it frozen"
                                   + (f" ({cell.raised})" if cell.raised else ""))
                    cell = await _cell(sandbox, manager, plugin, service, name, spec, want)
                cell.earlier = earlier
                cells.append(cell)
            return cells

    columns = await asyncio.gather(*(column(p) for p in chosen))
    return [c for col in columns for c in col]


def render(cells: list[Cell]) -> str:
    """A plain-text table: one row per fault, one column per plugin; ✗ marks a failed cell."""
    plugins = list(dict.fromkeys(c.plugin for c in cells))
    faults = list(dict.fromkeys(c.fault for c in cells))
    by = {(c.plugin, c.fault): c for c in cells}
    width = max(len(f) for f in faults) + 2
    colw = max(25, *(len(p) + 2 for p in plugins))
    lines = ["fault".ljust(width) + "".join(p.ljust(colw) for p in plugins)]
    for f in faults:
        row = f.ljust(width)
        for p in plugins:
            c = by.get((p, f))
            if c is None:
                row += "-".ljust(colw)
                continue
            mark = ("✓" if c.passed else "✗") + ("*" if c.earlier else "")
            row += f"{mark} {c.got} {c.elapsed:.1f}s".ljust(colw)
        lines.append(row)
    failed = [c for c in cells if not c.passed]
    lines.append(f"{len(cells) - len(failed)}/{len(cells)} cells pass (deadline {MATRIX_DEADLINE:g}s per call)")
    for c in cells:
        if c.earlier:
            lines.append(f"  * {c.plugin} × {c.fault}: run {len(c.earlier) + 1} times; before: " + "; ".join(c.earlier))
    for c in failed:
        lines.append(f"  ✗ {c.plugin} × {c.fault}: expected {c.expected}, got {c.got} in {c.elapsed}s"
                     + (f" ({c.frozen:.1f}s frozen)" if c.frozen else "")
                     + (f", raised {c.raised}" if c.raised else "") + f" — {c.message}")
    return "\n".join(lines)
