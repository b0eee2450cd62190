"""The conformance checks that need no emulator: plugin metadata, the credentials model, leaks,
serialisation and records. Each returns a list of problems, each saying what to fix.

Kept apart from the pytest class so that a plugin author (or ``devtrack plugin new``'s tests)
can call them directly, and so they stay plain functions over plain values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ..integrations.contract import (
    ConnectionResult,
    Credentials,
    FieldKind,
    Integration,
    IntegrationData,
    Records,
)

__all__ = [
    "metadata_problems",
    "credentials_problems",
    "secret_values",
    "leak_problems",
    "serialise_problems",
    "record_problems",
    "result_type_problem",
]

ID_RE = re.compile(r"[a-z][a-z0-9-]{1,38}[a-z0-9]")
#: Field names that hold a secret whatever the plugin calls them.
SECRET_NAME_HINTS = ("token", "secret", "password", "api_key", "apikey", "private_key")


def metadata_problems(plugin: type[Integration]) -> list[str]:
    """The class attributes every plugin declares, and the shape ``integrations list`` needs."""
    out: list[str] = []
    pid = getattr(plugin, "id", None)
    if not isinstance(pid, str) or not ID_RE.fullmatch(pid):
        out.append(f"id {pid!r} is not a plugin id: set `id` to lower-case letters, digits and "
                   "dashes (3–40 characters, e.g. 'netlify'); it is the entry point name too")
    for attr in ("name", "description"):
        value = getattr(plugin, attr, None)
        if not isinstance(value, str) or not value.strip():
            out.append(f"`{attr}` is missing or empty: set it to the text `devtrack integrations list` shows")
    docs = getattr(plugin, "docs_url", "")
    if not (isinstance(docs, str) and docs.startswith("https://")):
        out.append(f"docs_url {docs!r} is not an https URL: link the vendor's API documentation")
    guide = getattr(plugin, "setup_guide", "")
    if not (isinstance(guide, str) and guide.strip()):
        out.append("`setup_guide` is empty: say where the user creates the credentials "
                   "(the settings page shows it)")
    deadline = getattr(plugin, "deadline", None)
    if not isinstance(deadline, int | float) or not 0 < deadline <= 60:
        out.append(f"deadline {deadline!r} must be a number of seconds in (0, 60]")
    model = getattr(plugin, "credentials_model", None)
    if not (isinstance(model, type) and issubclass(model, Credentials)):
        out.append("`credentials_model` must be a subclass of devtrack.integrations.contract.Credentials")
    else:
        out += credentials_problems(model)
    try:
        import json

        json.dumps(plugin.describe())
    except Exception as exc:  # a non-JSON value in the metadata
        out.append(f"describe() is not JSON-serialisable ({type(exc).__name__}: {exc}): keep metadata plain strings")
    return out


def credentials_problems(model: type[Credentials]) -> list[str]:
    """Secret fields are ``SecretStr``; every field has a kind, a label and help."""
    out: list[str] = []
    try:
        fields = model.fields()
    except Exception as exc:
        return [f"{model.__name__}.fields() failed ({type(exc).__name__}: {exc}): declare every field "
                "with devtrack.integrations.contract.field(label=..., kind=...)"]
    if model.model_config.get("extra") != "forbid":
        out.append(f"{model.__name__} accepts unknown fields: keep the base's model_config (extra='forbid')")
    for f in fields:
        info = model.model_fields[f.key]
        where = f"{model.__name__}.{f.key}"
        if not isinstance(info.json_schema_extra, dict) or "kind" not in info.json_schema_extra:
            out.append(f"{where} is a bare pydantic field: declare it with field(label=..., kind=FieldKind...., help=...)")
            continue
        looks_secret = any(h in f.key.lower() for h in SECRET_NAME_HINTS) or f.kind == FieldKind.TOKEN
        if looks_secret and not f.secret:
            out.append(f"{where} holds a secret but is typed {info.annotation!r}: annotate it "
                       "`SecretStr | None` so it is hidden, masked and redacted everywhere")
        if f.secret and f.kind not in (FieldKind.TOKEN, FieldKind.TEXT):
            out.append(f"{where} is secret but of kind {f.kind.value!r}: use FieldKind.TOKEN")
        if not f.label.strip() or f.label == f.key:
            out.append(f"{where} has no label: give field(label='…') the words the form shows")
        if not f.help.strip():
            out.append(f"{where} has no help: say where the user finds this value (field(help='…'))")
        if f.kind == FieldKind.CHOICE and not f.choices:
            out.append(f"{where} is a choice with no choices: pass field(choices=[...])")
        if f.secret and info.default is not None:
            out.append(f"{where} has a default value: a secret can never have one")
    return out


def secret_values(creds: Credentials) -> dict[str, str]:
    """Each secret field's value (the plain text a leak would show), by field key."""
    return {k: v for k in sorted(creds.secret_keys()) if (v := creds.value(k))}


