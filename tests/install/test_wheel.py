"""Issue 12: what a user who runs ``pip install .`` (not editable) meets first.

The wheel must hold every file of the package (a template folder was once left out, and every
dashboard page answered 500), every page and view must answer from the installed copy, and the
sandbox, whose packages are an extra, must say how to install them instead of a traceback.
"""

from __future__ import annotations

import re
import subprocess
import time
import tomllib
import zipfile
from pathlib import Path

import httpx

from devtrack.cli.sandbox import EXTRA_MODULES, INSTALL_HINT
from tests import leakscan

from .conftest import ROOT, Installed, user_env

PACKAGE = "src/devtrack/"
TOKEN = "install-ACCESS-token-5d9e0f1a"  # served with a token, so /login renders its page too


def test_the_wheel_holds_exactly_the_committed_files_of_the_package(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        in_wheel = {n for n in whl.namelist() if n.startswith("devtrack/") and not n.endswith("/")}
    committed = {"devtrack/" + f.removeprefix(PACKAGE) for f in installed.files if f.startswith(PACKAGE)}
    web = {f for f in committed if f.startswith("devtrack/web/") and not f.endswith(".py")}
    assert any(f.startswith("devtrack/web/templates/views/") for f in web)  # the folder once left out
    assert sorted(committed - in_wheel) == [], "committed but left out of the wheel"
    assert sorted(in_wheel - committed) == [], "in the wheel but not committed"


def _serve(installed: Installed, home: Path) -> tuple[subprocess.Popen[str], str]:
    """Start the installed ``devtrack serve``; its output goes to files (a full pipe would stall it)."""
    with (home / "out.txt").open("w") as out, (home / "err.txt").open("w") as err:
        proc = subprocess.Popen([str(installed.devtrack), "serve", "--port", "0", "-v", "--token", TOKEN],
                                cwd=home, env=user_env(home), stdout=out, stderr=err, text=True)
    deadline = time.monotonic() + 120
    while not (m := re.search(r"(http://127\.0\.0\.1:\d+)/", (home / "out.txt").read_text())):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"no URL printed: {_logs(home)}")
        time.sleep(0.1)
    return proc, m.group(1)


def _logs(home: Path) -> str:
    return (home / "out.txt").read_text() + (home / "err.txt").read_text()


def _get(http: httpx.Client, path: str, answers: dict[str, int | str], **kw: bool) -> httpx.Response | None:
    """GET ``path``, noting its status (or the error) in ``answers``; the response when it is 200."""
    try:
        r = http.get(path, **kw)
    except httpx.HTTPError as exc:
        answers[path] = repr(exc)
        return None
    answers[path] = r.status_code
    return r if r.status_code == 200 else None


