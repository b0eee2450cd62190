"""Gemini (Google AI) emulator: models, ``generateContent`` and ``streamGenerateContent``.

Auth is ``x-goog-api-key`` or ``?key=``. Google's errors: no key → 403
``PERMISSION_DENIED`` ("unregistered callers"), a wrong key → 400 ``INVALID_ARGUMENT`` with
reason ``API_KEY_INVALID``, an unknown model → 404 ``NOT_FOUND``. Streaming with
``alt=sse`` sends one ``GenerateContentResponse`` per event (``\\r\\n\\r\\n`` separated, as
Google does); without it, the whole JSON array at once.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .llm_common import LlmEmulator, count_tokens, reply_to, sse, text_of, words_of

MODELS = {"gemini-1.5-pro": "Gemini 1.5 Pro", "gemini-1.5-flash": "Gemini 1.5 Flash"}
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class GoogleEmulator(LlmEmulator):
    service = "google"
    plugin_ids = ("google",)
    key_env = "GOOGLE_AI_API_KEY"
    key_prefix = "AIzaSandbox"

    def error(self, status: int, message: str, **extra: Any) -> Response:
        err: dict[str, Any] = {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}
        if extra.get("reason"):
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": extra["reason"],
                               "domain": "googleapis.com",
                               "metadata": {"service": "generativelanguage.googleapis.com"}}]
        return JSONResponse({"error": err}, status)

    def auth(self, request: Request) -> None:
        self.observed.add(request)
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            raise self.fail(403, "Method doesn't allow unregistered callers (callers without established "
                                 "identity). Please use API Key or other form of API consumer identity to call this API.")
        if key != self.key:
            raise self.fail(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")

    async def models(self, request: Request) -> Response:
        self.auth(request)
        return JSONResponse({"models": [{
            "name": f"models/{m}", "version": "001", "displayName": name, "description": name,
            "inputTokenLimit": 1_048_576, "outputTokenLimit": 8192,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
        } for m, name in MODELS.items()]})

    async def generate(self, request: Request) -> Response:
        self.auth(request)
        model, _, method = request.path_params["target"].partition(":")
        if method not in ("generateContent", "streamGenerateContent"):
            raise self.fail(404, f"Method {method or '(none)'} not found for models/{model}.")
        if model not in MODELS:
            raise self.fail(404, f"models/{model} is not found for API version v1beta, or is not supported "
                                 "for generateContent. Call ListModels to see the list of available models.")
        body = await self.json_body(request)
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise self.fail(400, "* GenerateContentRequest.contents: contents is not specified")
        prompt = text_of(contents)
        limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
        text = reply_to(prompt, self.words_for(limit))
        p_tokens, c_tokens = count_tokens(prompt), count_tokens(text)

        def response(piece: str, done: bool, so_far: int) -> dict[str, Any]:
            cand: dict[str, Any] = {"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}
            if done:
                cand["finishReason"] = "STOP"
            return {"candidates": [cand], "usageMetadata": {
                "promptTokenCount": p_tokens, "candidatesTokenCount": so_far,
                "totalTokenCount": p_tokens + so_far}, "modelVersion": model}

        if method == "generateContent":
            return JSONResponse(response(text, True, c_tokens))
        pieces = words_of(text)
        chunks = [response(w, i == len(pieces) - 1, i + 1) for i, w in enumerate(pieces)]
        if request.query_params.get("alt") == "sse":
            return self.stream([sse(c, sep="\r\n\r\n") for c in chunks])
        return Response(json.dumps(chunks), media_type="application/json")

    def routes(self) -> list[Route]:
        return [
            Route("/v1beta/models", self.models, methods=["GET"]),
            Route("/v1beta/models/{target}", self.generate, methods=["POST"]),
        ]


EMULATOR = GoogleEmulator
