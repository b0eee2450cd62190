"""The third-party plugins installed in this venv (./dev installs examples/devtrack-netlify):
tests that list every plugin expect them after the built-ins, in entry-point name order."""

from __future__ import annotations

from importlib.metadata import entry_points

from devtrack.integrations.registry import BUILTINS, ENTRY_POINT_GROUP

THIRD_PARTY: list[str] = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} - set(BUILTINS))
