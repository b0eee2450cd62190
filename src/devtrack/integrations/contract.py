"""The plugin contract: what every integration declares, and the typed results it returns.

A plugin is a class with metadata (``id``, ``name``, ``description``, ``docs_url``,
``setup_guide``), a pydantic credentials model, and two async methods. Both methods turn a
service's failure into a result; they never let it escape as an exception. The manager still
guards against plugins that break that promise, but the promise is what makes results
comparable across services.

This module must stay light: it is imported by ``devtrack integrations list``, which may not
pull in httpx, boto3 or the web framework.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from .. import redact

__all__ = [
    "FieldKind",
    "ResultKind",
    "HealthStatus",
    "Severity",
    "CredentialField",
    "Credentials",
    "NoCredentials",
    "field",
    "ConnectionResult",
    "Health",
    "Event",
    "Records",
    "IntegrationData",
    "Integration",
    "utcnow",
]


#: Models are built on first use, not at import: a command pays only for the ones it needs.
LAZY = ConfigDict(defer_build=True)

#: Absolute ``time.monotonic()`` by which the current plugin call must finish. The manager
#: sets it; the HTTP layer reads it so it never sleeps on a ``Retry-After`` it cannot afford.
DEADLINE: ContextVar[float | None] = ContextVar("devtrack_deadline", default=None)


def utcnow() -> datetime:
    """Aware UTC now; every timestamp in results is aware so they sort across plugins."""
    return datetime.now(timezone.utc)


class FieldKind(StrEnum):
    """What a credential field holds; drives validation and how the UI renders it."""

    TOKEN = "token"
    URL = "url"
    TEXT = "text"
    PROJECT_ID = "project_id"
    EMAIL = "email"
    REGION = "region"
    CHOICE = "choice"


class ResultKind(StrEnum):
    """The small fixed set every connection test and fetch is classified into."""

    OK = "ok"
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    NETWORK = "network"
    TIMEOUT = "timeout"
    INVALID_RESPONSE = "invalid_response"
    CONFIG = "config"
    UNAVAILABLE = "unavailable"
    ERROR = "error"


HealthStatus = Literal["healthy", "degraded", "down", "unconfigured", "unknown"]
Severity = Literal["info", "warning", "error"]


# --------------------------------------------------------------------------- credentials


class CredentialField(BaseModel):
    """The public description of one credential field (what `list --json` prints).

    ``secret``: a ``SecretStr`` (hidden input, redacted everywhere). ``masked``: never shown
    in full once stored: every secret, and identifiers declared ``field(masked=True)`` (an
    AWS access key id), which are shown as ``****************ABCD``, the AWS CLI's form.

    ``destination``: where secrets are sent (every URL field, and any declared
    ``field(destination=True)``). A secret is bound to the destination it was entered for:
    saving a different destination clears the stored secrets in ``carries`` (by default every
    secret of the model) unless new ones are given in the same save.
    """

    model_config = LAZY

    key: str
    label: str
    kind: FieldKind
    secret: bool
    required: bool
    help: str = ""
    placeholder: str = ""
    choices: list[str] = Field(default_factory=list)
    masked: bool = False
    destination: bool = False
    carries: list[str] = Field(default_factory=list)

    def shown(self, value: str) -> str:
        """How a stored value of this field is displayed (CLI, JSON API, HTML)."""
        if self.secret:
            return redact.mask(value)
        return mask_identifier(value) if self.masked else value

    def where(self, value: str | None) -> str | None:
        """The destination a value of this field names, normalised so that equal ones compare
        equal (a trailing slash, letter case of scheme and host, a default port); ``None``
        for no value. Only meaningful for destination fields."""
        if value is None or not value.strip():
            return None
        return normalise_url(value) if self.kind == FieldKind.URL else value.strip().casefold()


def normalise_url(raw: str) -> str:
    """``raw`` in one spelling per place: ``HTTPS://Sentry.io:443/`` is ``https://sentry.io``.

    The path is kept (a different path on one host may be another tenant's); only its
    trailing slashes, the fragment (never sent) and a port that is the scheme's default go.
    """
    from urllib.parse import urlsplit, urlunsplit

    text = raw.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def mask_identifier(value: str | None) -> str:
    """An identifier recognised by its tail, as the AWS CLI shows an access key id.

    Sixteen stars and the last four characters; values of 8 characters or fewer show none.
    """
    if not value:
        return ""
    return "*" * 16 + (value[-4:] if len(value) > 8 else "")


def field(
    *,
    label: str,
    kind: FieldKind = FieldKind.TEXT,
    required: bool = True,
    help: str = "",
    placeholder: str = "",
    choices: list[str] | None = None,
    default: Any = None,
    masked: bool = False,
    destination: bool | None = None,
    carries: list[str] | None = None,
) -> Any:
    """Declare a credential field: a pydantic ``Field`` carrying the UI metadata beside it.

    Whether a field is secret is not declared here: it follows from its annotation being
    ``SecretStr`` (so secrecy and masking can never disagree). ``masked=True`` declares a
    plain identifier that is still shown only by its tail (and kept out of logs and output
    like a secret), such as an AWS access key id.

    ``destination`` (default: ``kind`` is URL) marks a field that says where secrets are
    sent; ``carries`` names the secret fields sent there, when not all of them are.
    """
    extra = {
        "kind": str(kind),
        "label": label,
        "required": required,
        "help": help,
        "placeholder": placeholder,
        "choices": list(choices or []),
        "masked": masked,
        "destination": kind == FieldKind.URL if destination is None else destination,
        "carries": list(carries) if carries is not None else None,
    }
    return Field(default=default, json_schema_extra=extra)


class Credentials(BaseModel):
    """Base of every plugin's credentials model.

    Every field is declared optional at the pydantic level (default ``None``): whether a
    field is *required* is metadata checked by :meth:`missing`, so a partly filled model can
    exist while the user is still typing, and "configured" is a question we can ask.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True)

    @classmethod
    def fields(cls) -> list[CredentialField]:
        """Describe the fields in declaration order."""
        out: list[CredentialField] = []
        secrets = [k for k, info in cls.model_fields.items() if _is_secret_annotation(info.annotation)]
        for key, info in cls.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            secret = key in secrets
            destination = bool(extra.get("destination", False))
            carried = extra.get("carries")
            out.append(
                CredentialField(
                    key=key,
                    label=str(extra.get("label", key)),
                    kind=FieldKind(str(extra.get("kind", "text"))),
                    secret=secret,
                    required=bool(extra.get("required", False)),
                    help=str(extra.get("help", "")),
                    placeholder=str(extra.get("placeholder", "")),
                    choices=list(extra.get("choices", []) or []),  # type: ignore[arg-type]
                    masked=secret or bool(extra.get("masked", False)),
                    destination=destination,
                    carries=(list(carried) if isinstance(carried, list) else secrets) if destination else [],  # type: ignore[arg-type]
                )
            )
        return out

    @classmethod
    def secret_keys(cls) -> set[str]:
        return {f.key for f in cls.fields() if f.secret}

    @classmethod
    def masked_keys(cls) -> set[str]:
        """Fields never shown in full: the secrets and the declared masked identifiers."""
        return {f.key for f in cls.fields() if f.masked}

    def missing(self) -> list[str]:
        """Keys of required fields that have no value."""
        return [f.key for f in self.fields() if f.required and not self.value(f.key)]

    def is_configured(self) -> bool:
        return not self.missing()

    @field_validator("*", mode="after")
    @classmethod
    def _check_url(cls, value: Any, info: ValidationInfo) -> Any:
        """URL fields must be absolute http(s) URLs; plain http only for loopback hosts."""
        finfo = cls.model_fields.get(info.field_name or "")
        extra = finfo.json_schema_extra if finfo and isinstance(finfo.json_schema_extra, dict) else {}
        if extra.get("kind") == FieldKind.URL and isinstance(value, str) and value:
            problem = url_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    def value(self, key: str) -> str | None:
        """The plain value of a field (secrets revealed): only for the code that sends it."""
        raw = getattr(self, key, None)
        if isinstance(raw, SecretStr):
            raw = raw.get_secret_value()
        if raw is None or raw == "":
            return None
        return str(raw)

    def secret_values(self) -> list[str]:
        """Every secret value present, for the redactor."""
        return [v for k in self.secret_keys() if (v := self.value(k))]


