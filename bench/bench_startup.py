"""Start-up: `devtrack integrations list --json` (target ≤ 8×) and `devtrack --version` (≤ 3×)
as ratios to `python -c pass`, each a fresh interpreter, measured side by side.

The ratio shows what DevTrack itself costs at start (typer, rich, pydantic, the plugin
metadata), which every CLI call pays. The three commands take turns in every round, so a busy
moment of the machine falls on all of them alike. Bytecode may be written (an installed
DevTrack has its .pyc files; the warm-up run writes them here).
"""

from __future__ import annotations

import os
import sys
from functools import partial

from common import Span, combine, report, run

ROUNDS = 15
COMMANDS = {
    "start-up: integrations list": (["-m", "devtrack", "integrations", "list", "--json"], 8.0),
    "start-up: --version": (["-m", "devtrack", "--version"], 3.0),
}


def main() -> list[dict]:
    py = sys.executable
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    calls = {"pass": partial(run, [py, "-c", "pass"], env=env)}
    calls |= {label: partial(run, [py, *args], env=env) for label, (args, _) in COMMANDS.items()}
    for call in calls.values():
        call()  # warm-up: bytecode, page cache
    spans: dict[str, list] = {k: [] for k in calls}
    for _ in range(ROUNDS):
        for label, call in calls.items():
            with Span() as s:
                call()
            spans[label].append(s.timing)
    base = combine(spans["pass"])
    return [report(label, combine(spans[label]), base, target=target,
                   note=f"ratio to python -c pass ({base.active * 1000:.0f} ms), median of {ROUNDS}")
            for label, (_, target) in COMMANDS.items()]


if __name__ == "__main__":
    main()
