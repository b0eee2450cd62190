"""Helicone REST API ("Jawn") emulator: logged LLM requests, their counts, costs and metrics.

Faithful to what DevTrack depends on: ``Authorization: Bearer <key>``; ``sk-`` keys read and
write; a ``pk-`` key is write-only and gets 401 on every REST route, with Jawn's own body
``{"error": null, "trace": "isAuthenticated.error"}`` (the key authenticated, but lacks the
``r`` permission); an unknown key gets 401 with an error string. Rate limit 200 requests a
minute per organization, with the ``RateLimit-*`` headers of express-rate-limit and its 429
``{"error": "Too many requests, please try again later."}`` plus ``Retry-After``. Every
answer is Jawn's ``Result`` envelope ``{"data": ..., "error": null}``.

Routes (all ``POST``, bodies as in Helicone's OpenAPI document): ``/v1/request/count/query``,
``/v1/request/query`` (filter, offset, limit, sort), ``/v1/metrics/totalCost``,
``/v1/metrics/averageLatency``, ``/v1/metrics/costOverTime``, ``/v1/metrics/requestOverTime``,
``/v1/metrics/models``.
Filters: ``"all"``, ``{}``, ``{"left":…,"operator":"and"|"or","right":…}`` and leaves such as
``{"request_response_rmt": {"request_created_at": {"gte": "<ISO>"}}}`` (see :data:`FIELDS`).

The request store is open for other code: :meth:`HeliconeEmulator.record_request` logs a
request at run time (the proxy emulator does, for every proxied LLM call), and it shows up
in every query and metric. :meth:`~HeliconeEmulator.reset` drops what was recorded at run
time and keeps the seeded data.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .emulator import Emulator, RateState, SandboxEvent

#: model → (provider, USD per 1M prompt tokens, USD per 1M completion tokens, request path)
MODELS: dict[str, tuple[str, float, float, str]] = {
    "gpt-4o": ("OPENAI", 2.50, 10.00, "/v1/chat/completions"),
    "gpt-4o-mini": ("OPENAI", 0.15, 0.60, "/v1/chat/completions"),
    "o3-mini": ("OPENAI", 1.10, 4.40, "/v1/chat/completions"),
    "text-embedding-3-small": ("OPENAI", 0.02, 0.0, "/v1/embeddings"),
    "claude-3-5-sonnet-20241022": ("ANTHROPIC", 3.00, 15.00, "/v1/messages"),
    "claude-3-5-haiku-20241022": ("ANTHROPIC", 0.80, 4.00, "/v1/messages"),
    "gemini-1.5-pro": ("GOOGLE", 1.25, 5.00, "/v1beta/models/gemini-1.5-pro:generateContent"),
    "gemini-1.5-flash": ("GOOGLE", 0.075, 0.30, "/v1beta/models/gemini-1.5-flash:generateContent"),
}
MODEL_WEIGHTS = (14, 30, 6, 8, 12, 10, 6, 14)
PROVIDER_HOSTS = {"OPENAI": "https://api.openai.com", "ANTHROPIC": "https://api.anthropic.com",
                  "GOOGLE": "https://generativelanguage.googleapis.com"}
#: Response statuses of the seeded traffic and their weights (mostly fine, some provider errors).
STATUSES = ((200, 92), (429, 2), (500, 2), (400, 2), (503, 2))
FAILURES = (500, 429, 400, 503)
RATE_LIMIT_MESSAGE = "Too many requests, please try again later."
MAX_BUCKETS = 10_000
INCREMENTS = {"min": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


def iso(ts: float) -> str:
    """Epoch seconds as JavaScript's ``toISOString()`` writes them."""
    dt = datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(raw: Any) -> float:
    """An ISO timestamp (``Z``, offset or naive UTC) as epoch seconds; ``ValueError`` otherwise."""
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"not a timestamp: {raw!r}")
    dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T", 1))
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD cost of a call, from :data:`MODELS` (0 for unknown models)."""
    _, p_in, p_out, _ = MODELS.get(model, ("CUSTOM", 0.0, 0.0, ""))
    return round((prompt_tokens * p_in + completion_tokens * p_out) / 1_000_000, 8)


@dataclass
class LlmRequest:
    """One logged LLM call, as Helicone stores it."""

    request_id: str
    created_at: float
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    status: int
    cost_usd: float
    path: str
    target_url: str
    user_id: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    request_body: Any = None
    response_body: Any = None
    time_to_first_token_ms: float | None = None
    cached: bool = False
    country_code: str | None = "US"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def value(self, table: str, name: str) -> Any:
        """The column ``table.name`` a filter or sort refers to (``KeyError`` if unknown)."""
        return FIELDS[(table, name)][1](self)

    def to_json(self) -> dict[str, Any]:
        """The ``HeliconeRequest`` shape of ``/v1/request/query``."""
        done = self.created_at + self.latency_ms / 1000
        return {
            "response_id": str(uuid.uuid5(uuid.NAMESPACE_OID, self.request_id)),
            "response_created_at": iso(done),
            "response_body": self.response_body,
            "response_status": self.status,
            "response_model": self.model,
            "request_id": self.request_id,
            "request_created_at": iso(self.created_at),
            "request_body": self.request_body,
            "request_path": self.path,
            "request_user_id": self.user_id,
            "request_properties": dict(self.properties),
            "request_model": self.model,
            "model_override": None,
            "helicone_user": self.user_id,
            "provider": self.provider,
            "delay_ms": round(self.latency_ms),
            "time_to_first_token": self.time_to_first_token_ms,
            "total_tokens": self.total_tokens,
            "prompt_tokens": self.prompt_tokens,
            "prompt_cache_write_tokens": 0,
            "prompt_cache_read_tokens": 0,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": 0,
            "prompt_audio_tokens": 0,
            "completion_audio_tokens": 0,
            "cost": self.cost_usd,
            "prompt_id": None,
            "prompt_version": None,
            "llmSchema": None,
            "country_code": self.country_code,
            "asset_ids": None,
            "asset_urls": None,
            "scores": None,
            "properties": dict(self.properties),
            "assets": [],
            "target_url": self.target_url,
            "model": self.model,
            "cache_reference_id": None,
            "cache_enabled": self.cached,
            "updated_at": iso(done),
            "request_referrer": None,
            "ai_gateway_body_mapping": None,
        }


# (table, column) → (kind, getter). Kinds: text, number, time, bool.
FIELDS: dict[tuple[str, str], tuple[str, Callable[[LlmRequest], Any]]] = {}
for _table in ("request_response_rmt",):
    FIELDS.update({
        (_table, "request_created_at"): ("time", lambda r: r.created_at),
        (_table, "response_created_at"): ("time", lambda r: r.created_at + r.latency_ms / 1000),
        (_table, "status"): ("number", lambda r: r.status),
        (_table, "latency"): ("number", lambda r: r.latency_ms),
        (_table, "cost"): ("number", lambda r: r.cost_usd),
        (_table, "prompt_tokens"): ("number", lambda r: r.prompt_tokens),
        (_table, "completion_tokens"): ("number", lambda r: r.completion_tokens),
        (_table, "total_tokens"): ("number", lambda r: r.total_tokens),
        (_table, "time_to_first_token"): ("number", lambda r: r.time_to_first_token_ms),
        (_table, "model"): ("text", lambda r: r.model),
        (_table, "provider"): ("text", lambda r: r.provider),
        (_table, "user_id"): ("text", lambda r: r.user_id),
        (_table, "request_id"): ("text", lambda r: r.request_id),
        (_table, "country_code"): ("text", lambda r: r.country_code),
        (_table, "target_url"): ("text", lambda r: r.target_url),
        (_table, "cached"): ("bool", lambda r: r.cached),
    })
FIELDS.update({
    ("request", "created_at"): ("time", lambda r: r.created_at),
    ("request", "model"): ("text", lambda r: r.model),
    ("request", "user_id"): ("text", lambda r: r.user_id),
    ("request", "id"): ("text", lambda r: r.request_id),
    ("request", "path"): ("text", lambda r: r.path),
    ("response", "status"): ("number", lambda r: r.status),
    ("response", "model"): ("text", lambda r: r.model),
    ("response", "body_model"): ("text", lambda r: r.model),
})
#: SortLeafRequest keys → getter.
SORTS: dict[str, Callable[[LlmRequest], Any]] = {
    "created_at": lambda r: r.created_at,
    "latency": lambda r: r.latency_ms,
    "cost": lambda r: r.cost_usd,
    "total_tokens": lambda r: r.total_tokens,
    "prompt_tokens": lambda r: r.prompt_tokens,
    "completion_tokens": lambda r: r.completion_tokens,
    "body_model": lambda r: r.model,
}


class FilterError(ValueError):
    """A filter the emulator cannot evaluate (answered 400)."""


OPERATORS = {
    "time": ("equals", "gte", "lte", "gt", "lt"),
    "number": ("equals", "not-equals", "gte", "lte", "gt", "lt"),
    "text": ("equals", "not-equals", "like", "ilike", "contains", "not-contains"),
    "bool": ("equals",),
}


def _operand(kind: str, op: str, raw: Any) -> Any:
    """Check an operator's operand against the column kind (timestamps parsed once)."""
    if op not in OPERATORS[kind]:
        raise FilterError(f"operator {op!r} does not apply to a {kind} column")
    if kind == "time":
        try:
            return parse_time(raw)
        except ValueError as exc:
            raise FilterError(str(exc)) from None
    ok = {"number": isinstance(raw, (int, float)) and not isinstance(raw, bool),
          "text": isinstance(raw, str), "bool": isinstance(raw, bool)}[kind]
    if not ok:
        raise FilterError(f"{op} on a {kind} column cannot take {raw!r}")
    if op in ("like", "ilike"):
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in raw)
        return re.compile(regex, re.IGNORECASE if op == "ilike" else 0)
    return raw


