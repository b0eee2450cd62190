"""What the OpenAI, Anthropic and Gemini emulators share: canned replies, token counts, SSE.

Replies are deterministic (a function of the prompt), token counts are word counts, so a
test can predict usage and cost. Streams are real server-sent events produced one event at a
time; ``chunk_delay`` spaces them out so a test can tell streaming from buffering (the
sandbox's own server buffers answers, so such tests serve ``emulator.app()`` with uvicorn).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import StreamingResponse

from .emulator import Emulator

#: Header values never kept in :attr:`Observed.headers` (they hold keys).
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "helicone-auth", "cookie"})


class Observed:
    """Headers of each request an emulator served, in order, secret values replaced by ``***``.

    The framework's request log keeps header names only; tests of a proxy also need the
    non-secret values (``anthropic-version``, ``helicone-target-url``, …).
    """

    def __init__(self) -> None:
        self.items: list[tuple[str, str, list[tuple[str, str]]]] = []

    def add(self, request: Request) -> None:
        headers = [(k, "***" if k in SECRET_HEADERS else v) for k, v in request.headers.items()]
        self.items.append((request.method, request.url.path, headers))

    def last(self) -> list[tuple[str, str]]:
        return self.items[-1][2]

    def clear(self) -> None:
        self.items.clear()


def count_tokens(text: str) -> int:
    return max(1, len(text.split()))


def reply_to(prompt: str, words: int = 12) -> str:
    """A deterministic reply of ``words`` words that quotes the start of the prompt."""
    quoted = " ".join(prompt.split()[:4]) or "nothing"
    base = f"Sandbox reply to: {quoted}. This text comes from the DevTrack emulator, one word per chunk".split()
    return " ".join((base * (words // len(base) + 1))[:words])


def text_of(parts: Iterable[Any]) -> str:
    """Concatenated text of message contents (strings, or lists of ``{"text": …}`` parts)."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict):
            if isinstance(part.get("text"), str):
                out.append(part["text"])
            content = part.get("content", part.get("parts"))
            if isinstance(content, (str, list)):
                out.append(text_of([content] if isinstance(content, str) else content))
    return " ".join(o for o in out if o)


def sse(data: Any, event: str | None = None, sep: str = "\n\n") -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return ((f"event: {event}\n" if event else "") + f"data: {payload}{sep}").encode()


def words_of(text: str) -> list[str]:
    """Stream pieces: each word with its leading space (the first without)."""
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


class LlmEmulator(Emulator):
    """Base of the provider emulators: one good key, an env var for it, paced streams."""

    #: The environment variable DevTrack reads the provider key from.
    key_env: ClassVar[str]
    key_prefix: ClassVar[str]

    def seed_data(self) -> None:
        self.key = self.token(self.key_prefix, 40)
        #: Seconds between streamed events (0: as fast as possible).
        self.chunk_delay = 0.0
        #: How many words a reply has (``max_tokens`` in a request lowers it).
        self.reply_words = 12
        self.observed = Observed()

    def on_reset(self) -> None:
        super().on_reset()
        self.observed.clear()

    def env(self, url: str) -> dict[str, str]:
        return {**super().env(url), self.key_env: self.key}

    def words_for(self, limit: Any) -> int:
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            return min(self.reply_words, limit)
        return self.reply_words

    def stream(self, events: Iterable[bytes], headers: dict[str, str] | None = None) -> StreamingResponse:
        delay = self.chunk_delay

        async def gen() -> AsyncIterator[bytes]:
            for i, event in enumerate(events):
                if delay and i:
                    await asyncio.sleep(delay)
                yield event

        return StreamingResponse(gen(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", **(headers or {})})

    async def json_body(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise self.fail(400, "We could not parse the JSON body of your request.") from None
        if not isinstance(body, dict):
            raise self.fail(400, "The request body must be a JSON object.")
        return body

    @staticmethod
    def created() -> int:
        return int(time.time())
