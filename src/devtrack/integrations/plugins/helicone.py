"""Helicone: AI request costs, volumes and latency; its key also routes the AI proxy through Helicone.

Reads Helicone's REST API ("Jawn"): every call is a read-only ``POST`` query, so they are
sent with ``idempotent=True`` and retried like GETs. Keys come in two kinds: ``sk-`` keys
read and write, ``pk-`` keys are write-only (fine for the proxy, refused with 401 on the REST
API). Jawn answers such a key with ``{"error": null, "trace": "isAuthenticated.error"}``: it
recognised the key and found no read permission, so DevTrack reports that as *permission*,
not *auth*, and says to use an ``sk-`` key. EU keys start with ``eu-`` and live on
``eu.api.helicone.ai``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr

from ..contract import (
    ConnectionResult,
    Credentials,
    Event,
    FieldKind,
    Health,
    Integration,
    IntegrationData,
    LlmUsage,
    Records,
    ResultKind,
    field,
    utcnow,
)

if TYPE_CHECKING:
    from ..http import HttpError, ServiceClient

US_API = "https://api.helicone.ai"
EU_API = "https://eu.api.helicone.ai"
WEB = {"us": "https://us.helicone.ai", "eu": "https://eu.helicone.ai"}
KEYS_PAGE = "{web}/settings/api-keys"


class HeliconeCredentials(Credentials):
    api_key: SecretStr | None = field(
        label="API key", kind=FieldKind.TOKEN, placeholder="sk-helicone-…",
        help="A read+write key; pk- keys are write-only.",
    )
    region: str | None = field(
        label="Region", kind=FieldKind.CHOICE, required=False, choices=["us", "eu"],
        placeholder="us", help="eu for keys created on eu.helicone.ai.",
    )
    org_id: str | None = field(
        label="Organization ID", kind=FieldKind.PROJECT_ID, required=False,
        help="Optional; sent with proxied requests.",
    )


@dataclass(frozen=True)
class Settings:
    """What the credentials mean: the key, its kind, the region and the API base URL."""

    key: str
    region: str
    base_url: str
    write_only: bool
    eu_key: bool
    region_given: bool

    @property
    def web(self) -> str:
        return WEB[self.region]


def key_traits(key: str) -> tuple[bool, bool]:
    """(write-only, EU) from the key's prefixes: ``pk-``/``sk-``, optionally after ``eu-``."""
    low = key.lower()
    eu = low.startswith("eu-") or re.match(r"^[sp]k-helicone-eu-", low) is not None
    bare = low[3:] if low.startswith("eu-") else low
    return bare.startswith("pk-"), eu


