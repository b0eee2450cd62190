"""``devtrack integrations list [--json]`` without typer, pydantic or the plugin modules.

Listing is the command scripts call most, and the full command tree, the plugins' pydantic
models and rich cost several times Python's own start-up. This module answers from the light
metadata (:mod:`devtrack.integrations.catalog`) and the credentials file, repeating the
manager's rules for *enabled*, *configured* and *last test*. Wherever those rules need
something only the full path can decide (a value pydantic would have to validate, a test
record it would have to coerce, a warning to print, a third-party plugin without light
metadata, a credentials file that does not read), :func:`answer` says so and the full
command answers instead, so the output is always the full command's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import redact, secretrefs
from ..integrations import connections
from ..integrations.catalog import BUILTIN_META, ENTRY_POINT_GROUP, META_ENTRY_POINT_GROUP, PluginMeta

if TYPE_CHECKING:
    from .console import Markup

#: ``ResultKind``'s values (``contract`` imports pydantic); the catalog test checks they agree.
RESULT_KINDS = frozenset({
    "ok", "auth", "permission", "not_found", "rate_limited", "network", "timeout",
    "invalid_response", "config", "unavailable", "error",
})

#: The keys of a credential field that ``list --json`` prints, in its order.
LISTED_FIELD_KEYS = ("key", "label", "kind", "secret", "masked", "required", "help", "placeholder")


class Undecided(Exception):
    """The fast path cannot give the full command's answer; the full command must run."""


