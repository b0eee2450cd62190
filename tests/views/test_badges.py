"""Issue 12: every badge on every view agrees with its plugin's health, on the pages and in the
JSON, with the sandbox holding a Supabase project whose status says ``ACTIVE_HEALTHY`` while its
realtime and storage services are down, a paused Cloudflare zone and an impaired EC2 instance;
and a table cut short says "showing 100 of 130" (page, JSON and CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.integrations.plugins.sentry import SentryIntegration
from devtrack.sandbox import Sandbox
from devtrack.views.coordinator import Coordinator
from devtrack.views.store import SqliteStore, open_store
from devtrack.web.server import ServerThread

from .. import webauth
from ..thirdparty import THIRD_PARTY
from .conftest import CONNECTIONS

BADGE = {"ok": "ok", "warn": "warn", "bad": "bad", "off": "muted"}
PAGES = {"dashboard": "/", "deployments": "/deployments", "errors": "/errors", "code": "/code",
         "infra": "/infra", "ai": "/ai-usage"}


# ---------------------------------------------------------------------- reading a rendered page


class Page(HTMLParser):
    """The tables, badges, cards and source statuses of a rendered view page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        #: table title → rows → cells as (text, badge class or None)
        self.tables: dict[str, list[list[tuple[str, str | None]]]] = {}
        self.counts: dict[str, str] = {}
        self.statuses: dict[str, str] = {}  # plugin id → data-status of its card or source line
        self.metrics: dict[str, dict[str, str]] = {}  # card id → label → value
        self._table: str | None = None
        self._row: list[tuple[str, str | None]] = []
        self._cell: list[str] | None = None
        self._badge: str | None = None
        self._count: list[str] | None = None
        self._owner: str | None = None
        self._owner_tag = ""
        self._dt: list[str] | None = None
        self._dd: list[str] | None = None
        self._label = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-table" in a:
            self._table = a["data-table"] or ""
            self.tables[self._table] = []
        if "data-card" in a or "data-source" in a:
            self._owner, self._owner_tag = a.get("data-card") or a.get("data-source"), tag
        if "data-status" in a and self._owner:
            self.statuses[self._owner] = a["data-status"] or ""
        if "data-count" in a:
            self._count = []
        if self._table is not None and tag == "tr":
            self._row = []
        if self._table is not None and tag == "td":
            self._cell, self._badge = [], None
        if self._cell is not None and tag == "span" and "badge" in (a.get("class") or "").split():
            self._badge = next(c[len("badge-"):] for c in (a["class"] or "").split() if c.startswith("badge-"))
        if self._owner and tag == "dt":
            self._dt = []
        if self._owner and tag == "dd":
            self._dd = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self._row.append(("".join(self._cell).strip(), self._badge))
            self._cell = None
        elif tag == "tr" and self._table is not None and self._row:
            self.tables[self._table].append(self._row)
            self._row = []
        elif tag == "section":
            self._table = None
        elif tag == "span" and self._count is not None and self._table is not None:
            self.counts[self._table] = "".join(self._count).strip()
            self._count = None
        elif tag == self._owner_tag and self._owner:
            self._owner = None
        elif tag == "dt" and self._dt is not None:
            self._label, self._dt = "".join(self._dt).strip(), None
        elif tag == "dd" and self._dd is not None and self._owner:
            self.metrics.setdefault(self._owner, {})[self._label] = "".join(self._dd).strip()
            self._dd = None

    def handle_data(self, data: str) -> None:
        for buf in (self._cell, self._count, self._dt, self._dd):
            if buf is not None:
                buf.append(data)


def cells(view: dict[str, Any]) -> dict[str, list[list[tuple[str, str | None]]]]:
    """The JSON's tables in the page's form: (text, badge) per cell; a cell of several badges
    (Supabase's services) as the page reads it: their texts run together, the last one's badge."""
    def one(c: Any) -> tuple[str, str | None]:
        if isinstance(c, dict) and c.get("badges"):
            return "".join(b["text"] for b in c["badges"]), c["badges"][-1]["badge"]
        return (c["text"], c.get("badge")) if isinstance(c, dict) else (c, None)

    return {t["title"]: [[one(c) for c in row] for row in t["rows"]] for t in view["tables"]}


def row_of(view: dict[str, Any], table: str, name: str) -> list[Any]:
    rows = next(t["rows"] for t in view["tables"] if t["title"] == table)
    return next(r for r in rows if name in {c["text"] if isinstance(c, dict) else c for c in r[:2]})


