"""Helicone's proxy hosts (``oai.``, ``anthropic.`` and ``gateway.helicone.ai``) in one emulator.

Served under three prefixes of one loopback server: ``/oai/v1/…`` → the OpenAI emulator,
``/anthropic/…`` → the Anthropic emulator, ``/gateway/…`` → the ``Helicone-Target-URL``
(loopback only). Each request must carry ``Helicone-Auth: Bearer <key>`` with a key of the
Helicone emulator (``sk-``, write-only ``pk-`` and ``eu-`` keys all work, as on the real
proxy); the ``Helicone-*`` headers are stripped before forwarding, the answer is relayed as
it streams, and the call is logged into the Helicone emulator
(:meth:`~devtrack.sandbox.helicone_emulator.HeliconeEmulator.record_request`) with its model,
tokens, cost, latency, user and properties, so Helicone's query and metrics endpoints, and
therefore the Helicone plugin, report it. The answer carries ``helicone-id``.

The sandbox connects it to its siblings (:meth:`attach`); alone, call :meth:`connect`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .emulator import Emulator
from .llm_common import Observed, count_tokens, text_of

if TYPE_CHECKING:
    import httpx

    from .helicone_emulator import HeliconeEmulator

HOSTS = {"oai": ("openai", "OPENAI"), "anthropic": ("anthropic", "ANTHROPIC"), "gateway": (None, "GOOGLE")}
NOT_FORWARDED = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})
PROMPT_KEYS = ("prompt_tokens", "input_tokens", "promptTokenCount")
COMPLETION_KEYS = ("completion_tokens", "output_tokens", "candidatesTokenCount")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def usage_of(node: Any, acc: dict[str, int]) -> None:
    """Largest prompt/completion token counts found anywhere in a JSON value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, int) and not isinstance(value, bool):
                if key in PROMPT_KEYS:
                    acc["prompt"] = max(acc.get("prompt", 0), value)
                elif key in COMPLETION_KEYS:
                    acc["completion"] = max(acc.get("completion", 0), value)
            else:
                usage_of(value, acc)
    elif isinstance(node, list):
        for item in node:
            usage_of(item, acc)


def streamed_text(node: Any, out: list[str]) -> None:
    """Text pieces of streamed deltas (OpenAI ``delta.content``), to estimate usage when absent."""
    if isinstance(node, dict):
        delta = node.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            out.append(delta["content"])
        for value in node.values():
            if isinstance(value, (dict, list)):
                streamed_text(value, out)
    elif isinstance(node, list):
        for item in node:
            streamed_text(item, out)


def parse_answer(raw: bytes, content_type: str) -> tuple[Any, list[Any]]:
    """(JSON body or ``None``, SSE event payloads)."""
    if "event-stream" in content_type:
        events: list[Any] = []
        for line in raw.decode("utf-8", "replace").splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                try:
                    events.append(json.loads(data))
                except ValueError:
                    pass
        return None, events
    try:
        return json.loads(raw), []
    except ValueError:
        return None, []