def _forms(secret: str) -> set[str]:
    from ..redact import encoded_forms

    return {f for f in encoded_forms(secret) | {secret} if len(f) >= 4}


def leak_problems(secrets: Mapping[str, str], texts: Iterable[tuple[str, str]], call: str) -> list[str]:
    """Every (where, text) holding a secret, plain or encoded, as a problem naming the field."""
    out: list[str] = []
    forms = {form: key for key, value in secrets.items() for form in _forms(value)}
    for where, text in texts:
        for form, key in forms.items():
            if form in text:
                fix = {
                    "result": "never put credentials in messages or details (say which field is "
                              "wrong, not its value)",
                    "logs": "never log credentials; log the field name, or mask with devtrack.redact.mask()",
                    "URLs": "send the secret in a header (Authorization), never in the path or query",
                }[where.split(" ", 1)[0]]
                out.append(f"{call} leaked the secret credential {key!r} into its {where}: {fix}")
                break
    return out


def serialise_problems(result: BaseModel, call: str) -> list[str]:
    """A result must round-trip through JSON: it is stored, served and shown from that."""
    try:
        text = result.model_dump_json()
        again = type(result).model_validate_json(text)
    except Exception as exc:
        return [f"{call}'s result does not serialise ({type(exc).__name__}: {str(exc)[:200]}): "
                "keep details and extra record fields to JSON values (str, int, float, bool, lists, dicts)"]
    if again.model_dump(mode="json") != result.model_dump(mode="json"):
        return [f"{call}'s result changes when read back from JSON: keep extra fields to plain JSON values"]
    return []


def record_problems(data: IntegrationData) -> list[str]:
    """Records are instances of the typed record models, validate again, with aware times."""
    out: list[str] = []
    if not isinstance(data.records, Records):
        return ["get_data's records are not a devtrack.integrations.contract.Records"]
    fields = Records.model_fields
    for kind in fields:
        items = getattr(data.records, kind)
        model = fields[kind].annotation.__args__[0]  # type: ignore[union-attr]
        for i, item in enumerate(items):
            where = f"records.{kind}[{i}]"
            if not isinstance(item, model):
                out.append(f"{where} is a {type(item).__name__}, not a {model.__name__}: build it with "
                           f"{model.__name__}(...) from devtrack.integrations.contract")
                continue
            try:
                model.model_validate(item.model_dump(mode="json"))
            except Exception as exc:
                out.append(f"{where} does not validate as {model.__name__} "
                           f"({str(exc).splitlines()[0][:160]}): fill its fields with the declared types")
                continue
            for name, value in item:
                if isinstance(value, datetime) and value.tzinfo is None:
                    out.append(f"{where}.{name} is a naive datetime: give it a time zone "
                               "(datetime.fromtimestamp(x, tz=timezone.utc)) so records sort across plugins")
    for i, event in enumerate(data.events):
        if event.time is not None and event.time.tzinfo is None:
            out.append(f"events[{i}].time is a naive datetime: give it a time zone")
    return out


def result_type_problem(out: Any, call: str) -> str | None:
    want = ConnectionResult if call == "test_connection" else IntegrationData
    if isinstance(out, want):
        return None
    return f"{call} returned {type(out).__name__}, not a {want.__name__}: return {want.__name__}(...)" + (
        "" if call == "test_connection" else " (or IntegrationData.failed(result) on a failure)")
