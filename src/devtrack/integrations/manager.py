"""The integration manager: the one place that joins the registry, the store and the plugins.

Everything is addressed by connection id (see :mod:`.connections`): ``vercel`` is the plugin's
default connection, ``vercel:acme`` a named one, so a plain plugin id works everywhere it
did. It owns no HTTP or file details. Each call to a plugin runs under that plugin's deadline and
inside a guard, so a slow or broken plugin yields a classified result for itself and never
disturbs the others.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from .. import redact, secretrefs, secretstore
from ..text import control_char_problem as control_char_problem  # re-exported: its old home
from ..credentials import CredentialStore, Doc
from . import connections
from .connections import CONNECTION, InvalidConnectionId
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
from .registry import Registry, UnknownIntegration, default_registry

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

#: A hook run inside the same atomic write as a credential change: (manager, doc, connection id).
SaveHook = Callable[["IntegrationManager", Doc, str], None]


class CredentialsInvalid(ValueError):
    """Credentials failed validation; ``errors`` maps field keys to messages."""

    def __init__(self, plugin_id: str, errors: dict[str, str]) -> None:
        self.plugin_id = plugin_id
        self.errors = errors
        detail = "; ".join(f"{k}: {v}" if k else v for k, v in errors.items())
        super().__init__(f"invalid credentials for {plugin_id}: {detail}")


class SecretUnavailable(CredentialsInvalid):
    """A secret reference that cannot be resolved now; each message names the reference and
    says what to do (a ``config`` result, never the value)."""

    def __init__(self, plugin_id: str, errors: dict[str, str]) -> None:
        super().__init__(plugin_id, errors)
        detail = "; ".join(errors.values())
        Exception.__init__(self, f"cannot read a secret of {plugin_id}: {detail}")


class UnknownConnection(UnknownIntegration):
    """A named connection that does not exist (its plugin does); suggests the nearest one."""

    def __str__(self) -> str:
        from ..text import did_you_mean

        cid = self.plugin_id
        plugin_id, _ = connections.parse(cid)
        guess = did_you_mean(cid, [k for k in self.known if connections.SEP in k])
        if any(k == plugin_id for k in self.known):  # the plugin exists: the connection can be made
            create = f"create it with: devtrack integrations set {cid} FIELD=VALUE"
            if guess:
                return f"unknown connection {cid!r}; did you mean {guess!r}? Or {create}"
            return f"unknown connection {cid!r}; {plugin_id} has: {', '.join(self.known)}; {create}"
        if guess:
            return f"unknown connection {cid!r}; did you mean {guess!r}?"
        return f"unknown connection {cid!r}: there is no integration {plugin_id!r}"


class DefaultConnection(ValueError):
    """The default connection was asked to be removed: it is the plugin's own, it can only be
    emptied (``unset``)."""


class ConnectionStatus(BaseModel):
    """One connection of a plugin, as ``integrations list`` shows it."""

    id: str
    name: str | None
    label: str
    enabled: bool
    configured: bool
    last_tested: datetime | None
    test_result: ConnectionResult | None


class PluginStatus(BaseModel):
    """What ``integrations list`` shows for one plugin (the row-level state is its default
    connection's, as before connections), or ``show`` for one connection (``id`` is then the
    connection id). ``connections`` lists every connection of the plugin, the default first."""

    id: str
    name: str
    description: str
    docs_url: str
    enabled: bool
    configured: bool
    last_tested: datetime | None
    test_result: ConnectionResult | None
    fields: list[CredentialField]
    plugin: str = ""
    label: str = ""
    connections: list[ConnectionStatus] = Field(default_factory=list)


@dataclass(frozen=True)
class Saved:
    """What a save did: the credentials as saved, and the secrets it cleared.

    ``cleared`` holds the secret fields removed because a destination they were entered for
    (a URL or host field) changed and no new value came with the change.
    """

    credentials: Credentials
    cleared: list[str] = field(default_factory=list)
    #: What the user should hear: a secret kept in the file because no keychain answered.
    warnings: list[str] = field(default_factory=list)


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


def _usable(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """Stored values as the model takes them: literals unescaped, references as their text
    (no secret field validates its form, so a reference's text stands in for its value)."""
    return {k: v if v is None or secretrefs.is_reference(v) else secretrefs.literal(v) for k, v in values.items()}


def _reference_problem(f: CredentialField, value: str) -> str | None:
    """Why an entered reference is refused: malformed, or given for a field that is no secret."""
    if not secretrefs.is_reference(value):
        return None
    if not f.masked:
        return (f"{f.label} takes the value itself: references (env:, file:, op://, keyring:) are for "
                f"secret fields; to store this text as it is, write plain:{value}")
    return secretrefs.problem(value)


def env_key(cid: str, field_key: str) -> str:
    """The environment variable that overrides one field of a connection:
    ``DEVTRACK_<PLUGIN>_<FIELD>`` for the default one, ``DEVTRACK_<PLUGIN>__<NAME>__<FIELD>``
    for a named one (see :func:`.connections.env_key`)."""
    plugin_id, name = connections.parse(cid)
    return connections.env_key(plugin_id, name, field_key)


class IntegrationManager:
    """Lists, configures, tests and fetches connections of integrations."""

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
        #: Run after such a write is durable, with the connection id (to react to the change).
        self.saved_hooks: list[Callable[[str], None]] = []
        self._instances: dict[str, Integration] = {}

    # ------------------------------------------------------------------ plugins and connections

    def ids(self) -> list[str]:
        """Plugin ids, in registry order."""
        return self.registry.ids()

    def plugin_of(self, cid: str) -> str:
        """The plugin id of a connection id (``vercel:acme`` -> ``vercel``), checked to exist."""
        plugin_id, _ = connections.parse(cid)
        self.registry.get(plugin_id)
        return plugin_id

    def plugin_class(self, cid: str) -> type[Integration]:
        """The plugin class of a connection id (a plain plugin id is its default connection)."""
        return self.registry.get(connections.parse(cid)[0])

    def plugin(self, cid: str) -> Integration:
        """The plugin instance serving one connection (each connection has its own)."""
        inst = self._instances.get(cid)
        if inst is None:
            inst = self._instances[cid] = self.plugin_class(cid)()
        return inst

    def deadline(self, cid: str) -> float:
        if self.deadline_override is not None:
            return self.deadline_override
        raw = self.environ.get("DEVTRACK_DEADLINE")
        if raw:
            try:
                return float(raw)
            except ValueError:
                pass
        return float(self.plugin_class(cid).deadline)

    def connection_names(self, plugin_id: str, doc: Doc | None = None) -> list[str]:
        """Names of a plugin's named connections, sorted."""
        doc = doc if doc is not None else self.store.read()
        entry = doc["integrations"].get(plugin_id) or {}
        return sorted(entry.get("connections") or {})

    def connection_ids(self, plugin_id: str | None = None, doc: Doc | None = None) -> list[str]:
        """Every connection: per plugin (registry order) the default first, then named, sorted."""
        doc = doc if doc is not None else self.store.read()
        plugins = [self.plugin_of(plugin_id)] if plugin_id is not None else self.ids()
        return [
            connections.connection_id(p, n)
            for p in plugins for n in [None, *self.connection_names(p, doc)]
        ]

    def exists(self, cid: str, doc: Doc | None = None) -> bool:
        """Whether a connection exists: a default one always does (its plugin being known)."""
        plugin_id, name = connections.parse(cid)
        self.registry.get(plugin_id)
        return name is None or name in self.connection_names(plugin_id, doc)

    def require(self, cid: str, doc: Doc | None = None) -> str:
        """``cid`` if the connection exists, else :class:`UnknownConnection` (or
        :class:`UnknownIntegration`, :class:`InvalidConnectionId`) naming the nearest ones."""
        plugin_id, _ = connections.parse(cid)
        if plugin_id not in self.registry:
            if ":" in cid:  # a mistyped plugin in a connection id: suggest whole connection ids
                raise UnknownConnection(cid, self.connection_ids(doc=doc))
            raise UnknownIntegration(plugin_id, self.ids())
        if not self.exists(cid, doc):
            raise UnknownConnection(cid, self.connection_ids(plugin_id, doc))
        return cid

    def label(self, cid: str) -> str:
        """"Vercel" for the default connection, "Vercel · acme" for a named one."""
        return connections.label(cid, self.plugin_class(cid).name)

    # ------------------------------------------------------------------ credentials

    @staticmethod
    def _entry(doc: Doc, cid: str) -> dict[str, Any]:
        """A connection's entry in ``doc``, created (with its plugin's) when missing."""
        plugin_id, name = connections.parse(cid)
        entry = doc["integrations"].setdefault(plugin_id, {"enabled": True, "credentials": {}})
        if name is None:
            return entry  # type: ignore[no-any-return]
        return entry.setdefault("connections", {}).setdefault(  # type: ignore[no-any-return]
            name, {"enabled": True, "credentials": {}}
        )

    @staticmethod
    def _find(doc: Doc, cid: str) -> dict[str, Any] | None:
        """A connection's entry in ``doc``, or ``None``."""
        plugin_id, name = connections.parse(cid)
        entry = doc["integrations"].get(plugin_id)
        if entry is None or name is None:
            return entry  # type: ignore[no-any-return]
        return (entry.get("connections") or {}).get(name)  # type: ignore[no-any-return]

    def stored_credentials(self, cid: str, doc: Doc | None = None) -> dict[str, str]:
        doc = doc if doc is not None else self.store.read()
        entry = self._find(doc, cid) or {}
        creds = entry.get("credentials") or {}
        return {k: str(v) for k, v in creds.items() if v not in (None, "")}

    def env_sources(self, cid: str) -> dict[str, str]:
        """Field key -> the environment variable overriding it for this connection, for the
        fields that have one set. A named connection reads its own variables; of the
        plugin-wide ones only ``DEVTRACK_<PLUGIN>_BASE_URL`` applies to it, and only when it
        has no ``DEVTRACK_<PLUGIN>__<NAME>__BASE_URL`` of its own."""
        plugin_id, name = connections.parse(cid)
        model = self.plugin_class(cid).credentials_model
        out: dict[str, str] = {}
        for f in model.fields():
            keys = [connections.env_key(plugin_id, name, f.key)]
            if name is not None and f.key == "base_url":
                keys.append(connections.env_key(plugin_id, None, f.key))
            found = next((k for k in keys if self.environ.get(k)), None)
            if found:
                out[f.key] = found
        return out

    def env_overrides(self, cid: str) -> dict[str, str]:
        return {k: self.environ[var] for k, var in self.env_sources(cid).items()}

    def _build(self, cid: str, values: Mapping[str, str | None]) -> Credentials:
        model = self.plugin_class(cid).credentials_model
        known = {f.key for f in model.fields()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CredentialsInvalid(
                cid,
                {k: f"unknown field (known: {', '.join(sorted(known)) or 'none'})" for k in unknown},
            )
        clean = {k: v for k, v in values.items() if v not in (None, "")}
        # Masked identifiers too: shown only by their tail, they must not appear whole elsewhere.
        redact.register(
            clean[f.key] for f in model.fields()  # type: ignore[misc]
            if f.masked and f.key in clean and not secretrefs.is_reference(clean[f.key])
        )
        controls = {
            f.key: problem for f in model.fields()
            if f.key in clean and (problem := control_char_problem(f.label, str(clean[f.key])))
        }
        if controls:
            raise CredentialsInvalid(cid, controls)
        try:
            return model(**clean)
        except ValidationError as exc:
            errors: dict[str, str] = {}
            for err in exc.errors():
                key = str(err["loc"][0]) if err["loc"] else ""
                msg = str(err["msg"]).removeprefix("Value error, ")
                errors[key] = msg
            raise CredentialsInvalid(cid, errors) from None

    def credentials(self, cid: str, doc: Doc | None = None, resolve: bool = True) -> Credentials:
        """Stored credentials with environment overrides applied (never written back).

        Secret references are resolved now (``resolve``), or kept as their text, which counts
        as a value, for questions such as "is it configured" that must not run ``op`` or ask
        the keychain. A reference that cannot be resolved raises :class:`SecretUnavailable`.
        """
        overrides = self.env_overrides(cid)
        values: dict[str, str | None] = {}
        errors: dict[str, str] = {}
        for key, stored in self.stored_credentials(cid, doc).items():
            if key in overrides:
                continue  # the environment wins: its reference is neither read nor needed
            ref = secretrefs.parse(stored)
            if ref is None:
                values[key] = secretrefs.literal(stored)
            elif not resolve:
                values[key] = stored
            else:
                try:
                    values[key] = secretrefs.resolve(ref, self.environ)
                except secretrefs.Unresolvable as exc:
                    errors[key] = str(exc)
        if errors:
            raise SecretUnavailable(cid, errors)
        values.update(overrides)
        return self._build(cid, values)

    def sources(self, cid: str, doc: Doc | None = None) -> dict[str, str]:
        """Field key -> where its value comes from, in words (never the value): ``stored``,
        ``from env:VERCEL_TOKEN`` (a reference), ``env override DEVTRACK_VERCEL_TOKEN``."""
        out = {k: (ref.shown() if (ref := secretrefs.parse(v)) else "stored")
               for k, v in self.stored_credentials(cid, doc).items()}
        out.update({k: f"env override {var}" for k, var in self.env_sources(cid).items()})
        return out

    def secret_locator(self) -> secretstore.Locator:
        """The locator of every connection's secret fields, for :mod:`..secret_move`."""
        def locate(doc: Doc) -> Iterable[secretstore.Location]:
            for plugin_id in self.ids():
                secret = [f.key for f in self.registry.get(plugin_id).credentials_model.fields() if f.secret]
                for cid in self.connection_ids(plugin_id, doc):
                    _, name = connections.parse(cid)
                    base = ("integrations", plugin_id) + (() if name is None else ("connections", name))
                    for key in secret:
                        yield secretstore.Location((*base, "credentials", key), f"{cid} {key}", f"{cid}/{key}")
        return locate

    def validate(
        self, cid: str, values: Mapping[str, str | None], may_miss: Iterable[str] = ()
    ) -> Credentials:
        """Validate a merged set of values as ``set`` would, without saving anything.

        ``may_miss``: required fields a save is allowed to leave empty (secrets it cleared).
        """
        creds = self._build(cid, values)
        allowed = set(may_miss)
        missing = [k for k in creds.missing() if k not in allowed]
        if missing:
            fields = {f.key: f for f in creds.fields()}
            raise CredentialsInvalid(
                cid, {k: f"{fields[k].label} is required" for k in missing}
            )
        return creds

    def set_credentials(self, cid: str, values: Mapping[str, str | None]) -> Credentials:
        """:meth:`save_credentials`, for callers that need only the saved credentials."""
        return self.save_credentials(cid, values).credentials

    def save_credentials(self, cid: str, values: Mapping[str, str | None]) -> Saved:
        """Merge ``values`` into the stored credentials; a blank value keeps the stored one.

        Saving to a named connection that does not exist yet creates it. The merged result
        (with environment overrides, as it will be used) is validated before anything is
        written; invalid input raises :class:`CredentialsInvalid`.
        A changed destination (URL or host field) clears the stored secrets bound to it,
        unless new ones are given in the same save; :attr:`Saved.cleared` names them.
        Environment overrides are never stored, so they move and clear nothing.
        """
        model = self.plugin_class(cid).credentials_model
        known = {f.key for f in model.fields()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CredentialsInvalid(
                cid, {k: f"unknown field (known: {', '.join(sorted(known))})" for k in unknown}
            )
        fields = {f.key: f for f in model.fields()}
        values = {k: (v.strip() if isinstance(v, str) and secretrefs.is_reference(v.strip()) else v)
                  for k, v in values.items()}
        refused = {k: p for k, v in values.items() if v and (p := _reference_problem(fields[k], v))}
        if refused:
            raise CredentialsInvalid(cid, refused)
        result: list[Saved] = []
        dropped: set[str] = set()

        def change(doc: Doc) -> None:
            before = self.stored_credentials(cid, doc)
            given = {k: v for k, v in values.items() if v not in (None, "")}
            merged: dict[str, str | None] = {**before, **given}
            cleared = left_behind(model.fields(), before, merged, given)
            for key in cleared:
                merged.pop(key)
            self.validate(cid, {**_usable(merged), **self.env_overrides(cid)}, may_miss=cleared)
            stored = {k: v for k, v in merged.items() if v not in (None, "")}
            creds = self._build(cid, _usable(stored))
            warnings = self._to_keychain(doc, cid, {k: v for k, v in given.items() if fields[k].secret}, stored)
            entry = self._entry(doc, cid)
            entry["credentials"] = stored
            entry.setdefault("enabled", True)
            entry.pop("test_result", None)
            entry.pop("last_tested", None)
            self._run_hooks(doc, cid)
            dropped.update(self._dropped(doc, before.values()))
            result.append(Saved(creds, cleared, warnings))

        self.store.update(change)
        self._forget(dropped)
        self._instances.pop(cid, None)
        self._saved(cid)
        if result[0].cleared:
            log.info("%s: cleared %s, entered for a destination that changed",
                     cid, ", ".join(result[0].cleared))
        return result[0]

    def _to_keychain(self, doc: Doc, cid: str, given: Mapping[str, str | None],
                     stored: dict[str, str]) -> list[str]:
        """With the keychain preferred, put the literal secrets just ``given`` there (changing
        ``stored`` to their references); where no keychain answers, they stay in ``stored``
        and the returned warning says so."""
        literal = {k: v for k, v in given.items() if v and k in stored and not secretrefs.is_reference(v)}
        if not literal or secretstore.preference(doc) != "keyring":
            return []
        from .. import keychain

        for key, value in literal.items():
            acct = f"{cid}/{key}@{secretstore.file_id(doc)}"
            try:
                keychain.put(acct, secretrefs.literal(value))
            except keychain.KeychainUnavailable as exc:
                kept = ", ".join(k for k in literal if not secretrefs.is_reference(stored[k]))
                return [f"{redact.safe_str(exc)}: kept {cid} {kept} in {self.store.path} instead of the keychain; "
                        "move it there later with: devtrack integrations move-secrets --to keyring"]
            stored[key] = "keyring:" + acct
        return []

    def _dropped(self, doc: Doc, before: Iterable[str]) -> set[str]:
        """DevTrack's own keychain entries among the ``before`` values that ``doc`` no longer
        points to (to delete once ``doc`` is written)."""
        own = {ref.target for v in before if (ref := secretrefs.parse(v)) and ref.kind == "keyring"
               and secretstore.is_own(doc, ref.target)}
        if not own:
            return set()
        return own - secretstore.referenced_accounts(doc, [self.secret_locator()])

    def _forget(self, accounts: Iterable[str]) -> None:
        """Delete keychain entries nothing points to any more (best effort: an orphan holds a
        secret, but only where it already was)."""
        accounts = sorted(accounts)
        if not accounts:
            return
        from .. import keychain

        for acct in accounts:
            try:
                keychain.delete(acct)
            except keychain.KeychainUnavailable as exc:
                log.warning("could not remove %s from the keychain: %s", acct, redact.safe_str(exc))

    def unset(self, cid: str, keys: Iterable[str] | None = None) -> list[str]:
        """Remove some fields, or (no keys) all of a connection's stored credentials.

        Removing a destination field moves its secrets to the service's default host, so the
        secrets bound to it go too; they are returned (beyond the ``keys`` asked for).
        A named connection stays (empty) until :meth:`remove_connection`.
        """
        model = self.plugin_class(cid).credentials_model
        self.require(cid)
        keys = list(keys or [])
        known = {f.key for f in model.fields()}
        bad = [k for k in keys if k not in known]
        if bad:
            raise CredentialsInvalid(cid, {k: "unknown field" for k in bad})
        also: list[str] = []

        def change(doc: Doc) -> None:
            entry = self._find(doc, cid)
            if entry is None:
                return
            before = self.stored_credentials(cid, doc)
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
            self._run_hooks(doc, cid)
            dropped.update(self._dropped(doc, before.values()))

        dropped: set[str] = set()
        self.store.update(change)
        self._forget(dropped)
        self._instances.pop(cid, None)
        self._saved(cid)
        return also

    def remove_connection(self, cid: str) -> None:
        """Delete a named connection: its credentials, switch and test record.

        The default connection is the plugin's own and cannot be removed (``unset`` empties it).
        """
        plugin_id, name = connections.parse(cid)
        self.plugin_of(cid)
        if name is None:
            raise DefaultConnection(
                f"{cid} is the default connection of {self.plugin_class(cid).name} and cannot be removed; "
                f"to delete its stored credentials run: devtrack integrations unset {cid}"
            )

        dropped: set[str] = set()

        def change(doc: Doc) -> None:
            self.require(cid, doc)
            before = self.stored_credentials(cid, doc)
            named = doc["integrations"][plugin_id]["connections"]
            del named[name]
            if not named:
                del doc["integrations"][plugin_id]["connections"]
            self._run_hooks(doc, cid)
            dropped.update(self._dropped(doc, before.values()))

        self.store.update(change)
        self._forget(dropped)
        self._instances.pop(cid, None)
        self._saved(cid)

    def set_enabled(self, cid: str, enabled: bool) -> None:
        self.plugin_class(cid)
        self.require(cid)

        def change(doc: Doc) -> None:
            self.require(cid, doc)
            self._entry(doc, cid)["enabled"] = enabled
            self._run_hooks(doc, cid)

        self.store.update(change)
        self._saved(cid)

    def _run_hooks(self, doc: Doc, cid: str) -> None:
        for hook in self.save_hooks:
            hook(self, doc, cid)

    def _saved(self, cid: str) -> None:
        for hook in list(self.saved_hooks):
            try:
                hook(cid)
            except Exception as exc:  # a listener must not undo a save that happened
                log.warning("a listener of %s's credentials failed: %s", cid, redact.safe_str(exc))

    def masked(self, cid: str, doc: Doc | None = None) -> dict[str, str]:
        """Stored values for display: secrets and masked identifiers masked, the rest as they are."""
        model = self.plugin_class(cid).credentials_model
        stored = self.stored_credentials(cid, doc)
        out: dict[str, str] = {}
        for f in model.fields():
            if f.key in stored:
                ref = secretrefs.parse(stored[f.key])
                out[f.key] = ref.shown() if ref else f.shown(secretrefs.literal(stored[f.key]))
        return out

    # ------------------------------------------------------------------ status

    def is_enabled(self, cid: str, doc: Doc | None = None) -> bool:
        doc = doc if doc is not None else self.store.read()
        entry = self._find(doc, cid) or {}
        return bool(entry.get("enabled", True))

    def is_configured(self, cid: str, doc: Doc | None = None) -> bool:
        try:
            return self.credentials(cid, doc, resolve=False).is_configured()
        except CredentialsInvalid:
            # Values were given but do not validate (a token with a line break from the
            # environment, say): count it as configured, so refreshes and the dashboard report
            # the config error instead of skipping the connection without a word.
            return bool(self.stored_credentials(cid, doc) or self.env_overrides(cid))

    def connection_status(self, cid: str, doc: Doc | None = None) -> ConnectionStatus:
        doc = doc if doc is not None else self.store.read()
        entry = self._find(doc, cid) or {}
        result = entry.get("test_result")
        try:
            tested = ConnectionResult.model_validate(result) if result else None
        except ValidationError:  # a hand-edited record of a past test: shown as never tested
            tested = None
        when = entry.get("last_tested")  # the store checked it reads as an ISO date and time
        return ConnectionStatus(
            id=cid,
            name=connections.parse(cid)[1],
            label=self.label(cid),
            enabled=self.is_enabled(cid, doc),
            configured=self.is_configured(cid, doc),
            last_tested=datetime.fromisoformat(when) if when else None,
            test_result=tested,
        )

    def status(self, cid: str, doc: Doc | None = None) -> PluginStatus:
        """One plugin's row (a plugin id), or one connection's (a connection id)."""
        doc = doc if doc is not None else self.store.read()
        cls = self.plugin_class(cid)
        own = self.connection_status(cid, doc)
        return PluginStatus(
            id=cid,
            name=cls.name,
            description=cls.description,
            docs_url=cls.docs_url,
            enabled=own.enabled,
            configured=own.configured,
            last_tested=own.last_tested,
            test_result=own.test_result,
            fields=cls.credentials_model.fields(),
            plugin=cls.id,
            label=own.label,
            connections=[
                own if c == cid else self.connection_status(c, doc) for c in self.connection_ids(cls.id, doc)
            ],
        )

    def statuses(self) -> list[PluginStatus]:
        doc = self.store.read()
        return [self.status(i, doc) for i in self.ids()]

    # ------------------------------------------------------------------ calling plugins

    async def _guarded(self, cid: str, call: str, doc: Doc | None = None) -> ConnectionResult | IntegrationData:
        """Run one plugin call under its deadline; every failure becomes a result. ``doc``: the
        store as read once for a batch (each call reading it made a batch of n cost n reads)."""
        import asyncio  # here, not at the top: listing never needs it
        name = cid
        try:
            name = self.label(cid)
            creds = self.credentials(cid, doc)
            missing = creds.missing()
            if missing:
                labels = {f.key: f.label for f in creds.fields()}
                return ConnectionResult.failure(
                    ResultKind.CONFIG,
                    f"{name} is not configured: missing {', '.join(labels[k] for k in missing)}. "
                    f"Set it with: devtrack integrations set {cid} {missing[0]}=…",
                    missing=missing,
                )
            plugin = self.plugin(cid)
            method = plugin.test_connection if call == "test" else plugin.get_data
            budget = self.deadline(cid)
            token = DEADLINE.set(time.monotonic() + budget)
            which = CONNECTION.set(cid)
            try:
                task = asyncio.ensure_future(method(creds))  # carries DEADLINE, CONNECTION in its context
            finally:
                CONNECTION.reset(which)
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
        except (UnknownIntegration, InvalidConnectionId) as exc:
            return ConnectionResult.failure(ResultKind.CONFIG, redact.safe_str(exc))
        except TimeoutError:
            return ConnectionResult.failure(
                ResultKind.TIMEOUT,
                f"{name} did not answer within {self.deadline(cid):g}s.",
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a plugin broke its promise: still a result, logged once
            log.error("%s %s raised: %s", cid, call, redact.format_exception(exc))
            return ConnectionResult.failure(
                ResultKind.ERROR, f"{name} failed unexpectedly: {redact.safe_str(exc)}"
            )

    async def test(self, cid: str, record: bool = True, doc: Doc | None = None) -> ConnectionResult:
        """Test one connection; the result and time are recorded in the store."""
        import asyncio  # here, not at the top: listing never needs it
        loop = asyncio.get_running_loop()
        started = loop.time()
        out = await self._guarded(cid, "test", doc)
        result = out if isinstance(out, ConnectionResult) else ConnectionResult.failure(
            ResultKind.ERROR, "test_connection returned data instead of a result"
        )
        if not result.elapsed_ms:
            result = result.model_copy(update={"elapsed_ms": round((loop.time() - started) * 1000, 1)})
        result = _scrub(result)
        if record:
            await asyncio.to_thread(self._record, cid, result)
        return result

    def _record(self, cid: str, result: ConnectionResult) -> None:
        self._record_many([(cid, result)])

    async def test_many(self, ids: Iterable[str] | None = None) -> list[tuple[str, ConnectionResult]]:
        """Test connections concurrently (default: every connection); ``(id, result)`` pairs."""
        import asyncio  # here, not at the top: listing never needs it
        doc = await asyncio.to_thread(self._batch_doc)
        ids = list(ids) if ids is not None else await asyncio.to_thread(self.connection_ids, doc=doc)
        results = await asyncio.gather(*(self.test(i, record=False, doc=doc) for i in ids))
        await asyncio.to_thread(self._record_many, list(zip(ids, results)))
        return list(zip(ids, results))

    def _record_many(self, pairs: list[tuple[str, ConnectionResult]]) -> None:
        """Record test results; a named connection removed meanwhile is not brought back."""

        def change(doc: Doc) -> None:
            now = utcnow().isoformat()
            for cid, result in pairs:
                try:
                    plugin_id, name = connections.parse(cid)
                except InvalidConnectionId:
                    continue
                entry = self._entry(doc, cid) if name is None else self._find(doc, cid)
                if entry is None:
                    continue
                entry["last_tested"] = now
                entry["test_result"] = result.model_dump(mode="json")

        try:
            self.store.update(change)
        except Exception as exc:  # recording is best effort; the result still stands
            log.warning("could not record test results: %s", redact.safe_str(exc))

    async def fetch(self, cid: str, doc: Doc | None = None) -> IntegrationData:
        """Fetch one connection's data; a failure is returned in ``error``, never raised.

        The answer carries the connection id as ``id`` and the plugin id as ``plugin``.
        """
        out = await self._guarded(cid, "data", doc)
        if isinstance(out, ConnectionResult):
            data = IntegrationData.failed(out)
        else:
            data = out
        try:
            plugin_id = connections.parse(cid)[0]
        except InvalidConnectionId:
            plugin_id = cid
        return _scrub(data.model_copy(update={"id": cid, "plugin": plugin_id}))

    def fetchable(self, doc: Doc | None = None) -> list[str]:
        """Ids of the enabled and configured connections: plugins in registry order, each
        plugin's default connection first, then its named ones."""
        doc = doc if doc is not None else self.store.read()
        return [c for c in self.connection_ids(doc=doc) if self.is_enabled(c, doc) and self.is_configured(c, doc)]

    async def fetch_many(self, ids: Iterable[str] | None = None) -> list[IntegrationData]:
        import asyncio  # here, not at the top: listing never needs it
        doc = await asyncio.to_thread(self._batch_doc)
        ids = list(ids) if ids is not None else await asyncio.to_thread(self.fetchable, doc)
        return list(await asyncio.gather(*(self.fetch(i, doc) for i in ids)))

    def _batch_doc(self) -> Doc | None:
        """The store, read once for a batch; ``None`` when it cannot be read, so that each
        connection reads it again and reports the problem as its own result."""
        try:
            return self.store.read()
        except Exception:
            return None


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
