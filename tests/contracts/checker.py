"""Contract-test helpers shared by every vendor: load a copied spec, check an emulator against it.

The checks themselves are the plugin kit's (``devtrack.testing.contracts``), so a third-party
plugin checks its emulator the same way.
"""

from __future__ import annotations

from pathlib import Path

from devtrack.sandbox.contract import Contract
from devtrack.testing.contracts import recorded_problems, route_problems, served_routes

SPECS = Path(__file__).parent

__all__ = ["SPECS", "load", "served_routes", "route_problems", "recorded_problems"]


def load(service: str, filename: str, prefix: str = "") -> Contract:
    """The vendor document copied under ``tests/contracts/<service>/``."""
    return Contract.load(SPECS / service / filename, prefix=prefix)