class HeliconeIntegration(Integration):
    id = "helicone"
    name = "Helicone"
    description = "AI request costs, volumes and latency; its key also routes the AI proxy through Helicone."
    docs_url = "https://docs.helicone.ai/rest/overview"
    setup_guide = (
        "Create an API key at https://us.helicone.ai/settings/api-keys (EU: https://eu.helicone.ai) "
        "with Read permission enabled. A read+write key (sk-…) is needed for metrics; a write-only "
        "key (pk-…) only works for the proxy. EU keys start with eu- and need region eu (or leave "
        "the region blank: the prefix decides)."
    )
    credentials_model = HeliconeCredentials

    #: Requests per page of ``/v1/request/query``, and the most of today's requests fetched.
    page_size: ClassVar[int] = 100
    max_requests: ClassVar[int] = 500
    #: A request slower than this (ms) is a warning event.
    slow_ms: ClassVar[float] = 5000.0
    #: Today's failure rate at or above which health is degraded (given enough requests).
    degraded_error_rate: ClassVar[float] = 0.10
    min_requests_for_rate: ClassVar[int] = 10
    max_events: ClassVar[int] = 50
    history_days: ClassVar[int] = 7

    # ------------------------------------------------------------------ plumbing

    def _settings(self, creds: Credentials) -> Settings:
        from ..http import HttpError, base_url_for

        key = creds.value("api_key") or ""
        region = (creds.value("region") or "").strip().lower()
        if region not in ("", "us", "eu"):
            raise HttpError(ResultKind.CONFIG, f"Region must be us or eu, not {region!r}.")
        write_only, eu_key = key_traits(key)
        chosen = region or ("eu" if eu_key else "us")
        base = base_url_for(self.id, EU_API if chosen == "eu" else US_API)
        return Settings(key, chosen, base, write_only, eu_key, bool(region))

    def _client(self, s: Settings) -> ServiceClient:
        from ..http import ServiceClient

        return ServiceClient(
            self.id, s.base_url, service="Helicone",
            headers={"Authorization": f"Bearer {s.key}"}, secrets=[s.key],
            classify=_classify,
        )

    async def _post(self, client: ServiceClient, path: str, body: dict[str, Any]) -> Any:
        """One read-only query: the ``data`` of Jawn's ``{"data", "error"}`` envelope."""
        from ..http import HttpError

        payload = await client.post_json(path, body, idempotent=True)
        if not isinstance(payload, dict) or "data" not in payload:
            raise HttpError(ResultKind.INVALID_RESPONSE,
                            f"Helicone answered {path} without its data envelope; check the base URL.")
        if payload.get("error") not in (None, ""):
            raise HttpError(ResultKind.UNAVAILABLE,
                            f"Helicone could not answer {path}: {str(payload['error'])[:200]}")
        return payload["data"]

    def _explain(self, exc: HttpError, s: Settings, path: str) -> ConnectionResult:
        """The HTTP layer's failure, with Helicone's own reasons spelled out."""
        keys = KEYS_PAGE.format(web=s.web)
        message = exc.message
        if exc.kind == ResultKind.PERMISSION and exc.status == 401:
            kind_of_key = "a write-only key (pk-…)" if s.write_only else "a key without Read permission"
            message = (
                f"Helicone recognised the API key, but it is {kind_of_key}: it can log requests "
                "through the Helicone proxy, but it cannot read requests or metrics, which is what "
                f"DevTrack shows. Create a key with Read permission (it starts with sk-) at {keys} "
                "and use it here; keep the pk- key for the proxy."
            )
        elif exc.kind == ResultKind.AUTH:
            message = f"Helicone rejected the API key ({_detail(exc)}). Check that it was copied whole and not revoked ({keys})."
            if s.write_only:
                message += " Note that it is a pk- key: even a valid one is write-only, and DevTrack needs a read+write sk- key."
            message += _region_hint(s)
        elif exc.kind == ResultKind.NOT_FOUND:
            message = (f"Helicone has no {path} at {s.base_url} (404). Check the region "
                       "or DEVTRACK_HELICONE_BASE_URL.")
        details: dict[str, Any] = {"region": s.region, "key_type": "write-only" if s.write_only else "read+write"}
        return exc.result(**details) if message == exc.message else ConnectionResult.failure(
            exc.kind, message, **({"status": exc.status} if exc.status else {}), **details)

    # ------------------------------------------------------------------ contract

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        from ..http import HttpError

        try:
            s = self._settings(creds)
        except HttpError as exc:
            return exc.result()
        path = "/v1/request/count/query"
        try:
            async with self._client(s) as client:
                count = await self._post(client, path, {"filter": "all"})
        except HttpError as exc:
            return self._explain(exc, s, path)
        if not isinstance(count, (int, float)) or isinstance(count, bool):
            return ConnectionResult.failure(
                ResultKind.INVALID_RESPONSE, f"Helicone answered {path} with {type(count).__name__}, not a count.")
        details: dict[str, Any] = {"region": s.region, "requests": int(count), "key_type": "read+write"}
        if creds.value("org_id"):
            details["org_id"] = creds.value("org_id")
        note = " (the key starts with pk-, yet it can read: Helicone granted it Read permission)" if s.write_only else ""
        return ConnectionResult.success(
            f"Connected to Helicone ({s.region.upper()}): {int(count):,} requests logged{note}.", **details)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        from ..http import HttpError

        try:
            s = self._settings(creds)
        except HttpError as exc:
            return IntegrationData.failed(exc.result())
        w = _Window.now(self.history_days)
        today = {"request_response_rmt": {"request_created_at": {"gte": w.today}}}
        failed = {"left": today, "operator": "and",
                  "right": {"request_response_rmt": {"status": {"gte": 400}}}}
        day_tf = {"start": w.today, "end": w.end}
        week = {"filter": "all", "timeFilter": {"start": w.week, "end": w.end},
                "dbIncrement": "day", "timeZoneDifference": w.tz_difference}
        path = "/v1/request/query"
        try:
            async with self._client(s) as client:
                async def post(p: str, body: dict[str, Any]) -> Any:
                    nonlocal path
                    try:
                        return await self._post(client, p, body)
                    except HttpError:
                        path = p
                        raise

                (count, failed_count, cost, latency, models, cost_days, count_days, requests) = await _all(
                    post("/v1/request/count/query", {"filter": today}),
                    post("/v1/request/count/query", {"filter": failed}),
                    post("/v1/metrics/totalCost", {"filter": "all", "timeFilter": day_tf}),
                    post("/v1/metrics/averageLatency", {"filter": "all", "timeFilter": day_tf}),
                    post("/v1/metrics/models", {"filter": "all", "timeFilter": day_tf, "offset": 0, "limit": 100}),
                    post("/v1/metrics/costOverTime", week),
                    post("/v1/metrics/requestOverTime", week),
                    self._requests(post, today),
                )
        except HttpError as exc:
            return IntegrationData.failed(self._explain(exc, s, path))
        try:
            return self._build(s, w, count, failed_count, cost, latency, models, cost_days, count_days, requests)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            return IntegrationData.failed(ConnectionResult.failure(
                ResultKind.INVALID_RESPONSE, f"Helicone sent data DevTrack cannot read ({type(exc).__name__}: {str(exc)[:120]})."))

    async def _requests(self, post: Any, today: dict[str, Any]) -> list[dict[str, Any]]:
        """Today's requests, newest first, page by page up to :attr:`max_requests`."""
        from ..http import HttpError

        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        offset = 0
        while len(out) < self.max_requests:
            page = await post("/v1/request/query", {
                "filter": today, "offset": offset, "limit": self.page_size, "sort": {"created_at": "desc"}})
            if not isinstance(page, list):
                raise HttpError(ResultKind.INVALID_RESPONSE,
                                f"Helicone answered /v1/request/query with {type(page).__name__}, not a list of requests.")
            for item in page:
                rid = item.get("request_id") if isinstance(item, dict) else None
                if rid and rid not in seen:  # offsets shift when requests arrive meanwhile
                    seen.add(rid)
                    out.append(item)
            if len(page) < self.page_size:
                break
            offset += self.page_size
        return out[: self.max_requests]

    # ------------------------------------------------------------------ shaping

    def _build(self, s: Settings, w: _Window, count: Any, failed_count: Any, cost: Any, latency: Any,
               models: Any, cost_days: Any, count_days: Any, requests: list[dict[str, Any]]) -> IntegrationData:
        n, failed, cost_usd = int(count), int(failed_count), float(cost)
        avg_ms = float(latency or 0)
        providers = {r.get("model"): r.get("provider") for r in requests if r.get("model")}
        usage = [
            LlmUsage(model=str(m["model"]), requests=int(m["total_requests"]), cost_usd=float(m["cost"]),
                     prompt_tokens=int(m["total_prompt_token"]), completion_tokens=int(m["total_completion_tokens"]),
                     day=w.date, kind="model", provider=providers.get(m["model"]))
            for m in models
        ]
        per_day: dict[str, dict[str, float]] = {}
        for row in cost_days:
            per_day.setdefault(w.local_date(row["time"]), {})["cost"] = float(row["cost"])
        for row in count_days:
            per_day.setdefault(w.local_date(row["time"]), {})["requests"] = float(row["count"])
        usage += [LlmUsage(model="all", day=day, kind="day", cost_usd=round(v.get("cost", 0.0), 6),
                           requests=int(v.get("requests", 0))) for day, v in sorted(per_day.items())]
        events = self._events(s, requests)
        slow = sum(1 for r in requests if _num(r.get("delay_ms")) > self.slow_ms)
        rate = failed / n if n else 0.0
        metrics = {
            "requests_today": n, "failed_today": failed, "error_rate": round(rate, 4),
            "cost_today_usd": round(cost_usd, 6), "avg_latency_ms": round(avg_ms, 1),
            "slow_requests_fetched": slow, "requests_fetched": len(requests),
            "cost_by_model": {u.model: round(u.cost_usd, 6) for u in usage if u.kind == "model"},  # type: ignore[attr-defined]
            "region": s.region,
        }
        if n == 0:
            health = Health(status="healthy", detail="Connected; no LLM requests logged today.", metrics=metrics)
        else:
            summary = (f"${cost_usd:,.2f} across {n:,} requests today, {rate:.0%} failed, "
                       f"average latency {avg_ms / 1000:.1f} s.")
            high = n >= self.min_requests_for_rate and rate >= self.degraded_error_rate
            health = Health(status="degraded" if high else "healthy",
                            detail=(f"{failed:,} of today's {n:,} requests failed ({rate:.0%}). " if high else "") + summary,
                            metrics=metrics)
        return IntegrationData(health=health, events=events, records=Records(llm_usage=usage))

    def _events(self, s: Settings, requests: list[dict[str, Any]]) -> list[Event]:
        """The newest requests, plus every failed or slow one fetched, newest first."""
        out: list[Event] = []
        for i, r in enumerate(requests):
            status = int(_num(r.get("response_status")))
            ms = _num(r.get("delay_ms"))
            failed = status >= 400 or status <= 0
            slow = ms > self.slow_ms
            if i >= 20 and not (failed or slow):
                continue
            model = r.get("model") or r.get("request_model") or "unknown model"
            cost = _num(r.get("cost") if r.get("cost") is not None else r.get("costUSD"))
            what = f"failed with {status}" if failed else f"slow ({status})" if slow else str(status)
            out.append(Event(
                title=f"{model}: {what} after {ms / 1000:.1f} s, ${cost:.4f}",
                time=_parse_time(r.get("request_created_at")),
                severity="error" if failed else "warning" if slow else "info",
                url=f"{s.web}/requests?requestId={r.get('request_id')}",
                source="helicone",
            ))
            if len(out) >= self.max_events:
                break
        return out


