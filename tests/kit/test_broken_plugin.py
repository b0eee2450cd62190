"""The kit fails a broken plugin, and its messages say what to fix (never the leaked token)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .. import leakscan
from .fixtures.broken_plugin import TOKEN

FIXTURE = Path(__file__).parent / "fixtures" / "broken_plugin.py"


def test_the_kit_fails_a_broken_plugin_saying_what_to_fix(tmp_path: Path) -> None:
    shutil.copy(FIXTURE, tmp_path / "test_broken.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")  # its own run: not this suite's conftest
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-k", "metadata or clean or 500 or 401", "test_broken.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    out = proc.stdout + proc.stderr
    leakscan.add_secrets(TOKEN)  # the suite's leak scan searches the kit's report too
    leakscan.record("cli output", out)
    assert proc.returncode == 1, out[-3000:]
    # Raising on 500: named, with the fix.
    assert ("test_connection raised RuntimeError on HTTP 500: return a classified error result "
            "(kind 'unavailable') instead") in out, out[-3000:]
    assert "get_data raised RuntimeError on HTTP 500" in out
    # The leaked token: the field is named, the fix given, the value itself never printed.
    assert ("test_connection leaked the secret credential 'token' into its result: never put credentials "
            "in messages") in out, out[-3000:]
    assert TOKEN not in out
    # What the plugin does right still passes: its metadata, its clean calls, a single 500.
    assert "FAILED test_broken.py::TestBroken::test_metadata_and_credentials_model" not in out
    assert "FAILED test_broken.py::TestBroken::test_clean" not in out
    assert "passed" in proc.stdout.strip().splitlines()[-1]