def badges(view: dict[str, Any], table: str, key: str, column: str) -> dict[str, str]:
    """The text in column ``key`` → the badge in ``column``, for one table of the JSON."""
    t = next(t for t in view["tables"] if t["title"] == table)
    k, i = t["columns"].index(key), t["columns"].index(column)
    return {(r[k]["text"] if isinstance(r[k], dict) else r[k]): r[i]["badge"] for r in t["rows"]}


# ---------------------------------------------------------------------- the troubled sandbox


@pytest.fixture
async def troubled(manager: IntegrationManager, store: SqliteStore, sb: Sandbox
                   ) -> AsyncIterator[tuple[Coordinator, dict[str, Any]]]:
    """Every plugin refreshed against the sandbox with one ``ACTIVE_HEALTHY`` project's realtime
    and storage down (the seeded data already has a paused zone and an impaired instance)."""
    supabase = sb.emulator("supabase")
    lagging = next(p for p in supabase.projects if p["status"] == "ACTIVE_HEALTHY")  # type: ignore[attr-defined]
    supabase.failing_services[lagging["ref"]] = {"realtime", "storage"}  # type: ignore[attr-defined]
    coord = Coordinator(manager, store)
    states = await coord.refresh_many()
    assert all(s.error is None for s in states), [s.error for s in states]
    good = coord.good
    paused = next(z for z in good["cloudflare"].records.zones if getattr(z, "paused", False))
    impaired = next(i for i in good["aws-ec2"].records.instances if i.health == "impaired")
    assert paused.status == "active" and impaired.state == "running"  # what the vendors' own fields say
    yield coord, {"project": lagging["name"], "zone": paused.name, "instance": impaired.id}
    coord.close()


@pytest.fixture
def served(manager: IntegrationManager, store: SqliteStore, troubled: tuple[Coordinator, dict[str, Any]]
           ) -> Iterator[httpx.Client]:
    """The real web app reading the snapshots the refresh stored (as without devtrack serve)."""
    app = webauth.app(manager)
    app.state.views.use_store(store)
    with ServerThread(app) as srv, webauth.client(srv.url, timeout=30) as client:
        yield client


def fetch(client: httpx.Client, name: str) -> tuple[dict[str, Any], Page]:
    api = client.get(f"/api/v1/views/{name}")
    page = client.get(PAGES[name])
    assert api.status_code == 200 and page.status_code == 200, (api.text, page.text[:300])
    return api.json(), Page(page.text)


def assert_page_matches_json(view: dict[str, Any], page: Page) -> None:
    """The page shows the JSON's cells with the JSON's badges, and each source's plugin health."""
    assert page.tables == cells(view)
    for s in view.get("sources", []):
        assert page.statuses[s["id"]] == s["status"]


def health(coord: Coordinator, pid: str) -> Any:
    return coord.good[pid].health


# ---------------------------------------------------------------------- one test per view


def test_infra_badges_are_the_plugins_verdicts(served: httpx.Client,
                                               troubled: tuple[Coordinator, dict[str, Any]]) -> None:
    coord, trouble = troubled
    view, page = fetch(served, "infra")
    assert_page_matches_json(view, page)
    # the three cases of the issue: red, saying why, where the vendors' status fields say fine
    services = row_of(view, "Supabase projects", trouble["project"])[3]["badges"]  # issue 17: unhealthy first
    assert [b["badge"] for b in services[:2]] == ["bad", "bad"] and {b["badge"] for b in services[2:]} == {"ok"}
    assert services[0]["text"].startswith("realtime: ") and services[1]["text"].startswith("storage: ")
    status = row_of(view, "Supabase projects", trouble["project"])[1]
    assert status == {"text": "realtime, storage unhealthy", "badge": "bad"}
    assert row_of(view, "Cloudflare zones", trouble["zone"])[1] == {"text": "paused", "badge": "bad"}
    assert row_of(view, "EC2 instances", trouble["instance"])[2] == {"text": "running, impaired", "badge": "bad"}
    # as many red badges as each plugin counts against its own health, and no more
    bad = {t: [n for n, b in badges(view, t, k, c).items() if b == "bad"] for t, k, c in (
        ("Supabase projects", "Project", "Status"), ("Cloudflare zones", "Zone", "Status"),
        ("EC2 instances", "ID", "State"), ("Upstash databases", "Name", "State"))}
    supa, cf, ec2, up = (health(coord, p) for p in ("supabase", "cloudflare", "aws-ec2", "upstash"))
    assert len(bad["Supabase projects"]) == supa.metrics["unhealthy"] >= 2 and supa.status in ("degraded", "down")
    assert len(bad["Cloudflare zones"]) == cf.metrics["zones"] - cf.metrics["zones_active"] >= 1
    assert len(bad["EC2 instances"]) == ec2.metrics["impaired"] == 1 and ec2.status == "degraded"
    assert len(bad["Upstash databases"]) == up.metrics["databases"] - up.metrics["active"]
    for name in bad["Supabase projects"] + bad["Cloudflare zones"]:
        assert name in supa.detail + cf.detail  # the items the plugins name as their trouble
    # a paused (INACTIVE) project or a stopped instance is not a failure for its plugin: not red
    for p in coord.good["supabase"].records.projects:
        if p.status == "INACTIVE":
            assert row_of(view, "Supabase projects", p.name)[1] == {"text": "paused", "badge": "muted"}
    for i in coord.good["aws-ec2"].records.instances:
        if i.state == "stopped":
            assert row_of(view, "EC2 instances", i.id)[2]["badge"] == "muted"
    # the JSON items carry the same verdicts
    items = {p["name"]: p["condition"] for p in view["items"]["projects"]}
    assert items[trouble["project"]] == {"level": "bad", "label": "realtime, storage unhealthy"}
    zones = {z["name"]: z["condition"] for z in view["items"]["zones"]}
    assert zones[trouble["zone"]] == {"level": "bad", "label": "paused"}
    assert {i["id"]: i["condition"]["level"] for i in view["items"]["instances"]}[trouble["instance"]] == "bad"