# ---------------------------------------------------------------------- helpers


def _classify(resp: Any, body: Any) -> ResultKind | None:
    """Jawn's 401 with ``"error": null``: a recognised key without Read permission."""
    if resp.status_code == 401 and isinstance(body, dict) and "error" in body and body["error"] is None:
        return ResultKind.PERMISSION
    return None


def _detail(exc: HttpError) -> str:
    from ..http import vendor_message

    detail = vendor_message(exc.body) if isinstance(exc.body, dict) else None
    return f"{exc.status}: {detail}" if detail else str(exc.status or "no answer")


def _region_hint(s: Settings) -> str:
    if s.eu_key and s.region == "us":
        return " The key starts with eu-, so it belongs to Helicone's EU region: set region to eu."
    if s.region == "eu" and not s.eu_key and s.region_given:
        return " The region is eu, but EU keys start with eu-: a US key needs region us."
    return ""


def _num(value: Any) -> float:
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def _parse_time(raw: Any) -> datetime | None:
    """Helicone timestamps: ISO with ``Z`` or ClickHouse's ``YYYY-MM-DD hh:mm:ss`` (UTC)."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class _Window:
    """Today (local midnight to now) and the last ``days`` local days, as Helicone wants them."""

    today: str
    week: str
    end: str
    date: str
    tz_difference: int  # minutes, as JavaScript's getTimezoneOffset(): UTC minus local
    offset: timedelta

    @classmethod
    def now(cls, days: int) -> _Window:
        local = utcnow().astimezone()
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        offset = local.utcoffset() or timedelta(0)
        return cls(_z(midnight), _z(midnight - timedelta(days=days - 1)), _z(local), midnight.date().isoformat(),
                   -int(offset.total_seconds() // 60), offset)

    def local_date(self, raw: Any) -> str:
        dt = _parse_time(raw)
        if dt is None:
            raise ValueError(f"bad bucket time {raw!r}")
        return (dt.astimezone(timezone.utc) + self.offset).date().isoformat()


def _z(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


async def _all(*calls: Awaitable[Any]) -> list[Any]:
    """Run independent calls concurrently; the first failure cancels the rest and is raised."""
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in calls]  # type: ignore[arg-type]
    except BaseExceptionGroup as eg:
        raise _first(eg) from None
    return [t.result() for t in tasks]


def _first(eg: BaseExceptionGroup) -> BaseException:
    for exc in eg.exceptions:
        return _first(exc) if isinstance(exc, BaseExceptionGroup) else exc
    return eg
