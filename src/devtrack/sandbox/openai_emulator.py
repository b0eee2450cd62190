"""OpenAI emulator: ``/v1/models`` and ``/v1/chat/completions`` (JSON and SSE), OpenAI's errors.

Auth is ``Authorization: Bearer <key>``; a missing key and a wrong key get OpenAI's two
different 401 bodies; an unknown model gets 404 ``model_not_found``. Streams end with
``data: [DONE]`` and carry a usage chunk when ``stream_options.include_usage`` is set.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .llm_common import LlmEmulator, count_tokens, reply_to, sse, text_of, words_of

MODELS = ("gpt-4o", "gpt-4o-mini", "o3-mini", "text-embedding-3-small")
CHAT_MODELS = MODELS[:3]


class OpenAIEmulator(LlmEmulator):
    service = "openai"
    plugin_ids = ("openai",)
    base_path = "/v1"
    key_env = "OPENAI_API_KEY"
    key_prefix = "sk-sandbox-"

    def error(self, status: int, message: str, **extra: Any) -> Response:
        kind = extra.pop("type", "invalid_request_error")
        code = extra.pop("code", None)
        return JSONResponse({"error": {"message": message, "type": kind, "param": extra.pop("param", None),
                                       "code": code, **extra}}, status)

    def auth(self, request: Request) -> None:
        self.observed.add(request)
        key = self.bearer(request)
        if key is None:
            raise self.fail(401, "You didn't provide an API key. You need to provide your API key in an "
                                 "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        if key != self.key:
            shown = f"{key[:3]}{'*' * 8}{key[-4:]}" if len(key) > 8 else "*" * len(key)
            raise self.fail(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                                 "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    async def models(self, request: Request) -> Response:
        self.auth(request)
        return JSONResponse({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1_700_000_000 + i, "owned_by": "system"}
            for i, m in enumerate(MODELS)]})

    async def chat(self, request: Request) -> Response:
        self.auth(request)
        body = await self.json_body(request)
        model = body.get("model")
        if not model:
            raise self.fail(400, "you must provide a model parameter")
        if model not in CHAT_MODELS:
            raise self.fail(404, f"The model `{model}` does not exist or you do not have access to it.",
                            code="model_not_found")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise self.fail(400, "[] is too short - 'messages'", param="messages")
        prompt = text_of(messages)
        text = reply_to(prompt, self.words_for(body.get("max_completion_tokens") or body.get("max_tokens")))
        usage = {"prompt_tokens": count_tokens(prompt), "completion_tokens": count_tokens(text)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        cid = "chatcmpl-" + self.hex_id(24)
        created = self.created()
        if not body.get("stream"):
            return JSONResponse({
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": usage, "system_fingerprint": "fp_sandbox",
            })

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                        "system_fingerprint": "fp_sandbox",
                        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": w}) for w in words_of(text)]
        events.append(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                               "system_fingerprint": "fp_sandbox", "choices": [], "usage": usage}))
        events.append(sse("[DONE]"))
        return self.stream(events)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
        ]


EMULATOR = OpenAIEmulator
