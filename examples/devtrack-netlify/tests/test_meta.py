"""The light metadata ``devtrack integrations list`` reads must be the plugin's own."""

from __future__ import annotations

from importlib.metadata import entry_points

from devtrack.integrations.catalog import META_ENTRY_POINT_GROUP, describe

from devtrack_netlify.meta import META
from devtrack_netlify.plugin import NetlifyIntegration


def test_meta_equals_what_the_plugin_declares() -> None:
    assert META == describe(NetlifyIntegration)


def test_meta_is_registered_under_the_plugin_id() -> None:
    found = {ep.name: ep for ep in entry_points(group=META_ENTRY_POINT_GROUP)}
    assert found["netlify"].load() is META