def _test(op: str, actual: Any, expected: Any) -> bool:
    if op == "equals":
        return actual == expected
    if op == "not-equals":
        return actual != expected
    if actual is None:
        return False
    if op in ("like", "ilike"):
        return expected.fullmatch(actual) is not None
    if op == "contains":
        return expected in actual
    if op == "not-contains":
        return expected not in actual
    return {"gte": actual >= expected, "lte": actual <= expected,
            "gt": actual > expected, "lt": actual < expected}[op]


def compile_filter(node: Any) -> Callable[[LlmRequest], bool]:
    """A predicate for a Helicone filter tree; :class:`FilterError` when it is not one."""
    if node == "all" or node == {}:
        return lambda r: True
    if not isinstance(node, dict):
        raise FilterError(f"a filter is \"all\", a leaf or a branch, not {node!r}")
    if "operator" in node or "left" in node or "right" in node:
        if node.get("operator") not in ("and", "or") or "left" not in node or "right" not in node:
            raise FilterError("a filter branch needs left, operator (and|or) and right")
        left, right = compile_filter(node["left"]), compile_filter(node["right"])
        if node["operator"] == "and":
            return lambda r: left(r) and right(r)
        return lambda r: left(r) or right(r)
    tests: list[tuple[str, Callable[[LlmRequest], Any], Any]] = []
    for table, columns in node.items():
        if not isinstance(columns, dict):
            raise FilterError(f"filter on {table!r} must be an object")
        for column, ops in columns.items():
            if (table, column) not in FIELDS:
                raise FilterError(f"unsupported filter column {table}.{column}")
            if not isinstance(ops, dict) or not ops:
                raise FilterError(f"filter on {table}.{column} needs an operator")
            kind, get = FIELDS[(table, column)]
            tests += [(op, get, _operand(kind, op, raw)) for op, raw in ops.items()]
    return lambda r: all(_test(op, get(r), expected) for op, get, expected in tests)


