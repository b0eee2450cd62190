"""Upstash: Redis databases with state, region, requests and storage.

Two ways in. The Developer API (account email + API key, HTTP Basic) sees every database of
the account; a database's REST URL + token sees that one database (``PING``, ``INFO``).

The Developer API's database list carries every database's ``password`` and REST tokens, and
its spec offers no ``?credentials=hide`` on the list (only on the single-database call, which
DevTrack does not need). So every response is passed through :func:`strip_secrets` the moment
it is parsed: secret-looking fields are dropped (their values registered with the redactor as a
second line of defence) and never reach a record, an event, a message or a log.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import SecretStr

from ... import redact
from ..contract import (
    ConnectionResult,
    Credentials,
    Database,
    Event,
    FieldKind,
    Health,
    Integration,
    IntegrationData,
    Records,
    ResultKind,
    field,
    utcnow,
)
from ..condition import Condition

if TYPE_CHECKING:

    from ..http import HttpError, ServiceClient

API = "https://api.upstash.com/v2"
CONSOLE = "https://console.upstash.com/redis/{id}"
KEYS_PAGE = "https://console.upstash.com/account/api"
#: A field whose name contains one of these is a credential, whatever the API calls it next.
SECRET_HINTS = ("password", "token", "secret", "credential", "api_key", "apikey", "private")
#: Share of a limit (storage, monthly requests) past which an event warns.
NEAR_LIMIT = 0.8

Way = Literal["api", "rest"]


class UpstashCredentials(Credentials):
    email: str | None = field(
        label="Account email", kind=FieldKind.EMAIL, required=False, placeholder="you@example.com",
        help="The email of the Upstash account the Developer API key belongs to.",
    )
    api_key: SecretStr | None = field(
        label="Developer API key", kind=FieldKind.TOKEN, required=False,
        help="Console → Account → Management API; with the email, lists every database.",
    )
    rest_url: str | None = field(
        label="Database REST URL", kind=FieldKind.URL, required=False,
        placeholder="https://eu1-example-12345.upstash.io",
        help="One database's REST URL (its Details page); an alternative to the API key.",
        carries=["rest_token"],  # the Developer API key goes to Upstash's own API, never here
    )
    rest_token: SecretStr | None = field(
        label="Database REST token", kind=FieldKind.TOKEN, required=False,
        help="The REST token beside that URL on the database's Details page.",
    )

    def missing(self) -> list[str]:
        """Either the Developer API pair or the REST pair is enough."""
        if _has_api(self) or _has_rest(self):
            return []
        return ["email", "api_key"] if not self.value("rest_url") else ["rest_token"]


def _has_api(creds: Credentials) -> bool:
    return bool(creds.value("email") and creds.value("api_key"))


def _has_rest(creds: Credentials) -> bool:
    return bool(creds.value("rest_url") and creds.value("rest_token"))


def _secret_key(name: Any) -> bool:
    low = str(name).lower()
    return any(h in low for h in SECRET_HINTS)


def strip_secrets(value: Any) -> Any:
    """``value`` without any secret-looking field, at any depth; the dropped values go to the redactor."""
    found: list[str] = []

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if _secret_key(k):
                    found.extend(s for s in _strings(v))
                else:
                    out[k] = walk(v)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    clean = walk(value)
    if found:
        redact.register(found)
    return clean


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


class UpstashIntegration(Integration):
    id = "upstash"
    name = "Upstash"
    description = "Redis databases with state, region, requests and storage."
    docs_url = "https://upstash.com/docs/devops/developer-api/introduction"
    setup_guide = (
        "Either your account email and a Developer API key (Account → Management API), to see every database, or one database's REST URL and token (database page → REST API)."
    )
    credentials_model = UpstashCredentials
    #: Databases whose stats are fetched (one request each), and how many run at once.
    max_stats = 100
    concurrency = 8

    # ------------------------------------------------------------------ clients

    def _api_client(self, creds: Credentials) -> ServiceClient:
        from ..http import ServiceClient, base_url_for

        email, key = creds.value("email") or "", creds.value("api_key") or ""
        return ServiceClient(self.id, base_url_for(self.id, API), service="Upstash",
                             auth=(email, key), secrets=[key])

    def _rest_client(self, creds: Credentials) -> ServiceClient:
        from ..http import ServiceClient

        token = creds.value("rest_token") or ""
        return ServiceClient(self.id, creds.value("rest_url") or "", service="the Upstash database",
                             headers={"Authorization": f"Bearer {token}"}, secrets=[token])

    @staticmethod
    async def _get(c: ServiceClient, path: str) -> Any:
        """GET and parse, secrets dropped before anything else sees the body."""
        return strip_secrets(await c.get_json(path))

    async def _list(self, c: ServiceClient) -> list[dict[str, Any]]:
        from ..http import HttpError

        body = await self._get(c, "/redis/databases")
        if not isinstance(body, list):
            raise HttpError(ResultKind.INVALID_RESPONSE,
                            "Upstash answered the database list with something that is not a list; "
                            "check the base URL (it should end in /v2).")
        return [d for d in body if isinstance(d, dict) and d.get("database_id")]

    # ------------------------------------------------------------------ test

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        checks = []
        if _has_api(creds):
            checks.append(self._test_api(creds))
        if _has_rest(creds):
            checks.append(self._test_rest(creds))
        if not checks:
            return _unconfigured()
        results = await asyncio.gather(*checks)
        failed = [r for r in results if not r.ok]
        if failed:
            worked = [r for r in results if r.ok]
            first = failed[0]
            if worked:  # say which way in works, so the user knows what to fix
                first = first.model_copy(update={"message": f"{first.message} (Meanwhile: {worked[0].message})"})
            return first
        details = {k: v for r in results for k, v in r.details.items()}
        return ConnectionResult.success(" ".join(r.message for r in results), **details)

    async def _test_api(self, creds: Credentials) -> ConnectionResult:
        from ..http import HttpError

        try:
            async with self._api_client(creds) as c:
                dbs = await self._list(c)
        except HttpError as exc:
            return _failure(exc, "api")
        active = sum(d.get("state") == "active" for d in dbs)
        email = creds.value("email")
        return ConnectionResult.success(
            f"Connected to the Upstash Developer API as {email}: {len(dbs)} Redis "
            f"database{'s' if len(dbs) != 1 else ''}, {active} active.",
            email=email, databases=len(dbs), active=active,
        )

    async def _test_rest(self, creds: Credentials) -> ConnectionResult:
        from ..http import HttpError

        where = _rest_name(creds.value("rest_url") or "")
        try:
            async with self._rest_client(creds) as c:
                body = await self._get(c, "/ping")
        except HttpError as exc:
            return _failure(exc, "rest")
        if isinstance(body, dict) and body.get("result") == "PONG":
            return ConnectionResult.success(f"Database {where} answered PING over REST.", rest_database=where)
        return ConnectionResult.failure(
            ResultKind.INVALID_RESPONSE,
            f"Database {where} did not answer PING with PONG; check the REST URL (the https:// "
            "UPSTASH_REDIS_REST_URL on the database page, not the redis:// address).",
        )

    # ------------------------------------------------------------------ data

    async def get_data(self, creds: Credentials) -> IntegrationData:
        from ..http import HttpError

        way: Way = "api" if _has_api(creds) else "rest"
        try:
            if _has_api(creds):
                databases, events, missing = await self._account(creds)
            elif _has_rest(creds):
                databases, events, missing = await self._single(creds), [], 0
            else:
                return IntegrationData.failed(_unconfigured())
        except HttpError as exc:
            return IntegrationData.failed(_failure(exc, way))
        events = _events(databases) + events
        return IntegrationData(health=_health(databases, missing), events=events,
                               records=Records(databases=databases))

    async def _account(self, creds: Credentials) -> tuple[list[Database], list[Event], int]:
        """Every database from the list, with its stats fetched concurrently (capped)."""
        from ..http import HttpError

        async with self._api_client(creds) as c:
            raw = await self._list(c)
            gate = asyncio.Semaphore(self.concurrency)

            async def stats(db: dict[str, Any]) -> dict[str, Any] | HttpError:
                async with gate:
                    try:
                        body = await self._get(c, f"/redis/stats/{quote(str(db['database_id']), safe='')}")
                    except HttpError as exc:
                        return exc
                if not isinstance(body, dict):
                    return HttpError(ResultKind.INVALID_RESPONSE, "the stats were not a JSON object")
                return body

            fetched = await asyncio.gather(*(stats(d) for d in raw[: self.max_stats]))
        databases: list[Database] = []
        failures: list[tuple[str, HttpError]] = []
        for i, db in enumerate(raw):
            got = fetched[i] if i < len(fetched) else None
            if isinstance(got, Exception):
                failures.append((str(db.get("database_name") or db["database_id"]), got))
            databases.append(_database(db, got if isinstance(got, dict) else {}))
        events = []
        if failures:
            names = ", ".join(n for n, _ in failures[:3]) + (" …" if len(failures) > 3 else "")
            events.append(Event(
                title=f"Stats unavailable for {len(failures)} database{'s' if len(failures) != 1 else ''} "
                      f"({names}): {_reason(failures[0][1])}",
                time=utcnow(), severity="warning", source="upstash",
            ))
        skipped = max(0, len(raw) - self.max_stats)
        if skipped:
            events.append(Event(title=f"Stats fetched for the first {self.max_stats} databases only; "
                                      f"{skipped} more are listed without them.",
                                time=utcnow(), severity="info", source="upstash"))
        return databases, events, len(failures) + skipped

    async def _single(self, creds: Credentials) -> list[Database]:
        """The one database behind the REST URL, from its ``INFO``."""
        from ..http import HttpError

        url = creds.value("rest_url") or ""
        async with self._rest_client(creds) as c:
            body = await self._get(c, "/info")
        text = body.get("result") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise HttpError(ResultKind.INVALID_RESPONSE,
                            "The Upstash database answered INFO without a text result; check the REST URL.")
        info = parse_info(text)
        name = _rest_name(url)
        keys = sum(_int(v.get("keys")) or 0 for k, v in info.items() if k.startswith("db") and isinstance(v, dict))
        return [Database(
            id=name, name=name, state="active",
            storage_bytes=_int(info.get("used_memory")),
            endpoint=urlsplit(url).hostname, keys=keys,
            redis_version=info.get("redis_version"),
            commands_processed=_int(info.get("total_commands_processed")),
            memory_limit_bytes=_int(info.get("maxmemory")) or None,
        )]


# ---------------------------------------------------------------------- helpers


def _unconfigured() -> ConnectionResult:
    return ConnectionResult.failure(
        ResultKind.CONFIG,
        "Upstash needs the account email and a Developer API key, or one database's REST URL and REST token.",
    )


_API_HINTS: dict[ResultKind, str] = {
    ResultKind.AUTH: ("Upstash refused the account email and Developer API key (401). Check both: the "
                      f"email you log in with, and a key from {KEYS_PAGE}."),
    ResultKind.PERMISSION: ("Upstash accepted the email and API key, but this key may not read the account's "
                            "Redis databases (403). Use a key with access to them (for a team, one the team's "
                            "owner or an admin created)."),
    ResultKind.NOT_FOUND: ("Upstash's Developer API answered 404 for the database list: check "
                           "DEVTRACK_UPSTASH_BASE_URL if you set it (it must end in /v2)."),
}
_REST_HINTS: dict[ResultKind, str] = {
    ResultKind.AUTH: ("The database refused the REST token (401). Copy UPSTASH_REDIS_REST_TOKEN from the "
                      "database page (REST API section); the database password is not the REST token."),
    ResultKind.PERMISSION: "The REST token may not run this command (403); use the full, not the read-only, token.",
    ResultKind.NOT_FOUND: ("No database answers at this REST URL (404). Copy UPSTASH_REDIS_REST_URL from the "
                           "database page."),
}


def _failure(exc: HttpError, way: Way) -> ConnectionResult:
    """The HTTP layer's result, with a message that names what to fix for this way in."""
    from ..http import vendor_message

    result = exc.result()
    hint = (_API_HINTS if way == "api" else _REST_HINTS).get(exc.kind)
    if hint is None:
        return result
    said = vendor_message(exc.body) if exc.body is not None else None
    message = hint + (f" Upstash said: {redact.redactor(said)[:200]}" if said and not said.startswith("<") else "")
    return result.model_copy(update={"message": message})


