"""The plugin registry: the 8 built-ins in a fixed order, plus installed third-party plugins.

Third-party packages register a plugin class under the entry point group
``devtrack.integrations`` (``myplugin = "my_pkg.module:MyIntegration"``). Classes are
imported only when first asked for, so listing ids costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from .catalog import BUILTINS as BUILTINS  # re-exported: the catalog keeps the order
from .catalog import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from .contract import Integration


class RegistryError(Exception):
    """A plugin could not be registered or loaded; the message says which and why."""


class UnknownIntegration(KeyError):
    def __init__(self, plugin_id: str, known: Iterable[str]) -> None:
        super().__init__(plugin_id)
        self.plugin_id = plugin_id
        self.known = list(known)

    def __str__(self) -> str:
        from ..text import did_you_mean

        guess = did_you_mean(self.plugin_id, self.known)
        if guess:
            return f"unknown integration {self.plugin_id!r}; did you mean {guess!r}?"
        return f"unknown integration {self.plugin_id!r}; known: {', '.join(self.known)}"


@dataclass
class Registry:
    """Maps plugin ids to import targets, loading and caching classes on demand."""

    targets: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    #: Plugins that were refused (duplicate ids), as messages for the user.
    problems: list[str] = field(default_factory=list)
    _loaded: dict[str, type[Integration]] = field(default_factory=dict)

    def add(self, plugin_id: str, target: str | type[Integration], origin: str = "built-in") -> None:
        """Register a plugin; a second plugin with the same id is refused, never shadowed."""
        if plugin_id in self.targets or plugin_id in self._loaded:
            raise RegistryError(
                f"duplicate integration id {plugin_id!r}: already provided by "
                f"{self.origins.get(plugin_id, 'built-in')}, refused from {origin}"
            )
        self.origins[plugin_id] = origin
        if isinstance(target, str):
            self.targets[plugin_id] = target
        else:
            self.targets[plugin_id] = f"{target.__module__}:{target.__qualname__}"
            self._loaded[plugin_id] = target

    def ids(self) -> list[str]:
        return list(self.targets)

    def __contains__(self, plugin_id: object) -> bool:
        return plugin_id in self.targets

    def get(self, plugin_id: str) -> type[Integration]:
        """The plugin class for ``plugin_id``, imported on first use."""
        if plugin_id not in self.targets:
            raise UnknownIntegration(plugin_id, self.targets)
        cls = self._loaded.get(plugin_id)
        if cls is None:
            cls = _import_target(self.targets[plugin_id])
            if getattr(cls, "id", None) != plugin_id:
                raise RegistryError(
                    f"{self.targets[plugin_id]} declares id {getattr(cls, 'id', None)!r}, "
                    f"but is registered as {plugin_id!r}"
                )
            self._loaded[plugin_id] = cls
        return cls

    def all(self) -> list[type[Integration]]:
        return [self.get(i) for i in self.ids()]


def _import_target(target: str) -> type[Integration]:
    module_name, _, attr = target.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"cannot load integration {target!r}: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, Integration)):
        raise RegistryError(f"{target!r} is not an Integration subclass")
    return obj


def default_registry(*, include_entry_points: bool = True) -> Registry:
    """The built-ins in their fixed order, then every installed third-party plugin."""
    reg = Registry()
    for plugin_id, target in BUILTINS.items():
        reg.add(plugin_id, target)
    if include_entry_points:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "an unknown package"
            try:
                reg.add(ep.name, ep.value, origin=f"package {dist!r}")
            except RegistryError as exc:
                reg.problems.append(str(exc))
    return reg
