"""Start-up: `devtrack integrations list --json` as a ratio to `python -c pass`.

The ratio shows what DevTrack itself costs at start (pydantic, typer and rich, the plugin
metadata), which every CLI call pays.
"""

from __future__ import annotations

import sys
from functools import partial

from common import median_seconds, report, run


def main() -> list[dict]:
    py = sys.executable
    base = median_seconds(partial(run, [py, "-c", "pass"]), runs=15)
    out = []
    for label, args in (("start-up: integrations list", ["integrations", "list", "--json"]),
                        ("start-up: --version", ["--version"])):
        t = median_seconds(partial(run, [py, "-m", "devtrack", *args]), runs=9)
        out.append(report(label, t, base, target=None, note="ratio to python -c pass"))
    return out


if __name__ == "__main__":
    main()
