"""AWS EC2: instances and their status checks, through boto3 (SigV4, pagination, retries).

boto3 is synchronous and heavy, so it is imported only inside the calls and run in a worker
thread, off the event loop. The original app made no network call at all here; this one asks
STS who the credentials belong to, then asks EC2 with ``DryRun`` whether they may describe
instances, so "wrong key" and "missing permission" get different answers.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import SecretStr

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
        masked=True,  # shown as ****************ABCD, as the AWS CLI shows it
    )
    secret_access_key: SecretStr | None = field(
        label="Secret access key", kind=FieldKind.TOKEN, required=False,
    )
    session_token: SecretStr | None = field(
        label="Session token", kind=FieldKind.TOKEN, required=False,
        help="Only for temporary credentials (ASIA… keys).",
    )
    region: str | None = field(
        label="Region", kind=FieldKind.REGION, placeholder="us-east-1",
    )
    profile: str | None = field(
        label="Profile", kind=FieldKind.TEXT, required=False,
        help="A named profile from ~/.aws/config, instead of keys.",
    )
    instance_ids: str | None = field(
        label="Instance IDs", kind=FieldKind.TEXT, required=False,
        placeholder="i-0123…, i-0456…", help="Comma-separated; blank for every instance.",
    )

    def missing(self) -> list[str]:
        """A region, and either a key pair or a profile."""
        out = [] if self.value("region") else ["region"]
        if not self.value("profile"):
            out += [k for k in ("access_key_id", "secret_access_key") if not self.value(k)]
        return out

    def ids(self) -> list[str]:
        raw = self.value("instance_ids") or ""
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

    def _clients(self, creds: AwsEc2Credentials) -> tuple[Any, Any]:
        """STS and EC2 clients for these credentials, built once (building one costs ~0.3 s)."""
        from ..http import base_url_for

        key = (creds.value("access_key_id"), creds.value("secret_access_key"), creds.value("session_token"),
               creds.value("profile"), creds.value("region"), base_url_for(self.id, "https://ec2.amazonaws.com"))
        with _CLIENTS_LOCK:
            cached = self.__dict__.setdefault("_client_cache", {}).get(key)
        if cached is None:
            cached = self._build_clients(creds)
            with _CLIENTS_LOCK:
                self._client_cache[key] = cached
        return cached

    def _build_clients(self, creds: AwsEc2Credentials) -> tuple[Any, Any]:
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
        # service models) serves every key pair; a profile brings its own keys.
        kwargs: dict[str, Any] = {
            "region_name": creds.value("region"),
            "endpoint_url": None if endpoint == "https://ec2.amazonaws.com" else endpoint,
            "config": config,
        }
        if not profile:
            kwargs.update(aws_access_key_id=creds.value("access_key_id"), aws_secret_access_key=secret,
                          aws_session_token=token)
        with _SESSIONS_LOCK:
            session = _session(profile)
            clients = (session.client("sts", **kwargs), session.client("ec2", **kwargs))
        for client in clients:
            client.meta.events.register("before-parse", _remember_answer)
        return clients

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
        try:
            sts, ec2 = await self._call(self._clients, creds)
            # Independent questions, asked together; who the key is wins if both fail.
            ident_or_err, allowed_or_err = await asyncio.gather(
                self._call(lambda: sts.get_caller_identity()),
                self._call(self._dry_run, ec2, creds.ids()),
                return_exceptions=True,
            )
            for outcome in (ident_or_err, allowed_or_err):
                if isinstance(outcome, BaseException):
                    raise outcome
            ident, allowed = ident_or_err, allowed_or_err
            details = {"account": ident.get("Account"), "arn": ident.get("Arn"), "region": creds.value("region")}
        except AwsError as exc:
            return exc.result
        if not allowed:
            return ConnectionResult.failure(
                ResultKind.PERMISSION,
                f"The key belongs to {details['arn']}, but it may not call ec2:DescribeInstances "
                f"in {creds.value('region')}. Attach a policy allowing ec2:DescribeInstances and "
                "ec2:DescribeInstanceStatus (e.g. ReadOnlyAccess).",
                **details,
            )
        return ConnectionResult.success(
            f"Connected as {details['arn']} (account {details['account']}) in {creds.value('region')}.",
            **details,
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
        try:
            _, ec2 = await self._call(self._clients, creds)
            ids = creds.ids()
            instances, statuses = await asyncio.gather(
                self._call(self._instances, ec2, ids), self._call(self._statuses, ec2, ids)
            )
        except AwsError as exc:
            return IntegrationData.failed(exc.result)
        region = creds.value("region")
        records = [_instance(raw, region, statuses.get(raw["InstanceId"])) for raw in instances]
        return IntegrationData(
            health=_health(records),
            events=_events(records),
            records=Records(instances=records),
        )

    @staticmethod
    def _instances(ec2: Any, ids: list[str]) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"InstanceIds": ids} if ids else {"PaginationConfig": {"PageSize": PAGE_SIZE}}
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
