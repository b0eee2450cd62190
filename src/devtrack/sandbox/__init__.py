'''The sandbox: local emulators of every vendor API DevTrack talks to, with fault injection.

Never imported by ``devtrack integrations list`` (it pulls in Starlette and moto).

Using it
--------
::

    from devtrack.sandbox import Sandbox

    with Sandbox(services=["vercel"], seed=1, scale={"vercel_deployments": 500}) as sb:
        sb.url("vercel")                     # http://127.0.0.1:PORT
        sb.env()                             # {"DEVTRACK_VERCEL_BASE_URL": "http://127.0.0.1:PORT"}
        sb.credentials()                     # {"vercel": {"token": "...", "team_id": "team_..."},
                                             #  "vercel:personal": {"token": "..."}}  (connection ids)
        sb.faults("vercel").add(route="/v6/deployments", status=429, retry_after=1, times=1)
        sb.faults("vercel").add(route="/v2/user", latency=0.2)          # always, until clear()
        sb.faults("vercel").add(route="/v10/projects", method="GET", reset=True, times=2)
        sb.emulator("vercel").requests.count("/v6/deployments")         # calls served
        sb.emulator("vercel").requests.find("/v10/projects")[0].params  # query of a call
        sb.reset()                                                       # faults, logs, counters

Fault keywords (see :class:`Fault`): ``latency``, ``status`` (+ ``retry_after``, ``body``,
``headers``), ``malformed``, ``html``, ``truncate``, ``reset``, ``trickle`` (seconds),
``oversize`` (bytes); ``route`` (``/v1/projects/{ref}/health``, ``*`` one segment, ``**``
anything), ``method``, ``times`` (``None``: always). The same over HTTP on each emulator:
``POST /__sandbox/faults {"route": "/v2/user", "status": 500, "times": 2}``,
``GET /__sandbox/requests``, ``DELETE /__sandbox/faults``, ``POST /__sandbox/reset``.

In pytest (``pytest_plugins = ["devtrack.sandbox.testing"]``): ``sandbox`` (session, every
emulator running), ``sb`` (the same, with faults and logs cleared for the test),
``sandbox_manager`` (an ``IntegrationManager`` on a temp store holding the sandbox credentials,
its ``environ`` holding the base-URL overrides). Contract checks: ``devtrack.sandbox.contract``.

Adding a vendor emulator
------------------------
Create ``src/devtrack/sandbox/<service>_emulator.py`` (``-`` in the service name becomes
``_``) defining ``EMULATOR``; nothing else to register. Minimal complete example::

    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from .emulator import Emulator

    class AcmeEmulator(Emulator):
        service = "acme"                      # must match the module name
        plugin_ids = ("acme",)                # plugins this emulator serves
        base_path = "/api/v1"                 # vendor prefix, included in DEVTRACK_ACME_BASE_URL
        default_scale = {"acme_things": 30}   # scale knobs, named <service>_<things>
        rate_limit, rate_window = 100, 60.0   # per token; 0 disables

        def seed_data(self) -> None:          # deterministic: use self.rng, self.ago(seconds)
            self.good = self.token("acme_")
            self.things = [{"id": self.hex_id(8), "n": i} for i in range(self.scale["acme_things"])]

        def error(self, status: int, message: str, **extra) -> Response:   # vendor envelope
            return JSONResponse({"message": message, **extra}, status)

        def credentials(self, url: str) -> dict[str, dict[str, str]]:
            return {"acme": {"api_key": self.good}}          # the plugin's credential field keys

        def auth(self, request: Request) -> str:
            token = self.bearer(request)                      # or self.basic(request)
            if token != self.good:
                raise self.fail(401, "Invalid token")         # VendorError with the envelope
            self.limit(request, token)                        # rate headers; 429 when exceeded
            return token

        async def list_things(self, request: Request) -> Response:
            self.auth(request)
            offset = self.int_param(request, "offset", 0)
            limit = self.int_param(request, "limit", 20, 1, 100)
            return JSONResponse(self.things[offset:offset + limit])

        def routes(self):
            return [Route("/api/v1/things", self.list_things)]  # full paths, prefix included

    EMULATOR = AcmeEmulator

Override ``rate_headers``/``rate_limited`` for the vendor's rate-limit headers and 429,
``env`` for overrides other than ``DEVTRACK_<PLUGIN>_BASE_URL``. Status faults answer with
your ``error()`` envelope automatically. Real examples: ``vercel_emulator.py`` (cursor paging,
team trap), ``supabase_emulator.py`` (offset paging, 401/403/404), ``aws_ec2_emulator.py`` (a
non-ASGI backend, moto, behind a proxy that still records and injects faults). Then copy the
vendor spec into ``tests/contracts/<service>/`` and add a contract test like
``tests/contracts/test_vercel_contract.py``.
'''

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator, VendorError
    from .faults import Fault, FaultSet
    from .orchestrator import Sandbox

__all__ = ["Sandbox", "Emulator", "VendorError", "Fault", "FaultSet"]

_LAZY = {
    "Sandbox": ".orchestrator",
    "Emulator": ".emulator",
    "VendorError": ".emulator",
    "Fault": ".faults",
    "FaultSet": ".faults",
}


def __getattr__(name: str) -> Any:
    """Import lazily, so ``devtrack.sandbox.faults`` alone does not pull in Starlette."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)
