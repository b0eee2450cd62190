"""``devtrack serve -v`` logs every request once, secrets masked, through the redacting filter
(issue 12: the filter dropped the record's arguments, and uvicorn's access formatter, which
unpacks them, turned every request into a ``--- Logging error ---`` block)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devtrack.redact import MASK
from tests import leakscan

SECRET = "vercel_SERVE_log_secret_7a6b5c4d3e"
TOKEN = "serve-log-ACCESS-token-2b3c4d5e"  # a script's way in: Bearer, no CSRF dance


def test_serve_verbose_logs_each_request_once_and_masked(tmp_path: Path) -> None:
    leakscan.add_secrets(SECRET, TOKEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVTRACK_")} | {
        "DEVTRACK_CREDENTIALS": str(tmp_path / "credentials.json"),
        "DEVTRACK_STORE_URL": f"sqlite:///{tmp_path / 'snapshots.db'}",
        "DEVTRACK_VERCEL_BASE_URL": "http://127.0.0.1:9",  # a refresh fails at once on loopback, never online
        "DEVTRACK_ACCESS_TOKEN": TOKEN,
        "PYTHONUNBUFFERED": "1",
    }
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_path.open("w") as out, err_path.open("w") as err:  # files: a full pipe would stall the server
        proc = subprocess.Popen([sys.executable, "-m", "devtrack.cli.app", "serve", "--port", "0", "-v"],
                                cwd=tmp_path, env=env, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"(http://127\.0\.0\.1:\d+)/", out_path.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, err_path.read_text()
            time.sleep(0.1)
        base = m.group(1)
        with httpx.Client(base_url=base, timeout=20, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            saved = http.put("/api/v1/integrations/vercel/credentials", json={"values": {"token": SECRET}})
            assert saved.status_code == 200  # the server now knows SECRET as a stored secret
            assert http.get("/api/v1/views/deployments", params={"token": SECRET}).status_code == 200
            assert http.get("/settings/integrations", params={"q": SECRET}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    logs = out_path.read_text() + err_path.read_text()
    leakscan.record("cli output", logs)
    assert "Logging error" not in logs and "Traceback" not in logs, logs[:3000]
    access = re.findall(r'^INFO: +127\.0\.0\.1:\d+ - "(.+?) HTTP/1\.1" (\d+)', logs, re.M)
    assert access == [
        ("PUT /api/v1/integrations/vercel/credentials", "200"),
        (f"GET /api/v1/views/deployments?token={MASK}", "200"),
        (f"GET /settings/integrations?q={MASK}", "200"),
    ]
    assert SECRET not in logs and TOKEN not in logs