def test_dashboard_cards_agree_with_the_plugins(served: httpx.Client,
                                                troubled: tuple[Coordinator, dict[str, Any]]) -> None:
    coord, _ = troubled
    view, page = fetch(served, "dashboard")
    cards = {c["id"]: c for c in view["cards"]}
    assert [c["id"] for c in view["cards"]] == CONNECTIONS
    for pid, card in cards.items():
        assert card["status"] == page.statuses[pid] == health(coord, pid).status
    assert cards["supabase"]["status"] in ("degraded", "down") and cards["cloudflare"]["status"] == "degraded"
    assert cards["aws-ec2"]["status"] == "degraded"
    metrics = {pid: {m["label"]: m["value"] for m in c["metrics"]} for pid, c in cards.items()}
    assert page.metrics["aws-ec2"]["impaired"] == metrics["aws-ec2"]["impaired"] == "1"  # the impaired one shows
    assert metrics["supabase"]["unhealthy"] == str(health(coord, "supabase").metrics["unhealthy"])
    cf = health(coord, "cloudflare").metrics
    assert metrics["cloudflare"]["zones active"] == str(cf["zones_active"]) and cf["zones_active"] < cf["zones"]


def test_deployment_badges_follow_the_plugins(served: httpx.Client,
                                              troubled: tuple[Coordinator, dict[str, Any]]) -> None:
    coord, _ = troubled
    view, page = fetch(served, "deployments")
    assert_page_matches_json(view, page)
    # both plugins count an error deploy against their health and report a canceled one as a warning
    level = {"ready": "ok", "error": "bad", "building": "warn", "queued": "warn", "canceled": "warn",
             "deleted": "off", "unknown": "off"}
    assert {d["state"] for d in view["items"]["deployments"]} >= {"ready", "error", "canceled", "building"}
    for d in view["items"]["deployments"]:
        assert d["condition"] == {"level": level[d["state"]], "label": d["state"]}
    table = next(t for t in view["tables"] if t["title"] == "Recent deployments")
    state = table["columns"].index("State")
    for row in table["rows"]:
        assert row[state]["badge"] == BADGE[level[row[state]["text"]]]
    red = sum(row[state]["badge"] == "bad" for row in table["rows"])
    assert red == sum(d["state"] == "error" for d in view["items"]["deployments"]) > 0
    # every connection holding deployments: the built-ins', and an installed plugin's (Netlify's)
    providers = ("vercel", "vercel:personal", "cloudflare", *(p for p in THIRD_PARTY if coord.good[p].records.deployments))
    assert {s["id"]: s["status"] for s in view["sources"]} == {p: health(coord, p).status for p in providers}


