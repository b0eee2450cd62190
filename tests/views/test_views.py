"""The views built from the sandbox's records, their empty states, and the CLI reading the store
(``devtrack status`` fast and offline even when every service is slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox
from devtrack.views import build
from devtrack.views.coordinator import Coordinator
from devtrack.views.current import Current
from devtrack.views.store import SqliteStore

from ..thirdparty import THIRD_PARTY
from ..timing import active_since
from .conftest import CONNECTIONS, PLUGINS


@pytest.fixture
async def filled(manager: IntegrationManager, store: SqliteStore) -> AsyncIterator[Coordinator]:
    coord = Coordinator(manager, store)
    states = await coord.refresh_many()
    assert all(s.error is None for s in states), [s.error for s in states]
    yield coord
    coord.close()


def texts(view: dict) -> str:
    return json.dumps(view["tables"])


async def test_views_hold_the_seeded_records(filled: Coordinator) -> None:
    current = filled.current()
    good = filled.good
    dash = build.dashboard(current)
    assert [c["id"] for c in dash["cards"]] == CONNECTIONS and dash["timeline"]
    assert all(c["last_refresh"] and not c["stale"] for c in dash["cards"])
    # merged across plugins, newest first (which plugins make the 30 newest depends on who is installed)
    merged = {e["plugin"] for e in dash["timeline"]}
    assert "vercel" in merged and len(merged) >= 3, merged
    assert dash["timeline"] == sorted(dash["timeline"], key=lambda e: e["time"] or "", reverse=True)

    deps = build.deployments(current)
    ids = {d["id"] for d in deps["items"]["deployments"]}
    # the built-ins' deployments, and those of any installed plugin that provides them (Netlify's)
    assert {d["provider"] for d in deps["items"]["deployments"]} == {"vercel", "cloudflare-pages", *THIRD_PARTY}
    newest_vercel = max(good["vercel"].records.deployments, key=lambda d: d.created_at)
    assert newest_vercel.id in ids and deps["charts"][0]["id"] == "deploy-outcomes"
    assert sum(sum(v) for v in deps["charts"][0]["series"].values()) > 0

    errs = build.errors(current)
    top = good["sentry"].records.errors[0]
    assert top.title in texts(errs) and errs["charts"][0]["id"] == "errors-per-day"

    code = build.code(current)
    prs = good["github"].records.pull_requests
    assert [p["number"] for p in code["items"]["pull_requests"]] == [p.number for p in prs] and prs
    assert code["items"]["working_tree"]["dirty_files"] == 1 and code["items"]["working_tree"]["branch"] == "main"
    assert "views commit 2" in texts(code)
    pr_rows = code["tables"][0]["rows"]
    assert any(isinstance(r[4], dict) for r in pr_rows)  # a PR's branch has a CI run

    infra = build.infra(current)
    titles = [t["title"] for t in infra["tables"]]
    assert titles == ["EC2 instances", "Upstash databases", "Supabase projects", "Cloudflare zones", "Cloudflare Workers"]
    for plugin, kind, label in (("aws-ec2", "instances", "id"), ("upstash", "databases", "name"),
                                ("supabase", "projects", "name"), ("cloudflare", "zones", "name"),
                                ("cloudflare", "workers", "name")):
        for rec in getattr(good[plugin].records, kind):
            assert getattr(rec, label) in texts(infra)

    ai = build.ai(current)
    by_model = good["helicone"].health.metrics["cost_by_model"]
    assert {m["model"] for m in ai["items"]["per_model"]} >= set(by_model)
    assert ai["charts"][0]["id"] == "cost-per-day" and max(ai["charts"][0]["series"]["cost"]) > 0


def test_empty_states_name_the_integration_to_connect() -> None:
    nothing = [Current(id=p, name=p.title(), enabled=True, configured=False, interval=60, state=None, data=None)
               for p in PLUGINS]
    expect = {"deployments": ["vercel", "cloudflare"], "errors": ["sentry"], "code": ["github"],
              "infra": ["aws-ec2", "upstash", "supabase", "cloudflare"], "ai": ["helicone"]}
    for name, plugins in expect.items():
        view = build.build(name, nothing)
        assert view["empty"] is not None and [c["id"] for c in view["empty"]["connect"]] == plugins
        assert "not connected" in view["empty"]["message"] and "Connect " in view["empty"]["message"]
        assert view["empty"]["state"] == "not_connected"
    assert build.dashboard(nothing)["empty"]["connect"]


def test_empty_states_say_connected_or_disabled() -> None:
    """Issue 17: "No errors yet" only when connected; a configured but disabled Sentry says so
    instead of offering to connect it."""
    connected = [Current(id="sentry", name="Sentry", enabled=True, configured=True, interval=60, state=None,
                         data=None)]
    empty = build.errors(connected)["empty"]
    assert empty["message"] == "No errors yet." and empty["connect"] == [] and empty["state"] == "connected"
    off = [Current(id="sentry", name="Sentry", enabled=False, configured=True, interval=60, state=None, data=None)]
    empty = build.errors(off)["empty"]
    assert empty["state"] == "disabled" and "Sentry is disabled" in empty["message"]
    assert empty["connect"] == [] and [e["id"] for e in empty["enable"]] == ["sentry"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "140", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "devtrack", *args], capture_output=True, text=True, env=env,
                          timeout=60)


async def test_status_is_fast_and_offline_with_slow_services(filled: Coordinator, sb: Sandbox) -> None:
    for service in sb.emulators:
        sb.faults(service).add(route="**", latency=2.0)
    before = {s: len(e.requests) for s, e in sb.emulators.items()}
    started = time.perf_counter()
    out = _cli("status")
    elapsed = active_since(started)
    assert out.returncode == 0, out.stderr
    # The proof is below: no service was asked. The time is only a coarse guard (a status that
    # waited on eight services with 2 s latency each would take far longer); the real figure is
    # measured by bench/bench_views.py, since Python start-up alone varies a lot on a busy machine.
    assert elapsed < 8.0, f"devtrack status took {elapsed:.2f}s"
    for name in ("GitHub", "Vercel", "Supabase", "Sentry", "Helicone", "Upstash", "AWS EC2", "Cloudflare"):
        assert name in out.stdout
    assert "never" not in out.stdout.split("Recent events")[0]
    assert len(out.stdout.splitlines()) <= 30  # one screen
    assert {s: len(e.requests) for s, e in sb.emulators.items()} == before  # nothing asked a service


async def test_view_commands_print_tables_and_json(filled: Coordinator) -> None:
    deps = _cli("views", "deployments", "--json")
    assert deps.returncode == 0, deps.stderr
    body = json.loads(deps.stdout)
    newest = max(filled.good["vercel"].records.deployments, key=lambda d: d.created_at)
    assert body["ok"] and newest.id in {d["id"] for d in body["items"]["deployments"]}
    ai = _cli("views", "ai")
    assert ai.returncode == 0 and "Per model" in ai.stdout and "gpt-4o" in ai.stdout
    infra = _cli("views", "infra")
    name = filled.good["upstash"].records.databases[0].name
    assert infra.returncode == 0 and name in infra.stdout and "EC2 instances" in infra.stdout
