"""The engine: after each stored refresh, run the rules and turn their findings into incidents.

A finding whose subject has no open incident opens one and queues a "started" message for
every channel; an open incident no longer found is resolved and queues one "resolved"
message; a finding that holds sends nothing. Incidents live in the snapshot store, so a new
process (or a new engine on the same files) picks up where the last one stopped. Muted rules
and connections still open and resolve incidents (the page shows them), but send nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import redact
from ..integrations.connections import label as connection_label
from ..integrations.contract import IntegrationData, utcnow
from ..store_errors import CredentialStoreError
from . import config
from .delivery import Dispatcher, Sender, apprise_send
from .events import IncidentEvent, Listener, emit
from .incidents import Incident, Incidents
from .rules import RULES, Context, Finding, Rule, applies

if TYPE_CHECKING:
    from ..integrations.manager import IntegrationManager
    from ..views.coordinator import Refreshed
    from ..views.state import PluginState
    from ..views.store import SnapshotStore

log = logging.getLogger(__name__)

#: Seconds ``close()`` waits for due messages to go out (``devtrack views refresh`` exits then).
DRAIN_WAIT = 5.0


def rule_settings(rule: Rule, alerts: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """A rule's on/off switch and settings: the defaults under what the user set."""
    stored = alerts["rules"].get(rule.id, {})
    settings = rule.defaults()
    for key in settings:
        if key in stored:
            settings[key] = stored[key]
    return bool(stored.get("enabled", True)), settings