class HeliconeProxyEmulator(Emulator):
    service = "helicone-proxy"

    def seed_data(self) -> None:
        self.upstreams: dict[str, str] = {}
        self.helicone: HeliconeEmulator | None = None
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.observed = Observed()

    def on_reset(self) -> None:
        super().on_reset()
        self.observed.clear()

    # ------------------------------------------------------------------ wiring

    def attach(self, sandbox: Any) -> None:
        """Find the provider emulators and the Helicone emulator running in the same sandbox."""
        running = sandbox.emulators
        self.connect(openai=running["openai"].url if "openai" in running else None,
                     anthropic=running["anthropic"].url if "anthropic" in running else None,
                     helicone=running.get("helicone"))

    def connect(self, *, openai: str | None = None, anthropic: str | None = None,
                helicone: HeliconeEmulator | None = None) -> None:
        for name, url in (("openai", openai), ("anthropic", anthropic)):
            if url:
                self.upstreams[name] = url.rstrip("/")
        if helicone is not None:
            self.helicone = helicone

    def env(self, url: str) -> dict[str, str]:
        return {"DEVTRACK_HELICONE_OAI_BASE_URL": url + "/oai/v1",
                "DEVTRACK_HELICONE_ANTHROPIC_BASE_URL": url + "/anthropic",
                "DEVTRACK_HELICONE_GATEWAY_BASE_URL": url + "/gateway"}

    def error(self, status: int, message: str, **extra: Any) -> Response:
        return JSONResponse({"success": False, "error": message, **extra}, status)

    def client(self) -> httpx.AsyncClient:
        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=60.0, trust_env=False)
            self._client.headers.clear()
            self._loop = loop
        return self._client

    # ------------------------------------------------------------------ the proxy

    def auth(self, request: Request) -> None:
        self.observed.add(request)
        header = request.headers.get("helicone-auth")
        if not header:
            raise self.fail(401, "Helicone-Auth header is required: Helicone-Auth: Bearer <your Helicone API key>")
        scheme, _, key = header.partition(" ")
        if self.helicone is None:
            raise self.fail(502, "sandbox: no Helicone emulator is connected to this proxy")
        valid = {self.helicone.good_key, self.helicone.write_key, self.helicone.eu_key}
        if scheme.lower() != "bearer" or key.strip() not in valid:
            raise self.fail(401, "Invalid Helicone-Auth: the API key is not valid")

    def target(self, request: Request, host: str) -> str:
        provider = HOSTS[host][0]
        if provider is not None:
            if provider not in self.upstreams:
                raise self.fail(502, f"sandbox: the {provider} emulator is not connected")
            return self.upstreams[provider]
        target = (request.headers.get("helicone-target-url") or "").rstrip("/")
        if not target:
            raise self.fail(400, "Helicone-Target-URL header is required on the gateway")
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK:
            raise self.fail(400, "sandbox: Helicone-Target-URL must point at a loopback emulator")
        return target

    async def relay(self, request: Request) -> Response:
        host = request.path_params["host"]
        if host not in HOSTS:
            raise self.fail(404, f"unknown Helicone proxy host {host!r}")
        self.auth(request)
        base = self.target(request, host)
        path = "/" + request.path_params["path"]
        url = base + path + (f"?{request.url.query}" if request.url.query else "")
        headers = [(k, v) for k, v in request.headers.items()
                   if k not in NOT_FORWARDED and not k.startswith("helicone-")]
        body = await request.body()
        client = self.client()
        started = time.perf_counter()
        upstream = await client.send(client.build_request(request.method, url, headers=headers, content=body),
                                     stream=True)
        request_id = str(uuid.uuid4())
        meta = {"host": host, "path": path, "target": base + path, "headers": dict(request.headers),
                "body": body, "started": started}

        async def relayed() -> AsyncIterator[bytes]:
            chunks: list[bytes] = []
            first: float | None = None
            try:
                async for chunk in upstream.aiter_raw():
                    if first is None:
                        first = time.perf_counter()
                    chunks.append(chunk)
                    yield chunk
            finally:
                await upstream.aclose()
            self.record(meta, request_id, upstream.status_code, upstream.headers.get("content-type", ""),
                        b"".join(chunks), first)

        keep = [(k, v) for k, v in upstream.headers.items()
                if k not in ("content-length", "transfer-encoding", "connection", "content-encoding")]
        resp = StreamingResponse(relayed(), status_code=upstream.status_code)
        resp.raw_headers = [(k.encode(), v.encode()) for k, v in keep] + [(b"helicone-id", request_id.encode())]
        return resp

    def record(self, meta: dict[str, Any], request_id: str, status: int, ctype: str, raw: bytes,
               first: float | None) -> None:
        """Log the call into the Helicone emulator, as Helicone's proxy does."""
        if self.helicone is None:
            return
        try:
            request_body = json.loads(meta["body"] or b"null")
        except ValueError:
            request_body = None
        model = request_body.get("model") if isinstance(request_body, dict) else None
        if not model and "/models/" in meta["path"]:
            model = meta["path"].split("/models/", 1)[1].split(":", 1)[0]
        answer, events = parse_answer(raw, ctype)
        usage: dict[str, int] = {}
        usage_of(answer if answer is not None else events, usage)
        if "completion" not in usage and events:
            pieces: list[str] = []
            streamed_text(events, pieces)
            usage["completion"] = count_tokens("".join(pieces)) if pieces else 0
        if "prompt" not in usage and isinstance(request_body, dict):
            usage["prompt"] = count_tokens(text_of(request_body.get("messages") or request_body.get("contents") or []))
        headers: dict[str, str] = meta["headers"]
        now = time.perf_counter()
        self.helicone.record_request(
            str(model or "unknown"), HOSTS[meta["host"]][1], usage.get("prompt", 0), usage.get("completion", 0),
            (now - meta["started"]) * 1000, status, path=meta["path"], target_url=meta["target"],
            user_id=headers.get("helicone-user-id"),
            properties={k[len("helicone-property-"):]: v for k, v in headers.items()
                        if k.startswith("helicone-property-")},
            request_body=request_body,
            response_body=answer if answer is not None else {"streamed": True, "events": len(events)},
            time_to_first_token_ms=round((first - meta["started"]) * 1000, 1) if first else None,
            request_id=request_id,
        )

    def routes(self) -> list[Route]:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return [Route("/{host}/{path:path}", self.relay, methods=methods)]


EMULATOR = HeliconeProxyEmulator
