"""The bench table carries wall time, CPU time and what was left out beside every ratio, and
the README report takes only such a table."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(Path(relative).stem, ROOT / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROWS = [
    {"benchmark": "start-up: --version", "ratio": 1.4, "target": 3.0, "target_op": "≤", "verdict": "ok",
     "wall_s": 0.021, "cpu_s": 0.019, "left_out_s": 0.0, "note": "ratio to python -c pass"},
    {"benchmark": "ai proxy: throughput", "ratio": 0.9, "target": 0.95, "target_op": "≥", "verdict": "over target",
     "wall_s": 4.2, "cpu_s": 3.1, "left_out_s": 0.25, "note": "direct 500 KiB/s"},
    {"benchmark": "bench_git", "verdict": "FAILED", "note": "boom"},
]


def test_the_table_shows_costs_targets_and_verdicts() -> None:
    lines = _load("bench/run_all.py").table(ROWS)
    assert lines[0].split()[:7] == ["benchmark", "ratio", "target", "verdict", "wall", "cpu", "left"]
    version, proxy, failed = lines[1:]
    assert "≤3" in version and " ok " in version and "0.02s" in version
    assert "≥0.95" in proxy and "over target" in proxy and "4.20s" in proxy and "3.10s" in proxy and "0.25s" in proxy
    assert "FAILED" in failed and "boom" in failed


def test_the_report_takes_the_table_and_refuses_an_old_one() -> None:
    report = _load("scripts/readme_report.py")
    lines = _load("bench/run_all.py").table(ROWS)
    text = "# bench_startup.py\n" + "\n".join(lines) + "\n"
    assert report.bench_table(text).splitlines() == lines
    old = "benchmark   ratio  target  verdict  note\nstart-up: --version  1.4  ≤3  ok  x\n"
    with pytest.raises(ValueError, match="no wall, cpu, left out column"):
        report.bench_table(old)
    with pytest.raises(ValueError, match="no benchmark table"):
        report.bench_table("Traceback …\n")
