"""Every emulator (moto aside) starts in under a second and answers its seeded data."""

from __future__ import annotations

import time

import httpx
import pytest

from devtrack.sandbox import Sandbox, registry

FAST = [s for s in registry.available() if s not in ("aws-ec2", "helicone-proxy")]


@pytest.mark.parametrize("service", FAST)
def test_emulator_starts_in_under_a_second(service: str) -> None:
    started = time.perf_counter()
    with Sandbox([service], seed=3) as sb:
        took = time.perf_counter() - started
        health = httpx.get(f"{sb.url(service)}/__sandbox/health", timeout=5)
        assert health.status_code == 200
        assert sb.env(), service  # the overrides that point DevTrack at it
    assert took < 1.0, f"{service} took {took:.2f}s to start"
