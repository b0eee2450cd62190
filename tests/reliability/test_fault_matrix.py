"""The fault matrix: every sandboxed plugin × every injectable fault gives the right kind in time."""

from __future__ import annotations

import os


from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox
from devtrack.sandbox.matrix import FAULTS, render, run_matrix, service_of

from .report import write

PLUGINS = [p for p in ("vercel", "supabase", "sentry", "helicone", "upstash", "aws-ec2", "cloudflare")
           if not os.environ.get("DEVTRACK_MATRIX_ONLY") or p in os.environ["DEVTRACK_MATRIX_ONLY"].split(",")]


async def test_every_plugin_passes_clean(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    for plugin in PLUGINS:
        assert service_of(sb, plugin), f"no emulator serves {plugin}"
        res = await sandbox_manager.test(plugin)
        assert res.ok, f"{plugin}: {res.kind} {res.message}"


async def test_fault_matrix(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    cells = await run_matrix(sb, sandbox_manager, PLUGINS)
    table = render(cells)
    write("fault-matrix", "fault matrix (every plugin × every injected fault; cell: result kind, time)\n" + table)
    assert len(cells) == len(PLUGINS) * len(FAULTS)
    failed = [c for c in cells if not c.passed]
    assert not failed, table
    # The manager stayed up: a clean test still works after the whole matrix.
    for plugin in PLUGINS:
        assert (await sandbox_manager.test(plugin)).ok
