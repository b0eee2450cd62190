"""Upstash emulator: the Developer API (``/v2``) and each database's REST endpoint.

Developer API, as DevTrack depends on it: HTTP Basic with the account email as user name and
the API key as password; bad or missing credentials are a 401 and a key that may not read the
account a 403, both in the spec's ``Error`` shape ``{"code", "message"}``.
``GET /v2/redis/databases`` is one unpaged list — and, like the real one, every entry carries
the database's ``password``, ``rest_token`` and ``read_only_rest_token`` (the trap: a client
must drop them). ``GET /v2/redis/database/{id}`` honours ``?credentials=hide``;
``GET /v2/redis/stats/{id}`` gives the monthly request and storage figures.

The per-database REST endpoint is a host of its own in reality (``https://<db>.upstash.io``);
here every database is served under ``/rest/<db>`` of the same port, so its URL
(``rest_url`` in the sandbox credentials) still differs from the Developer API's. It takes
``Authorization: Bearer <rest token>`` and answers ``{"result": …}`` or ``{"error": …}``:
``GET /ping`` → ``PONG``, ``GET /info`` → the INFO text, ``GET /dbsize``, and ``POST /`` with
a command array. 429s carry ``Retry-After``; Upstash documents no rate-limit headers.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .emulator import Emulator, RateState, SandboxEvent, VendorError

#: Where each database's REST endpoint is served (``/rest/<endpoint slug>``).
REST_PREFIX = "/rest"
#: Fields of a database entry that are credentials; ``?credentials=hide`` leaves them out.
SECRET_FIELDS = ("password", "rest_token", "read_only_rest_token")

ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 429: "too_many_requests",
               500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable"}
REGIONS = ("us-east-1", "eu-central-1", "eu-west-1", "ap-southeast-1", "us-west-2", "ap-northeast-1",
           "sa-east-1", "us-central1", "europe-west1")
TYPES = ("free", "payg", "pro", "paid")
# Every state the spec knows early on, then mostly active.
STATES = ("active", "active", "suspended", "active", "passive")
NAMES = ("sessions", "cache", "rate-limit", "queue", "feature-flags", "leaderboard", "analytics", "jobs")
ADJECTIVES = ("beloved", "sought", "humble", "brave", "quiet", "eager", "noble", "lucky")
ANIMALS = ("stallion", "mollusk", "heron", "lynx", "otter", "falcon", "marmot", "gecko")
MB = 1024 * 1024
#: Disk limit per plan (bytes): free databases are small, so one can be nearly full.
DISK_LIMIT = {"free": 256 * MB, "payg": 100 * 1024 * MB, "pro": 500 * 1024 * MB, "paid": 100 * 1024 * MB}


def _series_time(epoch: float) -> str:
    """Upstash's time-series stamp, e.g. ``2025-08-31 15:12:52.799480000 +0000 UTC``."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f000 +0000 UTC")