def _is_secret_annotation(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    args = getattr(annotation, "__args__", ())
    return any(a is SecretStr for a in args)


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def url_problem(raw: str) -> str | None:
    """Why ``raw`` is not an acceptable service URL, or ``None`` when it is."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(raw)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL, like https://example.com"
    if parts.username or parts.password:
        return "must not embed a user name or password"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "must use https (plain http is only allowed for localhost)"
    return None


class NoCredentials(Credentials):
    """For plugins that need nothing."""


# --------------------------------------------------------------------------- results


class ConnectionResult(BaseModel):
    """The answer of ``test_connection``: classified, with a message a user can act on."""

    model_config = LAZY

    ok: bool
    kind: ResultKind
    message: str
    elapsed_ms: float = 0.0
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def success(cls, message: str, **details: Any) -> ConnectionResult:
        return cls(ok=True, kind=ResultKind.OK, message=message, details=details)

    @classmethod
    def failure(cls, kind: ResultKind, message: str, **details: Any) -> ConnectionResult:
        if kind == ResultKind.OK:
            raise ValueError("a failure cannot have kind 'ok'")
        return cls(ok=False, kind=kind, message=message, details=details)


class Health(BaseModel):
    model_config = LAZY

    status: HealthStatus = "unknown"
    detail: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict)


class Event(BaseModel):
    model_config = LAZY

    title: str
    time: datetime | None = None
    severity: Severity = "info"
    url: str | None = None
    source: str | None = None


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class Deployment(_Record):
    id: str
    project: str | None = None
    state: Literal["building", "queued", "ready", "error", "canceled", "deleted", "unknown"] = "unknown"
    target: str | None = None
    url: str | None = None
    commit: str | None = None
    branch: str | None = None
    created_at: datetime | None = None
    provider: str | None = None


class ErrorIssue(_Record):
    id: str
    title: str
    culprit: str | None = None
    level: str | None = None
    count: int = 0
    user_count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    url: str | None = None
    project: str | None = None


class PullRequest(_Record):
    number: int
    title: str
    state: str
    author: str | None = None
    branch: str | None = None
    created_at: datetime | None = None
    url: str | None = None
    draft: bool = False


class CiRun(_Record):
    id: str
    name: str
    status: str
    conclusion: str | None = None
    branch: str | None = None
    created_at: datetime | None = None
    url: str | None = None


class IssueItem(_Record):
    number: int
    title: str
    state: str
    author: str | None = None
    labels: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    url: str | None = None


class Commit(_Record):
    hash: str
    author: str
    subject: str
    date: datetime | None = None


class Branch(_Record):
    name: str
    current: bool = False
    upstream: str | None = None
    last_commit: str | None = None
    last_commit_date: datetime | None = None


class Instance(_Record):
    id: str
    name: str | None = None
    state: str
    type: str | None = None
    region: str | None = None
    launched_at: datetime | None = None
    public_ip: str | None = None
    private_ip: str | None = None
    health: str | None = None


class Database(_Record):
    id: str
    name: str
    state: str | None = None
    type: str | None = None
    region: str | None = None
    monthly_requests: int | None = None
    storage_bytes: int | None = None


class Project(_Record):
    id: str
    name: str
    status: str | None = None
    region: str | None = None
    url: str | None = None
    services: dict[str, str] = Field(default_factory=dict)


class Zone(_Record):
    id: str
    name: str
    status: str | None = None


class Worker(_Record):
    id: str
    name: str
    modified_at: datetime | None = None


class LlmUsage(_Record):
    model: str
    requests: int = 0
    cost_usd: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    day: str | None = None


class Records(BaseModel):
    """Typed records for the native views; a plugin fills the lists it knows about."""

    model_config = LAZY

    deployments: list[Deployment] = Field(default_factory=list)
    errors: list[ErrorIssue] = Field(default_factory=list)
    pull_requests: list[PullRequest] = Field(default_factory=list)
    ci_runs: list[CiRun] = Field(default_factory=list)
    issues: list[IssueItem] = Field(default_factory=list)
    commits: list[Commit] = Field(default_factory=list)
    branches: list[Branch] = Field(default_factory=list)
    instances: list[Instance] = Field(default_factory=list)
    databases: list[Database] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    zones: list[Zone] = Field(default_factory=list)
    workers: list[Worker] = Field(default_factory=list)
    llm_usage: list[LlmUsage] = Field(default_factory=list)

    def non_empty(self) -> dict[str, int]:
        """Counts of the record lists that hold something."""
        return {k: len(v) for k, v in self if v}


class IntegrationData(BaseModel):
    """The answer of ``get_data``: health, recent events and records, or a classified error."""

    model_config = LAZY

    #: The connection id (``vercel``, ``vercel:acme``) and its plugin id, set by the manager.
    id: str = ""
    plugin: str = ""
    fetched_at: datetime = Field(default_factory=utcnow)
    health: Health = Field(default_factory=Health)
    events: list[Event] = Field(default_factory=list)
    records: Records = Field(default_factory=Records)
    error: ConnectionResult | None = None

    @classmethod
    def failed(cls, result: ConnectionResult) -> IntegrationData:
        """Data for a fetch that failed: health follows from the kind of failure."""
        status: HealthStatus = "unconfigured" if result.kind == ResultKind.CONFIG else "unknown"
        if result.kind in (ResultKind.UNAVAILABLE,):
            status = "unknown"
        return cls(health=Health(status=status, detail=result.message), error=result)


# --------------------------------------------------------------------------- plugin


class Integration:
    """Base class of every plugin. Subclasses set the class attributes and both methods.

    ``test_connection`` and ``get_data`` receive a validated instance of the plugin's own
    ``credentials_model`` (environment overrides already applied).
    """

    id: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    docs_url: ClassVar[str] = ""
    setup_guide: ClassVar[str] = ""
    credentials_model: ClassVar[type[Credentials]] = NoCredentials
    #: Seconds the manager allows one call to take before it is classified ``timeout``.
    deadline: ClassVar[float] = 20.0

    async def test_connection(self, creds: Credentials) -> ConnectionResult:  # pragma: no cover
        raise NotImplementedError

    async def get_data(self, creds: Credentials) -> IntegrationData:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Static metadata, as printed by ``integrations list --json``."""
        return {
            "id": cls.id,
            "name": cls.name,
            "description": cls.description,
            "docs_url": cls.docs_url,
            "fields": [f.model_dump(mode="json", exclude={"choices"}) | {"choices": f.choices}
                       for f in cls.credentials_model.fields()],
        }


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """Measure elapsed milliseconds: ``with stopwatch() as t: ...; t[0]``."""
    out = [0.0]
    start = time.perf_counter()
    try:
        yield out
    finally:
        out[0] = (time.perf_counter() - start) * 1000.0


def unavailable(plugin_name: str) -> ConnectionResult:
    """What a plugin whose implementation has not landed answers: never a fake success."""
    return ConnectionResult.failure(
        ResultKind.UNAVAILABLE,
        f"The {plugin_name} integration is not implemented in this version of DevTrack yet.",
    )