class AlertEngine:
    def __init__(self, manager: IntegrationManager, store: SnapshotStore, *, sender: Sender | None = None,
                 deliver: bool = True, clock: Any = utcnow) -> None:
        from ..views.keys import Keys

        self.manager = manager
        self.store = store
        self.clock = clock
        self.keys = Keys(manager)
        self.incidents = Incidents(store)
        self.incidents.prune()
        self._lock = threading.Lock()
        #: This engine's own listeners (``attach`` adds its coordinator's event bus here, so two
        #: apps in one process never hear each other's incidents).
        self.listeners: list[Listener] = []
        try:
            if config.read(manager.store)["channels"]:
                config.register_secrets(manager.store, manager.environ)
        except CredentialStoreError as exc:  # refreshing goes on; each evaluation says it again
            log.error("alerts: %s", exc)
        self.dispatcher = Dispatcher(self.incidents, self._channels, self._rate, self._resolving(sender or apprise_send))
        if deliver:
            self.dispatcher.start()

    def _resolving(self, sender: Sender) -> Sender:
        """``sender`` given the URL a channel's stored value stands for: a reference is read at
        each send, so one that does not resolve fails that channel's message with the reason
        (naming the reference) and every other channel still delivers."""
        def send(stored: str, title: str, body: str, kind: str) -> None:
            sender(config.resolve(stored, self.manager.environ), title, body, kind)
        return send

    def _channels(self) -> dict[str, str]:
        return {name: entry["url"] for name, entry in config.read(self.manager.store)["channels"].items()}

    def _rate(self) -> tuple[int, int]:
        rate = config.read(self.manager.store)["rate_limit"]
        return int(rate["messages"]), int(rate["per_seconds"])

    # ------------------------------------------------------------------ the hook

    def on_refresh(self, event: Refreshed) -> None:
        """The coordinator's post-refresh hook (runs on a worker thread)."""
        coordinator = event.coordinator
        self.evaluate(event.id, event.data, event.previous, event.state,
                      good=dict(coordinator.good), states=dict(coordinator.states))

    def evaluate(self, cid: str, data: IntegrationData, previous: IntegrationData | None,
                 state: PluginState | None, *, good: dict[str, IntegrationData],
                 states: dict[str, PluginState]) -> list[IncidentEvent]:
        """Run every rule this refresh of ``cid`` concerns; returns the incidents it opened or closed."""
        with self._lock:
            return self._evaluate(cid, data, previous, state, good, states)

    def _label(self, cid: str) -> str:
        try:
            return connection_label(cid, self.manager.plugin_class(self.manager.plugin_of(cid)).name)
        except (KeyError, ValueError):
            return cid

    def _evaluate(self, cid: str, data: IntegrationData, previous: IntegrationData | None,
                  state: PluginState | None, good: dict[str, IntegrationData],
                  states: dict[str, PluginState]) -> list[IncidentEvent]:
        alerts = config.read(self.manager.store)
        plugin = self.manager.plugin_of(cid)
        ok = data.error is None
        now = self.clock()
        self._forget_removed(now)
        labels = {c: self._label(c) for c in {*good, cid}}
        out: list[IncidentEvent] = []
        for rule in RULES.values():
            enabled, settings = rule_settings(rule, alerts)
            if applies(rule, plugin):
                targets = [cid]
            elif plugin in rule.watches:
                targets = [c for c in good if applies(rule, self.manager.plugin_of(c))]
            else:
                continue
            for target in targets:
                opened = self.incidents.open_for(rule.id, target)
                if not enabled:
                    for inc in opened.values():  # switched off: close quietly
                        self.incidents.resolve(inc.id, "the rule was switched off", now)
                    continue
                mine = target == cid
                if mine and not ok and not rule.on_failures:
                    continue  # no new data: the conditions are as they were
                ctx = Context(
                    connection=target, label=labels.get(target, target),
                    data=(data if ok else good.get(cid)) if mine else good.get(target),
                    previous=previous if mine else None,
                    state=state if mine else states.get(target), settings=settings, now=now,
                    open={s: inc.details for s, inc in opened.items()}, everything=good, labels=labels,
                    history=self._history(target))
                try:
                    findings = rule.evaluate(ctx)
                except Exception as exc:  # one broken rule never stops the others
                    log.error("alert rule %s on %s: %s", rule.id, target, redact.format_exception(exc))
                    continue
                out += self._reconcile(rule, target, findings, opened, alerts, now)
        if out:
            self.dispatcher.wake()
        return out

    def _forget_removed(self, now: datetime) -> None:
        """Close, quietly, the open incidents of connections that no longer exist."""
        known = set(self.manager.connection_ids())
        for inc in self.incidents.open_all():
            if inc.connection not in known:
                self.incidents.resolve(inc.id, "the connection was removed", now)

    def _history(self, cid: str) -> Any:
        key = self.keys.key(cid)
        return lambda metric, since: self.store.history(key, metric, since)

    def _reconcile(self, rule: Rule, cid: str, findings: list[Finding], opened: dict[str, Incident],
                   alerts: dict[str, Any], now: datetime) -> list[IncidentEvent]:
        active = {f.subject: f for f in findings if f.active}
        notes = {f.subject: f for f in findings if not f.active}
        mutes = self.incidents.mutes(now)
        muted = rule.id in mutes or cid in mutes
        out = []
        for subject, f in active.items():
            if subject in opened:
                continue
            title, message = redact.redactor(f.title), redact.redactor(f.message)
            inc = self.incidents.start(rule.id, cid, subject, title, message, f.details, now, muted)
            if inc is not None:
                out.append(self._notify("started", inc, title, message, rule, alerts, muted, now))
        for subject, inc in opened.items():
            if subject in active:
                continue
            note = notes.get(subject)
            title = redact.redactor(note.title if note else inc.title)
            message = redact.redactor(note.message if note else f"Resolved: {inc.message}")
            if self.incidents.resolve(inc.id, message, now):
                out.append(self._notify("resolved", inc, title, message, rule, alerts, muted, now))
        return out

    def _notify(self, kind: str, inc: Incident, title: str, message: str, rule: Rule,
                alerts: dict[str, Any], muted: bool, now: datetime) -> IncidentEvent:
        event = IncidentEvent(kind, inc.id, rule.id, inc.connection, inc.subject, title, message,  # type: ignore[arg-type]
                              now.isoformat())
        subject = f"[DevTrack] {kind}: {title}"
        body = (f"{message}\n\nRule: {rule.title} ({rule.id}) · connection {self._label(inc.connection)}"
                f" · incident #{inc.id} {kind} {now.strftime('%Y-%m-%d %H:%M UTC')}")
        channels = sorted(alerts["channels"])
        if muted:
            self.incidents.record(kind, "muted", subject, incident=inc.id,
                                  detail=f"{rule.id} or {inc.connection} is muted: nothing sent")
        elif not channels:
            self.incidents.record(kind, "no_channel", subject, incident=inc.id,
                                  detail="no channel: devtrack alerts channels add URL")
        else:
            for name in channels:
                self.incidents.enqueue(inc.id, kind, name, subject, body, time.time())
        emit(event, self.listeners)
        return event

    # ------------------------------------------------------------------ lifecycle

    def close(self, wait: float = DRAIN_WAIT) -> None:
        """Give due messages ``wait`` seconds to go out, then stop the workers (what is left
        stays in the outbox for the next process)."""
        if wait > 0 and self.dispatcher.running:
            self.dispatcher.drain(wait)
        self.dispatcher.stop()
