"""``devtrack plugin new``: what it writes, what it refuses, and that the kit passes on it as
generated (the fresh-venv install of the same is tests/install/test_plugin_scaffold.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtrack.scaffold import FILES, ScaffoldError, names_for, scaffold


def _devtrack(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devtrack", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_names_are_checked_and_spelled_every_way() -> None:
    n = names_for("acme-cloud")
    assert (n.module, n.cls, n.dist, n.env) == ("devtrack_acme_cloud", "AcmeCloud", "devtrack-acme-cloud",
                                               "DEVTRACK_ACME_CLOUD_BASE_URL")
    for bad in ("Acme", "a", "acme_cloud", "acme--cloud", "-acme", "acme-", "vercel"):
        with pytest.raises(ScaffoldError):
            names_for(bad)


def test_plugin_new_writes_the_package_and_refuses_to_overwrite(tmp_path: Path) -> None:
    proc = _devtrack("plugin", "new", "acme", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    root = tmp_path / "devtrack-acme"
    assert Path(out["path"]) == root and len(out["files"]) == len(FILES)
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points."devtrack.integrations"]' in pyproject
    assert 'acme = "devtrack_acme.plugin:AcmeIntegration"' in pyproject
    assert "$" not in "".join((root / f).read_text() for f in out["files"])  # every placeholder filled
    (root / "src" / "devtrack_acme" / "plugin.py").write_text("# my work\n")
    again = _devtrack("plugin", "new", "acme", cwd=tmp_path)
    assert again.returncode == 1 and "already exists and is not empty" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr
    assert (root / "src" / "devtrack_acme" / "plugin.py").read_text() == "# my work\n"  # nothing lost
    bad = _devtrack("plugin", "new", "My_Plugin", "--dir", str(tmp_path / "x"), cwd=tmp_path)
    assert bad.returncode == 1 and "not a plugin name" in bad.stderr and not (tmp_path / "x").exists()


def test_the_generated_conformance_test_passes(tmp_path: Path) -> None:
    root, _ = scaffold("acme", tmp_path / "pkg")
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    env = os.environ | {"PYTHONPATH": str(root / "src")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_conformance.py"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "passed" in proc.stdout.strip().splitlines()[-1]
