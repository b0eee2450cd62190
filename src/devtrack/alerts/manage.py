"""What ``devtrack alerts …`` and the Alerts page do: channels, rules, mutes, history.

Both call these functions, so the CLI and the web app refuse the same input with the same
words and store the same way. Every function takes the credential store (channels and rule
settings live there) and, where it needs incidents or history, the snapshot store.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from .. import redact, secretrefs, secretstore
from ..credentials import CredentialStore
from ..integrations.contract import utcnow
from ..views.store import SnapshotStore
from . import channels, config
from .engine import rule_settings
from .incidents import Incidents
from .rules import RULES

log = logging.getLogger(__name__)

class AlertsError(ValueError):
    """Input refused; the message says why and what to type instead. ``kind`` as in ``--json``."""

    def __init__(self, message: str, kind: str = "usage") -> None:
        super().__init__(message)
        self.kind = kind


# ---------------------------------------------------------------------- channels


def _free_name(existing: dict[str, Any], service: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", service.lower()).strip("-") or "channel"
    name, n = base, 2
    while name in existing:
        name, n = f"{base}-{n}", n + 1
    return name


def _real_url(url: str) -> tuple[str, secretrefs.Reference | None]:
    """The URL a typed value stands for (a reference read now), refused with the reason."""
    ref = secretrefs.parse(url)
    if ref is None:
        return secretrefs.literal(url), None
    problem = secretrefs.problem(url)
    if problem:
        raise AlertsError(problem)
    try:
        return config.resolve(url), ref
    except secretrefs.Unresolvable as exc:
        raise AlertsError(str(exc)) from None


def add_channel(store: CredentialStore, url: str, name: str | None = None) -> dict[str, Any]:
    """Check ``url`` (or the URL a reference to it stands for) with Apprise, then store it; nothing
    is written if either step refuses. With the keychain preferred (``secrets.store``), a literal
    URL goes to the keychain and the file keeps its ``keyring:`` reference, as for other secrets."""
    url = (url or "").strip()
    real, ref = _real_url(url) if url else (url, None)
    try:
        checked = channels.check(real)
    except channels.InvalidChannel as exc:
        raise AlertsError(str(exc)) from None
    if name is not None:
        problem = channels.name_problem(name)
        if problem:
            raise AlertsError(problem)
    warnings: list[str] = []

    def change(doc: dict[str, Any]) -> tuple[str, str]:
        alerts = config.section(doc, store.path)
        chosen = name or _free_name(alerts["channels"], checked.service)
        if chosen in alerts["channels"]:
            raise AlertsError(f"a channel named {chosen!r} exists already; remove it first or pick another "
                              "name with --name", kind="conflict")
        value, kept = url, "reference" if ref is not None else "file"
        if ref is None and secretstore.preference(doc) == "keyring":
            from .. import keychain

            acct = f"{secretstore.channel_account(chosen)}@{secretstore.file_id(doc)}"
            try:
                keychain.put(acct, real)
                value, kept = "keyring:" + acct, "keyring"
            except keychain.KeychainUnavailable as exc:
                warnings.append(f"{redact.safe_str(exc)}: kept the channel {chosen}'s URL in {store.path} instead "
                                "of the keychain; move it there later with: devtrack integrations move-secrets "
                                "--to keyring")
        alerts["channels"][chosen] = {"url": value, "added": utcnow().isoformat()}
        return chosen, kept

    chosen, kept = store.update(change)
    return {"name": chosen, "service": checked.service, "url": ref.shown() if ref else checked.masked,
            "stored": kept, "warnings": warnings}


def list_channels(store: CredentialStore) -> list[dict[str, Any]]:
    """Every channel, its URL masked; a reference shown as itself ("from env:SLACK_URL"). A
    reference is read to name its service, except a 1Password one (``op`` may wait to be unlocked)."""
    alerts = config.read(store)
    out = []
    for name, entry in sorted(alerts["channels"].items()):
        ref = secretrefs.parse(entry["url"])
        try:
            if ref is not None and ref.kind == "op":
                service, masked = "1Password reference", ref.shown()
            else:
                checked = channels.check(config.resolve(entry["url"]))
                service, masked = checked.service, ref.shown() if ref else checked.masked
        except secretrefs.Unresolvable as exc:
            service, masked = "unresolved", f"{ref.shown() if ref else ''} (unusable: {exc})"
        except channels.InvalidChannel as exc:
            service, masked = "invalid", (f"{ref.shown()} " if ref else "") + f"(unusable: {exc})"
        out.append({"name": name, "service": service, "url": masked, "added": entry.get("added")})
    return out


def _require_channel(alerts: dict[str, Any], name: str) -> None:
    if name not in alerts["channels"]:
        known = ", ".join(sorted(alerts["channels"])) or "none yet (devtrack alerts channels add URL)"
        raise AlertsError(f"no channel named {name!r}; channels: {known}", kind="not_found")


def remove_channel(store: CredentialStore, name: str) -> None:
    """Remove a channel; the keychain entry DevTrack made for its URL goes too (best effort)."""
    def change(doc: dict[str, Any]) -> str | None:
        alerts = config.section(doc, store.path)
        _require_channel(alerts, name)
        ref = secretrefs.parse(alerts["channels"].pop(name)["url"])
        own = ref is not None and ref.kind == "keyring" and secretstore.is_own(doc, ref.target)
        return ref.target if own and ref.target not in secretstore.referenced_accounts(doc) else None  # type: ignore[union-attr]

    orphan = store.update(change)
    if orphan:
        from .. import keychain

        try:
            keychain.delete(orphan)
        except keychain.KeychainUnavailable as exc:
            log.warning("could not remove %s from the keychain: %s", orphan, redact.safe_str(exc))


def test_channels(store: CredentialStore, snapshots: SnapshotStore, name: str | None = None) -> list[dict[str, Any]]:
    """Send a test message through one channel (or all) now; each result is in the history too."""
    alerts = config.register_secrets(store)
    if name is not None:
        _require_channel(alerts, name)
    names = [name] if name else sorted(alerts["channels"])
    if not names:
        raise AlertsError("no channel yet: devtrack alerts channels add URL", kind="not_found")
    incidents = Incidents(snapshots)
    title = "[DevTrack] test: alerts reach this channel"
    out = []
    for n in names:
        body = f"A test message from DevTrack to the channel {n!r}. Alerts will arrive here."
        try:
            channels.send(config.resolve(alerts["channels"][n]["url"]), title, body, "info")
        except (channels.DeliveryFailed, secretrefs.Unresolvable) as exc:
            incidents.record("test", "failed", title, channel=n, attempt=1, detail=str(exc))
            out.append({"name": n, "ok": False, "error": str(exc)})
            continue
        incidents.record("test", "sent", title, channel=n, attempt=1)
        out.append({"name": n, "ok": True, "error": None})
    return out


# ---------------------------------------------------------------------- rules


def _rule(rule_id: str) -> Any:
    if rule_id not in RULES:
        from difflib import get_close_matches

        near = get_close_matches(rule_id, list(RULES), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else f"; rules: {', '.join(RULES)}"
        raise AlertsError(f"unknown rule {rule_id!r}{hint}", kind="not_found")
    return RULES[rule_id]


def list_rules(store: CredentialStore) -> list[dict[str, Any]]:
    alerts = config.read(store)
    out = []
    for rule in RULES.values():
        enabled, settings = rule_settings(rule, alerts)
        out.append({"id": rule.id, "title": rule.title, "description": rule.description, "enabled": enabled,
                    "plugins": [p for p in rule.plugins if p != "*"] or ["every connection"],
                    "settings": [{"key": k, "value": settings[k], "default": s.default, "help": s.help}
                                 for k, s in rule.settings.items()]})
    return out


def set_rule(store: CredentialStore, rule_id: str, pairs: dict[str, str]) -> dict[str, Any]:
    """``enabled=false``, ``budget_usd=50``…: each value parsed as its setting's type first."""
    rule = _rule(rule_id)
    if not pairs:
        raise AlertsError(f"nothing to set: give KEY=VALUE, e.g. enabled=false"
                          + (f" or {next(iter(rule.settings))}=…" if rule.settings else ""))
    values: dict[str, Any] = {}
    from .rules import Setting

    for key, raw in pairs.items():
        setting = Setting(True, "on/off") if key == "enabled" else rule.settings.get(key)
        if setting is None:
            keys = ", ".join(["enabled", *rule.settings])
            raise AlertsError(f"the rule {rule.id} has no setting {key!r}; settings: {keys}")
        try:
            values[key] = setting.parse(raw)
        except ValueError as exc:
            raise AlertsError(f"{rule.id} {key}: {exc}") from None

    def change(alerts: dict[str, Any]) -> None:
        alerts["rules"].setdefault(rule.id, {}).update(values)

    config.update(store, change)
    return next(r for r in list_rules(store) if r["id"] == rule.id)


