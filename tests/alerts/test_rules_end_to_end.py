"""Every rule end to end: the sandbox produces the event through its ``/__sandbox`` API, a
refresh runs, the real receivers (HTTP for ``json://``, aiosmtpd for ``mailto://``) get exactly
one "started"; a restart while it holds sends nothing; the sandbox undoes it and they get
exactly one "resolved"; another restart sends nothing more."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from devtrack.alerts import manage

from .conftest import Harness, only_rule
from .receivers import JsonReceiver, SmtpReceiver

Sb = Any


def produce(sb: Sb, service: str, event: str, **options: Any) -> dict[str, Any]:
    r = httpx.post(sb.url(service) + "/__sandbox/events", json={"event": event, **options})
    assert r.status_code == 201, r.text
    return r.json()["produced"]  # type: ignore[no-any-return]


def undo(sb: Sb, service: str, event: str) -> None:
    r = httpx.delete(sb.url(service) + f"/__sandbox/events/{event}")
    assert r.status_code == 200 and r.json()["undone"], r.text


@dataclass
class Case:
    rule: str
    refresh: list[str]
    make: Callable[[Sb], dict[str, Any]]
    unmake: Callable[[Sb], None]
    #: What the "started" message must name, from what the sandbox says it produced.
    names: Callable[[dict[str, Any]], list[str]]
    settings: dict[str, str] = field(default_factory=dict)
    baseline_refreshes: int = 1


def _event(service: str, event: str, **options: Any) -> tuple[Callable[[Sb], dict[str, Any]], Callable[[Sb], None]]:
    return (lambda sb: produce(sb, service, event, **options)), (lambda sb: undo(sb, service, event))


def _deploy_then_burst(sb: Sb) -> dict[str, Any]:
    deploy = produce(sb, "vercel", "production_deploy")
    burst = produce(sb, "sentry", "issue_burst", count=4)
    return {**deploy, "issues": burst["issues"]}


def _auth_fault(sb: Sb) -> dict[str, Any]:
    r = httpx.post(sb.url("vercel") + "/__sandbox/faults", json={"route": "/**", "status": 401})
    assert r.status_code == 201
    return {}


CASES = [
    Case("connection-failing", ["vercel"], _auth_fault,
         lambda sb: httpx.delete(sb.url("vercel") + "/__sandbox/faults").raise_for_status(),
         lambda p: ["credentials rejected", "devtrack integrations set vercel"]),
    Case("deploy-failed", ["vercel"], *_event("vercel", "production_deploy_failed"),
         lambda p: [p["deployment"], p["commit"][:7]]),
    Case("deploy-failed", ["cloudflare"], *_event("cloudflare", "production_deploy_failed"),
         lambda p: [p["deployment"], p["commit"][:7]]),
    Case("ci-failed", ["github"], *_event("github", "ci_failed"), lambda p: [f"CI {p['workflow']} failure on main"]),
    Case("sentry-new-issue", ["sentry"], *_event("sentry", "new_issue"), lambda p: ["new fatal issue"]),
    Case("sentry-spike", ["sentry"], *_event("sentry", "unresolved_spike", count=60), lambda p: ["spiked"],
         {"min_samples": "2"}, baseline_refreshes=2),
    Case("deploy-errors", ["vercel", "sentry"], _deploy_then_burst, lambda sb: undo(sb, "sentry", "issue_burst"),
         lambda p: [p["deployment"], p["commit"][:7], "4 new Sentry issue(s)"]),
    Case("ec2-instance", ["aws-ec2"], *_event("aws-ec2", "instance_impaired"), lambda p: [p["instance"], "impaired"]),
    Case("ec2-instance", ["aws-ec2"], *_event("aws-ec2", "instance_stopped"), lambda p: [p["instance"], "stopped"]),
    Case("supabase-unhealthy", ["supabase"], *_event("supabase", "service_unhealthy"),
         lambda p: [p["project"], "storage unhealthy"]),
    Case("upstash-inactive", ["upstash"], *_event("upstash", "database_inactive"),
         lambda p: [p["database"], "suspended"]),
    Case("ai-budget", ["helicone"], *_event("helicone", "spend_over_budget", cost_usd=10_000),
         lambda p: ["over the daily budget of $5,000.00"], {"budget_usd": "5000"}),
    Case("cloudflare-token", ["cloudflare"], *_event("cloudflare", "token_expiring", days=7),
         lambda p: ["expires in", "devtrack integrations set cloudflare api_token"]),
]


def _secrets(sb: Sb) -> list[str]:
    return [v for creds in sb.credentials().values() for k, v in creds.items()
            if any(w in k for w in ("token", "key", "secret", "password")) and len(v) >= 10]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{c.refresh[-1]}-{i}" for i, c in enumerate(CASES)])
def test_one_started_one_resolved_nothing_across_restarts(
        case: Case, sb: Sb, harness: Harness, json_receiver: JsonReceiver, smtp_receiver: SmtpReceiver) -> None:
    store = harness.manager.store
    manage.add_channel(store, json_receiver.url, "hook")
    manage.add_channel(store, smtp_receiver.url, "mail")
    only_rule(store, case.rule, **case.settings)
    for _ in range(case.baseline_refreshes):  # what the seeded data holds already is not this test's
        harness.refresh(case.refresh)
    json_receiver.clear()
    smtp_receiver.clear()
    before = {i["id"] for i in manage.overview(harness.store)["open"]}

    produced = case.make(sb)
    harness.refresh(case.refresh)
    for titles in (json_receiver.titles(), smtp_receiver.titles()):
        assert len(titles) == 1 and titles[0].startswith("[DevTrack] started: "), titles
    message = json_receiver.messages[0]["title"] + "\n" + json_receiver.messages[0]["message"]
    for name in case.names(produced):
        assert name.lower() in message.lower(), (name, message)
    assert case.names(produced)[-1].lower() in (smtp_receiver.titles()[0] + smtp_receiver.bodies()[0]).lower()
    opened = [i for i in manage.overview(harness.store)["open"] if i["id"] not in before]
    assert [i["rule"] for i in opened] == [case.rule]

    harness.restart()
    harness.refresh(case.refresh)
    assert len(json_receiver.messages) == len(smtp_receiver.messages) == 1  # it holds: nothing more

    case.unmake(sb)
    harness.refresh(case.refresh)
    for titles in (json_receiver.titles(), smtp_receiver.titles()):
        assert len(titles) == 2 and titles[1].startswith("[DevTrack] resolved: "), titles
    assert {i["id"] for i in manage.overview(harness.store)["open"]} == before

    harness.restart()
    harness.refresh(case.refresh)
    assert len(json_receiver.messages) == len(smtp_receiver.messages) == 2

    sent = [str(m) for m in json_receiver.messages] + smtp_receiver.bodies() + smtp_receiver.titles()
    for secret in _secrets(sb) + [SmtpReceiver.PASSWORD]:
        assert not any(secret in text for text in sent), "a secret reached a notification"