def test_error_badges_follow_the_sentry_levels(served: httpx.Client,
                                               troubled: tuple[Coordinator, dict[str, Any]]) -> None:
    coord, _ = troubled
    view, page = fetch(served, "errors")
    assert_page_matches_json(view, page)
    expected = {"fatal": "bad", "error": "bad", "warning": "warn", "info": "muted", "debug": "muted"}
    table = view["tables"][0]
    level = table["columns"].index("Level")
    assert {r[level]["text"] for r in table["rows"]} >= {"error", "warning"}
    for row in table["rows"]:
        assert row[level]["badge"] == expected[row[level]["text"]]
    assert all(e["condition"]["label"] == e["level"] for e in view["items"]["errors"])
    assert view["summary"][0] == {"label": "unresolved issues",
                                  "value": str(health(coord, "sentry").metrics["issues"])}


def test_ci_badges_follow_the_github_plugin(served: httpx.Client,
                                            troubled: tuple[Coordinator, dict[str, Any]]) -> None:
    coord, _ = troubled
    view, page = fetch(served, "code")
    assert_page_matches_json(view, page)
    runs = next(t for t in view["tables"] if t["title"] == "CI runs")
    result = runs["columns"].index("Result")
    by_result = {r[result]["text"]: r[result]["badge"] for r in runs["rows"]}
    assert by_result["failure"] == "bad" and by_result["success"] == "ok" and by_result["in_progress"] == "warn"
    # the latest CI conclusion makes the plugin degraded exactly when its badge is red
    gh = health(coord, "github")
    latest = gh.metrics["latest_ci_conclusion"]
    assert (by_result.get(latest) == "bad") == (gh.status == "degraded" and not gh.metrics["conflicted"])
    conditions = {r["id"]: r["condition"] for r in view["items"]["ci_runs"]}
    assert {r.id: {"level": "bad" if r.conclusion == "failure" else "ok" if r.conclusion == "success" else "warn",
                   "label": r.conclusion or r.status} for r in coord.good["github"].records.ci_runs} == conditions


def test_ai_usage_view_agrees_with_helicone(served: httpx.Client,
                                            troubled: tuple[Coordinator, dict[str, Any]]) -> None:
    coord, _ = troubled
    view, page = fetch(served, "ai")
    assert_page_matches_json(view, page)
    assert page.statuses["helicone"] == health(coord, "helicone").status
    assert not [c for rows in cells(view).values() for row in rows for c in row if c[1]]  # nothing to badge


# ---------------------------------------------------------------------- "showing 100 of 130"


@pytest.fixture(scope="module")
def many_issues() -> Iterator[Sandbox]:
    """Sentry alone, with more unresolved issues in the last 24 h than a table shows."""
    with Sandbox(["sentry"], seed=12, scale={"sentry_issues": 260}) as box:
        yield box


