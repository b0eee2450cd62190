"""The dashboard's one timeline (issue 17): deploys per connection, new errors and CI runs on one
axis, each deploy knowing the errors that followed it, incidents from a registered source, and a
failing source that hides nothing else. Records are the plugins' normalised shapes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from devtrack.integrations.contract import CiRun, Deployment, ErrorIssue, Health, IntegrationData, Records
from devtrack.views import build, timeline
from devtrack.views.charts import timeline_svg, tip
from devtrack.views.current import Current

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def conn(cid: str, name: str, records: Records) -> Current:
    data = IntegrationData(id=cid, plugin=cid.split(":")[0], fetched_at=NOW, health=Health(status="healthy"),
                           records=records)
    return Current(id=cid, name=name, enabled=True, configured=True, interval=60, state=None, data=data)


@pytest.fixture
def current() -> list[Current]:
    return [
        conn("vercel", "Vercel", Records(deployments=[
            Deployment(id="d1", project="web", state="ready", target="production", commit="abc1234def", branch="main",
                       created_at=ago(10)),
            Deployment(id="d2", project="web", state="error", target="production", commit="9999999aaa",
                       created_at=ago(2)),
            Deployment(id="old", project="web", state="ready", created_at=ago(24 * 30)),  # outside the window
        ])),
        conn("vercel:acme", "Vercel · acme", Records(deployments=[
            Deployment(id="a1", project="site", state="building", created_at=ago(5))])),
        conn("sentry", "Sentry", Records(errors=[
            ErrorIssue(id="e1", title="TypeError in checkout", level="error", first_seen=ago(8)),
            ErrorIssue(id="e2", title="Timeout", level="warning", first_seen=ago(1)),
        ])),
        conn("github", "GitHub", Records(ci_runs=[
            CiRun(id="r1", name="tests", status="completed", conclusion="failure", branch="main", created_at=ago(9))])),
    ]


@pytest.fixture
def sources() -> Iterator[None]:
    """The built-in sources only (the alerts add-on fills the incidents slot once imported)."""
    saved = dict(timeline.SOURCES)
    timeline.SOURCES.pop("incidents", None)
    yield
    timeline.SOURCES.clear()
    timeline.SOURCES.update(saved)


def test_one_axis_with_deploys_per_connection_errors_and_ci(current: list[Current], sources: None) -> None:
    tl = timeline.build(current, NOW)
    lanes = [lane["id"] for lane in tl["lanes"]]
    assert lanes == ["deploy:vercel", "deploy:vercel:acme", "error", "ci", "incident"]
    kinds = [(i["kind"], i["lane"]) for i in tl["items"]]
    assert kinds == [("deploy", "deploy:vercel"), ("ci", "ci"), ("error", "error"), ("deploy", "deploy:vercel:acme"),
                     ("deploy", "deploy:vercel"), ("error", "error")]  # in time order; the old deploy is out
    first, _, _, acme, second, _ = tl["items"]
    # a deploy's errors: those first seen after it and before its connection's next deploy
    assert [e["title"] for e in first["followed_by"]] == ["e1: TypeError in checkout"]
    assert [e["title"] for e in second["followed_by"]] == ["e2: Timeout"]
    assert [e["title"] for e in acme["followed_by"]] == ["e2: Timeout"]
    assert first["commit"] == "abc1234" and first["level"] == "ok" and second["level"] == "bad"
    assert acme["level"] == "warn"
    hover = tip(first)
    assert "commit abc1234 on main" in hover and "TypeError in checkout" in hover


def test_the_svg_draws_every_item_with_its_hover_text(current: list[Current], sources: None) -> None:
    tl = timeline.build(current, NOW)
    svg = timeline_svg(tl)
    marks = re.findall(r'<g class="mark kind-(\w+) lvl-(\w+)" tabindex="0" role="img" aria-label="([^"]*)"', svg)
    assert [(k, lvl) for k, lvl, _ in marks] == [(i["kind"], i["level"]) for i in tl["items"]]
    assert "commit abc1234" in marks[0][2]
    assert "no alerts source yet" in svg  # the incidents lane waits for the alerts add-on
    assert build.dashboard(current, NOW)["timeline_chart"]["items"]


def test_incidents_come_from_a_registered_source_and_a_broken_source_hides_nothing(
        current: list[Current], sources: None) -> None:
    def incidents(cur: list[Current], since: datetime, now: datetime) -> list[timeline.Item]:
        return [{"kind": "incident", "lane": "incident", "time": ago(3).isoformat(), "title": "Checkout down",
                 "level": "bad", "url": None, "connection": "vercel", "connection_label": "Vercel"}]

    def broken(cur: list[Current], since: datetime, now: datetime) -> list[timeline.Item]:
        raise RuntimeError("a bug in an add-on")

    timeline.register("incidents", incidents)
    timeline.register("broken", broken)
    tl = timeline.build(current, NOW)
    assert [i["title"] for i in tl["items"] if i["kind"] == "incident"] == ["Checkout down"]
    assert tl["failed"] == ["broken"] and len(tl["items"]) == 7
    assert tl["incidents_source"] is True and "no alerts source yet" not in timeline_svg(tl)