def test_every_page_and_view_answers_from_the_installed_wheel(installed: Installed, tmp_path: Path) -> None:
    leakscan.add_secrets(TOKEN)
    proc, url = _serve(installed, tmp_path)
    requests = 0

    def count(request: httpx.Request) -> None:
        nonlocal requests
        requests += 1

    answers: dict[str, int | str] = {}
    try:
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"},
                          event_hooks={"request": [count]}) as http:
            listed = http.get("/api/v1/views").json()["views"]
            assert {v["name"] for v in listed} >= {"dashboard", "deployments", "errors", "code", "infra", "ai"}
            plugins = [p["id"] for p in http.get("/api/v1/integrations").json()]
            pages = [v["page"] for v in listed] + ["/settings/integrations", "/settings/ai", "/docs", "/login"]
            pages += [f"/settings/integrations/{p}" for p in plugins]
            assets = {f"/static/{f.removeprefix(PACKAGE + 'web/static/')}"
                      for f in installed.files if f.startswith(PACKAGE + "web/static/")}
            for path in pages:
                r = _get(http, path, answers)
                if r is not None and not r.headers.get("content-type", "").startswith("text/html"):
                    answers[path] = "not a page"
                assets.update(re.findall(r'(?:src|href)="(/static/[^"?#]+)', r.text if r else ""))
            for path in [v["api"] for v in listed] + sorted(assets) + ["/openapi.json"]:
                _get(http, path, answers)
            _get(http, "/settings", answers, follow_redirects=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    logs = _logs(tmp_path)
    leakscan.record("cli output", logs)
    assert {path: status for path, status in answers.items() if status != 200} == {}
    assert len(answers) > 20 and "/deployments" in answers and "/api/v1/views/dashboard" in answers
    # -v logs every request, once each, through the redacting filter: nothing breaks the log.
    assert "Logging error" not in logs and "Traceback" not in logs, logs[-3000:]
    assert len(re.findall(r'^INFO: +127\.0\.0\.1:\d+ - "GET ', logs, re.M)) == requests
    assert TOKEN not in logs


def test_the_sandbox_without_its_extra_says_how_to_install_it(installed: Installed, tmp_path: Path) -> None:
    probe = subprocess.run([str(installed.python), "-c", "import moto"], capture_output=True, timeout=60)
    assert probe.returncode != 0  # the premise: the extra is not installed
    env = user_env(tmp_path)
    env_file = tmp_path / "sandbox.env"
    for args in (["sandbox"], ["sandbox", "--env-file", str(env_file)], ["serve", "--sandbox", "--port", "0"]):
        proc = subprocess.run([str(installed.devtrack), *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: the sandbox needs the sandbox extra"), proc.stderr
        assert INSTALL_HINT == "pip install 'devtrack[sandbox]'" and INSTALL_HINT in lines[0]
        assert "Traceback" not in proc.stderr and "stopped" not in proc.stdout + proc.stderr
    assert not env_file.exists()


def test_the_extra_check_names_the_packages_of_the_extra() -> None:
    """The check looks for the extra's packages without importing them: keep it in step."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["sandbox"]
    names = {re.split(r"[\[<>=!~ ;]", req, maxsplit=1)[0].lower() for req in extra}
    assert names == set(EXTRA_MODULES)


def test_team_mode_without_and_with_its_extra(installed: Installed, tmp_path: Path, pg_url: str) -> None:
    """``DEVTRACK_STORE_URL=postgresql://…`` without the ``postgres`` extra is one line naming
    the install command; with psycopg from the extra (installed beside the wheel on
    ``PYTHONPATH``, so the shared venv stays as a user without extras has it) the installed
    wheel refreshes into the real PostgreSQL and reads it back."""
    probe = subprocess.run([str(installed.python), "-c", "import psycopg"], capture_output=True, timeout=60)
    assert probe.returncode != 0  # the premise: the extra is not installed
    env = user_env(tmp_path, DEVTRACK_STORE_URL=pg_url)
    proc = subprocess.run([str(installed.devtrack), "views", "refresh"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "pip install 'devtrack[postgres]'" in proc.stderr, proc.stderr

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["postgres"]
    target = tmp_path / "postgres-extra"
    pip = subprocess.run([str(installed.python), "-m", "pip", "install", "-q", "--target", str(target), *extra],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]
    env["PYTHONPATH"] = str(target)
    for args in (["views", "refresh", "--json"], ["alerts", "mute", "github", "--for", "1h"]):
        done = subprocess.run([str(installed.devtrack), *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, (args, done.stderr)  # 1: nothing set up
    status = subprocess.run([str(installed.devtrack), "doctor", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=180)
    import json

    import psycopg

    from devtrack.views.store import MIGRATIONS

    info = json.loads(status.stdout)["stores"]["snapshots"]
    assert info["backend"] == "postgresql" and info["reachable"] is True and info["schema_version"] == MIGRATIONS[-1][0]
    with psycopg.connect(pg_url) as db:  # the mute went to PostgreSQL, through the alerts' own tables
        assert db.execute("SELECT target FROM alert_mutes").fetchall() == [("github",)]
