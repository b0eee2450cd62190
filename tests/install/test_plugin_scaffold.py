"""Issue 18's first "done when": in a fresh venv, ``devtrack plugin new acme``, then
``pip install -e`` of the result and ``pytest`` inside it pass.

The venv is the installed wheel without the ``sandbox`` or ``test`` extras (see conftest), so
this also proves the kit needs nothing from them but pytest, which the scaffold's own ``test``
extra brings.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import PIP_TIMEOUT, Installed, user_env

pytestmark = pytest.mark.slow


def test_a_scaffolded_plugin_installs_and_passes_its_own_tests(installed: Installed, tmp_path: Path) -> None:
    env = user_env(tmp_path)
    package = tmp_path / "acme"
    made = subprocess.run([str(installed.devtrack), "plugin", "new", "acme", "--dir", str(package), "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    files = json.loads(made.stdout)["files"]
    assert {"pyproject.toml", "src/devtrack_acme/plugin.py", "src/devtrack_acme/emulator.py",
            "src/devtrack_acme/meta.py", "tests/test_conformance.py", "tests/test_meta.py"} <= set(files)

    pip = subprocess.run([str(installed.python), "-m", "pip", "install", "-q", "-e", f"{package}[test]"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert pip.returncode == 0, f"pip install -e failed (it needs PyPI for pytest):\n{pip.stdout[-2000:]}\n{pip.stderr[-2000:]}"

    tests = subprocess.run([str(installed.python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=package, env=env, capture_output=True, text=True, timeout=600)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    summary = tests.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary and "skipped" not in summary, summary

    listed = subprocess.run([str(installed.devtrack), "integrations", "list", "--json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "acme" in [p["id"] for p in json.loads(listed.stdout)]

    # The generated light metadata lets the listing answer without importing any plugin model.
    probe = ("import sys\nsys.argv = ['devtrack', 'integrations', 'list', '--json']\n"
             "from devtrack.cli import app\ntry:\n    app.main()\nexcept SystemExit:\n    pass\n"
             "print('heavy' if 'pydantic' in sys.modules else 'light', file=sys.stderr)")
    fast = subprocess.run([str(installed.python), "-c", probe], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert fast.stderr.strip().splitlines()[-1] == "light", fast.stderr
    assert "acme" in [p["id"] for p in json.loads(fast.stdout)]
