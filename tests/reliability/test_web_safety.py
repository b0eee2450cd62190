"""Web safety, as one table: rebinding Host, cross-origin POST, missing CSRF, non-loopback bind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from devtrack.credentials import CredentialStore
from devtrack.integrations.manager import IntegrationManager
from devtrack.web import create_app
from devtrack.web.server import ServerThread

from .report import write


def test_web_safety_cases(tmp_path: Path) -> None:
    manager = IntegrationManager(store=CredentialStore(tmp_path / "c.json"), environ={})
    rows: list[tuple[str, str, bool]] = []
    with ServerThread(create_app(manager)) as server:
        base = server.url
        port = base.rsplit(":", 1)[1]
        with httpx.Client(base_url=base) as http:
            csrf = http.get("/api/v1/session").json()["csrf_token"]
            same = {"Origin": base, "X-CSRF-Token": csrf}
            ok = http.post("/api/v1/integrations/sentry/disable", headers=same)
            rows.append(("same-origin POST with CSRF token (control)", str(ok.status_code), ok.status_code == 200))
            r = http.get("/api/v1/integrations", headers={"Host": f"attacker.example:{port}"})
            rows.append(("DNS rebinding: foreign Host header", str(r.status_code), r.status_code == 421))
            r = http.post("/api/v1/integrations/sentry/enable",
                          headers={"Origin": "http://attacker.example", "X-CSRF-Token": csrf})
            rows.append(("cross-origin POST", str(r.status_code), r.status_code == 403))
            r = http.post("/api/v1/integrations/sentry/enable", headers={"Origin": base})
            rows.append(("POST without CSRF token", str(r.status_code), r.status_code == 403))
            r = http.options("/api/v1/integrations", headers={"Origin": "http://attacker.example",
                                                              "Access-Control-Request-Method": "POST"})
            no_cors = not any(h.lower().startswith("access-control-") for h in r.headers)
            rows.append(("CORS preflight from another origin", "no CORS headers" if no_cors else "CORS!", no_cors))
        assert manager.is_enabled("sentry") is False  # none of the refused requests changed anything
    env = {k: v for k, v in os.environ.items() if k != "DEVTRACK_ACCESS_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "devtrack", "serve", "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, timeout=60, env=env)
    rows.append(("bind 0.0.0.0 without an access token", f"exit {proc.returncode}", proc.returncode != 0))
    table = ["web safety", f"{'case':<46} {'answer':<16} result"]
    table += [f"{case:<46} {answer:<16} {'PASS' if good else 'FAIL'}" for case, answer, good in rows]
    write("web-safety", "\n".join(table))
    assert all(good for _, _, good in rows), table
