"""Views built from one typed record kind take it from any plugin, not only the built-ins named."""

from __future__ import annotations

from datetime import timedelta

from devtrack.integrations.contract import Deployment, IntegrationData, Records, utcnow
from devtrack.views import build
from devtrack.views.conditions import condition
from devtrack.views.current import Current


def _current(cid: str, deployments: list[Deployment] | None, enabled: bool = True) -> Current:
    data = IntegrationData(records=Records(deployments=deployments)) if deployments is not None else None
    return Current(id=cid, name=cid.title(), enabled=enabled, configured=True, interval=300, state=None, data=data)


def test_deployments_of_a_third_party_plugin_are_shown_and_judged() -> None:
    now = utcnow()
    theirs = [Deployment(id="d1", project="docs", state="error", created_at=now - timedelta(minutes=5),
                         provider="netlify"),
              Deployment(id="d2", project="docs", state="ready", created_at=now - timedelta(hours=2),
                         provider="netlify")]
    ours = [Deployment(id="v1", project="web", state="ready", created_at=now - timedelta(minutes=30),
                       provider="vercel")]
    current = [_current("vercel", ours), _current("netlify", theirs), _current("other", [], enabled=True),
               _current("off", theirs, enabled=False), _current("pending", None)]
    view = build.deployments(current, now=now)
    assert [d["id"] for d in view["items"]["deployments"]] == ["d1", "v1", "d2"]
    assert [d["condition"]["level"] for d in view["items"]["deployments"]] == ["bad", "ok", "ok"]
    assert {s["id"] for s in view["sources"]} == {"vercel", "netlify"}  # not the empty, disabled or pending
    assert view["tables"][0]["rows"][0][1] == "netlify"
    only = build.deployments(current, now=now, connection="netlify")
    assert [d["id"] for d in only["items"]["deployments"]] == ["d1", "d2"]


def test_a_record_kind_without_a_judge_is_shown_as_not_known() -> None:
    from devtrack.integrations.contract import Database

    verdict = condition("acme", "databases", Database(id="x", name="x", state="RESIZING"))
    assert (verdict.level, verdict.label) == ("off", "resizing")
