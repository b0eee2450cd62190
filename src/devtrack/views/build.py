"""The views, built from normalised records across plugins into plain JSON-ready dicts.

One model, three renderings: the JSON endpoints return it as is, the CLI prints its
``tables`` and ``summary``, the pages render the same tables plus ``charts`` as inline SVG.
A table cell is a string or ``{"text", "url"?, "badge"?}``; a table whose rows stop short of
what the plugin holds says so with ``shown`` and ``total``. Every badge is its plugin's verdict
on that item (:mod:`.conditions`), and each item in ``items`` carries it as ``condition``.

Views merge every connection of their plugins (a personal and a team Vercel account): each
item carries ``connection`` (its id) and ``connection_label`` ("Vercel · acme"), a table
lists its rows' connection ids in ``connections``, and once a view draws on more than one
connection of a plugin its tables gain a "Connection" column. ``connection=ID`` keeps one connection's
rows; ``view["connections"]`` lists those a view could show, for the filter.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from ..integrations.contract import utcnow
from .conditions import badge, condition
from . import timeline as timeline_items
from .current import Current

View = dict[str, Any]
Cell = str | dict[str, Any]

VIEWS: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (title, plugins it reads); a view in OPEN_VIEWS also reads any other plugin's records
    "deployments": ("Deployments", ("vercel", "cloudflare")),
    "errors": ("Errors", ("sentry",)),
    "code": ("Code", ("github",)),
    "infra": ("Infrastructure", ("aws-ec2", "upstash", "supabase", "cloudflare")),
    "ai": ("AI usage", ("helicone",)),
}
#: Views built from one typed record kind alone, so they show that kind from every plugin that
#: provides it (a third-party Netlify plugin's deployments too), not only from the plugins named.
OPEN_VIEWS: dict[str, str] = {"deployments": "deployments"}
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
            if 0 < abs(value) < 0.01:  # a fraction of a cent is not $0.00
                return f"${value:.4f}".rstrip("0")
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
    """A connection's freshness as every view reports it (``name`` is its label)."""
    return {
        "id": c.id,
        "name": c.name,
        "plugin": c.plugin,
        "connection": c.id,
        "connection_label": c.name,
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


def _empty(names: list[tuple[str, str]], what: str, current: list[Current] | None = None) -> dict[str, Any]:
    """What an empty view says: "No … yet" when a source is connected (it has nothing yet),
    that a configured source is disabled, else which ones to connect."""
    mine = [c for c in current or [] if c.plugin in {pid for pid, _ in names}]
    if any(c.enabled and c.configured for c in mine):
        return {"message": f"No {what} yet.", "connect": [], "state": "connected"}
    disabled = [c for c in mine if c.configured and not c.enabled]
    if disabled:
        listed = " and ".join(c.name for c in disabled)
        return {"message": f"{listed} {'is' if len(disabled) == 1 else 'are'} disabled: enable "
                           f"{'it' if len(disabled) == 1 else 'them'} in Settings to see {what} here.",
                "connect": [], "enable": [{"id": c.id, "name": c.name, "url": f"/settings/integrations/{c.id}"}
                                          for c in disabled], "state": "disabled"}
    listed = " or ".join(n for _, n in names)
    return {
        "message": f"{listed} {'is' if len(names) == 1 else 'are'} not connected. Connect {listed} to see {what} here.",
        "connect": [{"id": pid, "name": n, "url": f"/settings/integrations/{pid}"} for pid, n in names],
        "state": "not_connected",
    }


def _day_keys(now: datetime, days: int = CHART_DAYS) -> list[str]:
    return [(now - timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days - 1, -1, -1)]


#: A chart's axis starts at its first day with data, but never spans fewer days than this.
MIN_CHART_DAYS = 7


def _spanned(days: list[str], has_data: Callable[[str], bool]) -> list[str]:
    """The days from the first with data to today (at least :data:`MIN_CHART_DAYS`), so an
    axis spans the data instead of weeks of nothing."""
    first = next((i for i, d in enumerate(days) if has_data(d)), len(days))
    return days[min(first, max(0, len(days) - MIN_CHART_DAYS)):]


def _period(days: list[str]) -> str:
    return f"last {len(days)} days"


Used = dict[str, list[Current]]
#: The column a table of a view drawing on several connections gains.
CONNECTION_COLUMN = "Connection"


def _several(connections: list[Current]) -> bool:
    """Whether some plugin has more than one connection here: then rows say which they are from."""
    plugins = [c.plugin for c in connections]
    return len(plugins) > len(set(plugins))


def _listed(connections: list[Current]) -> list[dict[str, str]]:
    """The connections a filter offers: those that can have data (enabled and configured)."""
    return [{"id": c.id, "label": c.name, "plugin": c.plugin} for c in connections if c.configured]


def _base(name: str, current: list[Current], now: datetime, connection: str | None = None) -> tuple[View, Used]:
    """The view's frame and its enabled connections per plugin (only ``connection``'s if given)."""
    title, plugins = VIEWS[name]
    mine = [c for p in plugins for c in current if c.plugin == p and c.enabled]
    if name in OPEN_VIEWS:  # then every other connection holding records of the view's kind
        kind = OPEN_VIEWS[name]
        mine += [c for c in current if c.enabled and c.plugin not in plugins
                 and c.data is not None and getattr(c.data.records, kind)]
    shown = [c for c in mine if connection is None or c.id == connection]
    used: Used = {}
    for c in shown:
        used.setdefault(c.plugin, []).append(c)
    view: View = {
        "view": name, "title": title, "generated_at": now.isoformat(),
        "connections": _listed(mine),
        "connection": connection, "labelled": _several([c for c in mine if c.configured]),
        "sources": [source(c, now) for c in shown],
        "empty": None, "summary": [], "charts": [], "tables": [], "items": {},
    }
    return view, used


def _records(used: Used, plugin: str, kind: str) -> list[tuple[Current, Any]]:
    """Every record of a kind from each connection of a plugin, with the connection it came from."""
    return [(c, r) for c in used.get(plugin, []) if c.data is not None for r in getattr(c.data.records, kind)]


def _conn(c: Current) -> dict[str, str]:
    return {"connection": c.id, "connection_label": c.name}


def _dump(pairs: Iterable[tuple[Current, Any]]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") | _conn(c) for c, r in pairs]


def _judged(plugin: str, kind: str, pairs: Iterable[tuple[Current, Any]]) -> list[dict[str, Any]]:
    """Records as JSON, each with its plugin's verdict (the one its badge shows) and connection."""
    return [_item(c, plugin, kind, r) for c, r in pairs]


def _item(c: Current, plugin: str, kind: str, record: Any) -> dict[str, Any]:
    return record.model_dump(mode="json") | {"condition": condition(plugin, kind, record).dump()} | _conn(c)


def _verdict(plugin: str, kind: str, record: Any) -> Cell:
    """A cell saying the plugin's verdict on ``record``, badged by it."""
    c = condition(plugin, kind, record)
    return _cell(c.label, badge=badge(c))


def _table(view: View, title: str, columns: list[str], rows: list[tuple[Current | None, list[Cell]]],
           total: int | None = None) -> dict[str, Any]:
    """A table of rows, each from a connection (``None``: a sum over them); ``total`` when the
    plugin holds more items than the rows show. A view of several connections labels each row."""
    cols = list(columns)
    cells = [row for _, row in rows]
    if view["labelled"]:
        cols.append(CONNECTION_COLUMN)
        cells = [row + [c.name if c else "all"] for c, row in rows]
    out: dict[str, Any] = {"title": title, "columns": cols, "rows": cells,
                           "connections": [c.id if c else None for c, _ in rows]}
    if total is not None and total > len(rows):
        out |= {"shown": len(rows), "total": total}
    return out


# ---------------------------------------------------------------------- dashboard


def dashboard(current: list[Current], now: datetime | None = None, timeline: int = 30,
              per_source: int = 6, connection: str | None = None) -> View:
    """A card per enabled connection and a merged timeline of recent events."""
    now = now or utcnow()
    cards = []
    events: list[dict[str, Any]] = []
    listed = [c for c in current if c.enabled]
    shown = [c for c in current if connection is None or c.id == connection]
    for c in shown:
        if not c.enabled:
            continue
        metrics = c.data.health.metrics if c.data else {}
        picked = [(label, fmt(metrics.get(key), key)) for key, label in CARD_METRICS.get(c.plugin, [])
                  if key in metrics]
        if not picked:
            picked = [(k, fmt(v, k)) for k, v in metrics.items() if isinstance(v, int | float | str)][:4]
        counts = c.data.records.non_empty() if c.data else {}
        cards.append(source(c, now) | {
            "metrics": [{"label": label, "value": value} for label, value in picked],
            "records": counts,
        })
        if c.data:  # a few per source, so one chatty service cannot drown the others
            for e in sorted(c.data.events, key=lambda e: e.time.timestamp() if e.time else 0.0,
                            reverse=True)[:per_source]:
                events.append({"time": _iso(e.time), "title": e.title, "severity": e.severity,
                               "url": e.url, "source": c.name, "plugin": c.plugin, **_conn(c)})
    events.sort(key=lambda e: e["time"] or "", reverse=True)
    return {
        "view": "dashboard", "title": "Dashboard", "generated_at": now.isoformat(),
        "connections": _listed(listed),
        "connection": connection, "labelled": _several([c for c in listed if c.configured]),
        "cards": cards,
        "disabled": [{"id": c.id, "name": c.name} for c in shown if not c.enabled],
        "timeline": events[:timeline],
        # one time axis: deploys per connection, new errors, CI runs, incidents (views.timeline)
        "timeline_chart": timeline_items.build([c for c in shown if c.enabled], now),
        "empty": None if any(c.data for c in shown) else {
            "message": "Nothing refreshed yet. Connect an integration in Settings, then refresh.",
            "connect": [{"id": c.id, "name": c.name, "url": f"/settings/integrations/{c.id}"}
                        for c in shown if c.enabled and not c.configured],
        },
    }


# ---------------------------------------------------------------------- deployments


def deployments(current: list[Current], now: datetime | None = None, limit: int = 100,
                connection: str | None = None) -> View:
    now = now or utcnow()
    view, used = _base("deployments", current, now, connection)
    owned = [(c, p, d) for p in used for c, d in _records(used, p, "deployments")]
    owned.sort(key=lambda cpd: cpd[2].created_at.timestamp() if cpd[2].created_at else 0.0, reverse=True)
    items = [d for _, _, d in owned]
    if not items:
        view["empty"] = _empty([("vercel", "Vercel"), ("cloudflare", "Cloudflare Pages")], "deployments", current)
        return view
    states = Counter(d.state for d in items)
    view["summary"] = [{"label": "deployments read (newest)", "value": fmt(len(items))}] + [
        {"label": f"{s} {'deploy' if n == 1 else 'deploys'}", "value": fmt(n)} for s, n in states.most_common()]
    days = _day_keys(now)
    per_day: dict[str, Counter[str]] = {d: Counter() for d in days}
    for d in items:
        if d.created_at:
            key = d.created_at.strftime("%Y-%m-%d")
            if key in per_day:
                per_day[key][d.state] += 1
    order = [s for s in ("ready", "error", "canceled", "deleted", "building", "queued") if states.get(s)]
    days = _spanned(days, lambda d: bool(per_day[d]))
    view["charts"].append({
        "id": "deploy-outcomes", "title": f"Deploy outcomes per day ({_period(days)})", "kind": "stacked",
        "unit": "deploys",
        "labels": days, "series": {s: [per_day[d][s] for d in days] for s in order},
    })
    view["tables"].append(_table(
        view, "Recent deployments", ["When", "Provider", "Project", "State", "Target", "Branch", "Commit"],
        [(c, [_when(d.created_at), d.provider or "", _cell(d.project or d.id, d.url),
              _verdict(p, "deployments", d), d.target or "", d.branch or "", (d.commit or "")[:7]])
         for c, p, d in owned[:limit]], total=len(owned)))
    view["items"]["deployments"] = [_item(c, p, "deployments", d) for c, p, d in owned[:limit]]
    return view


# ---------------------------------------------------------------------- errors


def errors(current: list[Current], now: datetime | None = None, limit: int = 100,
           connection: str | None = None) -> View:
    now = now or utcnow()
    view, used = _base("errors", current, now, connection)
    pairs = _records(used, "sentry", "errors")
    pairs.sort(key=lambda ce: ce[1].last_seen.timestamp() if ce[1].last_seen else 0.0, reverse=True)
    items = [e for _, e in pairs]
    if not items:
        view["empty"] = _empty([("sentry", "Sentry")], "errors", current)
        return view
    # Sentry's own total (its X-Hits) can exceed what the plugin read, which can exceed the rows.
    total = 0
    for c in used.get("sentry", []):
        read_here = len(c.data.records.errors) if c.data else 0
        total += max(read_here, int((c.data.health.metrics if c.data else {}).get("issues") or 0))
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
    days = _spanned(days, lambda d: bool(first.get(d)))
    view["charts"].append({
        "id": "errors-per-day", "title": f"New issues per day (first seen, {_period(days)})", "kind": "bars", "unit": "issues",
        "labels": days, "series": {"issues": [first.get(d, 0) for d in days]},
    })
    view["tables"].append(_table(
        view, "Unresolved issues", ["Issue", "Level", "Events", "Users", "Last seen", "Project"],
        [(c, [_cell(f"{getattr(e, 'short_id', '') or e.id}: {e.title}", e.url), _verdict("sentry", "errors", e),
              fmt(e.count), fmt(e.user_count), _when(e.last_seen), e.project or ""]) for c, e in pairs[:limit]],
        total=total))
    view["items"]["errors"] = _judged("sentry", "errors", pairs[:limit])
    return view


# ---------------------------------------------------------------------- code


def code(current: list[Current], now: datetime | None = None, limit: int = 50,
         connection: str | None = None) -> View:
    """The repository's working tree, branches and commits (local git: the first GitHub
    connection with data tells them), and every connection's pull requests, CI runs and issues."""
    now = now or utcnow()
    view, used = _base("code", current, now, connection)
    with_data = [c for c in used.get("github", []) if c.data is not None]
    if not with_data:
        view["empty"] = _empty([("github", "GitHub")], "repository data", current)
        return view
    main = with_data[0]
    assert main.data is not None
    m = main.data.health.metrics
    view["summary"] = [{"label": label, "value": fmt(m.get(key), key)} for key, label in (
        ("branch", "branch"), ("dirty_files", "dirty files"), ("staged", "staged"), ("unstaged", "unstaged"),
        ("untracked", "untracked"), ("unpushed_commits", "unpushed"), ("behind", "behind"),
        ("latest_ci_conclusion", "latest CI")) if key in m]
    prs = _records(used, "github", "pull_requests")
    runs = _records(used, "github", "ci_runs")
    issues = _records(used, "github", "issues")
    branches = [(main, b) for b in main.data.records.branches]
    commits = [(main, cm) for cm in main.data.records.commits]
    latest_ci: dict[tuple[str, str], Any] = {}
    for c, run in sorted(runs, key=lambda cr: cr[1].created_at.timestamp() if cr[1].created_at else 0.0):
        if run.branch:
            latest_ci[(c.id, run.branch)] = run

    def ci_cell(c: Current, branch: str | None) -> Cell:
        run = latest_ci.get((c.id, branch or ""))
        if run is None:
            return "–"
        verdict = condition("github", "ci_runs", run)
        return _cell(f"{verdict.label} ({run.name})", run.url, badge(verdict))

    view["tables"].append(_table(
        view, "Pull requests", ["#", "Title", "Author", "Branch", "CI", "Opened"],
        [(c, [f"#{p.number}", _cell(p.title + (" (draft)" if p.draft else ""), p.url), p.author or "",
              p.branch or "", ci_cell(c, p.branch), _when(p.created_at)]) for c, p in prs[:limit]],
        total=len(prs)))
    view["tables"].append(_table(
        view, "CI runs", ["Workflow", "Branch", "Result", "When"],
        [(c, [_cell(r.name, r.url), r.branch or "", _verdict("github", "ci_runs", r), _when(r.created_at)])
         for c, r in runs[:limit]], total=len(runs)))
    view["tables"].append(_table(
        view, "Issues", ["#", "Title", "Author", "Labels", "Opened"],
        [(c, [f"#{i.number}", _cell(i.title, i.url), i.author or "", ", ".join(i.labels), _when(i.created_at)])
         for c, i in issues[:limit]], total=len(issues)))
    view["tables"].append(_table(
        view, "Branches", ["Branch", "Upstream", "Last commit"],
        [(c, [("* " if b.current else "") + b.name, b.upstream or "", b.last_commit or ""])
         for c, b in branches[:limit]], total=len(branches)))
    view["tables"].append(_table(
        view, "Recent commits", ["Commit", "Subject", "Author", "Date"],
        [(c, [cm.hash[:8], cm.subject, cm.author, _when(cm.date)]) for c, cm in commits[:20]]))
    view["items"] = {"pull_requests": _dump(prs[:limit]), "issues": _dump(issues[:limit]),
                     "branches": _dump(branches[:limit]), "commits": _dump(commits[:limit])}
    view["items"]["ci_runs"] = _judged("github", "ci_runs", runs[:limit])
    view["items"]["working_tree"] = {k: m.get(k) for k in ("branch", "detached", "dirty_files", "staged",
                                                            "unstaged", "untracked", "conflicted",
                                                            "unpushed_commits", "behind")} | _conn(main)
    return view


# ---------------------------------------------------------------------- infrastructure


def _services(services: dict[str, str]) -> Cell:
    """A Supabase project's services as one badge each, the unhealthy ones first."""
    if not services:
        return "–"
    healthy = {k: str(v).upper() == "ACTIVE_HEALTHY" for k, v in services.items()}
    ordered = sorted(services, key=lambda k: (healthy[k], k))
    return {"text": ", ".join(f"{k}: {services[k]}" for k in ordered),
            "badges": [{"text": k if healthy[k] else f"{k}: {str(services[k]).lower().replace('_', ' ')}",
                        "badge": "ok" if healthy[k] else "bad"} for k in ordered]}


def _health(health: str | None) -> Cell:
    """An EC2 status check: "impaired" stands out, the others stay plain."""
    if not health:
        return ""
    return _cell(health, badge="bad") if health == "impaired" else health


def infra(current: list[Current], now: datetime | None = None, connection: str | None = None) -> View:
    now = now or utcnow()
    view, used = _base("infra", current, now, connection)
    instances = _records(used, "aws-ec2", "instances")
    databases = _records(used, "upstash", "databases")
    projects = _records(used, "supabase", "projects")
    zones = _records(used, "cloudflare", "zones")
    workers = _records(used, "cloudflare", "workers")
    if instances:
        view["tables"].append(_table(
            view, "EC2 instances", ["Name", "ID", "State", "Type", "Region", "Public IP", "Health"],
            [(c, [i.name or "", i.id, _verdict("aws-ec2", "instances", i), i.type or "",
                  i.region or "", i.public_ip or "", _health(i.health)]) for c, i in instances]))
    if databases:
        view["tables"].append(_table(
            view, "Upstash databases", ["Name", "State", "Type", "Region", "Requests/month", "Storage"],
            [(c, [_cell(d.name, getattr(d, "url", None)), _verdict("upstash", "databases", d),
                  d.type or "", d.region or "", fmt(d.monthly_requests),
                  f"{(d.storage_bytes or 0) / 1e6:,.1f} MB"]) for c, d in databases]))
    if projects:
        view["tables"].append(_table(
            view, "Supabase projects", ["Project", "Status", "Region", "Services"],
            [(c, [_cell(p.name, p.url), _verdict("supabase", "projects", p), p.region or "",
                  _services(p.services)]) for c, p in projects]))
    if zones:
        view["tables"].append(_table(
            view, "Cloudflare zones", ["Zone", "Status", "Plan"],
            [(c, [z.name, _verdict("cloudflare", "zones", z), str(getattr(z, "plan", "") or "")])
             for c, z in zones]))
    if workers:
        view["tables"].append(_table(
            view, "Cloudflare Workers", ["Worker", "Last modified"],
            [(c, [w.name, _when(w.modified_at)]) for c, w in workers]))
    view["summary"] = [{"label": label, "value": fmt(len(items))} for label, items in (
        ("EC2 instances", instances), ("databases", databases), ("Supabase projects", projects),
        ("zones", zones), ("Workers", workers)) if items]
    view["items"] = {"instances": _judged("aws-ec2", "instances", instances),
                     "databases": _judged("upstash", "databases", databases),
                     "projects": _judged("supabase", "projects", projects),
                     "zones": _judged("cloudflare", "zones", zones), "workers": _dump(workers)}
    if not view["tables"]:
        view["empty"] = _empty([("aws-ec2", "AWS EC2"), ("upstash", "Upstash"), ("supabase", "Supabase"),
                                ("cloudflare", "Cloudflare")], "infrastructure", current)
    return view


# ---------------------------------------------------------------------- AI usage


def ai(current: list[Current], now: datetime | None = None, connection: str | None = None) -> View:
    now = now or utcnow()
    view, used = _base("ai", current, now, connection)
    usage = _records(used, "helicone", "llm_usage")
    if not usage:
        view["empty"] = _empty([("helicone", "Helicone")], "AI usage", current)
        return view
    by_model: dict[tuple[str, str], dict[str, float]] = defaultdict(
        lambda: {"requests": 0, "cost": 0.0, "tokens": 0})
    owner: dict[str, Current] = {}
    cost: dict[str, float] = {}
    reqs: dict[str, int] = {}
    for c in used.get("helicone", []):
        mine = [u for cc, u in usage if cc is c]
        per_day = [u for u in mine if getattr(u, "kind", None) == "day" or (u.model == "all" and u.day)]
        per_model_rows = [u for u in mine if u not in per_day]
        owner[c.id] = c
        for u in per_model_rows:
            agg = by_model[(c.id, u.model)]
            agg["requests"] += u.requests
            agg["cost"] += u.cost_usd
            agg["tokens"] += (u.prompt_tokens or 0) + (u.completion_tokens or 0)
        # per-day rows where the connection has them; else what its per-model rows say per day
        for u in per_day or [u for u in per_model_rows if u.day]:
            if u.day:
                cost[u.day] = cost.get(u.day, 0.0) + u.cost_usd
                reqs[u.day] = reqs.get(u.day, 0) + u.requests
    days = _spanned(_day_keys(now), lambda d: bool(cost.get(d) or reqs.get(d)))
    models = {model for _, model in by_model}
    model_days = sorted({u.day for _, u in usage if u.model != "all" and getattr(u, "kind", None) != "day" and u.day})
    today = now.strftime("%Y-%m-%d")
    model_period = "today" if model_days == [today] else ", ".join(model_days) or "the plugin's window"
    view["summary"] = [
        {"label": f"cost ({_period(days)})", "value": fmt(sum(cost.get(d, 0.0) for d in days), "cost")},
        {"label": f"requests ({_period(days)})", "value": fmt(sum(reqs.get(d, 0) for d in days))},
        {"label": f"models ({model_period})", "value": fmt(len(models))},
    ]
    view["charts"] += [
        {"id": "cost-per-day", "title": f"Cost per day (USD, {_period(days)})", "kind": "bars", "unit": "USD",
         "labels": days, "series": {"cost": [round(cost.get(d, 0.0), 4) for d in days]}},
        {"id": "requests-per-day", "title": f"Requests per day ({_period(days)})", "kind": "bars", "unit": "requests",
         "labels": days, "series": {"requests": [reqs.get(d, 0) for d in days]}},
    ]
    ranked = sorted(by_model.items(), key=lambda kv: kv[1]["cost"], reverse=True)
    view["tables"].append(_table(
        view, "Per model", ["Model", "Requests", "Cost", "Tokens"],
        [(owner[cid], [model, fmt(int(a["requests"])), fmt(a["cost"], "cost"), fmt(int(a["tokens"]))])
         for (cid, model), a in ranked]))
    view["tables"][-1]["period"] = model_period
    view["tables"].append(_table(  # sums over the connections shown
        view, "Per day", ["Day", "Requests", "Cost"],
        [(None, [d, fmt(reqs.get(d, 0)), fmt(float(cost.get(d, 0.0)), "cost")]) for d in reversed(days)
         if d in cost or d in reqs]))
    view["tables"][-1]["period"] = _period(days)
    view["items"] = {"per_model": [{"model": m, **a} | _conn(owner[cid]) for (cid, m), a in ranked],
                     "per_day": [{"day": d, "requests": reqs.get(d, 0), "cost_usd": cost.get(d, 0.0)}
                                 for d in sorted(set(cost) | set(reqs))]}
    return view


BUILDERS: dict[str, Callable[..., View]] = {
    "dashboard": dashboard, "deployments": deployments, "errors": errors, "code": code, "infra": infra, "ai": ai,
}


def build(name: str, current: list[Current], now: datetime | None = None,
          connection: str | None = None) -> View:
    """One view; ``connection`` keeps only that connection's cards and rows."""
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise KeyError(f"unknown view {name!r} (views: {', '.join(BUILDERS)})") from None
    return builder(current, now, connection=connection)
