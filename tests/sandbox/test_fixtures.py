"""The pytest fixtures other suites use: the session sandbox, per-test reset, the manager."""

from __future__ import annotations

import os

from devtrack.integrations.contract import ConnectionResult
from devtrack.sandbox import Sandbox


def test_sb_is_clean_for_each_test_part_one(sb: Sandbox) -> None:
    assert all(len(e.requests) == 0 and len(e.faults) == 0 for e in sb.emulators.values())
    sb.faults("vercel").add(status=500)
    assert len(sb.faults("vercel")) == 1


def test_sb_is_clean_for_each_test_part_two(sb: Sandbox) -> None:
    assert len(sb.faults("vercel")) == 0


async def test_sandbox_manager_is_bound_to_the_sandbox(sb: Sandbox, sandbox_manager: object) -> None:
    from devtrack.integrations.manager import IntegrationManager

    assert isinstance(sandbox_manager, IntegrationManager)
    creds = sb.credentials()
    for plugin_id, fields in creds.items():
        assert sandbox_manager.stored_credentials(plugin_id) == fields
    for key, url in sb.env().items():
        assert sandbox_manager.environ[key] == url == os.environ[key]
    assert os.environ["DEVTRACK_CREDENTIALS"] == str(sandbox_manager.store.path)
    results = await sandbox_manager.test_many(list(creds))
    assert all(isinstance(r, ConnectionResult) for _, r in results)
    implemented = {pid for pid, r in results if r.kind != "unavailable"}
    for service, emulator in sb.emulators.items():
        if implemented & set(emulator.plugin_ids) and service != "github":
            assert emulator.requests.count() > 0, f"{service}: the plugin never reached its emulator"