def _reason(exc: HttpError) -> str:
    """A short why for an event title: the status and the vendor's words, else the message."""
    from ..http import vendor_message

    if exc.status is None:
        return exc.message
    said = vendor_message(exc.body) if isinstance(exc.body, dict) else None
    return f"Upstash answered {exc.status}" + (f" ({redact.redactor(said)[:120]})" if said else "")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _epoch(value: Any) -> datetime | None:
    seconds = _int(value)
    if not seconds:
        return None
    if seconds > 10**11:  # milliseconds
        seconds //= 1000
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _rest_name(url: str) -> str:
    """The database's name in its REST URL: the host's first label (or the sandbox's last path part)."""
    parts = urlsplit(url)
    tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
    host = parts.hostname or url
    return tail or (host.split(".")[0] if not host.replace(".", "").isdigit() else host)


def parse_info(text: str) -> dict[str, Any]:
    """Redis ``INFO`` text as a dict; keyspace lines (``db0:keys=1,expires=0``) become dicts."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        if key.startswith("db") and key[2:].isdigit() and "=" in value:
            out[key] = dict(p.partition("=")[::2] for p in value.split(","))
        else:
            out[key] = value
    return out


def _database(db: dict[str, Any], stats: dict[str, Any]) -> Database:
    """A record from chosen fields only: nothing unlisted (let alone a secret) can ride along."""
    db_id = str(db["database_id"])
    storage = stats.get("current_storage", stats.get("total_monthly_storage"))
    return Database(
        id=db_id,
        name=str(db.get("database_name") or db_id),
        state=db.get("state"),
        type=db.get("type") or db.get("database_type"),
        region=db.get("primary_region") or db.get("region"),
        monthly_requests=_int(stats.get("total_monthly_requests")),
        storage_bytes=_int(storage),
        endpoint=db.get("endpoint"),
        tls=db.get("tls"),
        created_at=_epoch(db.get("creation_time")),
        read_regions=[r for r in db.get("read_regions") or [] if isinstance(r, str)],
        daily_requests=_int(stats.get("daily_net_commands")),
        monthly_cost_usd=stats.get("total_monthly_billing") if isinstance(stats.get("total_monthly_billing"), int | float) else None,
        disk_limit_bytes=_int(db.get("db_disk_threshold")),
        request_limit=_int(db.get("db_request_limit")),
        url=CONSOLE.format(id=quote(db_id, safe="")),
    )


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _events(databases: list[Database]) -> list[Event]:
    """Warnings for databases not active or near a limit; news of recently created ones."""
    warnings: list[Event] = []
    news: list[Event] = []
    recent = utcnow() - timedelta(days=7)
    for d in databases:
        extra = d.model_extra or {}
        url = extra.get("url")
        if d.state is not None and d.state != "active":
            warnings.append(Event(title=f"Redis database {d.name} is {d.state}", severity="warning",
                                  url=url, source="upstash"))
        limit = extra.get("disk_limit_bytes")
        if d.storage_bytes and limit and d.storage_bytes >= NEAR_LIMIT * limit:
            warnings.append(Event(
                title=f"Redis database {d.name} uses {d.storage_bytes / limit:.0%} of its "
                      f"{_human_bytes(limit)} storage limit", severity="warning", url=url, source="upstash"))
        cap = extra.get("request_limit")
        if d.monthly_requests and cap and cap < 10**12 and d.monthly_requests >= NEAR_LIMIT * cap:
            warnings.append(Event(
                title=f"Redis database {d.name} has used {d.monthly_requests / cap:.0%} of its monthly "
                      f"request limit", severity="warning", url=url, source="upstash"))
        created = extra.get("created_at")
        if isinstance(created, datetime) and created >= recent:
            news.append(Event(title=f"Redis database {d.name} created in {d.region or 'an unknown region'}",
                              time=created, severity="info", url=url, source="upstash"))
    return warnings + sorted(news, key=lambda e: e.time or recent, reverse=True)


def database_condition(d: Database) -> Condition:
    """A database's verdict, the one this plugin's health counts: any state but ``active``
    (``suspended``, ``passive``, unknown) is not serving."""
    return Condition("ok", "active") if d.state == "active" else Condition("bad", d.state or "unknown")


def _health(databases: list[Database], stats_missing: int) -> Health:
    """Healthy when every database is active, degraded when some are not, down when none is."""
    metrics: dict[str, Any] = {
        "databases": len(databases),
        "active": sum(d.state == "active" for d in databases),
        "monthly_requests": sum(d.monthly_requests or 0 for d in databases),
        "storage_bytes": sum(d.storage_bytes or 0 for d in databases),
    }
    if stats_missing:
        metrics["stats_missing"] = stats_missing
    note = f"; stats missing for {stats_missing}" if stats_missing else ""
    if not databases:
        return Health(status="unknown", detail="no Redis databases in this account", metrics=metrics)
    inactive = [d for d in databases if database_condition(d).level == "bad"]
    listed = ", ".join(f"{d.name} ({d.state or 'unknown'})" for d in inactive[:3]) + (" …" if len(inactive) > 3 else "")
    if len(inactive) == len(databases):
        return Health(status="down", detail=f"no database is active: {listed}{note}", metrics=metrics)
    if inactive:
        return Health(status="degraded",
                      detail=f"{len(inactive)} of {len(databases)} databases not active: {listed}{note}",
                      metrics=metrics)
    count = len(databases)
    return Health(status="healthy", detail=f"{'all ' if count > 1 else ''}{count} database{'s' if count != 1 else ''} active{note}",
                  metrics=metrics)
