"""Every emulator starts alone and answers (how fast it starts is measured by bench/bench_sandbox.py)."""

from __future__ import annotations

import httpx
import pytest

from devtrack.sandbox import Sandbox, registry

FAST = [s for s in registry.available() if s not in ("aws-ec2", "helicone-proxy")]


@pytest.mark.parametrize("service", FAST)
def test_emulator_starts_alone(service: str) -> None:
    with Sandbox([service], seed=3) as sb:
        health = httpx.get(f"{sb.url(service)}/__sandbox/health", timeout=5)
        assert health.status_code == 200
        assert sb.env(), service  # the overrides that point DevTrack at it