# ---------------------------------------------------------------------- mutes

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text or "")
    if not m or float(m.group(1)) <= 0:
        raise AlertsError(f"invalid duration {text!r}: expected a number and a unit, e.g. 30m, 2h, 1d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def _target(manager: Any, target: str) -> str:
    if target in RULES:
        return target
    from ..integrations.registry import UnknownIntegration

    try:
        manager.require(target)
    except UnknownIntegration as exc:
        raise AlertsError(f"{exc} (or a rule: {', '.join(RULES)})", kind="not_found") from None
    except ValueError as exc:
        raise AlertsError(str(exc)) from None
    return target


def mute(manager: Any, snapshots: SnapshotStore, target: str, duration: str) -> dict[str, Any]:
    until = utcnow() + parse_duration(duration)
    Incidents(snapshots).mute(_target(manager, target), until)
    return {"target": target, "until": until.isoformat()}


def unmute(manager: Any, snapshots: SnapshotStore, target: str) -> bool:
    return Incidents(snapshots).unmute(_target(manager, target))


def mutes(snapshots: SnapshotStore, now: datetime | None = None) -> list[dict[str, Any]]:
    return [{"target": t, "until": u.isoformat()}
            for t, u in sorted(Incidents(snapshots).mutes(now or utcnow()).items())]


# ---------------------------------------------------------------------- history


def overview(snapshots: SnapshotStore, limit: int = 100) -> dict[str, Any]:
    """Open incidents first, then recent ones and the delivery history (newest first)."""
    incidents = Incidents(snapshots)
    return {"open": [i.to_json() for i in incidents.open_all()],
            "incidents": [i.to_json() for i in incidents.recent(limit)],
            "deliveries": incidents.history(limit), "pending": incidents.pending(),
            "mutes": mutes(snapshots)}
