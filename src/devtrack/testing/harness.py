"""Serving a plugin's emulator through the sandbox's fault-injecting server, and calling the
plugin the way the manager does: under its deadline, for one connection, every exception kept.

The manager would turn an exception into an ``error`` result and mask a leaked secret; the
kit must see both, so it calls the plugin itself. The sandbox modules are imported here, on
first use, so ``import devtrack.testing`` stays light.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..integrations.contract import DEADLINE, ConnectionResult, Credentials, Integration, IntegrationData

__all__ = ["Served", "Outcome", "serve", "call_plugin", "closed_port", "base_url_key"]


def base_url_key(plugin_id: str) -> str:
    """``DEVTRACK_<PLUGIN>_BASE_URL``: what :func:`devtrack.integrations.http.base_url_for` reads."""
    return f"DEVTRACK_{plugin_id}_BASE_URL".upper().replace("-", "_")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running emulator: its URL, its fault set and request log, and how to point a plugin at it."""

    url: str
    faults: Any  # devtrack.sandbox.faults.FaultSet
    requests: Any  # devtrack.sandbox.recorder.RequestLog
    environment: Callable[[str], dict[str, str]]
    credentials: dict[str, str]
    stop: Callable[[], None]
    reset: Callable[[], None]


def serve(emulator: Any, plugin_id: str, *, credentials: Callable[[str], dict[str, str]] | None,
          environment: Callable[[str], dict[str, str]] | None, base_path: str = "") -> Served:
    """Start ``emulator`` (a sandbox :class:`~devtrack.sandbox.emulator.Emulator` or any ASGI
    app) on a loopback port behind the fault-injecting server."""
    from ..sandbox.emulator import Emulator
    from ..sandbox.server import EmulatorServer

    if isinstance(emulator, Emulator):
        server = emulator.serve()
        url = server.url
        path = base_path or emulator.base_path
        env = environment or (lambda u: emulator.env(u) if plugin_id in emulator.plugin_ids
                              else {base_url_key(plugin_id): u + path})
        if credentials is not None:
            creds = credentials(url)
        else:
            given = emulator.credentials(url)
            if plugin_id not in given:
                emulator.stop()
                raise LookupError(f"{type(emulator).__name__}.credentials(url) gives none for {plugin_id!r}: "
                                  f"return {{{plugin_id!r}: {{field: value}}}}, or override credentials(url)")
            creds = given[plugin_id]
        return Served(url, emulator.faults, emulator.requests, env, dict(creds), emulator.stop, emulator.reset)
    if not callable(emulator):
        raise TypeError(f"emulator() returned {type(emulator).__name__}: return an ASGI app or a "
                        "devtrack.sandbox.emulator.Emulator")
    if credentials is None:
        raise TypeError("a plain ASGI emulator needs credentials(url) on the conformance class")
    srv = EmulatorServer(emulator, service=plugin_id).start()
    env = environment or (lambda u: {base_url_key(plugin_id): u + base_path})

    def reset() -> None:
        srv.faults.clear()
        srv.requests.clear()

    return Served(srv.url, srv.faults, srv.requests, env, dict(credentials(srv.url)), srv.stop, reset)


@dataclass
class Outcome:
    """What one plugin call did."""

    call: str
    result: ConnectionResult | IntegrationData | None = None
    raised: BaseException | None = None
    #: The call was still running at the deadline (the manager answers ``timeout`` then).
    cut_off: bool = False
    elapsed: float = 0.0
    frozen: float = 0.0
    logs: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The result kind, as the manager would report it."""
        if self.cut_off:
            return "timeout"
        if isinstance(self.result, ConnectionResult):
            return str(self.result.kind)
        if isinstance(self.result, IntegrationData):
            return str(self.result.error.kind) if self.result.error else "ok"
        return "error"

    @property
    def message(self) -> str:
        if isinstance(self.result, ConnectionResult):
            return self.result.message
        if isinstance(self.result, IntegrationData) and self.result.error:
            return self.result.error.message
        return ""


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(f"{record.name}: {record.getMessage()}")
        except Exception:  # a broken format string is the plugin's to fix, not ours to crash on
            self.lines.append(f"{record.name}: {record.msg!r} % {record.args!r}")
        if record.exc_info and record.exc_info[1] is not None:
            self.lines.append(repr(record.exc_info[1]))


def call_plugin(plugin: type[Integration], values: Mapping[str, str], call: str, deadline: float,
                connection: str | None = None) -> Outcome:
    """Run ``test_connection`` or ``get_data`` of a fresh plugin instance, as the manager does
    (deadline and connection id set), capturing every log line at INFO (httpx logs each URL there)."""
    from ..integrations.connections import CONNECTION
    from ..sandbox import stalls

    creds: Credentials = plugin.credentials_model(**dict(values))
    out = Outcome(call)
    capture = _Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(min(level or logging.WARNING, logging.INFO))
    clock = stalls.clock()

    async def run() -> None:
        instance = plugin()
        method = instance.test_connection if call == "test_connection" else instance.get_data
        token = DEADLINE.set(time.monotonic() + deadline)
        which = CONNECTION.set(connection or plugin.id)
        try:
            task = asyncio.ensure_future(method(creds))
        finally:
            CONNECTION.reset(which)
            DEADLINE.reset(token)
        done, _ = await asyncio.wait({task}, timeout=deadline)
        answered[0] = time.perf_counter()  # a thread left running past here is not the user's wait
        if not done:
            out.cut_off = True
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
            return
        if task.exception() is not None:
            out.raised = task.exception()
        else:
            out.result = task.result()

    started = time.perf_counter()
    answered = [0.0]
    try:
        asyncio.run(run())
    finally:
        end = answered[0] or time.perf_counter()
        root.removeHandler(capture)
        root.setLevel(level)
    out.elapsed = end - started
    out.frozen = clock.frozen(started, end)
    out.logs = capture.lines
    return out
