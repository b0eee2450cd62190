"""The built-in rules: each a pure function from what the snapshots say to conditions.

A rule gets a :class:`Context` (one connection's newest good data, the data before it, its
refresh state, every connection's data for rules that look across services, its settings and
the subjects it has open incidents for) and returns :class:`Finding` s: one per subject (a
project, an instance, an issue…) whose condition holds now. The engine opens an incident for a
new subject and resolves the open ones no longer found; a rule may return a finding with
``active=False`` to say in words how one resolved ("recovered: dpl_… is ready").

Rules judge items with the plugins' own verdict functions (``integrations.condition`` and each
plugin's ``*_condition``), so an alert never disagrees with the badge on the page.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..integrations.contract import Deployment, ErrorIssue, IntegrationData
from ..views.state import PluginState


@dataclass(frozen=True)
class Setting:
    default: Any
    help: str

    def parse(self, raw: str) -> Any:
        """A value typed by the user (``key=value``) as this setting's type; ValueError if not."""
        kind = type(self.default)
        if kind is bool:
            low = raw.strip().lower()
            if low in ("true", "yes", "on", "1"):
                return True
            if low in ("false", "no", "off", "0"):
                return False
            raise ValueError(f"expected true or false, not {raw!r}")
        if kind in (int, float):
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"expected a number, not {raw!r}") from None
            if value < 0:
                raise ValueError(f"expected a number ≥ 0, not {raw!r}")
            return value
        return raw.strip()


@dataclass(frozen=True)
class Finding:
    subject: str
    title: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    #: ``False``: not a condition but the words for how an open incident resolved.
    active: bool = True


@dataclass
class Context:
    connection: str
    label: str  # "Vercel · acme"
    data: IntegrationData | None  # newest good data
    previous: IntegrationData | None  # the good data before it
    state: PluginState | None
    settings: dict[str, Any]
    now: datetime
    #: subject -> details of this rule's open incident for this connection
    open: dict[str, dict[str, Any]]
    #: every connection's newest good data and label (rules that look across services)
    everything: dict[str, IntegrationData] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    #: (metric, since) -> [(time, value)] of this connection's stored good snapshots
    history: Callable[[str, datetime], list[tuple[datetime, Any]]] = lambda metric, since: []


