"""Which connections the views show, and the key each one's snapshots are stored under.

Why a module of its own: the coordinator (writing) and :mod:`.current` (reading) must agree on
the keys, and both must follow the manager's list of connections, so a removed connection
disappears from every view and a snapshot of something no longer configured is never shown.

A snapshot's key is its connection id (``vercel``, ``vercel:acme``), plus ``@SCOPE`` for a plugin
whose data belongs to more than its credentials: GitHub's belongs to a repository, so its key
is ``github@<repository>`` and two repositories sharing a store never see each other's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ..integrations.manager import IntegrationManager

SCOPE_SEP = "@"
T = TypeVar("T")


class Keys:
    """Connection id <-> snapshot key, for one process (its environment and directory)."""

    def __init__(self, manager: IntegrationManager, environ: Mapping[str, str] | None = None) -> None:
        self.manager = manager
        self.environ = manager.environ if environ is None else environ
        self._scopes: dict[str, str | None] = {}

    def scope(self, plugin: str) -> str | None:
        if plugin not in self._scopes:
            try:
                cls = self.manager.plugin_class(plugin)
            except KeyError:
                self._scopes[plugin] = None
            else:
                scope = getattr(cls, "snapshot_scope", None)
                self._scopes[plugin] = scope(self.environ) if callable(scope) else None
        return self._scopes[plugin]

    def key(self, cid: str) -> str:
        scope = self.scope(self.manager.plugin_of(cid))
        return f"{cid}{SCOPE_SEP}{scope}" if scope else cid

    def cid(self, key: str) -> str | None:
        """The connection a stored key belongs to here, or ``None`` (another repository's,
        written before snapshots were scoped, or of a plugin this DevTrack does not have)."""
        cid = key.split(SCOPE_SEP, 1)[0]
        try:
            return cid if self.key(cid) == key else None
        except (KeyError, ValueError):  # an unknown plugin, or not a connection id at all
            return None

    def by_cid(self, stored: Mapping[str, T]) -> dict[str, T]:
        """Stored items keyed by key, re-keyed by the connection they belong to here."""
        out: dict[str, T] = {}
        for key, value in stored.items():
            cid = self.cid(key)
            if cid is not None:
                out[cid] = value
        return out

