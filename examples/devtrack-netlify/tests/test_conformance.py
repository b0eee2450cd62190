"""The DevTrack plugin kit on the Netlify plugin: metadata, every fault, leaks, records."""

from __future__ import annotations

from typing import Any

from devtrack.testing import PluginConformance

from devtrack_netlify.emulator import NetlifyEmulator
from devtrack_netlify.plugin import NetlifyIntegration


class TestNetlifyConformance(PluginConformance):
    plugin = NetlifyIntegration

    def emulator(self) -> Any:
        return NetlifyEmulator(seed=7)
