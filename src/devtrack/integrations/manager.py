"""The integration manager: the one place that joins the registry, the store and the plugins.

It owns no HTTP or file details. Each call to a plugin runs under that plugin's deadline and
inside a guard, so a slow or broken plugin yields a classified result for itself and never
disturbs the others.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from .. import redact
from ..credentials import CredentialStore, Doc
from .contract import (
    DEADLINE,
    ConnectionResult,
    CredentialField,
    Credentials,
    Integration,
    IntegrationData,
    ResultKind,
    utcnow,
)
from .registry import Registry, default_registry

log = logging.getLogger(__name__)

#: A hook run inside the same atomic write as a credential change: (manager, doc, plugin id).
SaveHook = Callable[["IntegrationManager", Doc, str], None]


class CredentialsInvalid(ValueError):
    """Credentials failed validation; ``errors`` maps field keys to messages."""

    def __init__(self, plugin_id: str, errors: dict[str, str]) -> None:
        self.plugin_id = plugin_id
        self.errors = errors
        detail = "; ".join(f"{k}: {v}" if k else v for k, v in errors.items())
        super().__init__(f"invalid credentials for {plugin_id}: {detail}")


class PluginStatus(BaseModel):
    """What ``integrations list`` shows for one plugin."""

    id: str
    name: str
    description: str
    docs_url: str
    enabled: bool
    configured: bool
    last_tested: datetime | None
    test_result: ConnectionResult | None
    fields: list[CredentialField]


def control_char_problem(label: str, value: str) -> str | None:
    """Why a field value is refused for holding a control character (never the value itself).

    No credential is more than one line of printable text; a line break inside a token would
    end up in an HTTP header, where the client library's error quotes the whole token.
    Surrounding whitespace is not counted: it is stripped before use.
    """
    for char in value.strip():
        if unicodedata.category(char) == "Cc":
            what = {"\n": "a line break", "\r": "a line break", "\t": "a tab"}.get(char, "a control character")
            return f"{label} contains {what} (U+{ord(char):04X}); enter the value on one line, without it"
    return None


@dataclass(frozen=True)
class Saved:
    """What a save did: the credentials as saved, and the secrets it cleared.

    ``cleared`` holds the secret fields removed because a destination they were entered for
    (a URL or host field) changed and no new value came with the change.
    """

    credentials: Credentials
    cleared: list[str] = field(default_factory=list)


def left_behind(
    fields: Iterable[CredentialField], before: Mapping[str, str], after: Mapping[str, str | None],
    given: Iterable[str] = (),
) -> list[str]:
    """Stored secrets whose destination moves from ``before`` to ``after``, not ``given`` anew.

    A secret goes only where it was entered for: a token typed for sentry.io must not follow
    a base URL changed to someone else's listener. Absent counts as a destination of its own
    (the service's default host), so setting or removing a URL moves its secrets too.
    """
    fields = list(fields)
    given = set(given)
    bound: set[str] = set()
    for f in fields:
        if f.destination and f.where(before.get(f.key)) != f.where(after.get(f.key)):
            bound.update(f.carries)
    return [f.key for f in fields if f.key in bound and before.get(f.key) and f.key not in given]


def env_key(plugin_id: str, field_key: str) -> str:
    """``DEVTRACK_<PLUGIN>_<FIELD>``: the environment override of one field."""
    return f"DEVTRACK_{plugin_id}_{field_key}".upper().replace("-", "_")


class IntegrationManager:
    """Lists, configures, tests and fetches integrations."""

    def __init__(
        self,
        store: CredentialStore | None = None,
        registry: Registry | None = None,
        environ: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> None:
        self.store = store or CredentialStore()
        self.registry = registry or default_registry()
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.deadline_override = deadline
        #: Run inside the atomic write of every credential change (to change more of the doc).
        self.save_hooks: list[SaveHook] = []
        #: Run after such a write is durable, with the plugin id (to react to the change).
        self.saved_hooks: list[Callable[[str], None]] = []
        self._instances: dict[str, Integration] = {}

    # ------------------------------------------------------------------ plugins

    def ids(self) -> list[str]:
        return self.registry.ids()

    def plugin_class(self, plugin_id: str) -> type[Integration]:
        return self.registry.get(plugin_id)

    def plugin(self, plugin_id: str) -> Integration:
        inst = self._instances.get(plugin_id)
        if inst is None:
            inst = self._instances[plugin_id] = self.plugin_class(plugin_id)()
        return inst

    def deadline(self, plugin_id: str) -> float:
        if self.deadline_override is not None:
            return self.deadline_override
        raw = self.environ.get("DEVTRACK_DEADLINE")
        if raw:
            try:
                return float(raw)
            except ValueError:
                pass
        return float(self.plugin_class(plugin_id).deadline)

    # ------------------------------------------------------------------ credentials

    @staticmethod
    def _entry(doc: Doc, plugin_id: str) -> dict[str, Any]:
        return doc["integrations"].setdefault(plugin_id, {"enabled": True, "credentials": {}})

    def stored_credentials(self, plugin_id: str, doc: Doc | None = None) -> dict[str, str]:
        doc = doc if doc is not None else self.store.read()
        entry = doc["integrations"].get(plugin_id) or {}
        creds = entry.get("credentials") or {}
        return {k: str(v) for k, v in creds.items() if v not in (None, "")}

    def env_overrides(self, plugin_id: str) -> dict[str, str]:
        model = self.plugin_class(plugin_id).credentials_model
        out: dict[str, str] = {}
        for f in model.fields():
            value = self.environ.get(env_key(plugin_id, f.key))
            if value:
                out[f.key] = value
        return out

    def _build(self, plugin_id: str, values: Mapping[str, str | None]) -> Credentials:
        model = self.plugin_class(plugin_id).credentials_model
        known = {f.key for f in model.fields()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CredentialsInvalid(
                plugin_id,
                {k: f"unknown field (known: {', '.join(sorted(known)) or 'none'})" for k in unknown},
            )
        clean = {k: v for k, v in values.items() if v not in (None, "")}
        # Masked identifiers too: shown only by their tail, they must not appear whole elsewhere.
        redact.register(clean[f.key] for f in model.fields() if f.masked and f.key in clean)  # type: ignore[misc]
        controls = {
            f.key: problem for f in model.fields()
            if f.key in clean and (problem := control_char_problem(f.label, str(clean[f.key])))
        }
        if controls:
            raise CredentialsInvalid(plugin_id, controls)
        try:
            return model(**clean)
        except ValidationError as exc:
            errors: dict[str, str] = {}
            for err in exc.errors():
                key = str(err["loc"][0]) if err["loc"] else ""
                msg = str(err["msg"]).removeprefix("Value error, ")
                errors[key] = msg
            raise CredentialsInvalid(plugin_id, errors) from None

    def credentials(self, plugin_id: str, doc: Doc | None = None) -> Credentials:
        """Stored credentials with environment overrides applied (never written back)."""
        values: dict[str, str | None] = dict(self.stored_credentials(plugin_id, doc))
        values.update(self.env_overrides(plugin_id))
        return self._build(plugin_id, values)

    def validate(
        self, plugin_id: str, values: Mapping[str, str | None], may_miss: Iterable[str] = ()
    ) -> Credentials:
        """Validate a merged set of values as ``set`` would, without saving anything.

        ``may_miss``: required fields a save is allowed to leave empty (secrets it cleared).
        """
        creds = self._build(plugin_id, values)
        allowed = set(may_miss)
        missing = [k for k in creds.missing() if k not in allowed]
        if missing:
            fields = {f.key: f for f in creds.fields()}
            raise CredentialsInvalid(
                plugin_id, {k: f"{fields[k].label} is required" for k in missing}
            )
        return creds

    def set_credentials(self, plugin_id: str, values: Mapping[str, str | None]) -> Credentials:
        """:meth:`save_credentials`, for callers that need only the saved credentials."""
        return self.save_credentials(plugin_id, values).credentials

    def save_credentials(self, plugin_id: str, values: Mapping[str, str | None]) -> Saved:
        """Merge ``values`` into the stored credentials; a blank value keeps the stored one.

        The merged result (with environment overrides, as it will be used) is validated
        before anything is written; invalid input raises :class:`CredentialsInvalid`.
        A changed destination (URL or host field) clears the stored secrets bound to it,
        unless new ones are given in the same save; :attr:`Saved.cleared` names them.
        Environment overrides are never stored, so they move and clear nothing.
        """
        model = self.plugin_class(plugin_id).credentials_model
        known = {f.key for f in model.fields()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CredentialsInvalid(
                plugin_id, {k: f"unknown field (known: {', '.join(sorted(known))})" for k in unknown}
            )
        result: list[Saved] = []

        def change(doc: Doc) -> None:
            before = self.stored_credentials(plugin_id, doc)
            given = {k: v for k, v in values.items() if v not in (None, "")}
            merged: dict[str, str | None] = {**before, **given}
            cleared = left_behind(model.fields(), before, merged, given)
            for key in cleared:
                merged.pop(key)
            self.validate(plugin_id, {**merged, **self.env_overrides(plugin_id)}, may_miss=cleared)
            stored = {k: v for k, v in merged.items() if v not in (None, "")}
            creds = self._build(plugin_id, stored)
            entry = self._entry(doc, plugin_id)
            entry["credentials"] = stored
            entry.setdefault("enabled", True)
            entry.pop("test_result", None)
            entry.pop("last_tested", None)
            self._run_hooks(doc, plugin_id)
            result.append(Saved(creds, cleared))

        self.store.update(change)
        self._instances.pop(plugin_id, None)
        self._saved(plugin_id)
        if result[0].cleared:
            log.info("%s: cleared %s, entered for a destination that changed",
                     plugin_id, ", ".join(result[0].cleared))
        return result[0]

    def unset(self, plugin_id: str, keys: Iterable[str] | None = None) -> list[str]:
        """Remove some fields, or (no keys) all of a plugin's stored credentials.

        Removing a destination field moves its secrets to the service's default host, so the
        secrets bound to it go too; they are returned (beyond the ``keys`` asked for).
        """
        model = self.plugin_class(plugin_id).credentials_model
        keys = list(keys or [])
        known = {f.key for f in model.fields()}
        bad = [k for k in keys if k not in known]
        if bad:
            raise CredentialsInvalid(plugin_id, {k: "unknown field" for k in bad})
        also: list[str] = []

        def change(doc: Doc) -> None:
            entry = doc["integrations"].get(plugin_id)
            if entry is None:
                return
            before = self.stored_credentials(plugin_id, doc)
            creds = entry.get("credentials") or {}
            for k in keys or list(creds):
                creds.pop(k, None)
            after = {k: v for k, v in before.items() if k in creds}
            also[:] = [k for k in left_behind(model.fields(), before, after) if k in creds]
            for k in also:
                creds.pop(k, None)
            entry["credentials"] = creds
            entry.pop("test_result", None)
            entry.pop("last_tested", None)
            self._run_hooks(doc, plugin_id)

        self.store.update(change)
        self._instances.pop(plugin_id, None)
        self._saved(plugin_id)
        return also

    def set_enabled(self, plugin_id: str, enabled: bool) -> None:
        self.plugin_class(plugin_id)

        def change(doc: Doc) -> None:
            self._entry(doc, plugin_id)["enabled"] = enabled
            self._run_hooks(doc, plugin_id)

        self.store.update(change)
        self._saved(plugin_id)

    def _run_hooks(self, doc: Doc, plugin_id: str) -> None:
        for hook in self.save_hooks:
            hook(self, doc, plugin_id)

    def _saved(self, plugin_id: str) -> None:
        for hook in list(self.saved_hooks):
            try:
                hook(plugin_id)
            except Exception as exc:  # a listener must not undo a save that happened
                log.warning("a listener of %s's credentials failed: %s", plugin_id, redact.safe_str(exc))

    def masked(self, plugin_id: str, doc: Doc | None = None) -> dict[str, str]:
        """Stored values for display: secrets and masked identifiers masked, the rest as they are."""
        model = self.plugin_class(plugin_id).credentials_model
        stored = self.stored_credentials(plugin_id, doc)
        out: dict[str, str] = {}
        for f in model.fields():
            if f.key in stored:
                out[f.key] = f.shown(stored[f.key])
        return out

    # ------------------------------------------------------------------ status

    def is_enabled(self, plugin_id: str, doc: Doc | None = None) -> bool:
        doc = doc if doc is not None else self.store.read()
        entry = doc["integrations"].get(plugin_id) or {}
        return bool(entry.get("enabled", True))

    def is_configured(self, plugin_id: str, doc: Doc | None = None) -> bool:
        try:
            return self.credentials(plugin_id, doc).is_configured()
        except CredentialsInvalid:
            return False

    def status(self, plugin_id: str, doc: Doc | None = None) -> PluginStatus:
        doc = doc if doc is not None else self.store.read()
        cls = self.plugin_class(plugin_id)
        entry = doc["integrations"].get(plugin_id) or {}
        result = entry.get("test_result")
        try:
            tested = ConnectionResult.model_validate(result) if result else None
        except ValidationError:  # a hand-edited record of a past test: shown as never tested
            tested = None
        when = entry.get("last_tested")  # the store checked it reads as an ISO date and time
        return PluginStatus(
            id=cls.id,
            name=cls.name,
            description=cls.description,
            docs_url=cls.docs_url,
            enabled=self.is_enabled(plugin_id, doc),
            configured=self.is_configured(plugin_id, doc),
            last_tested=datetime.fromisoformat(when) if when else None,
            test_result=tested,
            fields=cls.credentials_model.fields(),
        )

    def statuses(self) -> list[PluginStatus]:
        doc = self.store.read()
        return [self.status(i, doc) for i in self.ids()]

    # ------------------------------------------------------------------ calling plugins

    async def _guarded(self, plugin_id: str, call: str) -> ConnectionResult | IntegrationData:
        """Run one plugin call under its deadline; every failure becomes a result."""
        name = plugin_id
        try:
            cls = self.plugin_class(plugin_id)
            name = cls.name
            creds = self.credentials(plugin_id)
            missing = creds.missing()
            if missing:
                labels = {f.key: f.label for f in creds.fields()}
                return ConnectionResult.failure(
                    ResultKind.CONFIG,
                    f"{name} is not configured: missing {', '.join(labels[k] for k in missing)}. "
                    f"Set it with: devtrack integrations set {plugin_id} {missing[0]}=…",
                    missing=missing,
                )
            plugin = self.plugin(plugin_id)
            method = plugin.test_connection if call == "test" else plugin.get_data
            budget = self.deadline(plugin_id)
            token = DEADLINE.set(time.monotonic() + budget)
            try:
                task = asyncio.ensure_future(method(creds))  # carries DEADLINE in its context
            finally:
                DEADLINE.reset(token)
            try:
                done, _ = await asyncio.wait({task}, timeout=budget)
            except asyncio.CancelledError:
                task.cancel()
                raise
            if not done:
                # Answer at the deadline; the plugin unwinds in the background, not on our time.
                task.cancel()
                task.add_done_callback(_consume)
                raise TimeoutError
            out = task.result()
            if not isinstance(out, ConnectionResult | IntegrationData):
                raise TypeError(f"{call} returned {type(out).__name__}")
            return out
        except CredentialsInvalid as exc:
            return ConnectionResult.failure(ResultKind.CONFIG, redact.safe_str(exc), errors=exc.errors)
        except TimeoutError:
            return ConnectionResult.failure(
                ResultKind.TIMEOUT,
                f"{name} did not answer within {self.deadline(plugin_id):g}s.",
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a plugin broke its promise: still a result, logged once
            log.error("%s %s raised: %s", plugin_id, call, redact.format_exception(exc))
            return ConnectionResult.failure(
                ResultKind.ERROR, f"{name} failed unexpectedly: {redact.safe_str(exc)}"
            )

    async def test(self, plugin_id: str, record: bool = True) -> ConnectionResult:
        """Test one plugin's connection; the result and time are recorded in the store."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        out = await self._guarded(plugin_id, "test")
        result = out if isinstance(out, ConnectionResult) else ConnectionResult.failure(
            ResultKind.ERROR, "test_connection returned data instead of a result"
        )
        if not result.elapsed_ms:
            result = result.model_copy(update={"elapsed_ms": round((loop.time() - started) * 1000, 1)})
        result = _scrub(result)
        if record:
            await asyncio.to_thread(self._record, plugin_id, result)
        return result

    def _record(self, plugin_id: str, result: ConnectionResult) -> None:
        def change(doc: Doc) -> None:
            entry = self._entry(doc, plugin_id)
            entry["last_tested"] = utcnow().isoformat()
            entry["test_result"] = result.model_dump(mode="json")

        try:
            self.store.update(change)
        except Exception as exc:  # recording is best effort; the result still stands
            log.warning("could not record the test result of %s: %s", plugin_id, redact.safe_str(exc))

    async def test_many(self, ids: Iterable[str] | None = None) -> list[tuple[str, ConnectionResult]]:
        ids = list(ids) if ids is not None else self.ids()
        results = await asyncio.gather(*(self.test(i, record=False) for i in ids))
        await asyncio.to_thread(self._record_many, list(zip(ids, results)))
        return list(zip(ids, results))

    def _record_many(self, pairs: list[tuple[str, ConnectionResult]]) -> None:
        def change(doc: Doc) -> None:
            now = utcnow().isoformat()
            for plugin_id, result in pairs:
                entry = self._entry(doc, plugin_id)
                entry["last_tested"] = now
                entry["test_result"] = result.model_dump(mode="json")

        try:
            self.store.update(change)
        except Exception as exc:
            log.warning("could not record test results: %s", redact.safe_str(exc))

    async def fetch(self, plugin_id: str) -> IntegrationData:
        """Fetch one plugin's data; a failure is returned in ``error``, never raised."""
        out = await self._guarded(plugin_id, "data")
        if isinstance(out, ConnectionResult):
            data = IntegrationData.failed(out)
        else:
            data = out
        return _scrub(data.model_copy(update={"id": plugin_id}))

    def fetchable(self) -> list[str]:
        """Ids of the enabled and configured plugins, in registry order."""
        doc = self.store.read()
        return [i for i in self.ids() if self.is_enabled(i, doc) and self.is_configured(i, doc)]

    async def fetch_many(self, ids: Iterable[str] | None = None) -> list[IntegrationData]:
        ids = list(ids) if ids is not None else self.fetchable()
        return list(await asyncio.gather(*(self.fetch(i) for i in ids)))


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a cancelled plugin task's outcome so asyncio does not warn about it."""
    if not task.cancelled():
        task.exception()


def _scrub(model: Any) -> Any:
    """Mask any registered secret a plugin let slip into a result's text (by value: masking
    the serialised JSON let a short secret rename a field and break the result)."""
    return redact.scrub_model(model)


# ---------------------------------------------------------------------- the default

_default: IntegrationManager | None = None


def get_manager() -> IntegrationManager:
    """The process-wide manager (created on first use)."""
    global _default
    if _default is None:
        _default = IntegrationManager()
    return _default


def set_manager(manager: IntegrationManager | None) -> None:
    """Replace the process-wide manager (tests, the sandbox); ``None`` resets it."""
    global _default
    _default = manager