class UpstashEmulator(Emulator):
    service = "upstash"
    plugin_ids = ("upstash",)
    base_path = "/v2"
    default_scale = {"upstash_databases": 8}
    rate_limit = 1000
    rate_window = 60.0

    # ------------------------------------------------------------------ data

    def seed_data(self) -> None:
        self.email = "sandbox@example.com"
        self.api_key = self._uuid()
        #: A key of the same account that may not read it (answers 403).
        self.forbidden_key = self._uuid()
        self.databases: list[dict[str, Any]] = []
        self.stats_by_id: dict[str, dict[str, Any]] = {}
        for i in range(self.scale["upstash_databases"]):
            self._add_database(i)

    def _uuid(self) -> str:
        h = self.hex_id(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _add_database(self, i: int) -> None:
        state = STATES[i] if i < len(STATES) else self.rng.choices(("active", "suspended", "passive"), (90, 6, 4))[0]
        kind = TYPES[i % len(TYPES)]
        region = REGIONS[i % len(REGIONS)]
        name = NAMES[i % len(NAMES)] + (f"-{i // len(NAMES)}" if i >= len(NAMES) else "")
        port = 30000 + self.rng.randrange(10000)
        endpoint = f"{self.rng.choice(ADJECTIVES)}-{self.rng.choice(ANIMALS)}-{port}.upstash.io"
        db_id = self._uuid()
        reads = [r for r in REGIONS if r != region and r[:2] == region[:2]][:1]
        db: dict[str, Any] = {
            "database_id": db_id,
            "database_name": name,
            "region": "global",
            "port": 6379,
            "creation_time": int(self.ago(86400 * (3 if i == 0 else 30 + 17 * i))),
            "state": state,
            "password": self.hex_id(32),
            "user_email": self.email,
            "endpoint": endpoint,
            "tls": True,
            "rest_token": self.token("AX", 60),
            "read_only_rest_token": self.token("An", 60),
            "db_max_clients": 10000 if kind == "free" else 100000,
            "db_max_request_size": 10 * MB,
            "db_disk_threshold": DISK_LIMIT[kind],
            "db_max_entry_size": 100 * MB,
            "db_memory_threshold": 3 * 1024 * MB,
            "db_max_commands_per_second": 10000,
            "db_request_limit": 500_000 if kind == "free" else 9_000_000_000,
            "type": kind,
            "budget": 0 if kind == "free" else 360,
            "primary_region": region,
            "primary_members": [region],
            "all_members": [region, *reads],
            "read_regions": reads,
            "eviction": kind == "free",
            "auto_upgrade": False,
            "consistent": False,
            "modifying_state": "",
            "db_type": "pebble",
            "customer_id": self.email,
            "daily_backup_enabled": kind in ("pro", "paid"),
            "prod_pack_enabled": kind == "pro",
        }
        self.databases.append(db)
        self.stats_by_id[db_id] = self._stats(db, i)

    def _stats(self, db: dict[str, Any], i: int) -> dict[str, Any]:
        active = db["state"] == "active"
        top = 400_000 if db["type"] == "free" else 5_000_000  # free plans stay under their limit
        monthly = self.rng.randrange(50_000, top) if active else self.rng.randrange(0, 2000)
        # The first database (a free one) is nearly full, so a storage warning shows.
        storage = int(db["db_disk_threshold"] * 0.9) if i == 0 else self.rng.randrange(10_000, 200 * MB)
        reads = int(monthly * 0.7)
        days = [self.ago(86400 * d) for d in range(6, -1, -1)]
        daily = [self.rng.randrange(0, max(1, monthly // 20)) for _ in days]

        def series(values: list[float]) -> list[dict[str, Any]]:
            return [{"x": _series_time(t), "y": v} for t, v in zip(days, values)]

        return {
            "daily_net_commands": daily[-1],
            "daily_read_requests": int(daily[-1] * 0.7),
            "daily_write_requests": daily[-1] - int(daily[-1] * 0.7),
            "keyspace": series([self.rng.randrange(10, 50_000) for _ in days]),
            "throughput": series([round(self.rng.random() * 50, 2) for _ in days]),
            "diskusage": series([storage] * len(days)),
            "latencymean": series([round(self.rng.random() * 2, 3) for _ in days]),
            "dailyrequests": series(daily),
            "days": [datetime.fromtimestamp(t, timezone.utc).strftime("%A") for t in days],
            "dailybilling": series([0 if db["type"] == "free" else round(d * 2e-6, 4) for d in daily]),
            "dailybandwidth": daily[-1] * 300,
            "total_monthly_bandwidth": monthly * 300,
            "total_monthly_requests": monthly,
            "total_monthly_read_requests": reads,
            "total_monthly_write_requests": monthly - reads,
            "total_monthly_script_requests": 0,
            "queue_optimized": False,
            "total_monthly_storage": storage,
            "current_storage": storage,
            "total_monthly_billing": 0.0 if db["type"] == "free" else round(monthly * 2e-6, 4),
            "command_counts": [{"metric_identifier": cmd, "data_points": series(
                [self.rng.randrange(0, 1000) for _ in days])} for cmd in ("GET", "SET", "EXPIRE")],
        }

    def passwords(self) -> list[str]:
        """Every credential the Developer API hands out for the databases (for leak tests)."""
        return [db[k] for db in self.databases for k in SECRET_FIELDS]

    @property
    def rest_database(self) -> dict[str, Any]:
        """The database whose REST URL and token the sandbox credentials hold."""
        return next((d for d in self.databases if d["state"] == "active"), self.databases[0])

    def rest_url(self, url: str, db: dict[str, Any]) -> str:
        return f"{url}{REST_PREFIX}/{db['endpoint'].split('.')[0]}"

    # ------------------------------------------------------------------ events (alert rules)

    def sandbox_events(self) -> dict[str, SandboxEvent]:
        return {"database_inactive": SandboxEvent(
            "an active database is suspended (option: database id) (undo: active again)",
            self._suspend, self._reactivate)}

    def _suspend(self, options: dict[str, Any]) -> dict[str, Any]:
        db = next((d for d in self.databases if (d["database_id"] == options.get("database")
                                                 or (not options.get("database") and d["state"] == "active"))), None)
        if db is None:
            raise ValueError("no active Upstash database to suspend")
        before, db["state"] = db["state"], str(options.get("state") or "suspended")
        return {"database": db["database_id"], "name": db["database_name"], "was": before}

    def _reactivate(self, done: dict[str, Any]) -> None:
        for d in self.databases:
            if d["database_id"] == done["database"]:
                d["state"] = done["was"]

    # ------------------------------------------------------------------ vendor traits

    def error(self, status: int, message: str, **extra: Any) -> Response:
        code = extra.pop("code", ERROR_CODES.get(status, "error"))
        return JSONResponse({"code": code, "message": message, **extra}, status)

    def rate_headers(self, state: RateState) -> dict[str, str]:
        return {}  # Upstash documents none; a 429 carries Retry-After

    def credentials(self, url: str) -> dict[str, dict[str, str]]:
        if not self.databases:
            return {"upstash": {"email": self.email, "api_key": self.api_key}}
        db = self.rest_database
        return {"upstash": {"email": self.email, "api_key": self.api_key,
                            "rest_url": self.rest_url(url, db), "rest_token": db["rest_token"]}}

    def auth(self, request: Request) -> None:
        """HTTP Basic, email as user name and API key as password."""
        pair = self.basic(request)
        if pair is None:
            raise self.fail(401, "Unauthorized: send the account email and API key with HTTP Basic auth")
        email, key = pair
        if email == self.email and key == self.forbidden_key:
            raise self.fail(403, "Forbidden: this API key is not allowed to access the account's databases")
        if email != self.email or key != self.api_key:
            raise self.fail(401, "Unauthorized")
        self.limit(request, email)

    def _database(self, db_id: str) -> dict[str, Any]:
        db = next((d for d in self.databases if d["database_id"] == db_id), None)
        if db is None:
            raise self.fail(404, f"database not found: {db_id}")
        return db

    # ------------------------------------------------------------------ Developer API

    async def list_databases(self, request: Request) -> Response:
        self.auth(request)
        return JSONResponse(self.databases)  # passwords and tokens included, as the real API does

    async def get_database(self, request: Request) -> Response:
        self.auth(request)
        db = self._database(request.path_params["id"])
        if request.query_params.get("credentials") == "hide":
            db = {k: v for k, v in db.items() if k not in SECRET_FIELDS}
        return JSONResponse(db)

    async def database_stats(self, request: Request) -> Response:
        self.auth(request)
        db = self._database(request.path_params["id"])
        return JSONResponse(self.stats_by_id[db["database_id"]])

    # ------------------------------------------------------------------ per-database REST

    @staticmethod
    def rest_error(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status)

    def rest_auth(self, request: Request) -> dict[str, Any]:
        slug = request.path_params["db"]
        db = next((d for d in self.databases if d["endpoint"].split(".")[0] == slug), None)
        if db is None:
            raise VendorError(self.rest_error(404, f"database {slug} not found"))
        token = self.bearer(request)
        if token not in (db["rest_token"], db["read_only_rest_token"]):
            raise VendorError(self.rest_error(401, "Unauthorized"))
        state = self.limiter.hit("rest:" + token)
        if state.exceeded:
            resp = self.rest_error(429, "ERR max requests limit exceeded")
            resp.headers["retry-after"] = str(state.reset_in)
            raise VendorError(resp)
        return db

    def info_text(self, db: dict[str, Any]) -> str:
        stats = self.stats_by_id[db["database_id"]]
        keys = int(stats["keyspace"][-1]["y"])
        lines = [
            "# Server", "redis_version:6.2.6", "redis_mode:standalone", "os:Upstash",
            f"uptime_in_seconds:{int(self.now - db['creation_time'])}",
            "# Clients", "connected_clients:3",
            "# Memory", f"used_memory:{stats['current_storage']}", f"maxmemory:{db['db_memory_threshold']}",
            "# Stats", f"total_commands_processed:{stats['total_monthly_requests']}",
            f"keyspace_hits:{stats['total_monthly_read_requests']}", "keyspace_misses:0",
            "# Keyspace", f"db0:keys={keys},expires=0,avg_ttl=0",
        ]
        return "\r\n".join(lines) + "\r\n"

    def run_command(self, db: dict[str, Any], command: list[str]) -> Response:
        name = command[0].upper() if command else ""
        if name == "PING":
            return JSONResponse({"result": command[1] if len(command) > 1 else "PONG"})
        if name == "INFO":
            return JSONResponse({"result": self.info_text(db)})
        if name == "DBSIZE":
            return JSONResponse({"result": int(self.stats_by_id[db["database_id"]]["keyspace"][-1]["y"])})
        return self.rest_error(400, f"ERR unknown command '{name.lower()}' (the sandbox serves PING, INFO, DBSIZE)")

    async def rest_path(self, request: Request) -> Response:
        db = self.rest_auth(request)
        return self.run_command(db, [p for p in request.path_params["command"].split("/") if p])

    async def rest_post(self, request: Request) -> Response:
        db = self.rest_auth(request)
        try:
            command = json.loads(await request.body())
        except ValueError:
            return self.rest_error(400, "ERR failed to parse command")
        if not isinstance(command, list) or not all(isinstance(c, str | int | float) for c in command):
            return self.rest_error(400, "ERR command must be a JSON array of strings")
        return self.run_command(db, [str(c) for c in command])

    def routes(self) -> list[Route]:
        return [
            Route("/v2/redis/databases", self.list_databases, methods=["GET"]),
            Route("/v2/redis/database/{id}", self.get_database, methods=["GET"]),
            Route("/v2/redis/stats/{id}", self.database_stats, methods=["GET"]),
            Route(REST_PREFIX + "/{db}", self.rest_post, methods=["POST"]),
            Route(REST_PREFIX + "/{db}/{command:path}", self.rest_path, methods=["GET"]),
        ]


EMULATOR = UpstashEmulator
