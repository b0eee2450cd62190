"""AWS EC2: instances and their status checks, through boto3 (SigV4, pagination, retries).

boto3 is synchronous and heavy, so it is imported only inside the calls and run in a worker
thread, off the event loop. The original app made no network call at all here; this one asks
STS who the credentials belong to, then asks EC2 with ``DryRun`` whether they may describe
instances, so "wrong key" and "missing permission" get different answers.

One connection can follow several regions (``regions``, or ``all`` for every region the
account has enabled): they are asked concurrently, each instance carries its region, and a
region that fails only degrades the answer while the others still show.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import SecretStr, field_validator

from ... import redact
from ..contract import (
    DEADLINE,
    ConnectionResult,
    Credentials,
    Event,
    FieldKind,
    Health,
    Instance,
    Integration,
    IntegrationData,
    Records,
    ResultKind,
    field,
)
from ..condition import Condition

_AUTH_CODES = {
    "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
    "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "IncompleteSignature",
    "MissingAuthenticationToken", "RequestExpired",
}
_PERMISSION_CODES = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "OptInRequired", "Blocked"}
_RATE_CODES = {"RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException"}
_NOT_FOUND_CODES = {"InvalidInstanceID.NotFound"}
_CONFIG_CODES = {"InvalidInstanceID.Malformed", "InvalidParameterValue", "InvalidParameterCombination"}
_UNAVAILABLE_CODES = {"ServiceUnavailable", "Unavailable", "InternalError", "InternalFailure"}
#: Instances asked for per DescribeInstances page (AWS allows 5 to 1000).
PAGE_SIZE = 100
MAX_ATTEMPTS = 3
_RETRYABLE = {ResultKind.RATE_LIMITED, ResultKind.UNAVAILABLE, ResultKind.NETWORK, ResultKind.TIMEOUT}


class AwsEc2Credentials(Credentials):
    access_key_id: str | None = field(
        label="Access key ID", kind=FieldKind.TEXT, required=False, placeholder="AKIA…",
        help="IAM → Users → Security credentials; blank to use the AWS CLI's own configuration.",
        masked=True,  # shown as ****************ABCD, as the AWS CLI shows it
    )
    secret_access_key: SecretStr | None = field(
        label="Secret access key", kind=FieldKind.TOKEN, required=False,
        help="Shown once, when the access key is created.",
    )
    session_token: SecretStr | None = field(
        label="Session token", kind=FieldKind.TOKEN, required=False,
        help="Only for temporary credentials (ASIA… keys).",
    )
    region: str | None = field(
        label="Region", kind=FieldKind.REGION, required=False, placeholder="us-east-1",
        help="The region to follow; required unless Regions is set.",
    )
    regions: str | None = field(
        label="Regions", kind=FieldKind.TEXT, required=False, placeholder="us-east-1, eu-west-1  or  all",
        help=("Several regions, comma-separated, or all (every region the account has enabled, "
              "from ec2:DescribeRegions). When set it wins over Region, which then only says where "
              "STS and DescribeRegions are asked (default: the first listed region, or us-east-1)."),
    )
    profile: str | None = field(
        label="Profile", kind=FieldKind.TEXT, required=False,
        help="A named profile from ~/.aws/config, instead of keys.",
    )
    instance_ids: str | None = field(
        label="Instance IDs", kind=FieldKind.TEXT, required=False,
        placeholder="i-0123…, i-0456…", help="Comma-separated; blank for every instance.",
    )

    @field_validator("regions", mode="after")
    @classmethod
    def _check_regions(cls, value: str | None) -> str | None:
        """``all``, or region names: a typo is refused when saved, not met at every fetch."""
        if value is None or value.strip().lower() == ALL:
            return value
        bad = [r for r in _split(value) if not REGION_RE.fullmatch(r)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a region name: give names like us-east-1, eu-west-1 "
                             f"(comma-separated), or {ALL}")
        return value

    def missing(self) -> list[str]:
        """A region (or regions), and either a key pair or a profile."""
        out = [] if self.value("region") or self.value("regions") else ["region"]
        if not self.value("profile"):
            out += [k for k in ("access_key_id", "secret_access_key") if not self.value(k)]
        return out

    def ids(self) -> list[str]:
        return _split(self.value("instance_ids") or "")

    def follows_all(self) -> bool:
        return (self.value("regions") or "").strip().lower() == ALL

    def listed_regions(self) -> list[str]:
        """The regions named (``regions`` wins over ``region``); empty for ``all``."""
        if self.follows_all():
            return []
        listed = list(dict.fromkeys(_split((self.value("regions") or "").lower())))
        return listed or [r for r in [self.value("region")] if r]

    def home_region(self) -> str:
        """Where STS and DescribeRegions are asked: ``region``, else the first listed, else us-east-1."""
        return self.value("region") or next(iter(self.listed_regions()), HOME_DEFAULT)

    def several(self) -> bool:
        """Whether this connection follows more than one region (or ``all``)."""
        return self.follows_all() or len(self.listed_regions()) > 1


ALL = "all"
HOME_DEFAULT = "us-east-1"
#: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-5 …
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
#: Regions DescribeRegions lists that the account can use (the others need opting in first).
_ENABLED = {"opt-in-not-required", "opted-in"}
#: Seconds kept back from the deadline to report the regions that did not answer in time.
_REGION_MARGIN = 0.5


def _split(raw: str) -> list[str]:
    return [i.strip() for i in raw.replace(" ", ",").split(",") if i.strip()]


_LAST = threading.local()
_CLIENTS_LOCK = threading.Lock()
#: boto3 sessions are not thread-safe, and a fresh one re-reads ~2 MB of EC2 model JSON:
#: one session per profile (``None`` for explicit keys) is kept and used under this lock.
_SESSIONS: dict[str | None, Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(profile: str | None) -> Any:
    """The shared boto3 session for ``profile`` (call with ``_SESSIONS_LOCK`` held)."""
    import boto3

    session = _SESSIONS.get(profile)
    if session is None:
        session = _SESSIONS[profile] = boto3.Session(profile_name=profile) if profile else boto3.Session()
    return session


def _remember_answer(response_dict: dict[str, Any], **_: Any) -> None:
    """Keep the raw status and size of the last answer: botocore's parse errors lose them."""
    headers = response_dict.get("headers") or {}
    body = response_dict.get("body") or b""
    _LAST.answer = (response_dict.get("status_code"), headers.get("content-length"), len(body))


