"""Which emulators exist: every ``devtrack/sandbox/<name>_emulator.py`` module, plus ``register()``.

A module ``aws_ec2_emulator.py`` provides the service ``aws-ec2`` by defining a module-level
``EMULATOR``: an :class:`~devtrack.sandbox.emulator.Emulator` subclass, or any callable
``(seed=..., scale=...) -> Emulator``. Modules are imported only when their service is used.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["available", "factory", "register", "unregister", "MODULE_SUFFIX"]

MODULE_SUFFIX = "_emulator"
#: The order services start and are listed in (others follow alphabetically).
PREFERRED_ORDER = ("github", "vercel", "supabase", "sentry", "helicone", "upstash", "aws-ec2", "cloudflare")

EmulatorFactory = Callable[..., "Emulator"]
_extra: dict[str, EmulatorFactory] = {}


def _discovered() -> dict[str, str]:
    from . import __path__ as package_path

    out: dict[str, str] = {}
    for info in pkgutil.iter_modules(package_path):
        if info.name.endswith(MODULE_SUFFIX):
            service = info.name[: -len(MODULE_SUFFIX)].replace("_", "-")
            out[service] = f"{__package__}.{info.name}"
    return out


def available() -> list[str]:
    """Every known service name, in start order."""
    names = set(_discovered()) | set(_extra)
    rank = {n: i for i, n in enumerate(PREFERRED_ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def register(service: str, make: EmulatorFactory) -> None:
    """Add (or replace) an emulator from outside the package, e.g. in a test."""
    _extra[service] = make


def unregister(service: str) -> None:
    """Undo :func:`register` (no-op when absent)."""
    _extra.pop(service, None)


def factory(service: str) -> EmulatorFactory:
    """The factory of ``service``'s emulator (imports its module)."""
    if service in _extra:
        return _extra[service]
    modules = _discovered()
    if service not in modules:
        raise KeyError(f"no emulator for {service!r}; known: {', '.join(available())}")
    module = importlib.import_module(modules[service])
    make: Any = getattr(module, "EMULATOR", None)
    if make is None:
        raise KeyError(f"{modules[service]} defines no EMULATOR")
    return make