def _third_party() -> list[PluginMeta]:
    """Light metadata of the installed third-party plugins, in the registry's order (sorted by
    entry point name); :class:`Undecided` when one has none, or the registry would refuse one."""
    from importlib.metadata import entry_points

    every = entry_points()  # one scan of the installed packages for both groups
    eps = sorted(every.select(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    if not eps:
        return []
    names = [ep.name for ep in eps]
    if len(set(names)) != len(names) or set(names) & set(BUILTIN_META):
        raise Undecided("a duplicate plugin id: the registry warns about it")
    metas = {ep.name: ep for ep in every.select(group=META_ENTRY_POINT_GROUP)}
    out: list[PluginMeta] = []
    for ep in eps:
        meta_ep = metas.get(ep.name)
        if meta_ep is None:
            raise Undecided(f"{ep.name} has no light metadata")
        meta = meta_ep.load()
        if not isinstance(meta, dict) or meta.get("id") != ep.name:
            raise Undecided(f"{ep.name}'s light metadata is not its own")
        out.append(meta)
    return out


def _stored(entry: Mapping[str, Any]) -> dict[str, str]:
    creds = entry.get("credentials") or {}
    return {k: str(v) for k, v in creds.items() if v not in (None, "")}


def _env_sources(plugin_id: str, name: str | None, meta: PluginMeta, environ: Mapping[str, str]) -> dict[str, str]:
    """As :meth:`IntegrationManager.env_sources`."""
    out: dict[str, str] = {}
    for f in meta["fields"]:
        keys = [connections.env_key(plugin_id, name, f["key"])]
        if name is not None and f["key"] == "base_url":
            keys.append(connections.env_key(plugin_id, None, f["key"]))
        found = next((k for k in keys if environ.get(k)), None)
        if found:
            out[f["key"]] = found
    return out


def _complete(meta: PluginMeta, filled: set[str], environ: Mapping[str, str]) -> bool:
    """Whether valid credentials with values for ``filled`` would be configured: by the
    plugin's own rule (``configured``), else every required field has a value."""
    rule = meta.get("configured")
    if rule is None:
        if meta.get("custom_configured", True):
            raise Undecided("its own configured rule, not given as data")
        return all(f["key"] in filled for f in meta["fields"] if f["required"])
    if "needs" in rule:
        return all(any(set(alt) <= filled for alt in clause) for clause in rule["needs"])
    from importlib import import_module

    module, _, name = rule["call"].partition(":")
    return bool(getattr(import_module(module), name)(environ))


def _configured(stored: dict[str, str], overrides: dict[str, str], meta: PluginMeta,
                environ: Mapping[str, str]) -> bool:
    """As :meth:`IntegrationManager.is_configured` (``credentials(resolve=False)``), for the
    cases that need no pydantic: values that fail validation count as configured there, so only
    "a required field is empty while others have values" needs the model to tell."""
    from ..text import control_char_problem

    fields = {f["key"]: f for f in meta["fields"]}
    values: dict[str, str] = {}
    for key, raw in stored.items():
        if key not in overrides:
            values[key] = raw if secretrefs.parse(raw) else secretrefs.literal(raw)
    values.update(overrides)
    if set(values) - set(fields):
        return True  # unknown fields: invalid, so configured (it has values)
    clean = {k: v for k, v in values.items() if v not in (None, "")}
    redact.register(clean[k] for k, f in fields.items()
                    if f["masked"] and k in clean and not secretrefs.is_reference(clean[k]))
    if any(control_char_problem(fields[k]["label"], v) for k, v in clean.items()):
        return True
    if _complete(meta, {k for k, v in clean.items() if v.strip()}, environ):
        return True  # valid and complete, or invalid: configured either way
    if not clean:
        return False  # an empty model is valid: simply not configured
    raise Undecided("partly filled: only the model can say whether it validates")


def _test_result(cid: str, plugin_id: str, record: Any) -> dict[str, Any] | None:
    """A stored test record as ``list --json`` prints it, when it is plainly valid."""
    if not record:
        return None
    if not isinstance(record, dict):
        raise Undecided("a test record pydantic would have to judge")
    ok, kind, message = record.get("ok"), record.get("kind"), record.get("message")
    elapsed = record.get("elapsed_ms", 0.0)
    details = record.get("details", {})
    if (type(ok) is not bool or type(kind) is not str or kind not in RESULT_KINDS or type(message) is not str
            or type(elapsed) not in (int, float) or type(details) is not dict):
        raise Undecided("a test record pydantic would have to coerce or refuse")
    return {"id": cid, "plugin": plugin_id, "ok": ok, "status": kind, "message": message,
            "elapsed_ms": round(float(elapsed), 1), "details": details}


def _connection(doc: Mapping[str, Any], plugin_id: str, name: str | None, meta: PluginMeta,
                environ: Mapping[str, str]) -> dict[str, Any]:
    """As ``_connection_json(manager.connection_status(cid))``."""
    cid = connections.connection_id(plugin_id, name)
    entry = doc["integrations"].get(plugin_id)
    if entry is not None and name is not None:
        entry = (entry.get("connections") or {}).get(name)
    entry = entry or {}
    stored = _stored(entry)
    overrides = {k: environ[var] for k, var in _env_sources(plugin_id, name, meta, environ).items()}
    when = entry.get("last_tested")
    return {
        "id": cid,
        "name": connections.parse(cid)[1],
        "label": connections.label(cid, meta["name"]),
        "enabled": bool(entry.get("enabled", True)),
        "configured": _configured(stored, overrides, meta, environ),
        "last_tested": datetime.fromisoformat(when).isoformat() if when else None,
        "test_result": _test_result(cid, plugin_id, entry.get("test_result")),
    }


def statuses(doc: Mapping[str, Any], metas: list[PluginMeta], environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """What ``integrations list --json`` prints for ``doc``: every plugin, its connections."""
    out: list[dict[str, Any]] = []
    for meta in metas:
        pid = meta["id"]
        entry = doc["integrations"].get(pid) or {}
        conns = [_connection(doc, pid, n, meta, environ) for n in [None, *sorted(entry.get("connections") or {})]]
        own = conns[0]
        out.append({
            "id": pid,
            "plugin": pid,
            "name": meta["name"],
            "label": own["label"] or meta["name"],
            "description": meta["description"],
            "docs_url": meta["docs_url"],
            "enabled": own["enabled"],
            "configured": own["configured"],
            "last_tested": own["last_tested"],
            "test_result": own["test_result"],
            "connections": conns,
            "fields": [{k: f[k] for k in LISTED_FIELD_KEYS} for f in meta["fields"]],
        })
    return out


def answer(as_json: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Print the listing and return ``True``, or print nothing and return ``False`` when the
    full command must answer (it then gives the same output, warnings and errors)."""
    from ..credentials import CredentialStore, CredentialStoreError

    environ = os.environ if environ is None else environ
    try:
        metas = [*BUILTIN_META.values(), *_third_party()]
        store = CredentialStore()
        if store.warnings():
            return False  # printed by the full command, through its console
        rows = statuses(store.read(), metas, environ)
    except (Undecided, CredentialStoreError, ValueError):  # ValueError: an id or a date that does not parse
        return False
    if not as_json:
        print_table(rows)
        return True
    sys.stdout.write(redact.redactor.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return True


def last_test_dot(result: dict[str, Any] | None) -> Markup:
    """A last test as a coloured dot and word, from its ``--json`` form (``None``: never)."""
    from .console import markup

    if result is None:
        return markup("[dim]○ never tested[/]")
    if result["ok"]:
        return markup("[green]● passing[/]")
    return markup("[red]● {}[/]", result["status"])


def print_table(rows: list[dict[str, Any]]) -> None:
    """The people's form of ``rows`` (``list --json``'s): one line per connection. Both the
    full command and the fast path print through it, so their tables cannot differ."""
    from rich.table import Table

    from ..text import humane_time
    from .console import console, markup

    table = Table(title="Integrations", title_justify="left")
    for col in ("id", "name", "enabled", "configured", "last test"):
        table.add_column(col)
    for row in rows:
        for c in row["connections"] or [row]:
            when = c["last_tested"]
            table.add_row(
                c["id"],
                row["name"] if c is row else c["label"],
                markup("[green]yes[/]" if c["enabled"] else "[dim]no[/]"),
                markup("[green]yes[/]" if c["configured"] else "[yellow]no[/]"),
                last_test_dot(c["test_result"])
                + (markup(" [dim]{}[/]", humane_time(datetime.fromisoformat(when))) if when else ""),
            )
    console.print(table)
