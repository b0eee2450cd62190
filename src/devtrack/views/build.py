"""The views, built from normalised records across plugins into plain JSON-ready dicts.

One model, three renderings: the JSON endpoints return it as is, the CLI prints its
``tables`` and ``summary``, the pages render the same tables plus ``charts`` as inline SVG.
A table cell is a string or ``{"text", "url"?, "badge"?}``; a table whose rows stop short of
what the plugin holds says so with ``shown`` and ``total``. Every badge is its plugin's verdict
on that item (:mod:`.conditions`), and each item in ``items`` carries it as ``condition``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from ..integrations.contract import utcnow
from .conditions import badge, condition
from .current import Current

View = dict[str, Any]
Cell = str | dict[str, Any]

VIEWS: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (title, plugins it reads)
    "deployments": ("Deployments", ("vercel", "cloudflare")),
    "errors": ("Errors", ("sentry",)),
    "code": ("Code", ("github",)),
    "infra": ("Infrastructure", ("aws-ec2", "upstash", "supabase", "cloudflare")),
    "ai": ("AI usage", ("helicone",)),
}
CHART_DAYS = 14

#: The metrics a dashboard card shows per plugin: (metric key, label).
CARD_METRICS: dict[str, list[tuple[str, str]]] = {
    "github": [("branch", "branch"), ("dirty_files", "dirty files"), ("unpushed_commits", "unpushed"),
               ("latest_ci_conclusion", "latest CI")],
    "vercel": [("deployments", "deployments"), ("failed", "failed"), ("production_failed", "prod failing")],
    "cloudflare": [("zones_active", "zones active"), ("pages_projects", "Pages projects"),
                   ("pages_failing", "Pages failing")],
    "sentry": [("issues", "unresolved (24 h)"), ("events", "events"), ("users", "users")],
    "helicone": [("cost_today_usd", "cost today"), ("requests_today", "requests today"),
                 ("error_rate", "error rate")],
    "upstash": [("databases", "databases"), ("active", "active"), ("monthly_requests", "requests/month")],
    "aws-ec2": [("instances", "instances"), ("state_running", "running"), ("impaired", "impaired")],
    "supabase": [("projects", "projects"), ("active", "active"), ("unhealthy", "unhealthy")],
}


# ---------------------------------------------------------------------- helpers


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def fmt(value: Any, key: str = "") -> str:
    """A metric as people read it."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if "usd" in key or "cost" in key:
            return f"${value:,.2f}"
        if "rate" in key and value <= 1:
            return f"{value:.0%}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return str(len(value))
    return str(value)


def _cell(text: Any, url: str | None = None, badge: str | None = None) -> Cell:
    out: dict[str, Any] = {"text": fmt(text) if not isinstance(text, str) else text}
    if url and url.startswith(("https://", "http://")):
        out["url"] = url
    if badge:
        out["badge"] = badge
    return out if len(out) > 1 else out["text"]


def since(iso: str | None, never: str = "never", now: datetime | None = None) -> str:
    """An ISO time as "3 min ago" (pages and the CLI; the web's own filter would load FastAPI)."""
    if not iso:
        return never
    seconds = ((now or utcnow()) - datetime.fromisoformat(iso)).total_seconds()
    for limit, div, unit in ((60, 1, "s"), (3600, 60, "min"), (86400, 3600, "h"), (7 * 86400, 86400, "days")):
        if seconds < limit:
            return "just now" if seconds < 45 else f"{round(seconds / div)} {unit} ago"
    return iso[:10]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"


def source(c: Current, now: datetime) -> dict[str, Any]:
    """A plugin's freshness as every view reports it."""
    return {
        "id": c.id,
        "name": c.name,
        "status": c.status(),
        "stale": c.stale(now),
        "needs_attention": c.needs_attention,
        "refreshing": bool(c.state and c.state.refreshing),
        "last_refresh": _iso(c.last_refresh),
        "last_attempt": _iso(c.state.last_attempt if c.state else None),
        "next_refresh": _iso(c.state.next_due if c.state else None),
        "error": ({"kind": str(c.error.kind), "message": c.error.message} if c.error else None),
        "detail": c.data.health.detail if c.data else "",
        "settings_url": f"/settings/integrations/{c.id}",
    }


