"""A test-only plugin and the tiny HTTP service it talks to: real sockets, real auth failures.

Stands in for a vendor until the sandbox's emulators drive the form tests. The service also
answers an OpenAI-style ``GET /v1/models`` so the AI provider test has something to call.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from pydantic import SecretStr

from devtrack.integrations.contract import (
    ConnectionResult,
    Credentials,
    Event,
    FieldKind,
    Health,
    Integration,
    IntegrationData,
    ResultKind,
    field,
)

GOOD_TOKEN = "echo_tok_GOOD_5f3c9a1b7e2d"
GOOD_AI_KEY = "sk-test-AIKEY-9b8c7d6e5f4a"


class EchoService:
    """``GET /whoami`` with ``Bearer GOOD_TOKEN`` → 200; anything else → 401 (echoing the token)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                service.calls += 1
                time.sleep(service.delay)
                auth = self.headers.get("Authorization", "")
                if self.path == "/whoami" and auth == f"Bearer {GOOD_TOKEN}":
                    self._json(200, {"user": "tester", "workspace": "acme"})
                elif self.path == "/v1/models" and auth == f"Bearer {GOOD_AI_KEY}":
                    self._json(200, {"object": "list", "data": [{"id": "gpt-test"}, {"id": "gpt-mini"}]})
                else:
                    self._json(401, {"error": f"bad credentials: {auth}"})

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> EchoService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class EchoCredentials(Credentials):
    url: str | None = field(label="Service URL", kind=FieldKind.URL, placeholder="http://127.0.0.1:…")
    token: SecretStr | None = field(label="API token", kind=FieldKind.TOKEN, help="From the echo service.")
    workspace: str | None = field(label="Workspace", required=False, help="Optional.")


class EchoIntegration(Integration):
    id = "echo"
    name = "Echo Service"
    description = "A test service reached over a real socket."
    docs_url = "https://example.com/echo-docs"
    setup_guide = (
        "Start the echo service, then paste its URL and token.\n\n"
        "Tokens live at https://example.com/tokens. Run `echo --token` to print one. "
        "<script>alert('x')</script>"
    )
    credentials_model = EchoCredentials
    deadline: ClassVar[float] = 5.0

    async def _whoami(self, creds: Credentials) -> tuple[int, str]:
        import httpx

        async with httpx.AsyncClient(timeout=3.0) as client:
            resp = await client.get(
                f"{creds.value('url')}/whoami", headers={"Authorization": f"Bearer {creds.value('token')}"}
            )
        return resp.status_code, resp.text

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        import httpx

        try:
            status, text = await self._whoami(creds)
        except httpx.HTTPError as exc:
            return ConnectionResult.failure(ResultKind.NETWORK, f"Could not reach the echo service: {exc}")
        if status == 200:
            return ConnectionResult.success("Connected as tester (workspace acme).")
        if status == 401:
            # The body echoes the token: the manager must mask it before anyone sees it.
            return ConnectionResult.failure(ResultKind.AUTH, f"The echo service rejected the token: {text}")
        return ConnectionResult.failure(ResultKind.ERROR, f"HTTP {status}")

    async def get_data(self, creds: Credentials) -> IntegrationData:
        result = await self.test_connection(creds)
        if not result.ok:
            return IntegrationData.failed(result)
        return IntegrationData(health=Health(status="healthy", detail="all good"),
                               events=[Event(title="echoed", source="echo")])


class PlainIntegration(Integration):
    """A plugin with nothing to configure, to check that case renders."""

    id = "plain"
    name = "Plain"
    description = "Needs no credentials."

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        return ConnectionResult.success("Nothing to check.")

    async def get_data(self, creds: Credentials) -> IntegrationData:
        return IntegrationData(health=Health(status="healthy"))
