"""The :class:`Sandbox`: every emulator started together, with the credentials and
environment that point DevTrack's plugins at them."""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import registry
from .emulator import Emulator
from .faults import FaultSet

__all__ = ["Sandbox"]


class Sandbox:
    """Start emulators on loopback ports: ``with Sandbox(seed=1) as sb: sb.url("vercel")``."""

    def __init__(self, services: list[str] | None = None, *, seed: int = 0,
                 scale: dict[str, int] | None = None) -> None:
        self.services = list(services) if services is not None else registry.available()
        self.seed = seed
        self.scale = dict(scale or {})
        self.emulators: dict[str, Emulator] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Sandbox:
        """Build and serve every emulator (in parallel: moto's start-up dominates)."""
        if self.emulators:
            return self
        built = {s: registry.factory(s)(seed=self.seed, scale=self.scale) for s in self.services}
        known = {k for e in built.values() for k in e.default_scale}
        unknown = sorted(set(self.scale) - known)
        if unknown:
            raise ValueError(f"unknown scale knob(s) {unknown}; known: {sorted(known)}")
        try:
            with ThreadPoolExecutor(max_workers=max(1, len(built))) as pool:
                for fut in [pool.submit(e.serve) for e in built.values()]:
                    fut.result()
        except BaseException:
            for e in built.values():
                e.stop()
            raise
        self.emulators = built
        for emulator in built.values():  # let an emulator find its siblings (Helicone's proxy hosts)
            attach = getattr(emulator, "attach", None)
            if attach is not None:
                attach(self)
        return self

    def stop(self) -> None:
        for emulator in self.emulators.values():
            emulator.stop()
        self.emulators = {}

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ access

    def emulator(self, service: str) -> Emulator:
        try:
            return self.emulators[service]
        except KeyError:
            raise KeyError(f"{service!r} is not running in this sandbox "
                           f"(running: {', '.join(self.emulators) or 'none'})") from None

    def url(self, service: str) -> str:
        """The emulator's root URL (without the vendor's path prefix)."""
        return self.emulator(service).url

    def faults(self, service: str) -> FaultSet:
        return self.emulator(service).faults

    def reset(self) -> None:
        """Clear every emulator's faults, request log and counters."""
        for emulator in self.emulators.values():
            emulator.reset()

    def ports(self) -> dict[str, int]:
        return {s: e.server.port for s, e in self.emulators.items() if e.server is not None}

    def credentials(self) -> dict[str, dict[str, str]]:
        """Working sandbox credentials per plugin id, in each plugin's field keys."""
        out: dict[str, dict[str, str]] = {}
        for emulator in self.emulators.values():
            for plugin_id, fields in emulator.credentials(emulator.url).items():
                out.setdefault(plugin_id, {}).update(fields)
        return out

    def env(self) -> dict[str, str]:
        """``DEVTRACK_<PLUGIN>_BASE_URL`` (and any other override) for every emulator."""
        out: dict[str, str] = {}
        for emulator in self.emulators.values():
            out.update(emulator.env(emulator.url))
        return out

    def credential_doc(self) -> dict[str, Any]:
        """The credentials as a store document (schema of :mod:`devtrack.credentials`): a
        default connection (``vercel``) at its plugin's entry, a named one (``vercel:personal``)
        under that entry's ``connections``."""
        from ..credentials import empty_doc
        from ..integrations.connections import parse

        doc = empty_doc()
        for cid, fields in self.credentials().items():
            plugin_id, name = parse(cid)
            entry = doc["integrations"].setdefault(plugin_id, {"enabled": True, "credentials": {}})
            if name is None:
                entry["credentials"] = fields
            else:
                entry.setdefault("connections", {})[name] = {"enabled": True, "credentials": fields}
        return doc

    def write_credentials(self, path: str | Path) -> Path:
        """Write a credential file (mode 600) for the sandbox; refuses to replace another file."""
        path = Path(path)
        if path.exists():
            try:
                existing = json.loads(path.read_text())
            except ValueError:
                existing = None
            if not (isinstance(existing, dict) and existing.get("sandbox") is True):
                raise FileExistsError(f"{path} exists and is not a sandbox credential file; not replaced")
        doc = self.credential_doc() | {"sandbox": True}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), 0o600)
            json.dump(doc, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
        return path