def _empty(names: list[tuple[str, str]], what: str) -> dict[str, Any]:
    listed = " or ".join(n for _, n in names)
    return {
        "message": f"No {what} yet. Connect {listed} to see them here.",
        "connect": [{"id": pid, "name": n, "url": f"/settings/integrations/{pid}"} for pid, n in names],
    }


def _day_keys(now: datetime, days: int = CHART_DAYS) -> list[str]:
    return [(now - timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days - 1, -1, -1)]


def _base(name: str, current: list[Current], now: datetime) -> tuple[View, dict[str, Current]]:
    title, plugins = VIEWS[name]
    by_id = {c.id: c for c in current}
    used = {p: by_id[p] for p in plugins if p in by_id}
    view: View = {
        "view": name, "title": title, "generated_at": now.isoformat(),
        "sources": [source(c, now) for c in used.values() if c.enabled],
        "empty": None, "summary": [], "charts": [], "tables": [], "items": {},
    }
    return view, used


def _records(used: dict[str, Current], plugin: str, kind: str) -> list[Any]:
    c = used.get(plugin)
    if c is None or not c.enabled or c.data is None:
        return []
    return list(getattr(c.data.records, kind))


def _dump(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json") for i in items]


def _judged(plugin: str, kind: str, items: Iterable[Any]) -> list[dict[str, Any]]:
    """Records as JSON, each with its plugin's verdict (the one its badge shows)."""
    return [_item(plugin, kind, i) for i in items]


def _item(plugin: str, kind: str, record: Any) -> dict[str, Any]:
    return record.model_dump(mode="json") | {"condition": condition(plugin, kind, record).dump()}


def _verdict(plugin: str, kind: str, record: Any) -> Cell:
    """A cell saying the plugin's verdict on ``record``, badged by it."""
    c = condition(plugin, kind, record)
    return _cell(c.label, badge=badge(c))


def _table(title: str, columns: list[str], rows: list[list[Cell]], total: int | None = None) -> dict[str, Any]:
    """A table; ``total`` when the plugin holds more items than the rows show."""
    out: dict[str, Any] = {"title": title, "columns": columns, "rows": rows}
    if total is not None and total > len(rows):
        out |= {"shown": len(rows), "total": total}
    return out


# ---------------------------------------------------------------------- dashboard


def dashboard(current: list[Current], now: datetime | None = None, timeline: int = 30,
              per_source: int = 6) -> View:
    """A card per enabled integration and a merged timeline of recent events."""
    now = now or utcnow()
    cards = []
    events: list[dict[str, Any]] = []
    for c in current:
        if not c.enabled:
            continue
        metrics = c.data.health.metrics if c.data else {}
        shown = [(label, fmt(metrics.get(key), key)) for key, label in CARD_METRICS.get(c.id, [])
                 if key in metrics]
        if not shown:
            shown = [(k, fmt(v, k)) for k, v in metrics.items() if isinstance(v, int | float | str)][:4]
        counts = c.data.records.non_empty() if c.data else {}
        cards.append(source(c, now) | {
            "metrics": [{"label": label, "value": value} for label, value in shown],
            "records": counts,
        })
        if c.data:  # a few per source, so one chatty service cannot drown the others
            for e in sorted(c.data.events, key=lambda e: e.time.timestamp() if e.time else 0.0,
                            reverse=True)[:per_source]:
                events.append({"time": _iso(e.time), "title": e.title, "severity": e.severity,
                               "url": e.url, "source": c.name, "plugin": c.id})
    events.sort(key=lambda e: e["time"] or "", reverse=True)
    return {
        "view": "dashboard", "title": "Dashboard", "generated_at": now.isoformat(),
        "cards": cards,
        "disabled": [{"id": c.id, "name": c.name} for c in current if not c.enabled],
        "timeline": events[:timeline],
        "empty": None if any(c.data for c in current) else {
            "message": "Nothing refreshed yet. Connect an integration in Settings, then refresh.",
            "connect": [{"id": c.id, "name": c.name, "url": f"/settings/integrations/{c.id}"}
                        for c in current if c.enabled and not c.configured],
        },
    }


# ---------------------------------------------------------------------- deployments


def deployments(current: list[Current], now: datetime | None = None, limit: int = 100) -> View:
    now = now or utcnow()
    view, used = _base("deployments", current, now)
    owned = [(p, d) for p in ("vercel", "cloudflare") for d in _records(used, p, "deployments")]
    owned.sort(key=lambda pd: pd[1].created_at.timestamp() if pd[1].created_at else 0.0, reverse=True)
    items = [d for _, d in owned]
    if not items:
        view["empty"] = _empty([("vercel", "Vercel"), ("cloudflare", "Cloudflare Pages")], "deployments")
        return view
    states = Counter(d.state for d in items)
    view["summary"] = [{"label": s, "value": fmt(n)} for s, n in states.most_common()]
    days = _day_keys(now)
    per_day: dict[str, Counter[str]] = {d: Counter() for d in days}
    for d in items:
        if d.created_at:
            key = d.created_at.strftime("%Y-%m-%d")
            if key in per_day:
                per_day[key][d.state] += 1
    order = [s for s in ("ready", "error", "canceled", "building", "queued") if states.get(s)]
    view["charts"].append({
        "id": "deploy-outcomes", "title": "Deploy outcomes per day", "kind": "stacked", "unit": "deploys",
        "labels": days, "series": {s: [per_day[d][s] for d in days] for s in order},
    })
    view["tables"].append(_table(
        "Recent deployments", ["When", "Provider", "Project", "State", "Target", "Branch", "Commit"],
        [[_when(d.created_at), d.provider or "", _cell(d.project or d.id, d.url),
          _verdict(p, "deployments", d), d.target or "", d.branch or "", (d.commit or "")[:7]]
         for p, d in owned[:limit]], total=len(owned)))
    view["items"]["deployments"] = [_item(p, "deployments", d) for p, d in owned[:limit]]
    return view


# ---------------------------------------------------------------------- errors


def errors(current: list[Current], now: datetime | None = None, limit: int = 100) -> View:
    now = now or utcnow()
    view, used = _base("errors", current, now)
    items = _records(used, "sentry", "errors")
    items.sort(key=lambda e: e.last_seen.timestamp() if e.last_seen else 0.0, reverse=True)
    if not items:
        view["empty"] = _empty([("sentry", "Sentry")], "errors")
        return view
    # Sentry's own total (its X-Hits) can exceed what the plugin read, which can exceed the rows.
    metrics = used["sentry"].data.health.metrics if used["sentry"].data else {}
    total = max(len(items), int(metrics.get("issues") or 0))
    shown = min(limit, len(items))
    read = "" if len(items) == total else f" (of the {fmt(len(items))} read)"
    view["summary"] = [{"label": "unresolved issues", "value": fmt(total)}]
    if shown < total:
        view["summary"].append({"label": "showing", "value": f"{fmt(shown)} of {fmt(total)}"})
    view["summary"] += [
        {"label": "events" + read, "value": fmt(sum(e.count for e in items))},
        {"label": "users affected" + read, "value": fmt(sum(e.user_count for e in items))},
    ]
    days = _day_keys(now)
    first = Counter(e.first_seen.strftime("%Y-%m-%d") for e in items if e.first_seen)
    view["charts"].append({
        "id": "errors-per-day", "title": "New issues per day (first seen)", "kind": "bars", "unit": "issues",
        "labels": days, "series": {"issues": [first.get(d, 0) for d in days]},
    })
    view["tables"].append(_table(
        "Unresolved issues", ["Issue", "Level", "Events", "Users", "Last seen", "Project"],
        [[_cell(f"{getattr(e, 'short_id', '') or e.id}: {e.title}", e.url), _verdict("sentry", "errors", e),
          fmt(e.count), fmt(e.user_count), _when(e.last_seen), e.project or ""] for e in items[:limit]],
        total=total))
    view["items"]["errors"] = _judged("sentry", "errors", items[:limit])
    return view


# ---------------------------------------------------------------------- code


def code(current: list[Current], now: datetime | None = None, limit: int = 50) -> View:
    now = now or utcnow()
    view, used = _base("code", current, now)
    c = used.get("github")
    if c is None or not c.enabled or c.data is None:
        view["empty"] = _empty([("github", "GitHub")], "repository data")
        return view
    m = c.data.health.metrics
    rec = c.data.records
    view["summary"] = [{"label": label, "value": fmt(m.get(key), key)} for key, label in (
        ("branch", "branch"), ("dirty_files", "dirty files"), ("staged", "staged"), ("unstaged", "unstaged"),
        ("untracked", "untracked"), ("unpushed_commits", "unpushed"), ("behind", "behind"),
        ("latest_ci_conclusion", "latest CI")) if key in m]
    latest_ci: dict[str, Any] = {}
    for run in sorted(rec.ci_runs, key=lambda r: r.created_at.timestamp() if r.created_at else 0.0):
        if run.branch:
            latest_ci[run.branch] = run
    def ci_cell(branch: str | None) -> Cell:
        run = latest_ci.get(branch or "")
        if run is None:
            return "–"
        verdict = condition("github", "ci_runs", run)
        return _cell(f"{verdict.label} ({run.name})", run.url, badge(verdict))
    view["tables"].append(_table(
        "Pull requests", ["#", "Title", "Author", "Branch", "CI", "Opened"],
        [[f"#{p.number}", _cell(p.title + (" (draft)" if p.draft else ""), p.url), p.author or "",
          p.branch or "", ci_cell(p.branch), _when(p.created_at)] for p in rec.pull_requests[:limit]],
        total=len(rec.pull_requests)))
    view["tables"].append(_table(
        "CI runs", ["Workflow", "Branch", "Result", "When"],
        [[_cell(r.name, r.url), r.branch or "", _verdict("github", "ci_runs", r), _when(r.created_at)]
         for r in rec.ci_runs[:limit]], total=len(rec.ci_runs)))
    view["tables"].append(_table(
        "Issues", ["#", "Title", "Author", "Labels", "Opened"],
        [[f"#{i.number}", _cell(i.title, i.url), i.author or "", ", ".join(i.labels), _when(i.created_at)]
         for i in rec.issues[:limit]], total=len(rec.issues)))
    view["tables"].append(_table(
        "Branches", ["Branch", "Upstream", "Last commit"],
        [[("* " if b.current else "") + b.name, b.upstream or "", b.last_commit or ""] for b in rec.branches[:limit]],
        total=len(rec.branches)))
    view["tables"].append(_table(
        "Recent commits", ["Commit", "Subject", "Author", "Date"],
        [[cm.hash[:8], cm.subject, cm.author, _when(cm.date)] for cm in rec.commits[:20]]))
    view["items"] = {k: _dump(getattr(rec, k)[:limit]) for k in ("pull_requests", "issues", "branches", "commits")}
    view["items"]["ci_runs"] = _judged("github", "ci_runs", rec.ci_runs[:limit])
    view["items"]["working_tree"] = {k: m.get(k) for k in ("branch", "detached", "dirty_files", "staged",
                                                            "unstaged", "untracked", "conflicted",
                                                            "unpushed_commits", "behind")}
    return view


# ---------------------------------------------------------------------- infrastructure


def infra(current: list[Current], now: datetime | None = None) -> View:
    now = now or utcnow()
    view, used = _base("infra", current, now)
    instances = _records(used, "aws-ec2", "instances")
    databases = _records(used, "upstash", "databases")
    projects = _records(used, "supabase", "projects")
    zones = _records(used, "cloudflare", "zones")
    workers = _records(used, "cloudflare", "workers")
    if instances:
        view["tables"].append({
            "title": "EC2 instances", "columns": ["Name", "ID", "State", "Type", "Region", "Public IP", "Health"],
            "rows": [[i.name or "", i.id, _verdict("aws-ec2", "instances", i), i.type or "",
                      i.region or "", i.public_ip or "", i.health or ""] for i in instances],
        })
    if databases:
        view["tables"].append({
            "title": "Upstash databases", "columns": ["Name", "State", "Type", "Region", "Requests/month", "Storage"],
            "rows": [[_cell(d.name, getattr(d, "url", None)), _verdict("upstash", "databases", d),
                      d.type or "", d.region or "", fmt(d.monthly_requests),
                      f"{(d.storage_bytes or 0) / 1e6:,.1f} MB"] for d in databases],
        })
    if projects:
        view["tables"].append({
            "title": "Supabase projects", "columns": ["Project", "Status", "Region", "Services"],
            "rows": [[_cell(p.name, p.url), _verdict("supabase", "projects", p), p.region or "",
                      ", ".join(f"{k}: {v}" for k, v in sorted(p.services.items())) or "–"] for p in projects],
        })
    if zones:
        view["tables"].append({
            "title": "Cloudflare zones", "columns": ["Zone", "Status", "Plan"],
            "rows": [[z.name, _verdict("cloudflare", "zones", z), str(getattr(z, "plan", "") or "")]
                     for z in zones],
        })
    if workers:
        view["tables"].append({
            "title": "Cloudflare Workers", "columns": ["Worker", "Last modified"],
            "rows": [[w.name, _when(w.modified_at)] for w in workers],
        })
    view["summary"] = [{"label": label, "value": fmt(len(items))} for label, items in (
        ("EC2 instances", instances), ("databases", databases), ("Supabase projects", projects),
        ("zones", zones), ("Workers", workers)) if items]
    view["items"] = {"instances": _judged("aws-ec2", "instances", instances),
                     "databases": _judged("upstash", "databases", databases),
                     "projects": _judged("supabase", "projects", projects),
                     "zones": _judged("cloudflare", "zones", zones), "workers": _dump(workers)}
    if not view["tables"]:
        view["empty"] = _empty([("aws-ec2", "AWS EC2"), ("upstash", "Upstash"), ("supabase", "Supabase"),
                                ("cloudflare", "Cloudflare")], "infrastructure")
    return view


# ---------------------------------------------------------------------- AI usage


def ai(current: list[Current], now: datetime | None = None) -> View:
    now = now or utcnow()
    view, used = _base("ai", current, now)
    usage = _records(used, "helicone", "llm_usage")
    if not usage:
        view["empty"] = _empty([("helicone", "Helicone")], "AI usage")
        return view
    per_day = [u for u in usage if getattr(u, "kind", None) == "day" or (u.model == "all" and u.day)]
    per_model_rows = [u for u in usage if u not in per_day]
    by_model: dict[str, dict[str, float]] = defaultdict(lambda: {"requests": 0, "cost": 0.0, "tokens": 0})
    for u in per_model_rows:
        agg = by_model[u.model]
        agg["requests"] += u.requests
        agg["cost"] += u.cost_usd
        agg["tokens"] += (u.prompt_tokens or 0) + (u.completion_tokens or 0)
    days = _day_keys(now)
    cost = {u.day: u.cost_usd for u in per_day if u.day}
    reqs = {u.day: u.requests for u in per_day if u.day}
    if not cost:  # no per-day rows: sum what the per-model rows say per day
        for u in per_model_rows:
            if u.day:
                cost[u.day] = cost.get(u.day, 0.0) + u.cost_usd
                reqs[u.day] = reqs.get(u.day, 0) + u.requests
    view["summary"] = [
        {"label": "cost (shown days)", "value": fmt(sum(cost.values()), "cost")},
        {"label": "requests (shown days)", "value": fmt(sum(reqs.values()))},
        {"label": "models", "value": fmt(len(by_model))},
    ]
    view["charts"] += [
        {"id": "cost-per-day", "title": "Cost per day (USD)", "kind": "bars", "unit": "USD",
         "labels": days, "series": {"cost": [round(cost.get(d, 0.0), 4) for d in days]}},
        {"id": "requests-per-day", "title": "Requests per day", "kind": "bars", "unit": "requests",
         "labels": days, "series": {"requests": [reqs.get(d, 0) for d in days]}},
    ]
    ranked = sorted(by_model.items(), key=lambda kv: kv[1]["cost"], reverse=True)
    view["tables"].append({
        "title": "Per model", "columns": ["Model", "Requests", "Cost", "Tokens"],
        "rows": [[model, fmt(int(a["requests"])), fmt(a["cost"], "cost"), fmt(int(a["tokens"]))]
                 for model, a in ranked],
    })
    view["tables"].append({
        "title": "Per day", "columns": ["Day", "Requests", "Cost"],
        "rows": [[d, fmt(reqs.get(d, 0)), fmt(float(cost.get(d, 0.0)), "cost")] for d in reversed(days)
                 if d in cost or d in reqs],
    })
    view["items"] = {"per_model": [{"model": m, **a} for m, a in ranked],
                     "per_day": [{"day": d, "requests": reqs.get(d, 0), "cost_usd": cost.get(d, 0.0)}
                                 for d in sorted(set(cost) | set(reqs))]}
    return view


BUILDERS: dict[str, Callable[..., View]] = {
    "dashboard": dashboard, "deployments": deployments, "errors": errors, "code": code, "infra": infra, "ai": ai,
}


def build(name: str, current: list[Current], now: datetime | None = None) -> View:
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise KeyError(f"unknown view {name!r} (views: {', '.join(BUILDERS)})") from None
    return builder(current, now)
