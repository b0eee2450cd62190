"""Anthropic emulator: ``/v1/models`` and ``/v1/messages`` (JSON and SSE), Anthropic's errors.

Auth is ``x-api-key``; ``anthropic-version`` is required on messages, as the real API does.
Streams follow Anthropic's event sequence: ``message_start``, ``content_block_start``,
``ping``, ``content_block_delta``…, ``content_block_stop``, ``message_delta`` (with the output
token count), ``message_stop``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .llm_common import LlmEmulator, count_tokens, reply_to, sse, text_of, words_of

MODELS = {"claude-3-5-sonnet-20241022": "Claude 3.5 Sonnet", "claude-3-5-haiku-20241022": "Claude 3.5 Haiku"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}


class AnthropicEmulator(LlmEmulator):
    service = "anthropic"
    plugin_ids = ("anthropic",)
    key_env = "ANTHROPIC_API_KEY"
    key_prefix = "sk-ant-sandbox-"

    def error(self, status: int, message: str, **extra: Any) -> Response:
        kind = ERROR_TYPES.get(status, "api_error")
        return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status)

    def auth(self, request: Request) -> None:
        self.observed.add(request)
        key = request.headers.get("x-api-key")
        if not key:
            raise self.fail(401, "x-api-key header is required")
        if key != self.key:
            raise self.fail(401, "invalid x-api-key")

    async def models(self, request: Request) -> Response:
        self.auth(request)
        ids = list(MODELS)
        return JSONResponse({"data": [{"type": "model", "id": m, "display_name": MODELS[m],
                                       "created_at": "2024-10-22T00:00:00Z"} for m in ids],
                             "has_more": False, "first_id": ids[0], "last_id": ids[-1]})

    async def messages(self, request: Request) -> Response:
        self.auth(request)
        if not request.headers.get("anthropic-version"):
            raise self.fail(400, "anthropic-version: header is required")
        body = await self.json_body(request)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise self.fail(400, "model: Field required")
        if "max_tokens" not in body:
            raise self.fail(400, "max_tokens: Field required")
        if model not in MODELS:
            raise self.fail(404, f"model: {model}")
        prompt = text_of(body.get("messages") or [])
        system = body.get("system")
        if isinstance(system, str):
            prompt = f"{system} {prompt}"
        text = reply_to(prompt, self.words_for(body.get("max_tokens")))
        usage = {"input_tokens": count_tokens(prompt), "output_tokens": count_tokens(text)}
        mid = "msg_" + self.hex_id(24)
        message = {"id": mid, "type": "message", "role": "assistant", "model": model,
                   "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                   "stop_sequence": None, "usage": usage}
        if not body.get("stream"):
            return JSONResponse(message)
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}
        events = [
            sse({"type": "message_start", "message": start}, "message_start"),
            sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start"),
            sse({"type": "ping"}, "ping"),
        ]
        events += [sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
                       "content_block_delta") for w in words_of(text)]
        events += [
            sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                 "usage": {"output_tokens": usage["output_tokens"]}}, "message_delta"),
            sse({"type": "message_stop"}, "message_stop"),
        ]
        return self.stream(events)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/messages", self.messages, methods=["POST"]),
        ]


EMULATOR = AnthropicEmulator
