"""The fault matrix: every sandboxed plugin × every injectable fault gives the right kind in time.

One test per plugin (a column of the table), so a parallel run spreads the columns over its
workers; ``report`` joins them into one table after the run."""

from __future__ import annotations

import os
from dataclasses import asdict

import pytest

from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox
from devtrack.sandbox.matrix import FAULTS, render, run_matrix, service_of

from .report import add_part

PLUGINS = [p for p in ("vercel", "supabase", "sentry", "helicone", "upstash", "aws-ec2", "cloudflare")
           if not os.environ.get("DEVTRACK_MATRIX_ONLY") or p in os.environ["DEVTRACK_MATRIX_ONLY"].split(",")]


async def test_every_plugin_passes_clean(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    for plugin in PLUGINS:
        assert service_of(sb, plugin), f"no emulator serves {plugin}"
        res = await sandbox_manager.test(plugin)
        assert res.ok, f"{plugin}: {res.kind} {res.message}"


@pytest.mark.slow
@pytest.mark.parametrize("plugin", PLUGINS)
async def test_fault_matrix(plugin: str, sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    cells = await run_matrix(sb, sandbox_manager, [plugin])
    add_part("fault-matrix", plugin, {"order": PLUGINS.index(plugin), "cells": [asdict(c) for c in cells]})
    assert len(cells) == len(FAULTS)
    failed = [c for c in cells if not c.passed]
    assert not failed, render(cells)
    # The manager stayed up: a clean test still works after the whole column.
    assert (await sandbox_manager.test(plugin)).ok