@pytest.fixture
def sentry_only(many_issues: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[tuple[IntegrationManager, SqliteStore, dict[str, str]]]:
    many_issues.reset()
    env = {"DEVTRACK_CREDENTIALS": str(many_issues.write_credentials(tmp_path / "creds.json")),
           "DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 'snapshots.db'}", **many_issues.env()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    manager = IntegrationManager(CredentialStore(Path(env["DEVTRACK_CREDENTIALS"])), environ=dict(os.environ))
    store = open_store(env["DEVTRACK_STORE_URL"])
    yield manager, store, env  # type: ignore[misc]
    store.close()


async def _errors_served(manager: IntegrationManager, store: SqliteStore) -> tuple[dict[str, Any], Page, int]:
    coord = Coordinator(manager, store)
    try:
        st = await coord.refresh("sentry")
        assert st.error is None, st.error
        total = coord.good["sentry"].health.metrics["issues"]
    finally:
        coord.close()
    app = webauth.app(manager)
    app.state.views.use_store(store)
    with ServerThread(app) as srv, webauth.client(srv.url, timeout=30) as client:
        view, page = fetch(client, "errors")
    return view, page, total


async def test_errors_say_how_many_of_how_many_they_show(
        sentry_only: tuple[IntegrationManager, SqliteStore, dict[str, str]], many_issues: Sandbox) -> None:
    manager, store, env = sentry_only
    view, page, total = await _errors_served(manager, store)
    unresolved = len(many_issues.emulator("sentry").unresolved_since(86400))  # type: ignore[attr-defined]
    assert total == unresolved > 100
    table = view["tables"][0]
    assert len(table["rows"]) == 100 and (table["shown"], table["total"]) == (100, total)
    assert view["summary"][:2] == [{"label": "unresolved issues", "value": f"{total:,}"},
                                   {"label": "showing", "value": f"100 of {total:,}"}]
    assert page.counts["Unresolved issues"] == f"showing 100 of {total:,}" and len(page.tables["Unresolved issues"]) == 100
    cli = subprocess.run([sys.executable, "-m", "devtrack", "views", "errors"], capture_output=True, text=True,
                         env={**os.environ, **env, "COLUMNS": "160", "NO_COLOR": "1"}, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert f"unresolved issues: {total:,}" in cli.stdout and f"showing: 100 of {total:,}" in cli.stdout
    as_json = subprocess.run([sys.executable, "-m", "devtrack", "views", "errors", "--json"], capture_output=True,
                             text=True, env={**os.environ, **env}, timeout=60)
    body = json.loads(as_json.stdout)
    assert (body["tables"][0]["shown"], body["tables"][0]["total"]) == (100, total)


async def test_errors_count_what_sentry_holds_beyond_what_was_read(
        sentry_only: tuple[IntegrationManager, SqliteStore, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    manager, store, _ = sentry_only
    monkeypatch.setattr(SentryIntegration, "max_issues", 40)  # the plugin reads 40; X-Hits says how many exist
    view, page, total = await _errors_served(manager, store)
    assert total > 100
    assert (view["tables"][0]["shown"], view["tables"][0]["total"]) == (40, total)
    assert page.counts["Unresolved issues"] == f"showing 40 of {total:,}"
    labels = [m["label"] for m in view["summary"]]
    assert labels == ["unresolved issues", "showing", "events (of the 40 read)", "users affected (of the 40 read)"]


# ---------------------------------------------------------------------- every vendor value


CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"


def enum_with(path: Path, member: str) -> list[str]:
    """The first enum in a vendor's API document that lists ``member``."""
    import yaml

    doc = yaml.safe_load(path.read_text()) if path.suffix == ".yml" else json.loads(path.read_text())
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("enum"), list) and member in node["enum"]:
                return [str(v) for v in node["enum"]]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError(f"no enum with {member!r} in {path.name}")


def test_every_vendor_status_gets_the_badge_its_plugin_health_implies() -> None:
    """For each status value the vendors document, one item alone: its badge is red exactly when
    the plugin's own health is not healthy, and green only when the plugin calls it healthy."""
    from devtrack.integrations.contract import Database, Instance, Project
    from devtrack.integrations.plugins import aws_ec2, cloudflare, supabase, upstash

    def agree(level: str, plugin_status: str) -> None:
        assert (level == "bad") == (plugin_status != "healthy"), (level, plugin_status)

    statuses = enum_with(CONTRACTS / "supabase" / "supabase-trimmed.json", "INACTIVE")
    assert {"ACTIVE_HEALTHY", "ACTIVE_UNHEALTHY", "INIT_FAILED", "PAUSING", "RESTORING"} <= set(statuses)
    services = enum_with(CONTRACTS / "supabase" / "supabase-trimmed.json", "UNHEALTHY")
    for status in statuses:
        for service in [None, *services]:
            p = Project(id="r", name="p", status=status, services={"realtime": service} if service else {})
            c = supabase.project_condition(p)
            agree(c.level, supabase._health([p]).status)
            if status == "ACTIVE_HEALTHY" and service not in (None, "ACTIVE_HEALTHY"):
                assert c.label == "realtime unhealthy"
    assert supabase.project_condition(Project(id="r", name="p", status="INACTIVE")).level == "off"

    zones = enum_with(CONTRACTS / "cloudflare" / "cloudflare-trimmed.json", "moved")
    for status in [*zones, "deleted", "deactivated"]:  # the last two are documented in prose only
        for paused in (False, True):
            raw = {"id": "z", "name": "example.com", "status": status, "paused": paused}
            c = cloudflare.zone_condition(cloudflare._zone(raw))
            agree(c.level, cloudflare._health([raw], [], []).status)
            assert ("paused" in c.label) == paused

    states = enum_with(CONTRACTS / "aws" / "ec2-2016-11-15-trimmed.json", "shutting-down")
    # DescribeInstanceStatus summaries (ok, impaired, insufficient-data, not-applicable,
    # initializing) as the plugin folds them
    for state in states:
        for checks in (None, "ok", "impaired", "initializing", "not-applicable"):
            i = Instance(id="i-1", state=state, health=checks)
            c = aws_ec2.instance_condition(i)
            agree(c.level, aws_ec2._health([i]).status)
            assert ("impaired" in c.label) == (checks == "impaired")

    for state in [*enum_with(CONTRACTS / "upstash" / "developer-api-trimmed.yml", "suspended"), None]:
        d = Database(id="d", name="cache", state=state)
        agree(upstash.database_condition(d).level, upstash._health([d], 0).status)
