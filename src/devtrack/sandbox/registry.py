"""Which emulators exist: every ``devtrack/sandbox/<name>_emulator.py`` module, those installed
plugin packages declare under the ``devtrack.emulators`` entry point group, plus ``register()``.

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


#: Installed plugin packages add their emulator here (``netlify = "pkg.emulator:NetlifyEmulator"``),
#: so ``devtrack sandbox`` serves a third-party plugin's service beside the built-ins'.
ENTRY_POINT_GROUP = "devtrack.emulators"


def _installed() -> dict[str, str]:
    """Emulators of installed plugin packages: service name → ``module:attr``. A name the
    package's own modules already provide stays the package's."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Every known service name, in start order."""
    names = set(_discovered()) | set(_extra) | set(_installed())
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
    if service not in modules and service in (installed := _installed()):
        module_name, _, attr = installed[service].partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr or "EMULATOR")  # type: ignore[no-any-return]
        except (ImportError, AttributeError) as exc:
            raise KeyError(f"the emulator {installed[service]!r} of {service!r} cannot be loaded: {exc}") from None
    if service not in modules:
        raise KeyError(f"no emulator for {service!r}; known: {', '.join(available())}")
    module = importlib.import_module(modules[service])
    make: Any = getattr(module, "EMULATOR", None)
    if make is None:
        raise KeyError(f"{modules[service]} defines no EMULATOR")
    return make