Evaluate = Callable[[Context], list[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    #: Plugins whose connections the rule's incidents belong to.
    plugins: tuple[str, ...]
    evaluate: Evaluate
    settings: dict[str, Setting] = field(default_factory=dict)
    #: Other plugins whose refreshes change the rule's verdict (deploy → errors: sentry).
    watches: tuple[str, ...] = ()
    #: Judges the refresh state, so it runs after failed refreshes too.
    on_failures: bool = False

    def defaults(self) -> dict[str, Any]:
        return {k: s.default for k, s in self.settings.items()}


def _short(sha: str | None) -> str:
    return (sha or "")[:7] or "unknown commit"


def _words(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# ---------------------------------------------------------------------- connection failing


def connection_failing(ctx: Context) -> list[Finding]:
    st = ctx.state
    if st is None or st.error is None:
        return []
    err = st.error
    fix = (f" Re-enter its credentials: devtrack integrations set {ctx.connection}, or Settings → "
           f"Integrations (/settings/integrations/{ctx.connection}).")
    if err.kind == "auth" or st.needs_attention:
        return [Finding("", f"{ctx.label}: credentials rejected",
                        f"{ctx.label} rejected its credentials: {err.message}{fix}", {"kind": str(err.kind)})]
    wanted = max(1, int(ctx.settings["failures"]))
    if st.failures < wanted and "" not in ctx.open:
        return []
    return [Finding("", f"{ctx.label} is failing ({err.kind})",
                    f"{ctx.label} failed {st.failures} refresh(es) in a row: {err.kind}: {err.message}",
                    {"kind": str(err.kind), "failures": st.failures})]


# ---------------------------------------------------------------------- deployments


def _latest_production(deployments: list[Deployment]) -> dict[str, Deployment]:
    """Each project's newest finished production deployment."""
    out: dict[str, Deployment] = {}
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    for d in sorted(deployments, key=lambda d: d.created_at or epoch, reverse=True):
        if d.target == "production" and d.state in ("ready", "error") and (d.project or "") not in out:
            out[d.project or ""] = d
    return out


def production_deploy_failed(ctx: Context) -> list[Finding]:
    from ..integrations.condition import deployment_condition

    if ctx.data is None:
        return []
    out = []
    for project, d in _latest_production(ctx.data.records.deployments).items():
        name = getattr(d, "name", None) or project
        if deployment_condition(d).level == "bad":
            error = getattr(d, "error", None)
            out.append(Finding(
                project, f"{ctx.label}: production deploy of {name} failed",
                f"The production deployment {d.id} of {name} ({ctx.label}) failed"
                f" (commit {_short(d.commit)}{' on ' + d.branch if d.branch else ''})"
                + (f": {error}" if error else "") + (f". {d.url}" if d.url else "."),
                {"deployment": d.id, "commit": d.commit}))
        elif project in ctx.open:
            out.append(Finding(project, f"{ctx.label}: production of {name} recovered",
                               f"{name} ({ctx.label}) recovered: production deployment {d.id} "
                               f"(commit {_short(d.commit)}) is ready.", {"deployment": d.id}, active=False))
    return out


# ---------------------------------------------------------------------- CI


def ci_failed(ctx: Context) -> list[Finding]:
    from ..integrations.plugins.github import ci_condition

    if ctx.data is None:
        return []
    branches = [b.strip() for b in str(ctx.settings["branches"]).split(",") if b.strip()]
    latest: dict[str, Any] = {}
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    for run in sorted(ctx.data.records.ci_runs, key=lambda r: r.created_at or epoch, reverse=True):
        if run.branch in branches and run.conclusion and f"{run.branch}/{run.name}" not in latest:
            latest[f"{run.branch}/{run.name}"] = run
    out = []
    for subject, run in latest.items():
        if ci_condition(run).level == "bad":
            out.append(Finding(subject, f"{ctx.label}: CI {run.name} failed on {run.branch}",
                               f"CI {run.name} {run.conclusion} on {run.branch} ({ctx.label})"
                               + (f": {run.url}" if run.url else "."), {"run": run.id}))
        elif subject in ctx.open:
            out.append(Finding(subject, f"{ctx.label}: CI {run.name} passes on {run.branch} again",
                               f"CI {run.name} passes on {run.branch} again ({ctx.label}).", {"run": run.id},
                               active=False))
    return out


# ---------------------------------------------------------------------- Sentry


def _levels(ctx: Context) -> set[str]:
    return {x.strip().lower() for x in str(ctx.settings["levels"]).split(",") if x.strip()}


def sentry_new_issue(ctx: Context) -> list[Finding]:
    """New = not among the unresolved issues of the previous refresh and first seen lately: the
    first refresh of a connection is the baseline, so existing issues are not news."""
    if ctx.data is None:
        return []
    before = {e.id for e in ctx.previous.records.errors} if ctx.previous is not None else None
    since = ctx.now - timedelta(hours=float(ctx.settings["max_age_hours"]))
    out = []
    for e in ctx.data.records.errors:
        if (e.level or "").lower() not in _levels(ctx):
            continue
        new = before is not None and e.id not in before and (e.first_seen is None or e.first_seen >= since)
        if new or e.id in ctx.open:
            short = getattr(e, "short_id", None) or e.id
            out.append(Finding(e.id, f"{ctx.label}: new {e.level} issue {short}",
                               f"New Sentry issue {short} ({e.level}) in {e.project or ctx.label}: {e.title}"
                               + (f" — {e.culprit}" if e.culprit else "") + (f". {e.url}" if e.url else "."),
                               {"short_id": short}))
    return out


def sentry_spike(ctx: Context) -> list[Finding]:
    """The unresolved count against the median of the stored counts of the days before; an
    open spike keeps the baseline it opened with, so the spike's own samples cannot end it."""
    if ctx.data is None:
        return []
    current = ctx.data.health.metrics.get("issues")
    if not isinstance(current, int | float):
        return []
    if "unresolved" in ctx.open and "baseline" in ctx.open["unresolved"]:
        baseline = float(ctx.open["unresolved"]["baseline"])
        samples = None
    else:
        since = ctx.now - timedelta(days=float(ctx.settings["baseline_days"]))
        points = [v for t, v in ctx.history("issues", since) if t < ctx.data.fetched_at and isinstance(v, int | float)]
        samples = len(points)
        if samples < max(1, int(ctx.settings["min_samples"])):
            return []
        baseline = float(statistics.median(points))
    factor, increase = float(ctx.settings["factor"]), float(ctx.settings["min_increase"])
    if current >= factor * baseline and current - baseline >= increase:
        return [Finding("unresolved", f"{ctx.label}: unresolved issues spiked to {int(current)}",
                        f"{int(current)} unresolved Sentry issues in {ctx.label}, against a baseline of "
                        f"{baseline:g} over the last {float(ctx.settings['baseline_days']):g} days.",
                        {"baseline": baseline, "current": current, "samples": samples})]
    if "unresolved" in ctx.open:
        return [Finding("unresolved", f"{ctx.label}: unresolved issues back to {int(current)}",
                        f"Unresolved Sentry issues in {ctx.label} are back to {int(current)} "
                        f"(baseline {baseline:g}).", active=False)]
    return []


# ---------------------------------------------------------------------- deploy → errors


def _plugin(cid: str) -> str:
    return cid.split(":", 1)[0]


def deploy_errors(ctx: Context) -> list[Finding]:
    """Sentry's new-issue rate in the hour after a production deployment against the 24 h before.

    Each new issue is laid at the door of the newest production deployment (of any connection)
    before it was first seen, so one bad deploy is named once, not every deploy of the hour.
    An issue first seen after the deployments were last fetched waits: a deploy DevTrack has
    not seen yet may be the one to blame.
    """
    if ctx.data is None:
        return []
    s = ctx.settings
    after = timedelta(minutes=float(s["after_minutes"]))
    before = timedelta(hours=float(s["before_hours"]))
    lookback = ctx.now - timedelta(hours=float(s["lookback_hours"]))
    issues: list[tuple[ErrorIssue, str]] = []
    deploys: list[tuple[datetime, str, Deployment]] = []
    horizon = min((data.fetched_at for cid, data in ctx.everything.items()
                   if _plugin(cid) in ("vercel", "cloudflare")), default=ctx.now)
    for cid, data in ctx.everything.items():
        issues += [(e, cid) for e in data.records.errors if e.first_seen is not None and e.first_seen <= horizon]
        deploys += [(d.created_at, cid, d) for d in data.records.deployments
                    if d.target == "production" and d.created_at is not None]
    deploys.sort(key=lambda x: x[0])
    times = [t for t, _, _ in deploys]

    def blamed(first_seen: datetime) -> Deployment | None:
        import bisect

        i = bisect.bisect_right(times, first_seen) - 1
        return deploys[i][2] if i >= 0 else None

    out = []
    for when, cid, d in deploys:
        if cid != ctx.connection or (when < lookback and d.id not in ctx.open):
            continue
        new = sorted((e for e, _ in issues if when <= e.first_seen < when + after  # type: ignore[operator]
                      and blamed(e.first_seen) is d), key=lambda e: e.first_seen)  # type: ignore[arg-type, return-value]
        earlier = [e for e, _ in issues if when - before <= e.first_seen < when]  # type: ignore[operator]
        rate_after = len(new) / (after.total_seconds() / 3600)
        rate_before = len(earlier) / (before.total_seconds() / 3600)
        hit = len(new) >= int(s["min_issues"]) and rate_after >= float(s["factor"]) * rate_before
        name = getattr(d, "name", None) or d.project or "?"
        if hit:
            listed = [f"{getattr(e, 'short_id', None) or e.id} {e.title}" for e in new]
            out.append(Finding(
                d.id, f"{ctx.label}: errors jumped after deploying {name} ({_short(d.commit)})",
                f"Errors jumped after the production deployment {d.id} of {name} ({ctx.label}, commit "
                f"{_short(d.commit)}): {len(new)} new Sentry issue(s) in the {after.total_seconds() / 60:g} min "
                f"after it, against {rate_before:.2f}/h in the {before.total_seconds() / 3600:g} h before: "
                f"{_words(listed)}.",
                {"deployment": d.id, "commit": d.commit, "issues": [e.id for e in new]}))
        elif d.id in ctx.open:
            out.append(Finding(d.id, f"{ctx.label}: errors after deploying {name} settled",
                               f"The new Sentry issues after deployment {d.id} of {name} are down to "
                               f"{len(new)} unresolved.", active=False))
    return out


# ---------------------------------------------------------------------- infrastructure


def ec2_instance(ctx: Context) -> list[Finding]:
    """Impaired at once; stopped only when it was running (or already alerted): an instance
    stopped on purpose long ago is not news."""
    from ..integrations.plugins.aws_ec2 import instance_condition

    if ctx.data is None:
        return []
    was_running = {i.id for i in ctx.previous.records.instances if i.state == "running"} if ctx.previous else set()
    out = []
    for i in ctx.data.records.instances:
        name = f"{i.name} ({i.id})" if i.name else i.id
        where = f" in {i.region}" if i.region else ""
        if instance_condition(i).level == "bad":
            out.append(Finding(i.id, f"{ctx.label}: {name} impaired",
                               f"EC2 instance {name}{where} fails its status checks ({i.state}, impaired).",
                               {"state": i.state}))
        elif i.state == "stopped" and (i.id in was_running or i.id in ctx.open):
            out.append(Finding(i.id, f"{ctx.label}: {name} stopped", f"EC2 instance {name}{where} stopped.",
                               {"state": i.state}))
        elif i.id in ctx.open:
            out.append(Finding(i.id, f"{ctx.label}: {name} {i.state}", f"EC2 instance {name}{where} is {i.state}"
                               " and passes its checks.", active=False))
    return out


def supabase_unhealthy(ctx: Context) -> list[Finding]:
    from ..integrations.plugins.supabase import project_condition

    if ctx.data is None:
        return []
    out = []
    for p in ctx.data.records.projects:
        verdict = project_condition(p)
        if verdict.level == "bad":
            out.append(Finding(p.id, f"{ctx.label}: {p.name} {verdict.label}",
                               f"Supabase project {p.name} ({p.id}): {verdict.label}.", {"label": verdict.label}))
    return out


def upstash_inactive(ctx: Context) -> list[Finding]:
    from ..integrations.plugins.upstash import database_condition

    if ctx.data is None:
        return []
    return [Finding(d.id, f"{ctx.label}: database {d.name} {d.state or 'not active'}",
                    f"Upstash database {d.name} ({d.id}) is {d.state or 'in an unknown state'}, not active.",
                    {"state": d.state})
            for d in ctx.data.records.databases if database_condition(d).level == "bad"]


def ai_budget(ctx: Context) -> list[Finding]:
    """Today's spend against the budget the user set (0: no budget, the rule says nothing)."""
    if ctx.data is None:
        return []
    budget = float(ctx.settings["budget_usd"])
    cost = ctx.data.health.metrics.get("cost_today_usd")
    if budget <= 0 or not isinstance(cost, int | float):
        return []
    day = ctx.data.fetched_at.astimezone().date().isoformat()
    if cost >= budget:
        return [Finding(day, f"{ctx.label}: AI spend ${cost:,.2f} over the ${budget:,.2f} budget",
                        f"Today's AI spend in {ctx.label} is ${cost:,.2f}, over the daily budget of ${budget:,.2f}.",
                        {"cost_usd": cost, "budget_usd": budget})]
    return []


def cloudflare_token(ctx: Context) -> list[Finding]:
    if ctx.data is None:
        return []
    raw = ctx.data.health.metrics.get("token_expires_on")
    if not isinstance(raw, str):
        return []
    try:
        expires = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return []
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=timezone.utc)
    left = expires - ctx.now
    if left <= timedelta(days=float(ctx.settings["days"])):
        days = max(0, left.days)
        when = "has expired" if left.total_seconds() <= 0 else f"expires in {days} day(s), on {raw}"
        return [Finding("token", f"{ctx.label}: API token {when.split(',')[0]}",
                        f"The Cloudflare API token of {ctx.label} {when}. Roll it (My Profile → API Tokens) and "
                        f"save the new one: devtrack integrations set {ctx.connection} api_token.",
                        {"expires_on": raw})]
    return []


# ---------------------------------------------------------------------- the registry

RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("connection-failing", "A connection starts failing",
         "A rejected token at once (with where to re-enter it); other failures after N in a row.",
         ("*",), connection_failing, {"failures": Setting(3, "consecutive failed refreshes before an alert")},
         on_failures=True),
    Rule("deploy-failed", "Production deployment failed",
         "A project's newest production deployment failed (Vercel, Cloudflare Pages); resolved when one is ready.",
         ("vercel", "cloudflare"), production_deploy_failed),
    Rule("ci-failed", "CI failed on the default branch",
         "The newest finished run of a workflow failed on one of the branches.",
         ("github",), ci_failed, {"branches": Setting("main,master", "branches that count as the default")}),
    Rule("sentry-new-issue", "New Sentry issue at error or fatal",
         "An issue not seen at the previous refresh, first seen lately; resolved when it is resolved.",
         ("sentry",), sentry_new_issue, {
             "levels": Setting("error,fatal", "the levels that alert"),
             "max_age_hours": Setting(24.0, "how recently an issue must have been first seen to count as new")}),
    Rule("sentry-spike", "Unresolved issues spiking",
         "The unresolved count at least FACTOR× the median of the stored counts of the days before.",
         ("sentry",), sentry_spike, {
             "factor": Setting(2.0, "how many times the baseline counts as a spike"),
             "min_increase": Setting(10, "and at least this many more issues than the baseline"),
             "baseline_days": Setting(7.0, "days of stored refreshes the baseline is the median of"),
             "min_samples": Setting(3, "stored refreshes needed before there is a baseline")}),
    Rule("deploy-errors", "Errors jumped after a deploy",
         "Sentry's new-issue rate in the hour after a production deployment at least FACTOR× the rate in the "
         "24 h before it, naming the deployment, its commit and the issues.",
         ("vercel", "cloudflare"), deploy_errors, {
             "factor": Setting(3.0, "how many times the rate before counts as a jump"),
             "min_issues": Setting(3, "new issues needed after the deploy (so 0 → 1 is not a jump)"),
             "after_minutes": Setting(60.0, "the window after the deployment"),
             "before_hours": Setting(24.0, "the window before it, for the usual rate"),
             "lookback_hours": Setting(24.0, "how old a deployment may be to be judged")},
         watches=("sentry",)),
    Rule("ec2-instance", "EC2 instance impaired or stopped",
         "Failed status checks, or an instance that was running and stopped.", ("aws-ec2",), ec2_instance),
    Rule("supabase-unhealthy", "Supabase service unhealthy",
         "A project whose services (or status) Supabase reports unhealthy.", ("supabase",), supabase_unhealthy),
    Rule("upstash-inactive", "Upstash database not active",
         "A database in any state but active (suspended, passive…).", ("upstash",), upstash_inactive),
    Rule("ai-budget", "AI spend over budget",
         "Today's Helicone cost at or over the daily budget (set budget_usd to turn it on).",
         ("helicone",), ai_budget, {"budget_usd": Setting(0.0, "daily budget in US dollars (0: none)")}),
    Rule("cloudflare-token", "Cloudflare token expiring",
         "The API token expires within DAYS days.", ("cloudflare",), cloudflare_token,
         {"days": Setting(14.0, "days before expiry to alert")}),
)}


def applies(rule: Rule, plugin: str) -> bool:
    return "*" in rule.plugins or plugin in rule.plugins