class RequestStore:
    """The organization's logged requests: seeded ones plus those recorded at run time."""

    def __init__(self) -> None:
        self._seeded: list[LlmRequest] = []
        self._recorded: list[LlmRequest] = []
        self._lock = threading.Lock()

    def seed(self, items: Iterable[LlmRequest]) -> None:
        with self._lock:
            self._seeded = list(items)

    def add(self, item: LlmRequest) -> None:
        with self._lock:
            self._recorded.append(item)

    def all(self) -> list[LlmRequest]:
        with self._lock:
            return self._seeded + self._recorded

    def recorded(self) -> list[LlmRequest]:
        with self._lock:
            return list(self._recorded)

    def select(self, node: Any, start: float | None = None, end: float | None = None) -> list[LlmRequest]:
        """Requests matching a filter tree and an optional ``[start, end]`` window."""
        test = compile_filter(node)
        return [r for r in self.all()
                if (start is None or r.created_at >= start) and (end is None or r.created_at <= end) and test(r)]

    def remove(self, request_id: str) -> None:
        """Forget one request recorded at run time."""
        with self._lock:
            self._recorded[:] = [r for r in self._recorded if r.request_id != request_id]

    def clear_recorded(self) -> None:
        with self._lock:
            self._recorded.clear()


class HeliconeEmulator(Emulator):
    service = "helicone"
    plugin_ids = ("helicone",)
    #: Seeded requests logged today (local time) and over the six days before.
    default_scale = {"helicone_requests_today": 60, "helicone_requests": 300}
    rate_limit = 200
    rate_window = 60.0

    # ------------------------------------------------------------------ data

    def seed_data(self) -> None:
        self.org_id = str(uuid.UUID(self.hex_id(32)))
        self.good_key = self.token("sk-helicone-", 40)
        #: A write-only key: accepted by the proxy, 401 on the REST API.
        self.write_key = self.token("pk-helicone-", 40)
        #: An EU key (the ``eu-`` prefix), served by this same emulator.
        self.eu_key = "eu-" + self.token("sk-helicone-", 40)
        self.store = RequestStore()
        local_now = datetime.fromtimestamp(self.now).astimezone()
        midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        elapsed = self.now - midnight
        today_span = max(1.0, min(elapsed - 1.0, 10 * 3600.0))
        # Today: exactly one request in 20 failed (5%, under DevTrack's "degraded" threshold).
        seeded = [self._seeded_request(self.ago(self.rng.random() * today_span),
                                       FAILURES[i // 20 % len(FAILURES)] if i % 20 == 7 else 200)
                  for i in range(self.scale["helicone_requests_today"])]
        seeded += [self._seeded_request(self.ago(elapsed + 1 + self.rng.random() * 6 * 86400))
                   for _ in range(self.scale["helicone_requests"])]
        self.store.seed(sorted(seeded, key=lambda r: r.created_at))

    def _seeded_request(self, created: float, status: int | None = None) -> LlmRequest:
        rng = self.rng
        model = rng.choices(list(MODELS), MODEL_WEIGHTS)[0]
        if status is None:
            status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
        slow = rng.random() < 0.08
        latency = rng.uniform(5_500, 30_000) if slow else rng.lognormvariate(6.6, 0.6)
        prompt = int(rng.lognormvariate(6.5, 0.9)) + 5
        completion = 0 if model.startswith("text-embedding") or status != 200 else int(rng.lognormvariate(5.3, 0.8)) + 1
        user = rng.choice(["alice@example.com", "bob@example.com", "batch-job", None])
        return self._make(model, MODELS[model][0], prompt, completion, latency, status,
                          None, created, user_id=user, request_id=str(uuid.UUID(int=rng.getrandbits(128))))

    def _make(self, model: str, provider: str, prompt_tokens: int, completion_tokens: int,
              latency_ms: float, status: int, cost_usd: float | None, created_at: float, *,
              path: str | None = None, target_url: str | None = None, user_id: str | None = None,
              properties: dict[str, str] | None = None, request_body: Any = None, response_body: Any = None,
              time_to_first_token_ms: float | None = None, cached: bool = False,
              request_id: str | None = None) -> LlmRequest:
        provider = provider.upper() if provider.upper() in PROVIDER_HOSTS else provider
        path = path or MODELS.get(model, ("", 0, 0, "/v1/chat/completions"))[3]
        if request_body is None:
            request_body = {"model": model, "messages": [{"role": "user", "content": "Summarise the release notes."}]}
        if response_body is None:
            response_body = ({"id": "resp-" + model, "model": model, "usage": {
                "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}} if status < 400
                else {"error": {"message": f"upstream answered {status}", "code": status}})
        return LlmRequest(
            request_id=request_id or str(uuid.uuid4()), created_at=created_at, model=model, provider=provider,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency_ms=float(latency_ms),
            status=status, cost_usd=price(model, prompt_tokens, completion_tokens) if cost_usd is None else cost_usd,
            path=path, target_url=target_url or PROVIDER_HOSTS.get(provider, "https://example.invalid") + path,
            user_id=user_id, properties=dict(properties or {}), request_body=request_body,
            response_body=response_body, cached=cached,
            time_to_first_token_ms=time_to_first_token_ms if time_to_first_token_ms is not None
            else (round(latency_ms * 0.3) if status < 400 else None),
        )

    def record_request(self, model: str, provider: str, prompt_tokens: int, completion_tokens: int,
                       latency_ms: float, status: int = 200, cost_usd: float | None = None,
                       created_at: float | None = None, **extra: Any) -> LlmRequest:
        """Log one LLM call at run time; it shows up in every query and metric from now on.

        ``provider`` is Helicone's provider name (``OPENAI``, ``ANTHROPIC``, ``GOOGLE``, any
        case); ``cost_usd`` defaults to the model's list price; ``created_at`` (epoch seconds)
        to now. ``extra``: ``path``, ``target_url``, ``user_id``, ``properties``,
        ``request_body``, ``response_body``, ``time_to_first_token_ms``, ``cached``,
        ``request_id``. Thread-safe (the proxy emulator calls it from its own server thread).
        """
        item = self._make(model, provider, int(prompt_tokens), int(completion_tokens), latency_ms, int(status),
                          cost_usd, time.time() if created_at is None else created_at, **extra)
        self.store.add(item)
        return item

    def on_reset(self) -> None:
        super().on_reset()
        self.store.clear_recorded()

    # ------------------------------------------------------------------ events (alert rules)

    def sandbox_events(self) -> dict[str, SandboxEvent]:
        return {"spend_over_budget": SandboxEvent(
            "one expensive request logged now (option: cost_usd, default 250) (undo: it is gone)",
            self._expensive, self._forget)}

    def _expensive(self, options: dict[str, Any]) -> dict[str, Any]:
        item = self.record_request("gpt-4o", "OPENAI", 120_000, 40_000, 9_000.0,
                                   cost_usd=float(options.get("cost_usd", 250.0)))
        return {"request": item.request_id, "cost_usd": item.cost_usd}

    def _forget(self, done: dict[str, Any]) -> None:
        self.store.remove(done["request"])

    # ------------------------------------------------------------------ vendor traits

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """Jawn's shapes: 401/429 from middleware ``{"error": …}``, else ``{"data": null, "error": …}``."""
        if status in (401, 429):
            return JSONResponse({"error": message, **extra}, status)
        return JSONResponse({"data": None, "error": message, **extra}, status)

    def rate_headers(self, state: RateState) -> dict[str, str]:
        """express-rate-limit's ``standardHeaders`` (draft-6); the legacy ``X-`` ones are off."""
        return {
            "ratelimit-policy": f"{state.limit};w={int(self.rate_window)}",
            "ratelimit-limit": str(state.limit),
            "ratelimit-remaining": str(state.remaining),
            "ratelimit-reset": str(state.reset_in),
        }

    def rate_limited(self, state: RateState) -> Response:
        resp = self.error(429, RATE_LIMIT_MESSAGE)
        resp.headers["retry-after"] = str(state.reset_in)
        return resp

    def credentials(self, url: str) -> dict[str, dict[str, str]]:
        return {"helicone": {"api_key": self.good_key, "region": "us", "org_id": self.org_id}}

    def auth(self, request: Request) -> None:
        """Jawn's auth middleware, then its per-organization rate limiter."""
        header = request.headers.get("authorization")
        if not header:
            raise self.fail(401, "No authorization header found")
        key = self.bearer(request)
        if key is None:
            raise self.fail(401, "Invalid authorization header: expected Bearer <key>")
        if key == self.write_key:
            # Authenticated, but the key lacks the "r" permission: Jawn sends error null.
            raise self.fail(401, None, trace="isAuthenticated.error")  # type: ignore[arg-type]
        if key not in (self.good_key, self.eu_key):
            raise self.fail(401, "Invalid API key", trace="isAuthenticated.error")
        self.limit(request, self.org_id)

    async def body(self, request: Request, required: Iterable[str] = ()) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise self.fail(400, "Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise self.fail(400, "Request body must be a JSON object")
        missing = [k for k in required if k not in body]
        if missing:
            raise self.fail(400, f"Missing required field(s): {', '.join(missing)}")
        return body

    def window(self, body: dict[str, Any]) -> tuple[float, float]:
        tf = body.get("timeFilter")
        if not isinstance(tf, dict):
            raise self.fail(400, "timeFilter must be an object with start and end")
        try:
            return parse_time(tf.get("start")), parse_time(tf.get("end"))
        except ValueError as exc:
            raise self.fail(400, f"Invalid timeFilter: {exc}") from None

    def select(self, node: Any, start: float | None = None, end: float | None = None) -> list[LlmRequest]:
        try:
            return self.store.select(node, start, end)
        except FilterError as exc:
            raise self.fail(400, f"Invalid filter: {exc}") from None

    @staticmethod
    def ok(data: Any) -> Response:
        return JSONResponse({"data": data, "error": None})

    # ------------------------------------------------------------------ routes

    async def request_count(self, request: Request) -> Response:
        self.auth(request)
        body = await self.body(request, ["filter"])
        return self.ok(len(self.select(body["filter"])))

    async def request_query(self, request: Request) -> Response:
        self.auth(request)
        body = await self.body(request, ["filter"])
        try:
            offset = max(0, int(body.get("offset", 0)))
            limit = min(1000, max(1, int(body.get("limit", 100))))
        except (TypeError, ValueError):
            raise self.fail(400, "offset and limit must be numbers") from None
        sort = body.get("sort") or {"created_at": "desc"}
        if not isinstance(sort, dict) or len(sort) != 1:
            raise self.fail(400, "sort must name exactly one column")
        (column, direction), = sort.items()
        if column not in SORTS or direction not in ("asc", "desc"):
            raise self.fail(400, f"Unsupported sort {column!r}: {direction!r}")
        items = sorted(self.select(body["filter"]), key=lambda r: (SORTS[column](r), r.request_id),
                       reverse=direction == "desc")
        return self.ok([r.to_json() for r in items[offset:offset + limit]])

    async def total_cost(self, request: Request) -> Response:
        self.auth(request)
        body = await self.body(request, ["filter", "timeFilter"])
        items = self.select(body["filter"], *self.window(body))
        return self.ok(round(sum(r.cost_usd for r in items), 8))

    async def average_latency(self, request: Request) -> Response:
        self.auth(request)
        body = await self.body(request, ["filter", "timeFilter"])
        items = self.select(body["filter"], *self.window(body))
        return self.ok(round(sum(r.latency_ms for r in items) / len(items), 2) if items else 0)

    async def cost_over_time(self, request: Request) -> Response:
        return await self._over_time(request, lambda rs: {"cost": round(sum(r.cost_usd for r in rs), 8)})

    async def requests_over_time(self, request: Request) -> Response:
        return await self._over_time(request, lambda rs: {"count": len(rs)})

    async def _over_time(self, request: Request, aggregate: Callable[[list[LlmRequest]], dict[str, Any]]) -> Response:
        """``MetricsOverTimeBody``: buckets of ``dbIncrement`` (default hour) in the caller's time zone."""
        self.auth(request)
        body = await self.body(request, ["filter", "timeFilter", "timeZoneDifference"])
        start, end = self.window(body)
        tz = body.get("timeZoneDifference")
        if not isinstance(tz, (int, float)) or isinstance(tz, bool):
            raise self.fail(400, "timeZoneDifference must be a number (minutes, as getTimezoneOffset())")
        buckets = self._buckets(start, end, body.get("dbIncrement") or "hour", float(tz))
        groups: list[list[LlmRequest]] = [[] for _ in buckets]
        for r in self.select(body["filter"], start, end):
            if buckets:
                groups[max(0, bisect.bisect_right(buckets, r.created_at) - 1)].append(r)
        return self.ok([{"time": iso(b), **aggregate(g)} for b, g in zip(buckets, groups)])

    def _buckets(self, start: float, end: float, increment: str, tz_minutes: float) -> list[float]:
        """Bucket starts (epoch s) covering ``[start, end]`` in the caller's local time."""
        shift = timezone(timedelta(minutes=-tz_minutes))
        first = datetime.fromtimestamp(start, shift)
        if increment in ("month", "year"):
            first = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            if increment == "year":
                first = first.replace(month=1)
        elif increment in INCREMENTS:
            step = INCREMENTS[increment]
            if increment == "min":
                first = first.replace(second=0, microsecond=0)
            elif increment == "hour":
                first = first.replace(minute=0, second=0, microsecond=0)
            else:
                first = first.replace(hour=0, minute=0, second=0, microsecond=0)
                if increment == "week":
                    first -= timedelta(days=first.weekday())
            if (end - first.timestamp()) / step > MAX_BUCKETS:
                raise self.fail(400, f"Too many {increment} buckets between start and end")
        else:
            raise self.fail(400, "dbIncrement must be one of min, hour, day, week, month, year")
        out, cur = [], first
        while cur.timestamp() <= end and len(out) <= MAX_BUCKETS:
            out.append(cur.timestamp())
            if increment in INCREMENTS:
                cur = cur + timedelta(seconds=INCREMENTS[increment])
            elif increment == "month":
                cur = cur.replace(year=cur.year + cur.month // 12, month=cur.month % 12 + 1)
            else:
                cur = cur.replace(year=cur.year + 1)
        return out

    async def model_metrics(self, request: Request) -> Response:
        self.auth(request)
        body = await self.body(request, ["filter", "offset", "limit", "timeFilter"])
        per: dict[str, dict[str, Any]] = {}
        for r in self.select(body["filter"], *self.window(body)):
            m = per.setdefault(r.model, {"model": r.model, "total_requests": 0, "total_completion_tokens": 0,
                                         "total_prompt_token": 0, "total_tokens": 0, "cost": 0.0})
            m["total_requests"] += 1
            m["total_completion_tokens"] += r.completion_tokens
            m["total_prompt_token"] += r.prompt_tokens
            m["total_tokens"] += r.total_tokens
            m["cost"] = round(m["cost"] + r.cost_usd, 8)
        try:
            offset, limit = max(0, int(body["offset"])), max(0, int(body["limit"]))
        except (TypeError, ValueError):
            raise self.fail(400, "offset and limit must be numbers") from None
        rows = sorted(per.values(), key=lambda m: (-m["total_requests"], m["model"]))
        return self.ok(rows[offset:offset + limit])

    def routes(self) -> list[Route]:
        return [
            Route("/v1/request/count/query", self.request_count, methods=["POST"]),
            Route("/v1/request/query", self.request_query, methods=["POST"]),
            Route("/v1/metrics/totalCost", self.total_cost, methods=["POST"]),
            Route("/v1/metrics/averageLatency", self.average_latency, methods=["POST"]),
            Route("/v1/metrics/costOverTime", self.cost_over_time, methods=["POST"]),
            Route("/v1/metrics/requestOverTime", self.requests_over_time, methods=["POST"]),
            Route("/v1/metrics/models", self.model_metrics, methods=["POST"]),
        ]


EMULATOR = HeliconeEmulator
