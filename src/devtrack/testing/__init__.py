"""The plugin kit's conformance suite: what a third-party plugin runs in its own pytest.

::

    from devtrack.testing import PluginConformance

    class TestAcme(PluginConformance):
        plugin = AcmeIntegration

        def emulator(self):
            return AcmeEmulator()        # a devtrack.sandbox.emulator.Emulator, or any ASGI app

Importing this needs pytest and DevTrack's own dependencies, nothing from its ``test`` or
``sandbox`` extras. See docs/writing-a-plugin.md.
"""

from __future__ import annotations

from .checks import credentials_problems, leak_problems, metadata_problems, record_problems
from .conformance import CALLS, FAULTS, FaultCase, PluginConformance

__all__ = [
    "PluginConformance",
    "FaultCase",
    "FAULTS",
    "CALLS",
    "metadata_problems",
    "credentials_problems",
    "leak_problems",
    "record_problems",
]
