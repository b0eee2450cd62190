"""Timing guards that leave out the host's whole-machine freezes (see ``devtrack.sandbox.stalls``).

The guards here prove behaviour (calls ran concurrently, a deadline cut a call short); a VM
paused by its host for most of a second would otherwise fail them with no fault of ours.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TypeVar

from devtrack.sandbox import stalls

T = TypeVar("T")


def active_since(started: float) -> float:
    """Seconds since ``started`` (a ``time.perf_counter()`` value), freezes left out."""
    return stalls.clock().active(started)


async def timed(aw: Awaitable[T]) -> tuple[T, float]:
    """Await ``aw``; return its result and the time it took, freezes left out."""
    started = time.perf_counter()
    out = await aw
    return out, active_since(started)
