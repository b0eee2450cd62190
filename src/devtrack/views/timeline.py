"""One timeline: deployments, new errors, CI runs and alert incidents on one time axis.

Why: "what happened around this deploy" should be one look, not three pages. Each kind of item
comes from a *source*, a function ``(current, since, now) -> list[item]`` registered under a
name in :data:`SOURCES`; the dashboard draws every registered source's items in its lane.

Built in: ``deployments`` (Vercel and Cloudflare Pages; one lane per connection), ``errors``
(Sentry issues by first seen) and ``ci`` (GitHub Actions runs). ``incidents`` is the slot the
alerts add-on fills: it calls ``register("incidents", its_source)`` at start-up, each item with
``kind="incident"``; until then the lane says there is no incident source. The core never
imports an add-on.

An item is a JSON-ready dict: ``kind`` (``deploy``, ``error``, ``ci``, ``incident``), ``lane``
(the row it is drawn in), ``time`` (ISO), ``title``, ``level`` (``ok``, ``warn``, ``bad``,
``off``: the plugin's verdict, which colours the marker), ``url``, ``connection`` and
``connection_label``; a deploy also has ``commit``, ``branch``, ``project`` and ``followed_by``
(the new errors first seen after it, before the next deploy of the same connection).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..integrations.contract import utcnow
from .conditions import condition
from .current import Current

Item = dict[str, Any]
Source = Callable[[list[Current], datetime, datetime], list[Item]]

#: Hours the dashboard's timeline spans by default.
WINDOW_HOURS = 72
#: The errors a deploy's hover names at most.
FOLLOWED_MAX = 5
#: The lanes below the per-connection deploy lanes, in this order.
LANES = {"error": "New errors", "ci": "CI runs", "incident": "Incidents"}

SOURCES: dict[str, Source] = {}


def register(name: str, source: Source) -> None:
    """Add (or replace) a source of timeline items: how add-ons put theirs on the axis."""
    SOURCES[name] = source


def _in(when: datetime | None, since: datetime, now: datetime) -> bool:
    return when is not None and since <= when <= now


def _conn(c: Current) -> dict[str, str]:
    return {"connection": c.id, "connection_label": c.name}


def _records(current: list[Current], plugins: tuple[str, ...], kind: str) -> list[tuple[Current, Any]]:
    return [(c, r) for c in current if c.plugin in plugins and c.enabled and c.data is not None
            for r in getattr(c.data.records, kind)]


def deployments(current: list[Current], since: datetime, now: datetime) -> list[Item]:
    out = []
    for c, d in _records(current, ("vercel", "cloudflare"), "deployments"):
        if not _in(d.created_at, since, now):
            continue
        verdict = condition(c.plugin, "deployments", d)
        out.append({"kind": "deploy", "lane": f"deploy:{c.id}", "time": d.created_at.isoformat(),
                    "title": f"{d.project or d.id}: {d.target or 'deploy'} {verdict.label}",
                    "level": verdict.level, "url": d.url, "commit": (d.commit or "")[:7] or None,
                    "branch": d.branch, "project": d.project, **_conn(c)})
    return out


def errors(current: list[Current], since: datetime, now: datetime) -> list[Item]:
    out = []
    for c, e in _records(current, ("sentry",), "errors"):
        if not _in(e.first_seen, since, now):
            continue
        out.append({"kind": "error", "lane": "error", "time": e.first_seen.isoformat(),
                    "title": f"{getattr(e, 'short_id', '') or e.id}: {e.title}",
                    "level": condition("sentry", "errors", e).level, "url": e.url, **_conn(c)})
    return out


def ci_runs(current: list[Current], since: datetime, now: datetime) -> list[Item]:
    out = []
    for c, r in _records(current, ("github",), "ci_runs"):
        if not _in(r.created_at, since, now):
            continue
        verdict = condition("github", "ci_runs", r)
        out.append({"kind": "ci", "lane": "ci", "time": r.created_at.isoformat(),
                    "title": f"{r.name} on {r.branch or '?'}: {verdict.label}", "level": verdict.level,
                    "url": r.url, **_conn(c)})
    return out


register("deployments", deployments)
register("errors", errors)
register("ci", ci_runs)


def _followed(items: list[Item]) -> None:
    """Give each deploy the new errors first seen after it and before its connection's next deploy."""
    errs = sorted((i for i in items if i["kind"] == "error"), key=lambda i: i["time"])
    deploys: dict[str, list[Item]] = {}
    for i in sorted((i for i in items if i["kind"] == "deploy"), key=lambda i: i["time"]):
        deploys.setdefault(i["lane"], []).append(i)
    for lane in deploys.values():
        for n, d in enumerate(lane):
            until = lane[n + 1]["time"] if n + 1 < len(lane) else "9999"
            after = [e for e in errs if d["time"] <= e["time"] < until]
            d["followed_by"] = [{"title": e["title"], "time": e["time"], "url": e["url"]}
                                for e in after[:FOLLOWED_MAX]]
            d["followed_total"] = len(after)


def build(current: list[Current], now: datetime | None = None, hours: float = WINDOW_HOURS) -> dict[str, Any]:
    """The timeline of the last ``hours``: lanes (deploys per connection first), items, and the
    sources that failed (one failing source never hides the others)."""
    now = now or utcnow()
    since = now - timedelta(hours=hours)
    items: list[Item] = []
    failed: list[str] = []
    for name, source in list(SOURCES.items()):
        try:
            items += source(current, since, now)
        except Exception:  # an add-on's bug must not take the dashboard down
            failed.append(name)
    _followed(items)
    items.sort(key=lambda i: i["time"])
    lanes = [{"id": f"deploy:{c.id}", "label": f"Deploys · {c.name}"} for c in current
             if c.plugin in ("vercel", "cloudflare") and c.enabled and c.configured]
    lanes += [{"id": k, "label": v} for k, v in LANES.items()]
    known = {lane["id"] for lane in lanes}
    for i in items:  # a source's own lane (an add-on's), after the known ones
        if i["lane"] not in known:
            known.add(i["lane"])
            lanes.append({"id": i["lane"], "label": i["lane"]})
    return {"since": since.isoformat(), "until": now.isoformat(), "hours": hours, "lanes": lanes,
            "items": items, "failed": failed, "incidents_source": "incidents" in SOURCES}
