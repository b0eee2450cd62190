"""Incidents on the dashboard's timeline: the alerts add-on fills the core's ``incidents`` slot
with a marker where each incident opened and one where it resolved (rule, connection, title,
both times; no message), read from a real snapshot store; the served dashboard draws them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from devtrack import redact
from devtrack.alerts import timeline as alerts_timeline
from devtrack.alerts.incidents import Incidents
from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import Health, IntegrationData, Records, utcnow
from devtrack.integrations.manager import IntegrationManager
from devtrack.views import timeline
from devtrack.views.charts import timeline_svg, tip
from devtrack.views.current import Current
from devtrack.views.store import SnapshotStore, open_store
from devtrack.web.server import ServerThread

from .. import leakscan, webauth

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
SECRET = "sk-timeline-" + "7f3a9c1e5b"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SnapshotStore]:
    # Only this test's store: web apps of earlier tests in this worker that the garbage
    # collector has not reached yet are still followed, and their incidents would be drawn too.
    monkeypatch.setattr(alerts_timeline, "_followed", [])
    monkeypatch.setattr(alerts_timeline, "_last", {})
    s = open_store(f"sqlite:///{tmp_path / 'snapshots.db'}")
    getter = lambda: s  # noqa: E731
    alerts_timeline.follow(getter)
    yield s
    alerts_timeline.unfollow(getter)
    s.close()


def _vercel() -> Current:
    data = IntegrationData(id="vercel", plugin="vercel", fetched_at=NOW, health=Health(status="healthy"),
                           records=Records())
    return Current(id="vercel", name="Vercel · acme", enabled=True, configured=True, interval=60, state=None, data=data)


def test_each_incident_is_drawn_where_it_opened_and_where_it_resolved(store: SnapshotStore) -> None:
    redact.register([SECRET])
    leakscan.add_secrets(SECRET)
    inc = Incidents(store)
    old = inc.start("ci-failed", "github", "main", "CI tests failure on main", "long ago", {}, NOW - timedelta(days=9), False)
    assert old is not None and inc.resolve(old.id, "fixed", NOW - timedelta(days=8))  # outside the window
    # as the engine stores them: redacted
    fixed = inc.start("deploy-failed", "vercel", "web", redact.redactor(f"Vercel: production deploy of web failed ({SECRET})"),
                      redact.redactor(f"The message quotes {SECRET}"), {}, NOW - timedelta(hours=5), False)
    assert fixed is not None and inc.resolve(fixed.id, "deployed again", NOW - timedelta(hours=2))
    still = inc.start("sentry-new-issue", "sentry", "e1", "Sentry: new fatal issue", "…", {}, NOW - timedelta(hours=1), False)
    assert still is not None

    assert timeline.SOURCES["incidents"] is alerts_timeline.incidents
    tl = timeline.build([_vercel()], NOW)
    items = [i for i in tl["items"] if i["kind"] == "incident"]
    assert [(i["event"], i["incident"]) for i in items] == [("opened", fixed.id), ("resolved", fixed.id),
                                                            ("opened", still.id)]
    opened, resolved, _ = items
    assert opened["time"] == opened["opened_at"] == (NOW - timedelta(hours=5)).isoformat()
    assert resolved["time"] == resolved["resolved_at"] == (NOW - timedelta(hours=2)).isoformat()
    assert opened["rule"] == "deploy-failed" and opened["level"] == "bad" and resolved["level"] == "ok"
    assert opened["connection_label"] == "Vercel · acme" and items[2]["connection_label"] == "sentry"
    assert items[2]["resolved_at"] is None
    assert all(i["lane"] == "incident" for i in items)
    text = repr(items)
    assert SECRET not in text and "The message quotes" not in text  # no message

    svg = timeline_svg(tl)
    assert svg.count('data-kind="incident"') == 3 and "no alerts source yet" not in svg
    assert "Resolved: Vercel: production deploy of web failed" in tip(resolved)


def test_the_served_dashboard_draws_its_stores_incidents(
        _isolated_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts_timeline, "_followed", [])  # this app's store only (see above)
    monkeypatch.setenv("DEVTRACK_STORE_URL", f"sqlite:///{tmp_path / 'snapshots.db'}")
    app = webauth.app(IntegrationManager(store=CredentialStore(_isolated_store)))
    Incidents(app.state.views.store).start("deploy-failed", "vercel", "web", "Vercel: production deploy of web failed",
                                           "…", {}, utcnow() - timedelta(hours=1), False)
    with ServerThread(app) as srv, webauth.client(srv.url, timeout=30) as c:
        html = c.get("/").text
    leakscan.record("html", html)
    assert 'class="mark kind-incident lvl-bad"' in html and "no alerts source yet" not in html
    assert '<a href="/alerts">Opened: Vercel: production deploy of web failed</a>' in html