def _remaining() -> float:
    deadline = DEADLINE.get()
    return 20.0 if deadline is None else max(0.0, deadline - time.monotonic())


class AwsError(Exception):
    def __init__(self, result: ConnectionResult) -> None:
        super().__init__(result.message)
        self.result = result


class AwsEc2Integration(Integration):
    id = "aws-ec2"
    name = "AWS EC2"
    description = "EC2 instances with state, type, name, addresses and status checks."
    docs_url = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/"
    setup_guide = (
        "Create an IAM user or role with ec2:DescribeInstances and ec2:DescribeInstanceStatus "
        "(the ReadOnlyAccess policy is enough), and give its access key, or name a profile from "
        "~/.aws/config. STS GetCallerIdentity needs no permission, so a key that tests fine but "
        "fetches nothing lacks an EC2 permission."
    )
    credentials_model = AwsEc2Credentials

    # ------------------------------------------------------------------ boto3 plumbing

    def _client(self, creds: AwsEc2Credentials, service: str, region: str) -> Any:
        """A ``service`` client for these credentials in ``region``, built once (one costs ~0.05-0.3 s)."""
        from ..http import base_url_for

        key = (creds.value("access_key_id"), creds.value("secret_access_key"), creds.value("session_token"),
               creds.value("profile"), service, region, base_url_for(self.id, "https://ec2.amazonaws.com"))
        with _CLIENTS_LOCK:
            cached = self.__dict__.setdefault("_client_cache", {}).get(key)
        if cached is None:
            cached = self._build_client(creds, service, region)
            with _CLIENTS_LOCK:
                self._client_cache[key] = cached
        return cached

    def _build_client(self, creds: AwsEc2Credentials, service: str, region: str) -> Any:
        from botocore.config import Config

        from ..http import base_url_for

        endpoint = base_url_for(self.id, "https://ec2.amazonaws.com")
        profile = creds.value("profile")
        secret = creds.value("secret_access_key")
        token = creds.value("session_token")
        redact.register([secret, token, creds.value("access_key_id")])  # the key id is shown masked
        config = Config(
            connect_timeout=5,
            read_timeout=10,  # the manager's deadline cuts a slower call short anyway
            # botocore's own backoff knows nothing of our deadline: _call retries instead.
            retries={"mode": "standard", "max_attempts": 1},
            user_agent_extra="devtrack",
        )
        # Keys go to the client, not the session, so that one session (and its parsed
        # service models) serves every key pair; a profile brings its own keys. An endpoint
        # override serves every region: the region still signs each request (SigV4 scope).
        kwargs: dict[str, Any] = {
            "region_name": region,
            "endpoint_url": None if endpoint == "https://ec2.amazonaws.com" else endpoint,
            "config": config,
        }
        if not profile:
            kwargs.update(aws_access_key_id=creds.value("access_key_id"), aws_secret_access_key=secret,
                          aws_session_token=token)
        with _SESSIONS_LOCK:
            client = _session(profile).client(service, **kwargs)
        client.meta.events.register("before-parse", _remember_answer)
        return client

    def _home(self, creds: AwsEc2Credentials) -> tuple[Any, Any]:
        """STS and EC2 clients of the home region (both built in one worker thread)."""
        region = creds.home_region()
        return self._client(creds, "sts", region), self._client(creds, "ec2", region)

    async def _regions(self, creds: AwsEc2Credentials, home_ec2: Any) -> list[str]:
        """The regions to follow: those listed, or for ``all`` every enabled one (DescribeRegions)."""
        if not creds.follows_all():
            return creds.listed_regions()

        def enabled() -> list[str]:
            answer = home_ec2.describe_regions()
            return sorted(r["RegionName"] for r in answer.get("Regions", [])
                          if r.get("OptInStatus", "opt-in-not-required") in _ENABLED and r.get("RegionName"))

        regions: list[str] = await self._call(enabled)
        if not regions:
            raise AwsError(ConnectionResult.failure(
                ResultKind.INVALID_RESPONSE, "DescribeRegions named no enabled region."))
        return regions

    async def _per_region(self, regions: list[str], work: Any) -> dict[str, Any]:
        """``await work(region)`` for every region at once; an :class:`AwsError` per region that failed.

        Bounded by the deadline (less a margin): a region still unanswered then is reported as
        timed out, so the regions that did answer are not lost with it.
        """
        tasks = {region: asyncio.ensure_future(work(region)) for region in regions}
        bounded = len(regions) > 1 and DEADLINE.get() is not None  # one region: the manager's deadline
        try:
            _, pending = await asyncio.wait(
                tasks.values(), timeout=max(0.05, _remaining() - _REGION_MARGIN) if bounded else None)
        finally:
            for task in tasks.values():
                task.cancel()  # no-op for the finished; the rest unwind (their threads end on their own)
        out: dict[str, Any] = {}
        for region, task in tasks.items():
            if task in pending:
                out[region] = AwsError(ConnectionResult.failure(ResultKind.TIMEOUT, "AWS did not answer in time."))
            elif isinstance(task.exception(), AwsError):
                out[region] = task.exception()
            elif task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # a defect, not AWS: the manager reports it
            else:
                out[region] = task.result()
        return out

    async def _call(self, fn: Any, *args: Any) -> Any:
        """Run a boto3 call in a thread, turning every failure into :class:`AwsError`.

        Throttling, 5xx and broken connections are retried with jittered backoff, but only
        while a retry still fits in the call's deadline (botocore's own retries cannot know it).
        """

        def run() -> Any:
            _LAST.answer = None
            try:
                return fn(*args)
            except AwsError:
                raise
            except Exception as exc:  # botocore raises many unrelated classes
                raise AwsError(classify(exc, _LAST.answer)) from None

        for attempt in range(MAX_ATTEMPTS):
            started = time.monotonic()
            try:
                return await asyncio.to_thread(run)
            except AwsError as exc:
                took = time.monotonic() - started
                wait = random.uniform(0, min(4.0, 0.25 * 2**attempt))
                if exc.result.kind not in _RETRYABLE or attempt == MAX_ATTEMPTS - 1 \
                        or wait + 3 * took + 1.0 >= _remaining():
                    raise
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ contract

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        assert isinstance(creds, AwsEc2Credentials)
        ids = [] if creds.several() else creds.ids()  # an id lives in one region only
        try:
            sts, ec2 = await self._call(self._home, creds)

            async def allowed_in(region: str) -> bool:
                client = ec2 if region == creds.home_region() else await self._call(self._client, creds, "ec2", region)
                return bool(await self._call(self._dry_run, client, ids))

            async def regions_allowed() -> dict[str, Any]:
                return await self._per_region(await self._regions(creds, ec2), allowed_in)

            # Independent questions, asked together; who the key is wins if both fail.
            ident_or_err, allowed_or_err = await asyncio.gather(
                self._call(lambda: sts.get_caller_identity()), regions_allowed(), return_exceptions=True,
            )
            for outcome in (ident_or_err, allowed_or_err):
                if isinstance(outcome, BaseException):
                    raise outcome
            ident, allowed = ident_or_err, allowed_or_err
        except AwsError as exc:
            return exc.result
        regions = list(allowed)
        shown = ", ".join(regions) if len(regions) <= 4 else f"{len(regions)} regions"
        details: dict[str, Any] = {"account": ident.get("Account"), "arn": ident.get("Arn"),
                                   "region": creds.home_region() if creds.several() else regions[0]}
        if creds.several():
            details["regions"] = regions
        failed = {r: o.result for r, o in allowed.items() if isinstance(o, AwsError)}
        if failed:
            region, result = next(iter(failed.items()))
            if not creds.several():
                return result
            return result.model_copy(update={
                "message": f"{region}: {result.message}" + (f" (and {len(failed) - 1} more region(s) failed)"
                                                            if len(failed) > 1 else ""),
                "details": {**result.details, **details, "failed_regions": {r: str(x.kind) for r, x in failed.items()}},
            })
        denied = [r for r, ok in allowed.items() if not ok]
        if denied:
            return ConnectionResult.failure(
                ResultKind.PERMISSION,
                f"The key belongs to {details['arn']}, but it may not call ec2:DescribeInstances "
                f"in {', '.join(denied)}. Attach a policy allowing ec2:DescribeInstances and "
                "ec2:DescribeInstanceStatus (e.g. ReadOnlyAccess).",
                **details,
            )
        return ConnectionResult.success(
            f"Connected as {details['arn']} (account {details['account']}) in {shown}.", **details,
        )

    @staticmethod
    def _dry_run(ec2: Any, ids: list[str]) -> bool:
        """True when DescribeInstances is permitted (AWS answers DryRunOperation)."""
        from botocore.exceptions import ClientError

        try:
            kwargs: dict[str, Any] = {"DryRun": True}
            if ids:
                kwargs["InstanceIds"] = ids
            ec2.describe_instances(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "DryRunOperation":
                return True
            if code == "UnauthorizedOperation":
                return False
            raise
        return True  # an endpoint that ignores DryRun and answers still proves access

    async def get_data(self, creds: Credentials) -> IntegrationData:
        assert isinstance(creds, AwsEc2Credentials)
        several = creds.several()
        ids = creds.ids()

        async def fetch(region: str) -> list[Instance]:
            ec2 = await self._call(self._client, creds, "ec2", region)
            if several:  # by filter: the ids another region holds are not an error here
                instances = await self._call(self._instances, ec2, [], ids)
                found = [raw["InstanceId"] for raw in instances]
                statuses = await self._call(self._statuses, ec2, found if ids else []) if found or not ids else {}
            else:
                instances, statuses = await asyncio.gather(
                    self._call(self._instances, ec2, ids), self._call(self._statuses, ec2, ids))
            return [_instance(raw, region, statuses.get(raw["InstanceId"])) for raw in instances]

        try:
            _, home_ec2 = await self._call(self._home, creds)
            by_region = await self._per_region(await self._regions(creds, home_ec2), fetch)
        except AwsError as exc:
            return IntegrationData.failed(exc.result)
        failed = {r: o.result for r, o in by_region.items() if isinstance(o, AwsError)}
        records = [i for o in by_region.values() if not isinstance(o, AwsError) for i in o]
        if failed and len(failed) == len(by_region):
            if len(failed) == 1:
                return IntegrationData.failed(next(iter(failed.values())))
            first = next(iter(failed.values()))
            return IntegrationData.failed(first.model_copy(update={
                "message": "Every region failed: " + "; ".join(f"{r}: {x.message}" for r, x in failed.items()),
                "details": {**first.details, "failed_regions": {r: str(x.kind) for r, x in failed.items()}},
            }))
        notes = [f"{r} failed: {x.message}" for r, x in failed.items()]
        missing = sorted(set(ids) - {i.id for i in records}) if several else []
        if missing and not records:
            return IntegrationData.failed(ConnectionResult.failure(
                ResultKind.NOT_FOUND, f"No followed region holds {', '.join(missing)}. Check the instance ids."))
        if missing:
            notes.append(f"not found in any followed region: {', '.join(missing)}")
        health = _health(records)
        events = _events(records)
        if several:
            health.metrics["regions"] = len(by_region)
            health.metrics["regions_failed"] = len(failed)
        if notes:
            health = health.model_copy(update={"status": "degraded", "detail": "; ".join(notes) + "; " + health.detail})
            events = [Event(title=f"EC2 {n}", severity="warning", source="aws-ec2") for n in notes] + events
        return IntegrationData(health=health, events=events, records=Records(instances=records))

    @staticmethod
    def _instances(ec2: Any, ids: list[str], wanted: list[str] | None = None) -> list[dict[str, Any]]:
        """Every instance (or ``ids``, which must exist; or ``wanted``, a filter that may match none)."""
        kwargs: dict[str, Any] = {"InstanceIds": ids} if ids else {"PaginationConfig": {"PageSize": PAGE_SIZE}}
        if wanted:
            kwargs["Filters"] = [{"Name": "instance-id", "Values": wanted}]
        out: list[dict[str, Any]] = []
        for page in ec2.get_paginator("describe_instances").paginate(**kwargs):
            for reservation in page.get("Reservations", []):
                out.extend(reservation.get("Instances", []))
        return out

    @staticmethod
    def _statuses(ec2: Any, ids: list[str]) -> dict[str, str]:
        kwargs: dict[str, Any] = {"IncludeAllInstances": True}
        if ids:
            kwargs["InstanceIds"] = ids
        out: dict[str, str] = {}
        for page in ec2.get_paginator("describe_instance_status").paginate(**kwargs):
            for st in page.get("InstanceStatuses", []):
                checks = {
                    st.get("InstanceStatus", {}).get("Status", "not-applicable"),
                    st.get("SystemStatus", {}).get("Status", "not-applicable"),
                }
                if "impaired" in checks:
                    out[st["InstanceId"]] = "impaired"
                elif "initializing" in checks:
                    out[st["InstanceId"]] = "initializing"
                elif "ok" in checks:
                    out[st["InstanceId"]] = "ok"
                else:
                    out[st["InstanceId"]] = "not-applicable"
        return out


def _instance(raw: dict[str, Any], region: str | None, health: str | None) -> Instance:
    tags = {t.get("Key"): t.get("Value") for t in raw.get("Tags", []) or []}
    launched = raw.get("LaunchTime")
    return Instance(
        id=raw["InstanceId"],
        name=tags.get("Name"),
        state=(raw.get("State") or {}).get("Name", "unknown"),
        type=raw.get("InstanceType"),
        region=region,
        launched_at=launched if isinstance(launched, datetime) else None,
        public_ip=raw.get("PublicIpAddress"),
        private_ip=raw.get("PrivateIpAddress"),
        health=health,
    )


#: Instance states that run nothing by choice (not a failure), and those on their way.
_OFF_STATES = {"stopped", "terminated"}


def instance_condition(i: Instance) -> Condition:
    """An instance's verdict, the one this plugin's health counts: failed status checks
    (``impaired``, of the instance or of the system behind it) are bad whatever the state says."""
    if i.health == "impaired":
        return Condition("bad", f"{i.state}, impaired")
    if i.state == "running":
        if i.health == "initializing":
            return Condition("warn", "running, checks initializing")
        return Condition("ok", "running")
    return Condition("off" if i.state in _OFF_STATES else "warn", i.state)  # pending, stopping, …


def _health(instances: list[Instance]) -> Health:
    states = Counter(i.state for i in instances)
    impaired = [i for i in instances if instance_condition(i).level == "bad"]
    metrics: dict[str, Any] = {"instances": len(instances), **{f"state_{k}": v for k, v in states.items()},
                               "impaired": len(impaired)}
    summary = ", ".join(f"{n} {s}" for s, n in states.most_common()) or "no instances"
    if impaired:
        names = ", ".join(i.name or i.id for i in impaired[:3])
        return Health(status="degraded", detail=f"{len(impaired)} impaired ({names}); {summary}", metrics=metrics)
    return Health(status="healthy", detail=summary, metrics=metrics)


def _events(instances: list[Instance]) -> list[Event]:
    events: list[Event] = []
    for i in instances:
        label = i.name or i.id
        if i.health == "impaired":
            events.append(Event(title=f"{label}: status checks impaired", time=i.launched_at, severity="warning", source="aws-ec2"))
        elif i.launched_at is not None:
            events.append(Event(title=f"{label} ({i.type}) launched, now {i.state}", time=i.launched_at, source="aws-ec2"))
    events.sort(key=lambda e: e.time.timestamp() if e.time else 0.0, reverse=True)
    return events[:20]


def classify(exc: BaseException, answer: tuple[Any, Any, int] | None = None) -> ConnectionResult:
    """Map a boto3/botocore failure to a classified result with an actionable message.

    ``answer`` is (status, declared length, bytes received) of the last raw answer, which
    tells a cut-off body or a proxy's error page apart from AWS sending nonsense.
    """
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = redact.redactor(str(err.get("Message", "")))[:300]
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _AUTH_CODES:
            return ConnectionResult.failure(
                ResultKind.AUTH,
                f"AWS rejected the credentials ({code}): {message}. Check the access key id and secret.",
                code=code,
            )
        if code in _PERMISSION_CODES:
            return ConnectionResult.failure(
                ResultKind.PERMISSION, f"The credentials lack a permission ({code}): {message}", code=code
            )
        if code in _RATE_CODES or status == 429:
            return ConnectionResult.failure(
                ResultKind.RATE_LIMITED, f"AWS is throttling requests ({code}); DevTrack will retry later.", code=code
            )
        if code in _NOT_FOUND_CODES:
            return ConnectionResult.failure(ResultKind.NOT_FOUND, f"{message} Check the instance ids.", code=code)
        if code in _CONFIG_CODES:
            return ConnectionResult.failure(ResultKind.CONFIG, f"{message} Check the instance ids.", code=code)
        if code in _UNAVAILABLE_CODES or (isinstance(status, int) and status >= 500):
            return ConnectionResult.failure(
                ResultKind.UNAVAILABLE, f"AWS answered {status or ''} {code}: try again in a few minutes.".replace("  ", " "),
                code=code,
            )
        if isinstance(status, int) and status >= 400:
            from ..http import kind_for_status

            return ConnectionResult.failure(
                kind_for_status(status), f"AWS answered {status} {code}: {message}. Check the region and endpoint.",
                code=code,
            )
        return ConnectionResult.failure(ResultKind.ERROR, f"AWS error {code}: {message}", code=code)
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return ConnectionResult.failure(ResultKind.CONFIG, "No AWS credentials: give an access key pair or a profile.")
    if isinstance(exc, bx.ProfileNotFound):
        return ConnectionResult.failure(ResultKind.CONFIG, f"{exc} (check ~/.aws/config).")
    if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return ConnectionResult.failure(ResultKind.TIMEOUT, "AWS did not answer in time.")
    if isinstance(exc, bx.EndpointConnectionError):
        return ConnectionResult.failure(
            ResultKind.NETWORK, f"Cannot connect to AWS: {redact.redactor(str(exc))}. Check the network and region."
        )
    if isinstance(exc, (bx.ConnectionClosedError, bx.ConnectionError)):
        return ConnectionResult.failure(ResultKind.NETWORK, "The connection to AWS broke off.")
    if isinstance(exc, ResponseParserError) and answer is not None:
        status, declared, received = answer
        if declared and str(declared).isdigit() and int(declared) > received:
            return ConnectionResult.failure(ResultKind.NETWORK, "AWS's answer was cut off before its end.")
        if isinstance(status, int) and status >= 500:
            return ConnectionResult.failure(
                ResultKind.UNAVAILABLE, f"AWS answered {status} with an error page: try again in a few minutes."
            )
    if isinstance(exc, ResponseParserError):
        return ConnectionResult.failure(ResultKind.INVALID_RESPONSE, "AWS answered with something that is not its XML.")
    if isinstance(exc, bx.NoRegionError):
        return ConnectionResult.failure(ResultKind.CONFIG, "No AWS region: set the region field.")
    if isinstance(exc, bx.BotoCoreError):
        return ConnectionResult.failure(ResultKind.ERROR, f"AWS request failed: {redact.redactor(str(exc))}")
    from ..http import HttpError

    if isinstance(exc, HttpError):
        return exc.result()
    return ConnectionResult.failure(ResultKind.ERROR, f"AWS request failed: {redact.safe_str(exc)}")
